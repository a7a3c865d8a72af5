// The shutdown's report and order in the runtime (§8, §13.29), in virtual time: a child asked
// after the grace ran out still gets its turn, and the parallel order stops independent
// children together.
#include <gtest/gtest.h>

#include <boost/asio/this_coro.hpp>

#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

// Ignores every stop: only a forced stop ends it.
asio::awaitable<vigil::outcome> deaf(vigil::context ctx) {
  co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
  co_await ctx.sleep(1h);
  co_return vigil::success();
}

// Ends as soon as it is asked to stop.
asio::awaitable<vigil::outcome> polite(vigil::context ctx) {
  co_await ctx.stopped();
  co_return vigil::success();
}

TEST(shutdown, a_fast_child_after_a_stubborn_one_is_stopped_cooperatively_not_stuck) {
  // §13.29: "slow" (stopped first) ignores its stop and uses up the 1 s grace: stuck. "fast",
  // whose turn comes after that, is still asked and stops at once: stopped, not forced, not
  // reported. "deaf" ignores its short turn and is forced after min_stop_turn: cut short.
  vt::virtual_runtime vr;
  vr.start({.grace = 1s, .seed = 1});
  ASSERT_TRUE(vr.add({.name = "deaf", .task = deaf, .shutdown = 10s}));
  ASSERT_TRUE(vr.add({.name = "fast", .task = polite, .shutdown = 10s}));
  ASSERT_TRUE(vr.add({.name = "slow", .task = deaf, .shutdown = 10s}));
  std::optional<vigil::supervisor_result> result;
  vr.sup->async_wait([&](std::error_code, vigil::supervisor_result r) { result = r; });
  vr.sup->shutdown();
  vr.settle();
  vr.run_for(1s);
  EXPECT_FALSE(result);
  vr.run_for(vigil::min_stop_turn);
  ASSERT_TRUE(result);
  EXPECT_TRUE(result->grace_exceeded);
  EXPECT_EQ(result->stuck, (std::vector<std::string>{"root/slow"}));
  EXPECT_EQ(result->cut_short, (std::vector<std::string>{"root/deaf"}));
  EXPECT_EQ(result->abandoned, (std::vector<std::string>{"root/slow", "root/deaf"}));
  std::optional<vigil::final_result> fast;
  vr.sup->async_outcome("fast", [&](std::error_code, vigil::final_result f) { fast = f; });
  vr.settle();
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->status, vigil::final_status::stopped);
  EXPECT_FALSE(fast->forced);
}

TEST(shutdown, parallel_order_stops_independent_children_together) {
  // shutdown_order::parallel: two stubborn children with 1 s shutdown timeouts are asked at
  // once and both forced after 1 s (sequentially it would take 2 s); neither is stuck (each was
  // forced by its own timeout within the grace).
  vt::virtual_runtime vr;
  vr.start({.grace = 30s, .shutdown_order = vigil::shutdown_order::parallel, .seed = 1});
  ASSERT_TRUE(vr.add({.name = "x", .task = deaf, .shutdown = 1s}));
  ASSERT_TRUE(vr.add({.name = "y", .task = deaf, .shutdown = 1s}));
  std::optional<vigil::supervisor_result> result;
  vr.sup->async_wait([&](std::error_code, vigil::supervisor_result r) { result = r; });
  vr.sup->shutdown();
  vr.settle();
  vr.run_for(1s);
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->grace_exceeded);
  EXPECT_TRUE(result->stuck.empty());
  EXPECT_EQ(result->abandoned, (std::vector<std::string>{"root/y", "root/x"}));
}

}  // namespace
