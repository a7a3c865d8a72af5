// testing::scripted_task: attempts steered by the test, in virtual time (both with and without
// strands) and on a real runtime.
#include <gtest/gtest.h>

#include <stdexcept>

#include "vigil/testing/scripted_task.hpp"
#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace vt = vigil::testing;

const auto one_second = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none);

// Every test runs on a one-thread virtual_runtime and on one whose supervisors use strands.
struct scripted : ::testing::TestWithParam<bool> {
  vt::virtual_runtime vr{GetParam()};
  scripted() { vr.start(); }
};

TEST_P(scripted, each_attempt_ends_with_the_outcome_the_test_chooses) {
  // Attempt 1 fails when told (and not before), attempt 2 starts after the 1 s back-off and
  // ends fatal when told: the child is dead after exactly two attempts.
  vt::scripted_task s{vr.clock};
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .backoff = one_second}));
  EXPECT_EQ(s.attempts(), 1u);
  EXPECT_TRUE(s.running(1));
  vr.run_for(10s);
  EXPECT_EQ(s.attempts(), 1u) << "an attempt runs until the test ends it";
  s.fail("boom");
  vr.settle();
  EXPECT_FALSE(s.running(1));
  ASSERT_TRUE(s.returned(1).has_value());
  EXPECT_EQ(s.returned(1)->reason, "boom");
  vr.run_for(999ms);
  EXPECT_EQ(s.attempts(), 1u);
  vr.run_for(1ms);
  EXPECT_EQ(s.attempts(), 2u);
  s.end(vigil::fatal("bad config"));
  const auto r = vr.outcome("w");
  ASSERT_TRUE(r) << r;
  EXPECT_EQ(r->status, vigil::final_status::dead);
  EXPECT_EQ(r->total_attempts, 2u);
  EXPECT_EQ(r->last.reason, "bad config");
  EXPECT_FALSE(s.saw_stop(1));
  EXPECT_THROW(s.succeed(), std::logic_error) << "no attempt is running";
}

TEST_P(scripted, plans_script_attempts_ahead_in_virtual_time) {
  // Attempt 1 fails 2 s after its start, attempt 2 at once, later ones (the default plan)
  // succeed at once: with a 1 s back-off the child completes 4 s after it was added.
  vt::scripted_task s{vr.clock, {.end = vigil::success()}};
  s.plan_next({.end = vigil::failure("slow"), .after = 2s});
  s.plan_next({.end = vigil::failure("fast")});
  const auto t0 = vr.clock.now();
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .backoff = one_second}));
  const auto r = vr.outcome("w");
  ASSERT_TRUE(r) << r;
  EXPECT_EQ(r->status, vigil::final_status::completed);
  EXPECT_EQ(s.attempts(), 3u);
  EXPECT_EQ(vr.clock.now() - t0, 4s);
  EXPECT_EQ(s.returned(1)->reason, "slow");
  EXPECT_EQ(s.returned(2)->reason, "fast");
  const auto failed = vr.events->of(vigil::event_kind::attempt_failed, "root/w");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].at - t0, 2s);
}

TEST_P(scripted, an_ignored_stop_is_forced_after_the_shutdown_timeout) {
  // The attempt ignores its stop: stop() completes after the child's 2 s shutdown timeout, the
  // final result is stopped and forced, and the abandoned attempt is still running.
  vt::scripted_task s{vr.clock};
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .shutdown = 2s}));
  s.ignore_stop();
  const auto t0 = vr.clock.now();
  ASSERT_TRUE(vr.stop("w"));
  EXPECT_EQ(vr.clock.now() - t0, 2s);
  EXPECT_TRUE(s.saw_stop(1));
  EXPECT_TRUE(s.running(1));
  const auto r = vr.outcome("w");
  EXPECT_EQ(r->status, vigil::final_status::stopped);
  EXPECT_TRUE(r->forced);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/w"), 1u);
}

TEST_P(scripted, a_slow_stop_takes_the_given_virtual_time) {
  // The attempt returns 300 ms after it saw its stop: stop() completes then, well within the
  // 5 s shutdown timeout, and the stop is not forced. A plan can ask the same of attempt 2.
  vt::scripted_task s{vr.clock};
  s.plan_next({});
  s.plan_next({.on_stop = vt::stop_response::slowly, .stop_delay = 700ms});
  ASSERT_TRUE(vr.add({.name = "w", .task = s}));
  s.stop_slowly(300ms);
  auto t0 = vr.clock.now();
  ASSERT_TRUE(vr.stop("w"));
  EXPECT_EQ(vr.clock.now() - t0, 300ms);
  EXPECT_FALSE(s.running(1));
  EXPECT_EQ(s.returned(1)->kind, vigil::outcome_kind::cancelled);
  EXPECT_FALSE(vr.outcome("w")->forced);

  ASSERT_TRUE(vr.start("w"));
  t0 = vr.clock.now();
  ASSERT_TRUE(vr.restart("w"));
  EXPECT_EQ(vr.clock.now() - t0, 700ms);
  EXPECT_EQ(s.attempts(), 3u);
  EXPECT_TRUE(s.running(3));
}

