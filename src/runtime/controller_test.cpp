// The controller (§12, §13.22): every admission in both slot states, rejections, capacity,
// events and snapshots, on a real runtime; children are held by gates the test opens.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/deferred.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "test_support.hpp"
#include "vigil/testing/event_recorder.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A thread task that ends (successfully) only when the test opens its gate; it ignores stop
// requests, so a replaced child keeps its slot terminating until then.
struct gate {
  std::promise<void> p;
  std::shared_future<void> f = p.get_future().share();
  std::once_flag once;
  void open() {
    std::call_once(once, [this] { p.set_value(); });
  }
};

asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

struct controller_test : ::testing::Test {
  vigil::runtime rt{{.threads = 2, .signals = vigil::signal_handling::none}};
  vigil::supervisor sup{rt};
  vigil::testing::event_recorder rec{sup};
  std::vector<std::shared_ptr<gate>> gates;

  // A spec whose child runs until its gate is opened.
  vigil::child_spec gated(std::string name, std::shared_ptr<gate>& g) {
    g = std::make_shared<gate>();
    gates.push_back(g);
    return {.name = std::move(name),
            .task = vigil::thread([g](vigil::context) { g->f.wait(); }),
            .shutdown = 60s};
  }
  vigil::child_spec hanging(std::string name) { return {.name = std::move(name), .task = hang}; }
  void TearDown() override {
    for (auto& g : gates) g->open();
  }
  static vigil::slot_info slot_of(const vigil::controller& c, const std::string& name) {
    for (auto& s : c.slots()) {
      if (s.slot == name) return s;
    }
    return {};
  }
  static bool ready(const std::future<std::error_code>& f) {
    return f.wait_for(0s) == std::future_status::ready;
  }
};

const auto rej = [](vigil::rejection r) { return make_error_code(r); };

TEST_F(controller_test, a_submission_to_an_idle_slot_starts_at_once) {
  // submit returns once the child is added; slots() shows it running; it is removed on exit.
  vigil::controller c{sup};
  std::shared_ptr<gate> g;
  EXPECT_FALSE(c.submit("s", gated("a", g)));
  const auto s = slot_of(c, "s");
  EXPECT_EQ(s.state, vigil::slot_state::running);
  EXPECT_EQ(s.running, "a");
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(sup.status("a").state, vigil::child_state::running);
  g->open();
  std::shared_ptr<gate> g2;
  EXPECT_FALSE(c.submit("s", gated("b", g2)));  // queued until a's outcome frees the slot
  EXPECT_EQ(sup.children().size(), 1u);         // a was removed on exit
}

TEST_F(controller_test, queue_in_running_runs_submissions_one_at_a_time_in_fifo_order) {
  // a runs; b and c queue; each starts only when the one before it completed.
  vigil::controller c{sup};
  std::shared_ptr<gate> ga, gb, gc;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fb = c.async_submit("s", gated("b", gb), vigil::admission::queue, asio::use_future);
  auto fc = c.async_submit("s", gated("c", gc), vigil::admission::queue, asio::use_future);
  EXPECT_EQ(slot_of(c, "s").queued, 2u);
  EXPECT_FALSE(ready(fb));
  ga->open();
  EXPECT_FALSE(fb.get());
  EXPECT_EQ(slot_of(c, "s").running, "b");
  EXPECT_FALSE(ready(fc));
  gb->open();
  EXPECT_FALSE(fc.get());
  EXPECT_EQ(slot_of(c, "s").running, "c");
}

TEST_F(controller_test, queue_beyond_max_slot_queue_is_rejected_queue_full_in_both_states) {
  // max_slot_queue = 1: running: the second queued submission is rejected queue_full; after a
  // replace made the slot terminating, a further queue submission is rejected too.
  vigil::controller c{sup, {.max_slot_queue = 1}};
  std::shared_ptr<gate> ga, gb;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fb = c.async_submit("s", gated("b", gb), vigil::admission::queue, asio::use_future);
  EXPECT_EQ(c.submit("s", hanging("x")), rej(vigil::rejection::queue_full));
  auto fr = c.async_submit("s", hanging("r"), vigil::admission::replace, asio::use_future);
  EXPECT_EQ(fb.get(), rej(vigil::rejection::superseded));
  EXPECT_EQ(slot_of(c, "s").state, vigil::slot_state::terminating);
  EXPECT_EQ(c.submit("s", hanging("y")), rej(vigil::rejection::queue_full));
  ga->open();
  EXPECT_FALSE(fr.get());
}

