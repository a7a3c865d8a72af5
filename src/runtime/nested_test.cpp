// Nested supervisors (vigil::subtree) on a real runtime: paths, tree-wide events, escalation
// with its cause chain, restarts from the declared children, and stopping a subtree.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>

#include <boost/asio/this_coro.hpp>

#include "test_support.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

asio::awaitable<vigil::outcome> idle(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

vigil::runtime_options two_threads() {
  return {.threads = 2, .signals = vigil::signal_handling::none};
}

// Collects events and lets a test wait for one.
struct collector {
  std::mutex m;
  std::vector<vigil::event> events;
  std::condition_variable cv;
  void operator()(const vigil::event& e) {
    std::lock_guard lock(m);
    events.push_back(e);
    cv.notify_all();
  }
  // Waits (generously) until an event matches; false if it never came.
  template <class Pred>
  bool wait_for(Pred pred) {
    std::unique_lock lock(m);
    return cv.wait_for(lock, 30s, [&] {
      for (const auto& e : events) {
        if (pred(e)) return true;
      }
      return false;
    });
  }
};

TEST(nested, a_three_level_tree_names_every_child_by_path_with_tree_wide_seq) {
  // root → db (subtree) → pool (subtree) → conn: the root's subscriber sees conn start as
  // "root/db/pool/conn", and seq numbers strictly increase across all three supervisors.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  collector c;
  auto sub = sup.subscribe(std::ref(c));
  vigil::subtree pool{.children = {{.name = "conn", .task = idle}}};
  vigil::subtree db{.options = {.strategy = vigil::rest_for_one},
                    .children = {{.name = "pool", .task = pool}, {.name = "cache", .task = idle}}};
  sup.add({.name = "db", .task = db});
  ASSERT_TRUE(c.wait_for([](const vigil::event& e) {
    return e.kind == vigil::event_kind::attempt_starting && e.path() == "root/db/pool/conn";
  }));
  ASSERT_TRUE(c.wait_for([](const vigil::event& e) {
    return e.kind == vigil::event_kind::attempt_starting && e.path() == "root/db/cache";
  }));
  EXPECT_EQ(sup.status("db").kind, vigil::task_kind::supervisor);
  std::vector<std::string> paths;
  for (const auto& i : sup.tree()) paths.push_back(i.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"root/db", "root/db/pool", "root/db/pool/conn",
                                             "root/db/cache"}));
  EXPECT_EQ(sup.children().size(), 1u);
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
  std::lock_guard lock(c.m);
  for (std::size_t i = 1; i < c.events.size(); ++i) {
    EXPECT_LT(c.events[i - 1].seq, c.events[i].seq);
  }
}

TEST(nested, an_escalating_subtree_is_a_failure_of_its_child_with_the_cause_chain) {
  // db's own intensity {1, 1 min} breaks when "bad" fails twice: db ends intensity_exceeded,
  // the root sees child db fail with a reason naming db's cause, and restarts db from its
  // declared children (bad's attempts count again from 1).
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt, {.intensity = {.max_restarts = 100, .period = 1s}}};
  std::atomic<int> bad_runs{0};
  std::promise<void> second_db;
  std::atomic<bool> second_db_set{false};
  vigil::subtree db{
      .options = {.intensity = {.max_restarts = 1, .period = 60s}},
      .children = {{.name = "bad",
                    .task = [&](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      if (++bad_runs == 3 && ctx.attempt() == 1 && !second_db_set.exchange(true)) {
                        second_db.set_value();  // first attempt of bad in the new db
                        co_await ctx.sleep(24h);
                      }
                      co_return vigil::failure("boom");
                    },
                    .backoff = vigil::backoff::constant(0s)}}};
  sup.add({.name = "db", .task = db, .backoff = vigil::backoff::constant(0s)});
  ASSERT_EQ(second_db.get_future().wait_for(30s), std::future_status::ready);
  const auto st = sup.status("db");
  EXPECT_EQ(st.attempt, 2u);
  ASSERT_EQ(st.recent_failures.size(), 1u);
  EXPECT_EQ(st.recent_failures[0].reason,
            "root/db: intensity_exceeded (root/db/bad: failure: boom)");
  sup.shutdown();
  sup.wait();
}

TEST(nested, stopping_a_subtree_stops_its_children_gracefully) {
  // stop("db") shuts db down: its child sees the cancellation, db ends stopped.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  std::atomic<bool> cancelled{false};
  std::promise<void> started;
  vigil::subtree db{
      .children = {{.name = "worker", .task = [&](vigil::context ctx) -> asio::awaitable<void> {
                      started.set_value();
                      try {
                        co_await ctx.sleep(24h);
                      } catch (...) {
                        cancelled = true;
                        throw;
                      }
                    }}}};
  sup.add({.name = "db", .task = db});
  ASSERT_EQ(started.get_future().wait_for(30s), std::future_status::ready);
  sup.stop("db");
  EXPECT_TRUE(cancelled.load());
  const auto st = sup.status("db");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  EXPECT_FALSE(st.final->forced);
}