TEST_P(scripted, a_hanging_attempt_ignores_stops_and_commands) {
  // After hang() the attempt answers nothing: live commands throw, a stop is forced after the
  // 1 s shutdown timeout, and the next attempt (after start) is steered as usual.
  vt::scripted_task s{vr.clock};
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .shutdown = 1s}));
  s.hang();
  EXPECT_THROW(s.succeed(), std::logic_error);
  const auto t0 = vr.clock.now();
  ASSERT_TRUE(vr.stop("w"));
  EXPECT_EQ(vr.clock.now() - t0, 1s);
  EXPECT_TRUE(vr.outcome("w")->forced);
  EXPECT_TRUE(s.running(1));
  ASSERT_TRUE(vr.start("w"));
  s.succeed();
  EXPECT_EQ(vr.outcome("w")->status, vigil::final_status::completed);
}

TEST_P(scripted, a_throwing_factory_or_attempt_is_a_failure) {
  // The factory throws for attempt 1 (a failed attempt with its message, never running);
  // attempt 2 throws vigil::fatal_error when told, which ends the child dead.
  vt::scripted_task s{vr.clock};
  s.throw_from_factory_next("no config");
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .backoff = one_second}));
  EXPECT_EQ(s.attempts(), 1u);
  EXPECT_FALSE(s.running(1));
  EXPECT_FALSE(s.returned(1).has_value());
  const auto failed = vr.events->of(vigil::event_kind::attempt_failed, "root/w");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].reason, "no config");
  vr.run_for(1s);
  ASSERT_TRUE(s.running(2));
  s.throw_exception(std::make_exception_ptr(vigil::fatal_error("corrupt")));
  const auto r = vr.outcome("w");
  EXPECT_EQ(r->status, vigil::final_status::dead);
  EXPECT_EQ(r->last.reason, "corrupt");
  EXPECT_EQ(s.returned(2)->kind, vigil::outcome_kind::fatal);
}

TEST_P(scripted, heartbeats_and_readiness_come_when_the_test_says) {
  // With a 1 s heartbeat timeout, a heartbeat at 0.9 s keeps attempt 1 alive past 1 s; without
  // another it is unresponsive by 2 s (+10%). ready() marks the child ready.
  vt::scripted_task s{vr.clock};
  ASSERT_TRUE(vr.add({.name = "w", .task = s, .heartbeat_timeout = 1s, .wait_ready = true}));
  EXPECT_FALSE(vr.status("w")->ready);
  s.ready();
  vr.settle();
  EXPECT_TRUE(vr.status("w")->ready);
  vr.run_for(900ms);
  s.heartbeat();
  vr.run_for(900ms);
  EXPECT_EQ(vr.events->count(vigil::event_kind::attempt_unresponsive, "root/w"), 0u);
  EXPECT_TRUE(s.running(1));
  vr.run_for(300ms);
  EXPECT_EQ(vr.events->count(vigil::event_kind::attempt_unresponsive, "root/w"), 1u);
  EXPECT_TRUE(s.saw_stop(1));
}

INSTANTIATE_TEST_SUITE_P(strands, scripted, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "one_thread" : "strands";
                         });

TEST(scripted_task, works_on_a_real_runtime_from_the_test_thread) {
  // On a 2-thread runtime with the steady clock: the test waits for each attempt, ends it from
  // its own thread, and the blocking outcome() sees the child complete after 3 attempts.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt};
  vt::scripted_task s{vigil::clock::steady()};
  sup.add({.name = "w", .task = s, .backoff = vigil::backoff::constant(0s)});
  ASSERT_TRUE(s.wait_for_attempts(1));
  s.fail("one");
  ASSERT_TRUE(s.wait_for_attempts(2));
  s.fail("two");
  ASSERT_TRUE(s.wait_for_attempts(3));
  s.succeed();
  const auto r = sup.outcome("w");
  EXPECT_EQ(r.status, vigil::final_status::completed);
  EXPECT_EQ(r.total_attempts, 3u);
  EXPECT_EQ(s.returned(2)->reason, "two");
}

}  // namespace