TEST_F(controller_test, replace_in_running_removes_the_running_child_and_starts_the_new_one) {
  // a stops promptly when asked: replace removes it (final status stopped) and b starts.
  vigil::controller c{sup};
  ASSERT_FALSE(c.submit("s", hanging("a")));
  auto fa = sup.async_outcome("a", asio::use_future);
  EXPECT_FALSE(c.submit("s", hanging("b"), vigil::admission::replace));
  EXPECT_EQ(std::get<1>(fa.get()).status, vigil::final_status::stopped);
  EXPECT_EQ(slot_of(c, "s").running, "b");
  const auto kids = sup.children();
  ASSERT_EQ(kids.size(), 1u);
  EXPECT_EQ(kids[0].name, "b");
}

TEST_F(controller_test, every_admission_in_the_terminating_state) {
  // a ignores its stop, so a replace leaves the slot terminating. Then: queue appends,
  // replace supersedes the queued head and takes its place, drop_if_running is slot_busy.
  // When a finally ends, the head starts, then the rest in order.
  vigil::controller c{sup};
  std::shared_ptr<gate> ga, gr, gq;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fr = c.async_submit("s", gated("r", gr), vigil::admission::replace, asio::use_future);
  EXPECT_EQ(slot_of(c, "s").state, vigil::slot_state::terminating);
  auto fq = c.async_submit("s", gated("q", gq), vigil::admission::queue, asio::use_future);
  auto fr2 = c.async_submit("s", hanging("r2"), vigil::admission::replace, asio::use_future);
  EXPECT_EQ(fr.get(), rej(vigil::rejection::superseded));
  EXPECT_EQ(c.submit("s", hanging("d"), vigil::admission::drop_if_running),
            rej(vigil::rejection::slot_busy));
  auto s = slot_of(c, "s");
  EXPECT_EQ(s.state, vigil::slot_state::terminating);
  EXPECT_EQ(s.running, "a");
  EXPECT_EQ(s.queued, 2u);
  ga->open();
  EXPECT_FALSE(fr2.get());
  EXPECT_EQ(slot_of(c, "s").running, "r2");
  EXPECT_FALSE(ready(fq));
  EXPECT_FALSE(c.remove("r2"));  // stops promptly
  EXPECT_FALSE(fq.get());
  EXPECT_EQ(slot_of(c, "s").running, "q");
}

TEST_F(controller_test, replace_and_drop_if_running_in_the_running_state) {
  // running with a queued head: replace rejects the head superseded; drop_if_running is
  // slot_busy; another slot is independent.
  vigil::controller c{sup};
  std::shared_ptr<gate> ga, gb;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fb = c.async_submit("s", gated("b", gb), vigil::admission::queue, asio::use_future);
  EXPECT_EQ(c.submit("s", hanging("d"), vigil::admission::drop_if_running),
            rej(vigil::rejection::slot_busy));
  EXPECT_EQ(slot_of(c, "s").state, vigil::slot_state::running);
  auto fr = c.async_submit("s", hanging("r"), vigil::admission::replace, asio::use_future);
  EXPECT_EQ(fb.get(), rej(vigil::rejection::superseded));
  EXPECT_FALSE(c.submit("other", hanging("o"), vigil::admission::drop_if_running));
  ga->open();
  EXPECT_FALSE(fr.get());
}

TEST_F(controller_test, removing_a_queued_submission_rejects_it_removed_from_queue) {
  // remove() on a queued name rejects it; on an unknown name it is not_found.
  vigil::controller c{sup};
  std::shared_ptr<gate> ga;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fb = c.async_submit("s", hanging("b"), vigil::admission::queue, asio::use_future);
  EXPECT_FALSE(c.remove("b"));
  EXPECT_EQ(fb.get(), rej(vigil::rejection::removed_from_queue));
  EXPECT_EQ(slot_of(c, "s").queued, 0u);
  EXPECT_EQ(c.remove("ghost"), vigil::errc::not_found);
}

