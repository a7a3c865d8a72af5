// Event bus tests on a real two-thread io_context: delivery jobs shared by all subscribers must
// keep every subscriber independent, ordered and complete, and report idle only when done.
#include "event_bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using vigil::detail::event_bus;

constexpr auto patience = 30s;  // a generous bound for waits that must end far sooner

// An io_context run by `n` threads (default two) until the fixture ends.
struct two_threads {
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::vector<std::thread> threads;
  explicit two_threads(int n = 2) {
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { io.run(); });
  }
  ~two_threads() {
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }
};

// A one-shot gate a subscriber can wait on; opening it twice is harmless.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard lock(m);  // notified under the lock: the waiter may destroy it right after
    open = true;
    cv.notify_all();
  }
  bool wait() {
    std::unique_lock lock(m);
    return cv.wait_for(lock, patience, [this] { return open; });
  }
};

// Opens a gate when it goes out of scope, however the test leaves it. Declared after the
// threads, so a handler blocked on the gate is let go before they are joined.
struct open_on_exit {
  gate& g;
  ~open_on_exit() { g.release(); }
};

// Counts events and lets a test wait until it has seen `n`, remembering their seq numbers.
struct counter {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::uint64_t> seqs;
  void add(const vigil::event& e) {
    std::lock_guard lock(m);  // notified under the lock: the waiter may destroy it right after
    seqs.push_back(e.seq);
    cv.notify_all();
  }
  bool wait_for_count(std::size_t n) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, patience, [&] { return seqs.size() >= n; });
  }
  std::vector<std::uint64_t> snapshot() {
    std::lock_guard lock(m);
    return seqs;
  }
};

vigil::event make(vigil::event_kind k = vigil::event_kind::attempt_failed) {
  vigil::event e;
  e.kind = k;
  e.path_ = std::make_shared<const std::string>("root/x");
  e.reason = "a reason long enough not to fit in the small string buffer";
  return e;
}

bool strictly_increasing(const std::vector<std::uint64_t>& v) {
  for (std::size_t i = 1; i < v.size(); ++i) {
    if (v[i - 1] >= v[i]) return false;
  }
  return true;
}

TEST(event_bus, a_blocked_subscriber_holds_up_neither_publishing_nor_the_other_subscribers) {
  // One subscriber blocks inside its first event; the other still receives that event (with
  // nothing published after it) and all 200 while the first is blocked; the blocked one gets
  // the rest in order once released.
  // Declared before the threads: handlers use them until the threads are joined.
  gate blocker;
  gate entered;  // the handler is about to block
  std::atomic<bool> blocked{false};
  counter slow;
  counter fast;
  two_threads rt;
  open_on_exit opener{blocker};
  auto bus = std::make_shared<event_bus>(rt.io.get_executor());
  auto s1 = bus->subscribe(
      [&](const vigil::event& e) {
        if (!blocked.exchange(true)) {
          entered.release();
          blocker.wait();
        }
        slow.add(e);
      },
      {});
  auto s2 = bus->subscribe([&](const vigil::event& e) { fast.add(e); }, {});
  bus->publish(make());
  // Nothing else is published yet: the other subscriber must get the event all the same.
  ASSERT_TRUE(fast.wait_for_count(1));
  ASSERT_TRUE(entered.wait());
  for (int i = 1; i < 200; ++i) bus->publish(make());
  ASSERT_TRUE(fast.wait_for_count(200));
  EXPECT_TRUE(blocked.load());
  EXPECT_EQ(slow.snapshot().size(), 0u);
  EXPECT_FALSE(bus->idle());
  blocker.release();
  ASSERT_TRUE(slow.wait_for_count(200));
  EXPECT_TRUE(strictly_increasing(slow.snapshot()));
  EXPECT_TRUE(strictly_increasing(fast.snapshot()));
  EXPECT_EQ(slow.snapshot(), fast.snapshot());
  bus->unsubscribe(s1.get());
  bus->unsubscribe(s2.get());
}

