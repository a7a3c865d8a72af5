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
  EXPECT_EQ(d.log, (std::vector<std::string>{"shutdown_requested root", "shutdown_hook c",
                                             "stop c"}));
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

}  // namespace