TEST_F(controller_test, the_handle_stop_or_remove_of_a_queued_submission_rejects_it_and_succeeds) {
  // §13.22 through the supervisor's handle: a runs in slot s, b and c wait in its queue and d
  // waits for room (max_queued = 2). stop("d"), stop("b") and remove("c") each succeed and
  // reject their submission removed_from_queue; a keeps running; a name nobody holds is
  // still not_found.
  vigil::controller c{sup, {.max_queued = 2}};
  std::shared_ptr<gate> ga;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  auto fb = c.async_submit("s", hanging("b"), vigil::admission::queue, asio::use_future);
  auto fc = c.async_submit("s", hanging("c"), vigil::admission::queue, asio::use_future);
  auto fd = c.async_submit("s", hanging("d"), vigil::admission::queue, asio::use_future);
  ASSERT_EQ(slot_of(c, "s").queued, 2u);  // d waits outside the slot's queue
  ASSERT_EQ(sup.async_stop("d", asio::use_future).get(), std::error_code{});
  EXPECT_EQ(fd.get(), rej(vigil::rejection::removed_from_queue));
  ASSERT_NO_THROW(sup.stop("b"));
  EXPECT_EQ(fb.get(), rej(vigil::rejection::removed_from_queue));
  ASSERT_EQ(sup.async_remove("c", asio::use_future).get(), std::error_code{});
  EXPECT_EQ(fc.get(), rej(vigil::rejection::removed_from_queue));
  const auto s = slot_of(c, "s");
  EXPECT_EQ(s.queued, 0u);
  EXPECT_EQ(s.state, vigil::slot_state::running);
  EXPECT_EQ(s.running, "a");
  EXPECT_EQ(sup.status("a").state, vigil::child_state::running);
  EXPECT_EQ(sup.async_stop("ghost", asio::use_future).get(), vigil::errc::not_found);
  EXPECT_EQ(sup.async_remove("ghost", asio::use_future).get(), vigil::errc::not_found);
  EXPECT_TRUE(vigil::test::eventually(
      [&] { return rec.count(vigil::event_kind::controller_rejected) == 3u; }));
}

TEST_F(controller_test, a_handle_stop_racing_a_submissions_add_stops_the_child) {
  // The stop is sent right after the submission, so it often reaches the supervisor before
  // the controller's add of the child: it must not be lost (not_found) but stop the child
  // once it is listed, freeing the slot. 40 rounds, each in its own slot.
  vigil::controller c{sup};
  for (int i = 0; i < 40; ++i) {
    const std::string slot = "s" + std::to_string(i);
    const std::string name = "job" + std::to_string(i);
    auto fs = c.async_submit(slot, hanging(name), vigil::admission::queue, asio::use_future);
    auto fstop = sup.async_stop(name, asio::use_future);
    EXPECT_EQ(fs.get(), std::error_code{}) << name;
    EXPECT_EQ(fstop.get(), std::error_code{}) << name;
  }
  // Each stopped child ends and frees its slot (its outcome travels to the controller), and,
  // retained remove_on_exit, leaves the supervisor's list.
  EXPECT_TRUE(vigil::test::eventually([&] {
    const auto all = c.slots();
    return std::all_of(all.begin(), all.end(),
                       [](const auto& s) { return s.state == vigil::slot_state::idle; });
  }));
  EXPECT_TRUE(vigil::test::eventually([&] { return sup.children().empty(); }));
}

TEST_F(controller_test, queued_submissions_are_rejected_shutting_down_at_shutdown) {
  // a stops promptly at shutdown; the queued b is rejected shutting_down, and so is a later
  // submission.
  vigil::controller c{sup};
  ASSERT_FALSE(c.submit("s", hanging("a")));
  auto fb = c.async_submit("s", hanging("b"), vigil::admission::queue, asio::use_future);
  EXPECT_EQ(slot_of(c, "s").queued, 1u);
  sup.shutdown();
  EXPECT_EQ(fb.get(), rej(vigil::rejection::shutting_down));
  EXPECT_EQ(c.submit("s", hanging("c")), rej(vigil::rejection::shutting_down));
}

TEST_F(controller_test, a_name_live_in_another_slot_or_listed_is_rejected_already_exists) {
  // "a" runs in slot s1: submitting "a" to s2 is already_exists; so is a name the supervisor
  // lists outside the controller.
  vigil::controller c{sup};
  ASSERT_FALSE(c.submit("s1", hanging("a")));
  EXPECT_EQ(c.submit("s2", hanging("a")), rej(vigil::rejection::already_exists));
  sup.add(hanging("plain"));
  EXPECT_EQ(c.submit("s3", hanging("plain")), rej(vigil::rejection::already_exists));
  EXPECT_EQ(slot_of(c, "s3").state, vigil::slot_state::idle);
}

