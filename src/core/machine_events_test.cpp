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
    const outcome& last = *d.info("a").last_outcome;
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

}  // namespace