// Two subscribers block inside their first event on executor `ex` (at least four threads):
// the third still receives that event with nothing published after it, then 100 more while
// both stay blocked; once released, the blocked ones get everything in seq order.
void two_blocked_subscribers_do_not_starve_a_third(const asio::any_io_executor& ex) {
  gate blocker;
  gate entered1;
  gate entered2;
  std::atomic<bool> blocked1{false};
  std::atomic<bool> blocked2{false};
  counter c1;
  counter c2;
  counter c3;
  open_on_exit opener{blocker};
  auto bus = std::make_shared<event_bus>(ex);
  const auto blocking = [&blocker](std::atomic<bool>& flag, gate& entered, counter& c) {
    return [&](const vigil::event& e) {
      if (!flag.exchange(true)) {
        entered.release();
        blocker.wait();
      }
      c.add(e);
    };
  };
  auto s1 = bus->subscribe(blocking(blocked1, entered1, c1), {});
  auto s2 = bus->subscribe(blocking(blocked2, entered2, c2), {});
  auto s3 = bus->subscribe([&](const vigil::event& e) { c3.add(e); }, {});
  bus->publish(make());
  ASSERT_TRUE(entered1.wait());
  ASSERT_TRUE(entered2.wait());
  // Both are blocked and nothing else is published: the third must get the event anyway.
  ASSERT_TRUE(c3.wait_for_count(1));
  for (int i = 1; i < 101; ++i) bus->publish(make());
  ASSERT_TRUE(c3.wait_for_count(101));
  EXPECT_EQ(c1.snapshot().size(), 0u);
  EXPECT_EQ(c2.snapshot().size(), 0u);
  blocker.release();
  ASSERT_TRUE(c1.wait_for_count(101));
  ASSERT_TRUE(c2.wait_for_count(101));
  EXPECT_TRUE(strictly_increasing(c3.snapshot()));
  EXPECT_EQ(c1.snapshot(), c3.snapshot());
  EXPECT_EQ(c2.snapshot(), c3.snapshot());
  std::promise<void> idle;
  bus->notify_when_idle([&] { idle.set_value(); });
  EXPECT_EQ(idle.get_future().wait_for(patience), std::future_status::ready);
  bus->unsubscribe(s1.get());
  bus->unsubscribe(s2.get());
  bus->unsubscribe(s3.get());
}

TEST(event_bus, two_blocked_subscribers_do_not_starve_a_third_on_a_four_thread_io_context) {
  // The rule of docs/handle.md with two handlers blocked at once: while a thread is free,
  // every other subscriber gets its events without waiting for another publish.
  two_threads rt(4);
  two_blocked_subscribers_do_not_starve_a_third(rt.io.get_executor());
}

TEST(event_bus, two_blocked_subscribers_do_not_starve_a_third_on_a_thread_pool) {
  // The same through the type-erased executor path (a thread_pool's executor).
  asio::thread_pool pool(4);
  two_blocked_subscribers_do_not_starve_a_third(pool.get_executor());
  pool.join();
}

TEST(event_bus, unsubscribe_returns_only_once_the_handler_is_no_longer_running) {
  // The handler is inside a call (blocked on a gate) when another thread unsubscribes: the
  // unsubscribe must wait for that call, so the handler's captures may be destroyed once it
  // returns; later queued events are not delivered. From inside the handler it must not wait.
  gate release_handler;
  gate entered;
  std::atomic<bool> inside{false};
  std::atomic<int> calls{0};
  two_threads rt;
  open_on_exit opener{release_handler};
  auto bus = std::make_shared<event_bus>(rt.io.get_executor());
  auto sub = std::make_shared<vigil::subscription>(bus->subscribe(
      [&](const vigil::event&) {
        ++calls;
        inside = true;
        entered.release();
        release_handler.wait();
        inside = false;
      },
      {}));
  bus->publish(make());
  bus->publish(make());  // queued behind the blocked call: must never be delivered
  ASSERT_TRUE(entered.wait());
  std::atomic<bool> inside_when_returned{true};
  std::thread unsubscriber([&] {
    sub->unsubscribe();
    inside_when_returned = inside.load();
  });
  std::this_thread::sleep_for(50ms);  // room for a wrong early return
  release_handler.release();
  unsubscriber.join();
  EXPECT_FALSE(inside_when_returned.load());
  EXPECT_EQ(calls.load(), 1);

  // From inside its own handler: no wait, no deadlock; the call finishes.
  std::atomic<int> self_calls{0};
  auto self = std::make_shared<vigil::subscription>();
  std::promise<void> done;
  *self = vigil::subscription(bus->subscribe(
      [&](const vigil::event&) {
        if (++self_calls == 1) {
          self->unsubscribe();
          done.set_value();
        }
      },
      {}));
  bus->publish(make());
  ASSERT_EQ(done.get_future().wait_for(patience), std::future_status::ready);
  EXPECT_EQ(self_calls.load(), 1);
}

