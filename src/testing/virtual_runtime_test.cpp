// testing::virtual_runtime's settled calls: replies with code and message, virtual time moved
// only as far as needed, and a missing reply as an explicit failure.
#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>

#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

asio::awaitable<vigil::outcome> park(vigil::context ctx) {
  co_await ctx.stopped();
  co_return vigil::success();
}

asio::awaitable<vigil::outcome> fail(vigil::context) {
  co_return vigil::failure("boom");
}

asio::awaitable<vigil::outcome> succeed(vigil::context) {
  co_return vigil::success();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const auto one_second = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none);

// Every test runs on a one-thread virtual_runtime and on one whose supervisors use strands.
struct settled_calls : ::testing::TestWithParam<bool> {
  vt::virtual_runtime vr{GetParam()};
};

TEST_P(settled_calls, settled_commands_return_the_code_and_the_supervisors_message) {
  // Each settled_calls command returns the reply's code and message: an invalid field is named, an
  // unknown child is named, a success is ok with an empty message.
  vr.start();
  const auto bad = vr.add({.name = "w", .task = park, .shutdown = -1s});
  EXPECT_EQ(bad.code, vigil::errc::invalid_argument);
  EXPECT_TRUE(contains(bad.message, "shutdown")) << bad;
  EXPECT_FALSE(bad);

  const auto good = vr.add({.name = "w", .task = park});
  EXPECT_TRUE(good) << good;
  EXPECT_EQ(good.message, "");
  EXPECT_EQ(vr.status("w")->state, vigil::child_state::running);

  const auto missing = vr.stop("zz");
  EXPECT_EQ(missing.code, vigil::errc::not_found);
  EXPECT_TRUE(contains(missing.message, "'zz'")) << missing;
  EXPECT_EQ(vr.start("w").code, vigil::errc::already_running);

  EXPECT_TRUE(vr.pause("w"));
  EXPECT_TRUE(vr.resume("w"));
  EXPECT_TRUE(vr.restart("w"));
  EXPECT_EQ(vr.status("w")->attempt, 2u);
  EXPECT_TRUE(vr.stop("w"));
  EXPECT_EQ(vr.status("w")->state, vigil::child_state::stopped);
  EXPECT_TRUE(vr.start("w"));
  EXPECT_EQ(vr.status("w")->attempt, 3u);
  ASSERT_EQ(vr.children()->size(), 1u);
  EXPECT_EQ(vr.tree()->front().path, "root/w");
  EXPECT_TRUE(vr.remove("w"));
  EXPECT_TRUE(vr.children()->empty());
}

TEST_P(settled_calls, a_failed_query_throws_instead_of_giving_a_default_value) {
  // The trap of hand-written helpers: a status with no answer returned a default child_info
  // (state pending), so "expect pending" passed. Here an error answer cannot be read as a value.
  vr.start();
  const auto st = vr.status("ghost");
  EXPECT_EQ(st.code, vigil::errc::not_found);
  EXPECT_TRUE(contains(st.message, "status('ghost')")) << st;
  EXPECT_THROW((void)st->state, vigil::error);
  EXPECT_THROW((void)vr.outcome("ghost").value(), vigil::error);
}

TEST_P(settled_calls, outcome_moves_virtual_time_exactly_until_the_child_is_terminal) {
  // A child failing with 1 s back-off and 2 retries is exhausted after 2 s of virtual time:
  // outcome() returns then, with the clock moved by exactly 2 s, not up to its limit.
  vr.start();
  ASSERT_TRUE(vr.add({.name = "w", .task = fail, .backoff = one_second, .max_retries = 2}));
  const auto t0 = vr.clock.now();
  const auto r = vr.outcome("w");
  ASSERT_TRUE(r) << r;
  EXPECT_EQ(r->status, vigil::final_status::retries_exhausted);
  EXPECT_EQ(r->total_attempts, 3u);
  EXPECT_EQ(vr.clock.now() - t0, 2s);
}

TEST_P(settled_calls, no_reply_is_an_explicit_failure_saying_why) {
  // A child parked forever arms no timer: outcome() fails at once with timeout, saying nothing
  // is left to run. A periodic child keeps timers armed: outcome() gives up after its limit,
  // exactly, and says so. The pending calls stay valid: a later stop answers them harmlessly.
  vr.start();
  ASSERT_TRUE(vr.add({.name = "parked", .task = park}));
  const auto t0 = vr.clock.now();
  const auto never = vr.outcome("parked");
  EXPECT_EQ(never.code, vigil::errc::timeout);
  EXPECT_TRUE(contains(never.message, "nothing is left to run")) << never;
  EXPECT_EQ(vr.clock.now(), t0);

  ASSERT_TRUE(
      vr.add({.name = "tick", .task = succeed, .restart = vigil::restart::always, .interval = 1s}));
  const auto later = vr.outcome("tick", 5s);
  EXPECT_EQ(later.code, vigil::errc::timeout);
  EXPECT_TRUE(contains(later.message, "within 5000 ms")) << later;
  EXPECT_EQ(vr.clock.now() - t0, 5s);
  EXPECT_EQ(vr.status("tick")->attempt, 6u);

  EXPECT_TRUE(vr.stop("parked"));
  EXPECT_TRUE(vr.stop("tick"));
  EXPECT_EQ(vr.outcome("tick")->status, vigil::final_status::stopped);
}

TEST_P(settled_calls, shutdown_waits_for_the_end_and_calls_before_start_fail) {
  // Without start() every settled_calls call fails with supervisor_gone; shutdown() ends the
  // supervisor and returns its result; afterwards mutating calls fail with shutting_down.
  EXPECT_EQ(vr.add({.name = "w", .task = park}).code, vigil::errc::supervisor_gone);
  EXPECT_EQ(vr.status("w").code, vigil::errc::supervisor_gone);
  vr.start();
  ASSERT_TRUE(vr.add({.name = "w", .task = park}));
  const auto ended = vr.shutdown();
  ASSERT_TRUE(ended) << ended;
  EXPECT_EQ(ended->reason, vigil::exit_reason::shutdown_requested);
  EXPECT_TRUE(ended->ok());
  EXPECT_EQ(vr.add({.name = "x", .task = park}).code, vigil::errc::shutting_down);
  EXPECT_EQ(vr.outcome("w")->status, vigil::final_status::stopped);
}

TEST_P(settled_calls, run_until_steps_through_wakeups_and_stops_at_its_limit) {
  // run_until moves virtual time wake-up by wake-up until the predicate holds, never past its
  // limit; with nothing pending it returns false at once.
  vr.start();
  ASSERT_TRUE(vr.add({.name = "w", .task = fail, .backoff = one_second}));
  const auto t0 = vr.clock.now();
  EXPECT_TRUE(vr.run_until(
      [&] { return vr.events->count(vigil::event_kind::attempt_starting, "root/w") == 4; }, 1min));
  EXPECT_EQ(vr.clock.now() - t0, 3s);
  EXPECT_FALSE(vr.run_until([] { return false; }, 2500ms));
  EXPECT_EQ(vr.clock.now() - t0, 5500ms);
}

INSTANTIATE_TEST_SUITE_P(strands, settled_calls, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "one_thread" : "strands";
                         });

}  // namespace