TEST_F(controller_test, try_submit_fails_queue_full_when_the_controller_is_full_and_submit_waits) {
  // max_queued = 1: b takes the only place; try_submit c fails at once; async_submit c waits
  // for room, gets it when b starts, then queues behind b and starts after it.
  vigil::controller c{sup, {.max_queued = 1}};
  std::shared_ptr<gate> ga, gb;
  ASSERT_FALSE(c.submit("s", gated("a", ga)));
  std::promise<std::error_code> pb;
  EXPECT_FALSE(c.try_submit("s", gated("b", gb), vigil::admission::queue,
                            [&](std::error_code ec) { pb.set_value(ec); }));
  EXPECT_EQ(c.try_submit("s", hanging("c")), rej(vigil::rejection::queue_full));
  auto fc = c.async_submit("s", hanging("c"), vigil::admission::queue, asio::use_future);
  EXPECT_EQ(slot_of(c, "s").queued, 1u);  // c waits outside the slot's queue
  ga->open();
  EXPECT_FALSE(pb.get_future().get());
  EXPECT_FALSE(ready(fc));
  gb->open();
  EXPECT_FALSE(fc.get());
  EXPECT_EQ(slot_of(c, "s").running, "c");
}

TEST_F(controller_test, events_report_submissions_rejections_with_their_kind_and_transitions) {
  // controller_submitted for each accepted submission, controller_rejected naming the kind,
  // slot_transition idle -> running -> terminating -> idle.
  vigil::controller c{sup};
  ASSERT_FALSE(c.submit("s", hanging("a")));
  EXPECT_EQ(c.submit("s", hanging("d"), vigil::admission::drop_if_running),
            rej(vigil::rejection::slot_busy));
  ASSERT_FALSE(c.submit("s", hanging("b"), vigil::admission::replace));
  (void)c.slots();
  sup.shutdown();
  (void)sup.wait();
  EXPECT_EQ(rec.count(vigil::event_kind::controller_submitted), 2u);
  const auto rejected = rec.of(vigil::event_kind::controller_rejected, "root/d");
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_NE(rejected[0].reason.find("slot_busy"), std::string::npos);
  std::vector<std::string> transitions;
  for (const auto& e : rec.of(vigil::event_kind::slot_transition)) transitions.push_back(e.reason);
  ASSERT_GE(transitions.size(), 4u);
  EXPECT_EQ(transitions[0], "slot=s idle -> running");
  EXPECT_EQ(transitions[1], "slot=s running -> terminating");
  EXPECT_EQ(transitions[2], "slot=s terminating -> idle");
  EXPECT_EQ(transitions[3], "slot=s idle -> running");
}

TEST_F(controller_test, a_slot_is_freed_by_its_childs_outcome_even_when_events_overflow) {
  // A subscriber with a one-event queue that blocks: events are dropped, yet queued
  // submissions still start one after another (the release never travels on the bus).
  std::promise<void> unblock;
  auto blocked = unblock.get_future().share();
  auto sub = sup.subscribe([blocked](const vigil::event&) { blocked.wait(); }, {.queue = 1});
  vigil::controller c{sup};
  std::vector<std::future<std::error_code>> fs;
  for (int i = 0; i < 5; ++i) {
    fs.push_back(c.async_submit("s",
                                {.name = "j" + std::to_string(i),
                                 .task = [](vigil::context) -> asio::awaitable<vigil::outcome> {
                                   co_return vigil::success();
                                 }},
                                vigil::admission::queue, asio::use_future));
  }
  for (auto& f : fs) EXPECT_FALSE(f.get());
  unblock.set_value();
}

}  // namespace

namespace {

TEST_F(controller_test, a_deferred_operation_started_after_the_controller_is_gone_is_safe) {
  // The initiations hold the controller's shared state, not the controller: deferred
  // operations made while it lived and started after its destruction reach that state (ASan
  // reported a heap-use-after-free when they captured `this`). A submission is rejected
  // shutting_down (the controller closed), the slot snapshot still answers.
  std::optional<decltype(std::declval<vigil::controller&>().async_slots(asio::deferred))> slots_op;
  std::optional<decltype(std::declval<vigil::controller&>().async_submit(
      "s", vigil::child_spec{}, vigil::admission::queue, asio::deferred))>
      submit_op;
  {
    vigil::controller c{sup};
    ASSERT_FALSE(c.submit("first", hanging("first-1")));
    slots_op.emplace(c.async_slots(asio::deferred));
    submit_op.emplace(
        c.async_submit("second", hanging("second-1"), vigil::admission::queue, asio::deferred));
  }
  auto slots = std::move(*slots_op)(asio::use_future);
  auto [ec, list] = slots.get();
  EXPECT_FALSE(ec);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].slot, "first");
  auto submitted = std::move(*submit_op)(asio::use_future);
  EXPECT_EQ(submitted.get(), vigil::rejection::shutting_down);
  EXPECT_EQ(rec.count(vigil::event_kind::attempt_starting, "root/second-1"), 0u);
}

}  // namespace
