// Unit tests of the shutdown sequence (SEMANTICS §8, §13.19, §13.28, §13.29): each child's turn,
// its on_shutdown hook at that turn, and what the result reports.
#include <gtest/gtest.h>

#include "machine_test_driver.hpp"

namespace {

using namespace machine_test;

child_policy with_hook(duration shutdown = 5s) {
  child_policy p = plain();
  p.has_on_shutdown = true;
  p.shutdown = shutdown;
  return p;
}

TEST(machine_shutdown, shutdown_hook_comes_at_each_childs_turn_just_before_its_stop) {
  // Proves §13.28: run_shutdown_hook for c, then its stop; b's hook and stop only after c has
  // ended; a (backing off at its turn) gets its hook and ends stopped without a stop request.
  // Each hook's limit is min(its shutdown timeout, the remaining grace); a child without the
  // hook (x) gets no run_shutdown_hook.
  supervisor_policy sp;
  sp.grace = 10s;
  driver d(sp);
  d.add("a", with_hook());
  d.add("x");
  d.add("b", with_hook(20s));
  d.add("c", with_hook(2s));
  d.fail("a");
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.log,
            (std::vector<std::string>{"shutdown_requested root", "shutdown_hook c", "stop c"}));
  d.advance(1s);
  d.succeed("c");
  d.succeed("x");  // x (between a and b) ends by itself before its turn: no stop, no hook
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  d.succeed("b");
  ASSERT_EQ(d.hooks.size(), 3u);
  EXPECT_EQ(d.name_of(d.hooks[0].id), "c");
  EXPECT_EQ(d.hooks[0].limit, 2s);
  EXPECT_EQ(d.name_of(d.hooks[1].id), "b");
  EXPECT_EQ(d.hooks[1].limit, 9s);  // the grace left after c's 1 s
  EXPECT_EQ(d.name_of(d.hooks[2].id), "a");
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  std::vector<std::string> order;
  for (const auto& line : d.log) {
    if (line.rfind("shutdown_hook", 0) == 0 || line.rfind("stop ", 0) == 0 ||
        line.rfind("finished", 0) == 0) {
      order.push_back(line);
    }
  }
  EXPECT_EQ(order, (std::vector<std::string>{"shutdown_hook c", "stop c", "finished c stopped",
                                             "shutdown_hook b", "stop b", "finished x completed",
                                             "finished b stopped", "shutdown_hook a",
                                             "finished a stopped"}));
  ASSERT_EQ(d.ended.size(), 1u);
}

TEST(machine_shutdown, dependents_get_their_turn_before_their_dependencies) {
  // Proves the turn order follows dependencies: db (first) and its dependent api: api's hook
  // and stop come before db's.
  driver d;
  d.add("db", with_hook());
  ASSERT_TRUE(d.m.add_child("api", std::make_shared<const child_policy>(with_hook()),
                            task_kind::coroutine, d.now, {"db"}));
  d.names[d.id("api")] = "api";
  d.drain();
  d.clear();
  d.shutdown();
  d.succeed("api");
  d.succeed("db");
  EXPECT_EQ(d.log, (std::vector<std::string>{"shutdown_requested root", "shutdown_hook api",
                                             "stop api", "attempt_cancelled root/api",
                                             "finished api stopped", "shutdown_hook db", "stop db",
                                             "attempt_cancelled root/db", "finished db stopped",
                                             "all_stopped_within_grace root", "ended"}));
}

// ================================================================ §13.29: a true report

TEST(machine_shutdown, a_fast_child_after_a_stubborn_one_still_stops_cooperatively) {
  // Proves §13.29: c ignores its stop and uses up the 5 s grace (stuck); b, whose turn comes
  // after that, is still asked and exits within its short turn: stopped, not forced, in no
  // list; a ignores it too and is forced after min_stop_turn (cut short). Each stop request
  // comes at the child's own turn.
  supervisor_policy sp;
  sp.grace = 5s;
  driver d(sp);
  d.add("a", with_hook(60s));
  d.add("b", with_hook(60s));
  d.add("c", with_hook(60s));
  d.clear();
  d.shutdown();
  d.advance(5s);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(d.hooks.back().limit, min_stop_turn);  // b's hook is bounded by its short turn
  d.advance(10ms);
  d.succeed("b");
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b", "a"}));
  d.advance(min_stop_turn);
  ASSERT_EQ(d.ended.size(), 1u);
  const supervisor_result& r = d.ended[0];
  EXPECT_TRUE(r.grace_exceeded);
  EXPECT_EQ(r.stuck, (std::vector<std::string>{"root/c"}));
  EXPECT_EQ(r.cut_short, (std::vector<std::string>{"root/a"}));
  EXPECT_EQ(r.abandoned, (std::vector<std::string>{"root/c", "root/a"}));
  EXPECT_FALSE(d.final("b")->forced);
  EXPECT_EQ(d.final("b")->status, final_status::stopped);
  const auto forced = d.of(event_kind::stop_timed_out);
  ASSERT_EQ(forced.size(), 2u);
  EXPECT_EQ(forced[0].reason, "");
  EXPECT_EQ(forced[1].path(), "root/a");
  EXPECT_NE(forced[1].reason.find("cut short"), std::string::npos);
}