TEST(event_bus, concurrent_publishers_reach_every_subscriber_once_in_seq_order) {
  // Two threads publish 5,000 events each to three subscribers with room for all: each one
  // sees all 10,000, every seq once, strictly increasing; then the bus reports idle.
  constexpr std::size_t per_thread = 5000;
  std::vector<std::unique_ptr<counter>> counters;  // before the threads: handlers use them
  two_threads rt;
  auto bus = std::make_shared<event_bus>(rt.io.get_executor());
  std::vector<std::shared_ptr<vigil::detail::subscriber_state>> subs;
  for (int i = 0; i < 3; ++i) {
    counters.push_back(std::make_unique<counter>());
    counter* c = counters.back().get();
    subs.push_back(
        bus->subscribe([c](const vigil::event& e) { c->add(e); }, {.queue = 4 * per_thread}));
  }
  std::vector<std::thread> publishers;
  for (int t = 0; t < 2; ++t) {
    publishers.emplace_back([&] {
      for (std::size_t i = 0; i < per_thread; ++i) bus->publish(make());
    });
  }
  for (auto& p : publishers) p.join();
  for (auto& c : counters) {
    ASSERT_TRUE(c->wait_for_count(2 * per_thread));
    const auto seqs = c->snapshot();
    EXPECT_EQ(seqs.size(), 2 * per_thread);
    EXPECT_TRUE(strictly_increasing(seqs));
    EXPECT_EQ(seqs, counters[0]->snapshot());
  }
  std::promise<void> idle;
  bus->notify_when_idle([&] { idle.set_value(); });
  EXPECT_EQ(idle.get_future().wait_for(patience), std::future_status::ready);
  EXPECT_TRUE(bus->idle());
  for (auto& s : subs) bus->unsubscribe(s.get());
}

TEST(event_bus, a_full_queue_loses_events_and_reports_the_count_once_room_returns) {
  // A queue of 4 behind a blocked handler: of 20 events it keeps 4 and drops 16; the next
  // event that fits is followed by one subscriber_overflow{lost = 16} with a higher seq.
  // Declared before the threads: handlers use them until the threads are joined.
  gate blocker;
  gate entered;  // the handler is about to block
  std::atomic<bool> blocked{false};
  std::mutex m;
  std::vector<vigil::event> seen;
  std::promise<void> got_report;
  two_threads rt;
  open_on_exit opener{blocker};
  auto bus = std::make_shared<event_bus>(rt.io.get_executor());
  auto s = bus->subscribe(
      [&](const vigil::event& e) {
        if (!blocked.exchange(true)) {
          entered.release();
          blocker.wait();
        }
        std::lock_guard lock(m);
        seen.push_back(e);
        if (e.kind == vigil::event_kind::subscriber_overflow) got_report.set_value();
      },
      {.queue = 4});
  bus->publish(make());  // taken by the job, which blocks in it
  ASSERT_TRUE(entered.wait());
  for (int i = 0; i < 20; ++i) bus->publish(make());
  blocker.release();
  // Wait until the queue has been taken, then publish the event that ends the episode.
  std::promise<void> idle;
  bus->notify_when_idle([&] { idle.set_value(); });
  ASSERT_EQ(idle.get_future().wait_for(patience), std::future_status::ready);
  bus->publish(make(vigil::event_kind::child_added));
  ASSERT_EQ(got_report.get_future().wait_for(patience), std::future_status::ready);
  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 1u + 4u + 1u + 1u);
  EXPECT_EQ(seen[5].kind, vigil::event_kind::child_added);
  EXPECT_EQ(seen[6].kind, vigil::event_kind::subscriber_overflow);
  EXPECT_EQ(seen[6].lost, 16u);
  EXPECT_EQ(seen[6].path(), "root/x");
  for (std::size_t i = 1; i < seen.size(); ++i) EXPECT_LT(seen[i - 1].seq, seen[i].seq);
  bus->unsubscribe(s.get());
}

TEST(event_bus, unsubscribing_inside_the_handler_stops_delivery_and_leaves_the_bus_idle) {
  // A handler that unsubscribes itself on its third event sees no fourth, while another
  // subscriber sees all 50; queued events of the gone subscriber do not keep the bus busy.
  // Declared before the threads: handlers use them until the threads are joined.
  std::atomic<int> quitter_seen{0};
  // A raw pointer: a handler owning its own state would keep it alive forever.
  std::atomic<vigil::detail::subscriber_state*> self{nullptr};
  counter other;
  two_threads rt;
  auto bus = std::make_shared<event_bus>(rt.io.get_executor());
  auto quitter = bus->subscribe(
      [&](const vigil::event&) {
        if (++quitter_seen == 3) {
          vigil::detail::subscriber_state* me = self.load();
          me->active.store(false);  // as subscription::unsubscribe() does
          bus->unsubscribe(me);
        }
      },
      {});
  self.store(quitter.get());
  auto s2 = bus->subscribe([&](const vigil::event& e) { other.add(e); }, {});
  for (int i = 0; i < 50; ++i) bus->publish(make());
  ASSERT_TRUE(other.wait_for_count(50));
  std::promise<void> idle;
  bus->notify_when_idle([&] { idle.set_value(); });
  ASSERT_EQ(idle.get_future().wait_for(patience), std::future_status::ready);
  EXPECT_EQ(quitter_seen.load(), 3);
  bus->unsubscribe(s2.get());
  EXPECT_FALSE(bus->has_subscribers());
}

}  // namespace