TEST(nested, a_subtree_that_finishes_its_work_completes_its_child) {
  // A subtree with exit_when_idle ends when its only job succeeds: the root's child completes
  // (restart on_failure does not run it again).
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  vigil::subtree batch{
      .options = {.exit_when_idle = true},
      .children = {{.name = "job", .task = [](vigil::context) -> asio::awaitable<vigil::outcome> {
                      co_return vigil::success();
                    }}}};
  sup.add({.name = "batch", .task = batch});
  const auto r = sup.outcome("batch");
  EXPECT_EQ(r.status, vigil::final_status::completed);
  EXPECT_EQ(r.total_attempts, 1u);
}

TEST(nested, a_subtree_declaring_a_name_twice_fails_its_attempt) {
  // Duplicate declared names are refused before any task starts: the attempt fails with a
  // reason naming the duplicate (restart never keeps it from retrying).
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  vigil::subtree dup{.children = {{.name = "x", .task = idle}, {.name = "x", .task = idle}}};
  sup.add({.name = "dup", .task = dup, .restart = vigil::restart::never});
  const auto r = sup.outcome("dup");
  EXPECT_EQ(r.status, vigil::final_status::failed);
  EXPECT_NE(r.last.reason.find("'x' twice"), std::string::npos);
}

TEST(nested, a_subtree_whose_declaration_breaks_a_core_rule_starts_none_of_its_children) {
  // §13.10: the declared children are one all-or-nothing list. The 2nd is significant under
  // the nested supervisor's auto_shutdown = never: the attempt fails naming it, and the 1st
  // child's task never ran.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  auto ran = std::make_shared<std::atomic<int>>(0);
  vigil::subtree bad{
      .children = {{.name = "first",
                    .task = [ran](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      ++*ran;
                      co_await ctx.sleep(24h);
                      co_return vigil::success();
                    }},
                   {.name = "second", .task = idle, .significant = true}}};
  sup.add({.name = "bad", .task = bad, .restart = vigil::restart::never});
  const auto r = sup.outcome("bad");
  EXPECT_EQ(r.status, vigil::final_status::failed);
  EXPECT_NE(r.last.reason.find("'second'"), std::string::npos) << r.last.reason;
  EXPECT_EQ(*ran, 0);
}

// Ignores every stop: only a forced stop ends it. Sets `deaf_now` once it ignores them (a stop
// that comes before that ends it at once, which the tests below must not race with).
vigil::task deaf(std::shared_ptr<std::atomic<bool>> deaf_now) {
  return [deaf_now](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
    *deaf_now = true;
    co_await ctx.sleep(1h);
    co_return vigil::success();
  };
}

TEST(nested, a_subtree_whose_shutdown_exceeds_its_grace_reports_what_was_stuck) {
  // The subtree's grace (100 ms) forces a child that ignores its stop; the parent's record of
  // the subtree's attempt names the stuck path instead of calling it a clean stop.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  auto deaf_now = std::make_shared<std::atomic<bool>>(false);
  vigil::subtree db{
      .options = {.grace = 100ms},
      .children = {{.name = "stuck", .task = deaf(deaf_now), .shutdown = vigil::infinity}}};
  sup.add({.name = "db", .task = db});
  ASSERT_TRUE(sup.status("db").state == vigil::child_state::running);
  ASSERT_TRUE(vigil::test::eventually([&] { return deaf_now->load(); }));
  sup.stop("db");
  const auto st = sup.status("db");
  ASSERT_TRUE(st.last_outcome.has_value());
  EXPECT_NE(st.last_outcome->reason.find("grace exceeded (stuck: root/db/stuck)"),
            std::string::npos)
      << st.last_outcome->reason;
}

TEST(nested, child_defaults_shutdown_applies_to_subtree_children) {
  // With child_defaults.shutdown = 200 ms, a subtree child is forced after 200 ms like any
  // other child (its infinite default applies only when nothing was configured).
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt, {.child_defaults = {.shutdown = 200ms}}};
  auto deaf_now = std::make_shared<std::atomic<bool>>(false);
  vigil::subtree db{
      .options = {.grace = vigil::infinity},
      .children = {{.name = "stuck", .task = deaf(deaf_now), .shutdown = vigil::infinity}}};
  sup.add({.name = "db", .task = db});
  ASSERT_TRUE(vigil::test::eventually([&] { return deaf_now->load(); }));
  sup.stop("db");  // returns once forced; without the default it would wait forever
  const auto st = sup.status("db");
  ASSERT_TRUE(st.final.has_value());
  EXPECT_TRUE(st.final->forced);
}

}  // namespace