TEST(machine_shutdown, a_turn_with_less_than_the_minimum_left_of_the_grace_gets_the_minimum) {
  // Proves the short turn also applies when a little grace is left: c exits at 9.95 s of a
  // 10 s grace; b is asked with 50 ms left, but is forced only after min_stop_turn (cut short),
  // not when the grace ends; a brutal child is forced at once by its own timeout (neither
  // list: that is its bound).
  supervisor_policy sp;
  sp.grace = 10s;
  driver d(sp);
  child_policy brutal_p = plain();
  brutal_p.shutdown = brutal;
  d.add("x", brutal_p);
  d.add("b", with_hook(60s));
  d.add("c", with_hook(60s));
  d.shutdown();
  d.advance(9950ms);
  d.succeed("c");
  d.advance(50ms);
  EXPECT_TRUE(d.abandons.empty());
  d.advance(50ms);
  ASSERT_EQ(d.abandons.size(), 2u);  // b, then x at once
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_TRUE(d.ended[0].stuck.empty());
  EXPECT_EQ(d.ended[0].cut_short, (std::vector<std::string>{"root/b"}));
  EXPECT_EQ(d.ended[0].abandoned, (std::vector<std::string>{"root/b", "root/x"}));
  EXPECT_TRUE(d.ended[0].grace_exceeded);
}

TEST(machine_shutdown, zero_grace_cuts_every_turn_short) {
  // Proves §13.2 with §13.29: grace 0 forces at once, and since no child had a turn of any
  // length, every one is reported cut short, none stuck.
  supervisor_policy sp;
  sp.grace = 0s;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.shutdown();
  d.m.on_deadline(d.now);
  d.drain();
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_TRUE(d.ended[0].grace_exceeded);
  EXPECT_TRUE(d.ended[0].stuck.empty());
  EXPECT_EQ(d.ended[0].cut_short, (std::vector<std::string>{"root/b", "root/a"}));
}

// ================================================================ parallel stop

TEST(machine_shutdown, parallel_order_asks_independent_children_at_once_and_dependents_first) {
  // Proves shutdown_order::parallel: a, b and c are independent of each other except that c
  // depends on a. b and c are asked at once (with their hooks); a only after c has ended, while
  // b still runs; the supervisor ends when all have.
  supervisor_policy sp;
  sp.shutdown_order = shutdown_order::parallel;
  driver d(sp);
  d.add("a", with_hook());
  d.add("b", with_hook());
  ASSERT_TRUE(d.m.add_child("c", std::make_shared<const child_policy>(with_hook()),
                            task_kind::coroutine, d.now, {"a"}));
  d.names[d.id("c")] = "c";
  d.drain();
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.log, (std::vector<std::string>{"shutdown_requested root", "shutdown_hook c", "stop c",
                                             "shutdown_hook b", "stop b"}));
  d.succeed("c");
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_EQ(d.log.back(), "stop a");
  d.succeed("a");
  EXPECT_TRUE(d.ended.empty());
  d.succeed("b");
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_TRUE(d.ended[0].ok());
}

TEST(machine_shutdown, parallel_order_stops_a_waiting_dependency_once_its_dependents_ended) {
  // Proves the waves also cover children that are not running: db (periodic) waits for its
  // next run and api, which depends on it, runs; db ends (child_stopped) only once api has
  // ended. With a stubborn api and a 1 s grace, api is stuck and db, not running, is simply
  // stopped.
  supervisor_policy sp;
  sp.shutdown_order = shutdown_order::parallel;
  sp.grace = 1s;
  driver d(sp);
  child_policy periodic = plain(restart::always);
  periodic.interval = 1h;
  d.add("db", periodic);
  ASSERT_TRUE(d.m.add_child("api", std::make_shared<const child_policy>(plain()),
                            task_kind::coroutine, d.now, {"db"}));
  d.names[d.id("api")] = "api";
  d.drain();
  d.succeed("db");  // api keeps running; db waits for its next period
  ASSERT_EQ(d.state("db"), child_state::backing_off);
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"api"}));
  EXPECT_FALSE(d.final("db"));
  d.advance(1s);
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.final("db")->status, final_status::stopped);
  EXPECT_EQ(d.count(event_kind::child_stopped), 1u);
  EXPECT_EQ(d.ended[0].stuck, (std::vector<std::string>{"root/api"}));
  EXPECT_TRUE(d.ended[0].cut_short.empty());
}

TEST(machine_shutdown, parallel_order_shares_one_grace) {
  // Proves parallel stops share the grace: x and y both ignore their stops and are both
  // forced when the 2 s grace ends, both stuck (each had its whole bound).
  supervisor_policy sp;
  sp.shutdown_order = shutdown_order::parallel;
  sp.grace = 2s;
  driver d(sp);
  d.add("x", with_hook(60s));
  d.add("y", with_hook(60s));
  d.shutdown();
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"y", "x"}));
  d.advance(2s);
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].stuck, (std::vector<std::string>{"root/y", "root/x"}));
}

}  // namespace
