// Unit tests of what the machine's events carry (SEMANTICS §6, §10, §13.13, §13.14): ending
// events equal their outcome, a self-reported timeout is a failure, back-off and forced stops
// say why, a stop of a child that was not running is reported, and max_children's meaning.
#include <gtest/gtest.h>

#include "machine_test_driver.hpp"
#include "vigil/core/error.hpp"

namespace {

using namespace machine_test;

// ================================================================ §13.14: event = outcome

TEST(machine_events, ending_event_carries_the_outcomes_code_signal_and_reason_for_every_kind) {
  // Proves §13.14: for every outcome kind an attempt can end with, with a non-zero code (an
  // exit code a process mapped to another kind, or one a coroutine set), the ending event's
  // exit_code / signal and reason equal the recorded outcome's.
  const std::vector<outcome> endings = {
      {outcome_kind::success, 0, {}, nullptr},
      {outcome_kind::failure, 7, "exit code 7", nullptr},
      {outcome_kind::fatal, 3, "exit code 3", nullptr},
      {outcome_kind::exited, 4, "exit code 4", nullptr},
      {outcome_kind::signalled, 9, "killed", nullptr},
      {outcome_kind::cancelled, 5, "gave up", nullptr},
  };
  for (const outcome& o : endings) {
    SCOPED_TRACE(describe(o));
    driver d;
    d.add("a");
    d.clear();
    d.exit("a", o);
    ASSERT_FALSE(d.events.empty());
    const event& e = d.events.front();
    const child_info info = d.info("a");
    const outcome& last = *info.last_outcome;
    EXPECT_EQ(e.outcome, last.kind);
    EXPECT_EQ(e.reason, last.reason);
    if (last.kind == outcome_kind::signalled) {
      EXPECT_EQ(e.signal, last.code);
      EXPECT_EQ(e.exit_code, 0);
    } else {
      EXPECT_EQ(e.exit_code, last.code);
      EXPECT_EQ(e.signal, 0);
    }
    EXPECT_EQ(last.code, o.code);
  }
}

TEST(machine_events, cancelled_ending_after_a_stop_keeps_the_code_in_its_event) {
  // Proves §13.14 for the stop path: a process that exits 143 after its stop has outcome
  // cancelled with code 143, and attempt_cancelled carries exit_code 143 and the reason.
  driver d;
  d.add("a");
  d.stop("a");
  d.clear();
  d.exit("a", {outcome_kind::exited, 143, "exit code 143", nullptr});
  ASSERT_EQ(d.count(event_kind::attempt_cancelled), 1u);
  const event e = d.of(event_kind::attempt_cancelled)[0];
  EXPECT_EQ(e.exit_code, 143);
  EXPECT_EQ(e.reason, "exit code 143");
  EXPECT_EQ(d.final("a")->last.code, 143);
}

TEST(machine_events, setup_failure_event_and_outcome_have_the_same_reason) {
  // Proves §13.14 for a failed setup step: the attempt_failed event and the final result's
  // last outcome carry the same reason text.
  driver d;
  child_policy p = plain();
  p.has_setup = true;
  d.add("a", p);
  child_id id = d.id("a");
  // The run_setup action is not logged by the driver: its token is the machine's next id.
  d.m.on_setup_done(id, 1, failure("no disk"), d.now);
  d.drain();
  ASSERT_EQ(d.count(event_kind::attempt_failed), 1u);
  ASSERT_TRUE(d.final("a"));
  EXPECT_EQ(d.final("a")->status, final_status::setup_failed);
  EXPECT_EQ(d.of(event_kind::attempt_failed)[0].reason, d.final("a")->last.reason);
  EXPECT_EQ(d.final("a")->last.reason, "setup failed: no disk");
}

// ================================================================ §6: timeout is the deadline

TEST(machine_events, self_returned_timeout_or_unresponsive_is_an_ordinary_failure) {
  // Proves §6: a task that returns `timeout` or `unresponsive` itself (no supervisor deadline
  // passed, none configured) is reported as attempt_failed with outcome failure and its own
  // reason (or one naming what it returned), not as attempt_timed_out with a zero limit; the
  // failure is retried with back-off as any failure.
  for (const outcome_kind k : {outcome_kind::timeout, outcome_kind::unresponsive}) {
    for (const std::string reason : {"upstream slow", ""}) {
      SCOPED_TRACE(std::string(to_string(k)) + " '" + reason + "'");
      driver d;
      d.add("a");
      d.clear();
      d.exit("a", {k, 0, reason, nullptr});
      EXPECT_EQ(d.count(event_kind::attempt_timed_out), 0u);
      EXPECT_EQ(d.count(event_kind::attempt_unresponsive), 0u);
      ASSERT_EQ(d.count(event_kind::attempt_failed), 1u);
      const event e = d.of(event_kind::attempt_failed)[0];
      EXPECT_EQ(e.outcome, outcome_kind::failure);
      const std::string want =
          reason.empty() ? "the task returned " + std::string(to_string(k)) : reason;
      EXPECT_EQ(e.reason, want);
      EXPECT_EQ(e.timeout, duration::zero());
      EXPECT_EQ(d.info("a").last_outcome->kind, outcome_kind::failure);
      EXPECT_EQ(d.info("a").last_outcome->reason, want);
      EXPECT_EQ(d.state("a"), child_state::backing_off);
    }
  }
}

TEST(machine_events, a_real_timeout_still_reports_attempt_timed_out_with_its_limit) {
  // Proves the supervisor's own deadline still gives outcome timeout and the limit.
  driver d;
  child_policy p = plain();
  p.timeout = 2s;
  d.add("a", p);
  d.advance(2s);
  d.exit("a", cancelled("saw the stop"));
  ASSERT_EQ(d.count(event_kind::attempt_timed_out), 1u);
  EXPECT_EQ(d.of(event_kind::attempt_timed_out)[0].timeout, 2s);
  EXPECT_EQ(d.info("a").last_outcome->kind, outcome_kind::timeout);
}

// ================================================================ §10: small event facts

TEST(machine_events, stop_timed_out_tells_brutal_from_infinity) {
  // Proves stop_timed_out's `timeout` is the child's shutdown timeout as set: 0 for brutal,
  // vigil::infinity (duration::max()) for a child without one that the grace forced, and the
  // text form says "limit=0ms" / "limit=infinity".
  supervisor_policy sp;
  sp.grace = 1s;
  driver d(sp);
  child_policy b = plain();
  b.shutdown = brutal;
  child_policy inf = plain();
  inf.shutdown = infinity;
  d.add("a", inf);
  d.add("b", b);
  d.shutdown();
  d.advance(1s + 200ms);
  const auto forced = d.of(event_kind::stop_timed_out);
  ASSERT_EQ(forced.size(), 2u);
  EXPECT_EQ(forced[0].path(), "root/b");
  EXPECT_EQ(forced[0].timeout, brutal);
  EXPECT_NE(format(forced[0]).find("limit=0ms"), std::string::npos) << format(forced[0]);
  EXPECT_EQ(forced[1].path(), "root/a");
  EXPECT_EQ(forced[1].timeout, infinity);
  EXPECT_NE(format(forced[1]).find("limit=infinity"), std::string::npos) << format(forced[1]);
}

TEST(machine_events, backoff_scheduled_carries_the_failure_that_caused_it) {
  // Proves backoff_scheduled names the failure it waits after: outcome kind and reason, for a
  // one_for_one restart and for a group restart's one back-off; an interval wait carries the
  // success.
  {
    driver d;
    d.add("a");
    d.exit("a", {outcome_kind::exited, 2, "exit code 2", nullptr});
    ASSERT_EQ(d.count(event_kind::backoff_scheduled), 1u);
    const event b = d.of(event_kind::backoff_scheduled)[0];
    EXPECT_EQ(b.outcome, outcome_kind::exited);
    EXPECT_EQ(b.reason, "exit code 2");
    EXPECT_EQ(b.exit_code, 2);
  }
  {
    supervisor_policy sp;
    sp.strategy = strategy::one_for_all;
    driver d(sp);
    d.add("a");
    d.add("b");
    d.fail("b", "lost link");
    ASSERT_EQ(d.count(event_kind::backoff_scheduled), 1u);
    const event b = d.of(event_kind::backoff_scheduled)[0];
    EXPECT_EQ(b.outcome, outcome_kind::failure);
    EXPECT_EQ(b.reason, "lost link");
  }
  {
    driver d;
    child_policy p = plain(restart::always);
    p.interval = 1s;
    d.add("a", p);
    d.succeed("a");
    ASSERT_EQ(d.count(event_kind::backoff_scheduled), 1u);
    const event b = d.of(event_kind::backoff_scheduled)[0];
    EXPECT_EQ(b.source, delay_source::interval);
    EXPECT_EQ(b.outcome, outcome_kind::success);
    EXPECT_EQ(b.reason, "");
  }
}

TEST(machine_events, stopping_a_child_that_is_not_running_emits_child_stopped) {
  // Proves a stop of a child with no live attempt (waiting for a permit, backing off, paused)
  // is reported: child_stopped with the state it left as reason, and no attempt_cancelled
  // (no attempt ran); also when the shutdown ends it.
  supervisor_policy sp;
  sp.max_concurrent = 1;
  driver d(sp);
  d.add("a");
  d.add("b");  // waits for a's permit
  ASSERT_EQ(d.state("b"), child_state::pending);
  d.clear();
  d.stop("b");
  ASSERT_EQ(d.count(event_kind::child_stopped), 1u);
  EXPECT_EQ(d.of(event_kind::child_stopped)[0].path(), "root/b");
  EXPECT_EQ(d.of(event_kind::child_stopped)[0].reason, "pending");
  EXPECT_EQ(d.count(event_kind::attempt_cancelled), 0u);
  EXPECT_EQ(d.final("b")->status, final_status::stopped);

  d.fail("a");  // backing off
  d.clear();
  d.shutdown();
  ASSERT_EQ(d.count(event_kind::child_stopped), 1u);
  EXPECT_EQ(d.of(event_kind::child_stopped)[0].reason, "backing_off");
  EXPECT_EQ(d.count(event_kind::attempt_cancelled), 0u);
  EXPECT_EQ(format(d.of(event_kind::child_stopped)[0]),
            "child_stopped root/a attempt=1 reason=\"backing_off\"");
}

TEST(machine_events, max_children_zero_allows_none_and_nullopt_is_unlimited) {
  // Proves max_children: nullopt (the default) is unlimited; 0 allows no child at all.
  {
    supervisor_policy sp;
    sp.max_children = 0;
    driver d(sp);
    const auto r = d.add("a");
    EXPECT_EQ(r.code, errc::too_many_children);
    EXPECT_NE(r.message.find("max_children = 0"), std::string::npos) << r.message;
    EXPECT_EQ(d.m.size(), 0u);
  }
  {
    driver d;
    EXPECT_FALSE(d.m.policy().max_children.has_value());
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(d.add("c" + std::to_string(i)));
  }
}

}  // namespace
