// Unit tests of the supervisor state machine (SEMANTICS §2-§4, §8, §13 and the traps), driven
// in virtual time: commands and exits go in with a hand-made `now`, actions are drained out.
#include "vigil/core/machine.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "machine_test_driver.hpp"
#include "vigil/core/error.hpp"

namespace {

using namespace std::chrono_literals;
using namespace vigil::core;
using namespace machine_test;

// ================================================================ restart policy (§2)

TEST(machine, restart_policy_table_decides_after_each_kind_of_ending) {
  // Proves the §2 table: for each policy × ending, the attempt's event, whether a restart is
  // scheduled (with which source and delay) or which final status the child gets.
  enum class ending { success, failure, fatal, exited_0, exited_3, signalled, cancel_on_request };
  struct row {
    restart policy;
    ending how;
    event_kind attempt_event;
    std::optional<delay_source> source;  // a restart is scheduled
    duration delay;
    std::optional<final_status> status;  // or the child ends
  };
  const auto A = restart::always, F = restart::on_failure, N = restart::never;
  using ek = event_kind;
  using fs = final_status;
  const std::vector<row> table = {
      {A, ending::success, ek::attempt_succeeded, delay_source::interval, 1ms, {}},
      {A, ending::failure, ek::attempt_failed, delay_source::failure, 100ms, {}},
      {A, ending::signalled, ek::attempt_failed, delay_source::failure, 100ms, {}},
      {A, ending::fatal, ek::attempt_failed, {}, {}, fs::dead},
      {A, ending::cancel_on_request, ek::attempt_cancelled, {}, {}, fs::stopped},
      {F, ending::success, ek::attempt_succeeded, {}, {}, fs::completed},
      {F, ending::exited_0, ek::attempt_succeeded, {}, {}, fs::completed},
      {F, ending::failure, ek::attempt_failed, delay_source::failure, 100ms, {}},
      {F, ending::exited_3, ek::attempt_failed, delay_source::failure, 100ms, {}},
      {F, ending::fatal, ek::attempt_failed, {}, {}, fs::dead},
      {F, ending::cancel_on_request, ek::attempt_cancelled, {}, {}, fs::stopped},
      {N, ending::success, ek::attempt_succeeded, {}, {}, fs::completed},
      {N, ending::failure, ek::attempt_failed, {}, {}, fs::failed},
      {N, ending::signalled, ek::attempt_failed, {}, {}, fs::failed},
      {N, ending::fatal, ek::attempt_failed, {}, {}, fs::dead},
      {N, ending::cancel_on_request, ek::attempt_cancelled, {}, {}, fs::stopped},
  };
  for (std::size_t i = 0; i < table.size(); ++i) {
    const row& r = table[i];
    SCOPED_TRACE("row " + std::to_string(i) + ": " + std::string(to_string(r.policy)));
    driver d;
    ASSERT_TRUE(d.add("a", plain(r.policy)));
    d.clear();
    switch (r.how) {
      case ending::success:
        d.succeed("a");
        break;
      case ending::failure:
        d.fail("a");
        break;
      case ending::fatal:
        d.exit("a", fatal("bad"));
        break;
      case ending::exited_0:
        d.exit("a", {outcome_kind::exited, 0, {}, nullptr});
        break;
      case ending::exited_3:
        d.exit("a", {outcome_kind::exited, 3, {}, nullptr});
        break;
      case ending::signalled:
        d.exit("a", {outcome_kind::signalled, 9, {}, nullptr});
        break;
      case ending::cancel_on_request:
        d.stop("a");
        d.succeed("a");
        break;
    }
    ASSERT_FALSE(d.events.empty());
    EXPECT_EQ(d.events.front().kind, r.attempt_event);
    EXPECT_TRUE(d.starts.empty()) << "nothing restarts synchronously here";
    if (r.source) {
      ASSERT_EQ(d.count(ek::backoff_scheduled), 1u);
      const event b = d.of(ek::backoff_scheduled).front();
      EXPECT_EQ(b.source, *r.source);
      EXPECT_EQ(b.delay, r.delay);
      EXPECT_EQ(d.state("a"), child_state::backing_off);
      EXPECT_EQ(d.m.next_deadline(), d.now + r.delay);
      EXPECT_TRUE(d.finished.empty());
    } else {
      EXPECT_EQ(d.count(ek::backoff_scheduled), 0u) << "no back-off sleep";
      ASSERT_EQ(d.finished.size(), 1u);
      EXPECT_EQ(d.finished.front().result.status, *r.status);
      EXPECT_EQ(d.finished.front().result.total_attempts, 1u);
      EXPECT_TRUE(is_terminal(d.state("a")));
      EXPECT_EQ(d.m.next_deadline(), std::nullopt);
      EXPECT_EQ(d.count(ek::child_dead), r.status == fs::dead ? 1u : 0u);
    }
  }
}

TEST(machine, always_with_interval_waits_the_interval_from_the_end_of_the_attempt) {
  // Proves a periodic task restarts exactly `interval` after its attempt ended (not after it
  // started): runs 2 s, interval 5 s → attempt 2 at end + 5 s, not at start + 5 s.
  driver d;
  child_policy p = plain(restart::always);
  p.interval = 5s;
  d.add("tick", p);
  const time_point start = d.now;
  d.advance(2s);
  d.succeed("tick");
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).at(0).delay, 5s);
  EXPECT_EQ(d.m.next_deadline(), start + 7s);
  d.advance(5s - 1ns);
  EXPECT_EQ(d.starts.size(), 1u);
  d.advance(1ns);
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.starts[1].attempt, 2u);
  EXPECT_EQ(d.starts[1].failure_streak, 0u);
}

TEST(machine, instantly_succeeding_always_task_is_spaced_at_least_1ms_from_its_last_start) {
  // Proves the no-hot-loop rule: a success after 0 s waits 1 ms, after 400 µs waits 600 µs,
  // and a success after more than 1 ms restarts at once with no timer.
  driver d;
  d.add("spin", plain(restart::always));
  d.succeed("spin");
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).back().delay, 1ms);
  d.advance(1ms - 1ns);
  EXPECT_EQ(d.starts.size(), 1u);
  d.advance(1ns);
  ASSERT_EQ(d.starts.size(), 2u);

  d.advance(400us);
  d.succeed("spin");
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).back().delay, 600us);
  d.advance(600us);
  ASSERT_EQ(d.starts.size(), 3u);

  d.advance(2ms);
  d.succeed("spin");
  EXPECT_EQ(d.starts.size(), 4u) << "more than 1 ms since the start: restart at once";
  EXPECT_EQ(d.m.next_deadline(), std::nullopt);
}

TEST(machine, cancelled_without_a_stop_request_counts_as_a_failure) {
  // Proves §2: a self-cancelled attempt raises the streak and backs off like a failure
  // (on_failure), and ends a `never` child as failed — never stuck in between (trap 6).
  driver d;
  d.add("a");
  d.add("b", plain(restart::never));
  d.exit("a", cancelled("gave up"));
  d.exit("b", cancelled("gave up"));
  EXPECT_EQ(d.info("a").failure_streak, 1u);
  EXPECT_EQ(d.state("a"), child_state::backing_off);
  ASSERT_EQ(d.count(event_kind::backoff_scheduled), 1u);
  EXPECT_EQ(d.of(event_kind::backoff_scheduled)[0].source, delay_source::failure);
  ASSERT_TRUE(d.final("b"));
  EXPECT_EQ(d.final("b")->status, final_status::failed);
  EXPECT_EQ(d.final("b")->last.reason, "gave up");
  EXPECT_EQ(d.info("a").recent_failures.size(), 1u);
}

TEST(machine, exception_outcomes_never_leave_a_child_in_limbo) {
  // Proves trap 6: outcomes mapped from exceptions end every child either backing off with a
  // timer or terminal, never neither running nor terminal.
  driver d;
  d.add("x");
  d.add("y", plain(restart::never));
  d.add("z");
  d.exit("x", outcome_from_exception(std::make_exception_ptr(std::runtime_error("e"))));
  d.exit("y", outcome_from_exception(std::make_exception_ptr(42)));
  d.exit("z", outcome_from_exception(std::make_exception_ptr(fatal_error("f"))));
  EXPECT_EQ(d.state("x"), child_state::backing_off);
  EXPECT_TRUE(d.info("x").next_restart.has_value());
  EXPECT_EQ(d.state("y"), child_state::failed);
  EXPECT_EQ(d.final("y")->last.reason, "unknown exception");
  EXPECT_EQ(d.state("z"), child_state::dead);
  EXPECT_EQ(d.final("z")->status, final_status::dead);
  EXPECT_TRUE(d.final("z")->last.exception) << "the exception is kept (§13.14)";
}

TEST(machine, max_retries_n_gives_exactly_n_plus_one_attempts) {
  // Proves trap 7 for N = 0, 1, 3: N+1 attempts, N back-offs, no back-off after the last
  // failure, child_exhausted, final status retries_exhausted with the last failure, and (§4,
  // on_exhausted = escalate by default) the supervisor escalating with that failure as cause.
  for (const std::uint32_t n : {0u, 1u, 3u}) {
    SCOPED_TRACE("max_retries=" + std::to_string(n));
    driver d;
    child_policy p = plain();
    p.max_retries = n;
    d.add("a", p);
    for (std::uint32_t i = 0; i <= n; ++i) {
      ASSERT_EQ(d.starts.size(), i + 1);
      d.fail("a", "boom " + std::to_string(i + 1));
      d.advance(1min);
    }
    EXPECT_EQ(d.starts.size(), n + 1);
    EXPECT_EQ(d.count(event_kind::backoff_scheduled), n);
    EXPECT_EQ(d.count(event_kind::child_exhausted), 1u);
    ASSERT_EQ(d.ended.size(), 1u);
    EXPECT_EQ(d.ended[0].reason, exit_reason::child_exhausted);
    EXPECT_EQ(d.ended[0].cause_path, "root/a");
    EXPECT_EQ(d.ended[0].cause->reason, "boom " + std::to_string(n + 1));
    ASSERT_EQ(d.finished.size(), 1u);
    EXPECT_EQ(d.finished[0].result.status, final_status::retries_exhausted);
    EXPECT_EQ(d.finished[0].result.total_attempts, n + 1);
    EXPECT_EQ(d.finished[0].result.last.reason, "boom " + std::to_string(n + 1));
    EXPECT_EQ(d.m.next_deadline(), std::nullopt);
  }
}

TEST(machine, backoff_grows_per_failure_streak_and_resets_after_a_success) {
  // Proves delay(streak - 1): 100, 200, 400 ms for three failures (and the streak reported to
  // attempts), then after a success the next failure waits 100 ms again.
  driver d;
  d.add("a", plain(restart::always));
  std::vector<duration> delays;
  for (int i = 0; i < 3; ++i) {
    d.fail("a");
    delays.push_back(d.of(event_kind::backoff_scheduled).back().delay);
    d.advance(delays.back());
  }
  EXPECT_EQ(delays, (std::vector<duration>{100ms, 200ms, 400ms}));
  ASSERT_EQ(d.starts.size(), 4u);
  EXPECT_EQ(d.starts[3].failure_streak, 3u);
  EXPECT_EQ(d.starts[3].attempt, 4u);
  d.advance(5ms);
  d.succeed("a");
  EXPECT_EQ(d.info("a").failure_streak, 0u);
  d.fail("a");
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).back().delay, 100ms);
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).back().source, delay_source::failure);
}

TEST(machine, running_for_stable_after_resets_the_failure_streak) {
  // Proves the streak resets when the failing attempt ran for stable_after (measured from its
  // start): two quick failures reach streak 2; a failure after exactly 10 s is streak 1 again
  // (delay 100 ms), while 1 ns less would have continued the streak.
  for (const duration ran : {duration(10s), duration(10s - 1ns)}) {
    driver d;
    child_policy p = plain();
    p.stable_after = 10s;
    d.add("a", p);
    d.fail("a");
    d.advance(100ms);
    d.fail("a");
    d.advance(200ms);
    EXPECT_EQ(d.info("a").failure_streak, 2u);
    d.advance(ran);
    d.fail("a");
    const bool stable = ran == 10s;
    EXPECT_EQ(d.info("a").failure_streak, stable ? 1u : 3u);
    EXPECT_EQ(d.of(event_kind::backoff_scheduled).back().delay, stable ? 100ms : 400ms);
  }
}

TEST(machine, stable_after_also_resets_decorrelated_jitter_memory) {
  // Proves a streak reset restarts decorrelated jitter from `first`: after the delays grew to
  // the 10 s cap, a failure after stable_after waits within [first, 3 × first], over many seeds.
  for (std::uint64_t seed = 1; seed <= 30; ++seed) {
    supervisor_policy sp;
    sp.intensity = {1000, 10s};
    driver d(sp, seed);
    child_policy p = plain();
    p.stable_after = 1min;
    p.backoff = backoff::exponential(100ms, 10s, 2.0).with_jitter(jitter::decorrelated);
    d.add("a", p);
    for (int i = 0; i < 12; ++i) {
      d.fail("a");
      d.advance(d.of(event_kind::backoff_scheduled).back().delay);
    }
    d.advance(1min);
    d.fail("a");
    ASSERT_EQ(d.info("a").failure_streak, 1u);
    const duration delay = d.of(event_kind::backoff_scheduled).back().delay;
    EXPECT_GE(delay, 100ms) << "seed " << seed;
    EXPECT_LE(delay, 300ms) << "seed " << seed;
  }
}

TEST(machine, zero_backoff_restarts_at_once_without_a_deadline) {
  // Proves §13.23: constant(0) restarts in the same step as the failure and arms no timer.
  driver d;
  child_policy p = plain();
  p.backoff = backoff::constant(0ns);
  d.add("a", p);
  d.fail("a");
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).at(0).delay, 0ns);
  EXPECT_EQ(d.m.next_deadline(), std::nullopt);
  EXPECT_EQ(d.state("a"), child_state::running);
  EXPECT_EQ(d.starts[1].failure_streak, 1u);
}

TEST(machine, sub_millisecond_backoff_is_honoured_as_given) {
  // Proves §13.23: a 250 µs back-off arms its deadline exactly 250 µs later, not 1 ms.
  driver d;
  child_policy p = plain();
  p.backoff = backoff::constant(250us).with_jitter(jitter::none);
  d.add("a", p);
  d.fail("a");
  EXPECT_EQ(d.m.next_deadline(), d.now + 250us);
  d.advance(250us);
  EXPECT_EQ(d.starts.size(), 2u);
}

TEST(machine, jittered_backoff_events_stay_within_their_bounds) {
  // Proves jitter inside the machine (trap 7): with equal jitter each scheduled delay of streak s
  // lies in [d/2, d] for d = 100 ms × 2^(s-1), over several seeds.
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    driver d({}, seed);
    child_policy p = plain();
    p.backoff = backoff::exponential(100ms, 30s, 2.0);  // equal jitter
    d.add("a", p);
    duration base = 100ms;
    for (int s = 1; s <= 8; ++s) {
      d.fail("a");
      const duration delay = d.of(event_kind::backoff_scheduled).back().delay;
      EXPECT_GE(delay, base / 2);
      EXPECT_LE(delay, base);
      EXPECT_EQ(d.m.next_deadline(), d.now + delay);
      d.advance(delay);
      base *= 2;
    }
  }
}

// ================================================================ intensity (§4)

TEST(machine, intensity_breach_stops_everything_and_ends_with_the_cause) {
  // Proves §4: with {2, 10 s}, the third automatic restart request breaches: intensity_exceeded,
  // the breaching child ends failed, the others are stopped, and the result carries reason
  // intensity_exceeded with the cause's path and outcome.
  supervisor_policy sp;
  sp.intensity = {2, 10s};
  driver d(sp);
  d.add("b");
  child_policy p = plain();
  p.backoff = backoff::constant(0ns);
  d.add("a", p);
  d.fail("a", "boom 1");
  d.fail("a", "boom 2");
  EXPECT_EQ(d.count(event_kind::intensity_exceeded), 0u);
  EXPECT_EQ(d.info("a").restarts_automatic, 2u);
  d.clear();
  d.fail("a", "boom 3");
  EXPECT_EQ(d.kinds(),
            (std::vector<event_kind>{event_kind::attempt_failed, event_kind::intensity_exceeded,
                                     event_kind::shutdown_requested}));
  EXPECT_EQ(d.final("a")->status, final_status::failed);
  EXPECT_TRUE(d.starts.empty());
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(d.ended.empty()) << "b is still stopping";
  d.succeed("b");
  ASSERT_EQ(d.ended.size(), 1u);
  const supervisor_result& r = d.ended[0];
  EXPECT_EQ(r.reason, exit_reason::intensity_exceeded);
  EXPECT_EQ(r.cause_path, "root/a");
  ASSERT_TRUE(r.cause);
  EXPECT_EQ(r.cause->reason, "boom 3");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(d.final("b")->status, final_status::stopped);
  EXPECT_EQ(d.m.result()->reason, exit_reason::intensity_exceeded);
}

TEST(machine, intensity_breach_is_reported_even_when_exit_when_idle_is_set) {
  // Proves escalation is not masked as `idle`: the only child breaching {0, 10 s} ends the
  // supervisor with intensity_exceeded, not idle, even though every child is then terminal.
  supervisor_policy sp;
  sp.intensity = {0, 10s};
  sp.exit_when_idle = true;
  driver d(sp);
  d.add("a");
  d.fail("a");
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].reason, exit_reason::intensity_exceeded);
  EXPECT_EQ(d.ended[0].cause_path, "root/a");
  EXPECT_EQ(d.count(event_kind::intensity_exceeded), 1u);
}

TEST(machine, intensity_window_slides_over_automatic_restarts) {
  // Proves §13.1 inside the machine: with {1, 10 s}, failures 10 s apart never breach, while a
  // second failure 9.9 s after the first does.
  for (const duration gap : {duration(10s), duration(9900ms)}) {
    supervisor_policy sp;
    sp.intensity = {1, 10s};
    driver d(sp);
    child_policy p = plain();
    p.backoff = backoff::constant(0ns);
    d.add("a", p);
    d.fail("a");
    d.advance(gap);
    d.fail("a");
    EXPECT_EQ(d.count(event_kind::intensity_exceeded), gap == 10s ? 0u : 1u);
    EXPECT_EQ(d.ended.empty() && !d.m.shutting_down(), gap == 10s);
  }
}

TEST(machine, periodic_successes_do_not_count_against_intensity) {
  // Proves successes of `always` children are not automatic restarts for the intensity: 50
  // quick successes under {1, 10 s} never breach.
  supervisor_policy sp;
  sp.intensity = {1, 10s};
  driver d(sp);
  d.add("tick", plain(restart::always));
  for (int i = 0; i < 50; ++i) {
    d.succeed("tick");
    d.advance(1ms);
  }
  EXPECT_EQ(d.starts.size(), 51u);
  EXPECT_EQ(d.count(event_kind::intensity_exceeded), 0u);
  EXPECT_FALSE(d.m.shutting_down());
}

TEST(machine, manual_restarts_do_not_count_against_intensity) {
  // Proves manual restart() does not feed the intensity: with {0, 10 s}, five restarts pass.
  supervisor_policy sp;
  sp.intensity = {0, 10s};
  driver d(sp);
  d.add("a");
  for (int i = 0; i < 5; ++i) {
    d.restart("a");
    d.succeed("a");  // ends the stopping attempt; the restart starts the next one
  }
  EXPECT_EQ(d.starts.size(), 6u);
  EXPECT_EQ(d.info("a").restarts_manual, 5u);
  EXPECT_EQ(d.info("a").restarts_automatic, 0u);
  EXPECT_FALSE(d.m.shutting_down());
}

// ================================================================ timeouts and heartbeats (§6)

TEST(machine, attempt_timeout_stops_the_attempt_and_reports_timeout) {
  // Proves a 2 s timeout asks the attempt to stop at exactly 2 s, its ending (whatever it
  // returned) is outcome timeout with the limit in the event, and on_failure backs off.
  driver d;
  child_policy p = plain();
  p.timeout = 2s;
  d.add("a", p);
  d.advance(2s - 1ns);
  EXPECT_TRUE(d.stops.empty());
  d.advance(1ns);
  ASSERT_EQ(d.stops.size(), 1u);
  EXPECT_EQ(d.stops[0].generation, d.starts[0].generation);
  EXPECT_EQ(d.state("a"), child_state::stopping);
  d.succeed("a");
  ASSERT_EQ(d.count(event_kind::attempt_timed_out), 1u);
  const event e = d.of(event_kind::attempt_timed_out)[0];
  EXPECT_EQ(e.outcome, outcome_kind::timeout);
  EXPECT_EQ(e.timeout, 2s);
  EXPECT_EQ(e.elapsed, 2s);
  EXPECT_EQ(d.info("a").last_outcome->kind, outcome_kind::timeout);
  EXPECT_EQ(d.info("a").failure_streak, 1u);
  EXPECT_EQ(d.of(event_kind::backoff_scheduled).at(0).delay, 100ms);
}

TEST(machine, timeout_zero_means_none_and_an_early_exit_leaves_no_timer) {
  // Proves a zero timeout arms nothing, and an attempt that ends before its timeout leaves no
  // deadline that could stop a later attempt.
  driver d;
  d.add("a");
  EXPECT_EQ(d.m.next_deadline(), std::nullopt);
  child_policy p = plain(restart::always);
  p.timeout = 2s;
  p.interval = 10s;
  d.add("b", p);
  d.advance(1s);
  d.succeed("b");
  EXPECT_EQ(d.m.next_deadline(), d.now + 10s) << "only the interval timer remains";
  d.advance(10s);
  ASSERT_EQ(d.starts.size(), 3u);
  d.advance(1999ms);
  EXPECT_TRUE(d.stops.empty());
  d.advance(1ms);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"b"}));
}

TEST(machine, heartbeat_check_with_a_recent_beat_rearms_from_that_beat) {
  // Proves the watchdog: at start + 1 s a check_heartbeat is emitted; a beat at +0.7 s re-arms
  // the next check at +1.7 s, and nothing is stopped.
  driver d;
  child_policy p = plain();
  p.heartbeat_timeout = 1s;
  d.add("a", p);
  const time_point start = d.now;
  d.advance(1s);
  ASSERT_EQ(d.checks.size(), 1u);
  EXPECT_EQ(d.checks[0].generation, d.starts[0].generation);
  EXPECT_EQ(d.m.next_deadline(), std::nullopt) << "one check at a time";
  d.m.on_heartbeat(d.id("a"), d.checks[0].generation, start + 700ms, d.now);
  d.drain();
  EXPECT_TRUE(d.stops.empty());
  EXPECT_EQ(d.m.next_deadline(), start + 1700ms);
  d.advance(700ms);
  EXPECT_EQ(d.checks.size(), 2u);
}

TEST(machine, stale_heartbeat_stops_the_attempt_as_unresponsive) {
  // Proves a check answered with a beat older than heartbeat_timeout stops the attempt, whose
  // ending is outcome unresponsive (event attempt_unresponsive with the limit), then back-off.
  driver d;
  child_policy p = plain();
  p.heartbeat_timeout = 1s;
  d.add("a", p);
  const time_point start = d.now;
  d.advance(1s);
  ASSERT_EQ(d.checks.size(), 1u);
  d.m.on_heartbeat(d.id("a"), d.checks[0].generation, start, d.now);
  d.drain();
  ASSERT_EQ(d.stops.size(), 1u);
  d.exit("a", failure("interrupted"));
  ASSERT_EQ(d.count(event_kind::attempt_unresponsive), 1u);
  EXPECT_EQ(d.of(event_kind::attempt_unresponsive)[0].timeout, 1s);
  EXPECT_EQ(d.info("a").last_outcome->kind, outcome_kind::unresponsive);
  EXPECT_EQ(d.count(event_kind::backoff_scheduled), 1u);
}

TEST(machine, no_heartbeat_check_while_backing_off) {
  // Proves no false positive during back-off: a 10 s back-off with a 1 s heartbeat emits no
  // check until the next attempt has run 1 s.
  driver d;
  child_policy p = plain();
  p.heartbeat_timeout = 1s;
  p.backoff = backoff::constant(10s).with_jitter(jitter::none);
  d.add("a", p);
  d.advance(500ms);
  d.fail("a");
  d.advance(10s);
  EXPECT_TRUE(d.checks.empty());
  EXPECT_EQ(d.starts.size(), 2u);
  d.advance(1s);
  ASSERT_EQ(d.checks.size(), 1u);
  EXPECT_EQ(d.checks[0].generation, d.starts[1].generation);
}

TEST(machine, no_heartbeat_check_or_verdict_while_stopping) {
  // Proves no false positive while stopping: after stop_child no check is emitted during the
  // 5 s shutdown timeout, and an outstanding check answered stale does not relabel the stop.
  driver d;
  child_policy p = plain();
  p.heartbeat_timeout = 1s;
  d.add("a", p);
  d.advance(1s);
  ASSERT_EQ(d.checks.size(), 1u);
  d.stop("a");
  d.m.on_heartbeat(d.id("a"), d.checks[0].generation, d.now - 1h, d.now);
  d.drain();
  d.advance(4s);
  EXPECT_EQ(d.checks.size(), 1u);
  EXPECT_EQ(d.stops.size(), 1u);
  d.succeed("a");
  EXPECT_EQ(d.count(event_kind::attempt_unresponsive), 0u);
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
}

TEST(machine, heartbeat_answer_of_an_older_generation_is_ignored) {
  // Proves a stale heartbeat report (previous attempt's generation) neither stops nor re-arms.
  driver d;
  child_policy p = plain();
  p.heartbeat_timeout = 1s;
  d.add("a", p);
  d.advance(1s);
  const auto old = d.checks[0].generation;
  d.m.on_heartbeat(d.id("a"), old, d.now, d.now);  // re-armed
  d.fail("a");
  d.advance(100ms);
  ASSERT_EQ(d.starts.size(), 2u);
  d.m.on_heartbeat(d.id("a"), old, d.now - 1h, d.now);
  d.drain();
  EXPECT_TRUE(d.stops.empty());
  EXPECT_EQ(d.m.next_deadline(), d.now + 1s);
}

// ================================================================ the stop ladder (§7, §13.11)

TEST(machine, stop_that_is_ignored_is_forced_after_the_shutdown_timeout) {
  // Proves §13.11: stop → stop_attempt; no exit within the 5 s shutdown → abandon_attempt,
  // stop_timed_out(forced) with the path, final stopped with forced; the late exit is ignored.
  driver d;
  d.add("a");
  d.clear();
  EXPECT_TRUE(d.stop("a", 7));
  EXPECT_EQ(d.log, (std::vector<std::string>{"stop a"}));
  d.advance(5s - 1ns);
  EXPECT_TRUE(d.abandons.empty());
  EXPECT_TRUE(d.done.empty());
  d.advance(1ns);
  ASSERT_EQ(d.abandons.size(), 1u);
  EXPECT_EQ(d.abandons[0].generation, d.starts[0].generation);
  ASSERT_EQ(d.count(event_kind::stop_timed_out), 1u);
  const event e = d.of(event_kind::stop_timed_out)[0];
  EXPECT_TRUE(e.forced);
  EXPECT_EQ(e.path(), "root/a");
  ASSERT_TRUE(d.final("a"));
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
  EXPECT_TRUE(d.final("a")->forced);
  ASSERT_EQ(d.done.size(), 1u);
  EXPECT_EQ(d.done[0].token, 7u);
  EXPECT_FALSE(d.done[0].code);
  const auto log_size = d.log.size();
  d.succeed("a");  // the abandoned attempt finally returns
  EXPECT_EQ(d.log.size(), log_size);
  EXPECT_EQ(d.state("a"), child_state::stopped);
}

TEST(machine, brutal_shutdown_forces_at_the_first_deadline) {
  // Proves shutdown = brutal (0): the stop deadline is `now`, and on_deadline(now) forces.
  driver d;
  child_policy p = plain();
  p.shutdown = brutal;
  d.add("a", p);
  d.stop("a");
  EXPECT_EQ(d.m.next_deadline(), d.now);
  d.m.on_deadline(d.now);
  d.drain();
  EXPECT_EQ(d.abandons.size(), 1u);
  EXPECT_TRUE(d.final("a")->forced);
}

TEST(machine, infinite_shutdown_never_forces) {
  // Proves shutdown = infinity: no deadline is armed, a day passes without abandon, and a late
  // exit ends the child stopped, not forced.
  driver d;
  child_policy p = plain();
  p.shutdown = infinity;
  d.add("a", p);
  d.stop("a");
  EXPECT_EQ(d.m.next_deadline(), std::nullopt);
  d.advance(24h);
  EXPECT_TRUE(d.abandons.empty());
  d.succeed("a");
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
  EXPECT_FALSE(d.final("a")->forced);
}

TEST(machine, attempt_ending_after_a_stop_is_cancelled_and_keeps_its_reason) {
  // Proves §13.12: whatever the attempt returns after a stop request, its outcome is cancelled
  // with the original reason, attempt_cancelled is emitted, and the final status is stopped.
  const std::vector<outcome> returns = {success(),
                                        failure("late failure"),
                                        fatal("late fatal"),
                                        {outcome_kind::exited, 3, "code 3", nullptr}};
  for (const outcome& o : returns) {
    SCOPED_TRACE(describe(o));
    driver d;
    d.add("a", plain(restart::always));
    d.stop("a");
    d.exit("a", o);
    ASSERT_EQ(d.count(event_kind::attempt_cancelled), 1u);
    EXPECT_EQ(d.of(event_kind::attempt_cancelled)[0].reason, o.reason);
    EXPECT_EQ(d.count(event_kind::child_dead), 0u);
    ASSERT_TRUE(d.final("a"));
    EXPECT_EQ(d.final("a")->status, final_status::stopped);
    EXPECT_EQ(d.final("a")->last.kind, outcome_kind::cancelled);
    EXPECT_EQ(d.final("a")->last.reason, o.reason);
    EXPECT_FALSE(d.final("a")->forced);
    EXPECT_EQ(d.starts.size(), 1u);
  }
}

TEST(machine, an_ignored_timeout_stop_is_forced_and_still_counts_as_a_timeout) {
  // Proves the ladder under a timeout: a 1 s timeout, a 2 s shutdown ignored → abandon at 3 s,
  // outcome timeout (not cancelled, not stopped), then the normal back-off and a new attempt.
  driver d;
  child_policy p = plain();
  p.timeout = 1s;
  p.shutdown = 2s;
  d.add("a", p);
  d.advance(1s);
  ASSERT_EQ(d.stops.size(), 1u);
  d.advance(2s - 1ns);
  EXPECT_TRUE(d.abandons.empty());
  d.advance(1ns);
  ASSERT_EQ(d.abandons.size(), 1u);
  EXPECT_EQ(d.count(event_kind::stop_timed_out), 1u);
  ASSERT_EQ(d.count(event_kind::attempt_timed_out), 1u);
  EXPECT_EQ(d.of(event_kind::attempt_timed_out)[0].elapsed, 3s);
  EXPECT_EQ(d.info("a").last_outcome->kind, outcome_kind::timeout);
  EXPECT_TRUE(d.finished.empty());
  EXPECT_EQ(d.state("a"), child_state::backing_off);
  d.advance(100ms);
  EXPECT_EQ(d.starts.size(), 2u);
}

// ================================================================ commands (§9, §13)

TEST(machine, duplicate_add_fails_and_leaves_the_first_child_alone) {
  // Proves add with a listed name → already_exists, with no new start, event or state change.
  driver d;
  d.add("a");
  d.clear();
  const auto r = d.add("a", plain(restart::never));
  EXPECT_EQ(r.code, errc::already_exists);
  EXPECT_NE(r.message.find("'a'"), std::string::npos);
  EXPECT_TRUE(d.log.empty());
  EXPECT_EQ(d.m.size(), 1u);
  d.fail("a");
  EXPECT_EQ(d.state("a"), child_state::backing_off) << "still on_failure, not never";
}

TEST(machine, invalid_names_are_rejected) {
  // Proves add rejects empty, 129-byte, '/' and space names with invalid_argument, and lists
  // nothing; 128 bytes are accepted.
  driver d;
  for (const std::string& bad :
       {std::string(), std::string(129, 'n'), std::string("a/b"), std::string("a b")}) {
    const auto r = d.add(bad);
    EXPECT_EQ(r.code, errc::invalid_argument) << "'" << bad << "'";
    EXPECT_FALSE(r.message.empty());
  }
  EXPECT_EQ(d.m.size(), 0u);
  EXPECT_TRUE(d.log.empty());
  EXPECT_TRUE(d.add(std::string(128, 'n')));
}

TEST(machine, invalid_child_policy_is_rejected_by_add) {
  // Proves add validates the policy: a negative timeout → invalid_argument naming "timeout".
  driver d;
  child_policy p = plain();
  p.timeout = -1s;
  const auto r = d.add("a", p);
  EXPECT_EQ(r.code, errc::invalid_argument);
  EXPECT_NE(r.message.find("timeout"), std::string::npos);
  EXPECT_EQ(d.m.size(), 0u);
}

TEST(machine, commands_on_unknown_names_fail_with_not_found) {
  // Proves every named command reports not_found for a name that is not listed.
  driver d;
  d.add("a");
  EXPECT_EQ(d.stop("zz").code, errc::not_found);
  EXPECT_EQ(d.start("zz").code, errc::not_found);
  EXPECT_EQ(d.restart("zz").code, errc::not_found);
  EXPECT_EQ(d.remove("zz").code, errc::not_found);
  EXPECT_EQ(d.m.pause_child("zz", d.now).code, errc::not_found);
  EXPECT_EQ(d.m.resume_child("zz", d.now).code, errc::not_found);
  EXPECT_EQ(d.m.find("zz"), no_child);
}

TEST(machine, start_on_a_live_child_fails_with_already_running) {
  // Proves start on running and on backing-off children → already_running, nothing started.
  driver d;
  d.add("a");
  EXPECT_EQ(d.start("a").code, errc::already_running);
  d.fail("a");
  EXPECT_EQ(d.start("a").code, errc::already_running);
  EXPECT_EQ(d.starts.size(), 1u);
}

TEST(machine, start_runs_a_stopped_child_again_with_a_fresh_streak) {
  // Proves start on a stopped child starts attempt n+1 at once with streak 0, counted manual.
  driver d;
  d.add("a");
  d.fail("a");
  d.advance(100ms);
  d.stop("a", 1);
  d.succeed("a");
  ASSERT_EQ(d.state("a"), child_state::stopped);
  EXPECT_TRUE(d.start("a", 2));
  ASSERT_EQ(d.starts.size(), 3u);
  EXPECT_EQ(d.starts[2].attempt, 3u);
  EXPECT_EQ(d.starts[2].failure_streak, 0u);
  EXPECT_EQ(d.info("a").restarts_manual, 1u);
  EXPECT_FALSE(d.info("a").final.has_value());
  EXPECT_EQ(d.done.back().token, 2u);
}

TEST(machine, stop_on_a_terminal_child_succeeds_and_does_nothing) {
  // Proves §13.9: stop on a completed (and on a stopped) child succeeds, completes its token,
  // and changes neither state nor final result.
  driver d;
  d.add("a");
  d.succeed("a");
  d.clear();
  const auto r = d.stop("a", 5);
  EXPECT_TRUE(r);
  EXPECT_EQ(d.log, (std::vector<std::string>{"done 5"}));
  EXPECT_EQ(d.state("a"), child_state::completed);
  EXPECT_EQ(d.m.final_of(d.id("a"))->status, final_status::completed);
  d.add("b");
  d.stop("b");
  d.succeed("b");
  d.clear();
  EXPECT_TRUE(d.stop("b", 6));
  EXPECT_EQ(d.log, (std::vector<std::string>{"done 6"}));
}

TEST(machine, stop_during_backoff_ends_at_once_and_the_timer_never_resurrects) {
  // Proves trap 1: a stop while backing off ends the child stopped without another attempt,
  // and advancing past the old restart deadline starts nothing.
  driver d;
  d.add("a");
  d.fail("a");
  d.advance(50ms);
  d.stop("a", 3);
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
  EXPECT_EQ(d.done.back().token, 3u);
  EXPECT_TRUE(d.stops.empty()) << "nothing was running";
  d.advance(1h);
  EXPECT_EQ(d.starts.size(), 1u);
  EXPECT_EQ(d.state("a"), child_state::stopped);
}

TEST(machine, restart_during_backoff_starts_exactly_one_attempt) {
  // Proves trap 2: restart while backing off starts one attempt now (streak reset, manual), and
  // the old back-off deadline does not start a second one.
  driver d;
  d.add("a");
  d.fail("a");
  d.fail("a");  // ignored: nothing live (stale)
  d.advance(10ms);
  EXPECT_TRUE(d.restart("a", 9));
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.starts[1].failure_streak, 0u);
  EXPECT_EQ(d.done.back().token, 9u);
  d.advance(1h);
  EXPECT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.state("a"), child_state::running);
  EXPECT_EQ(d.info("a").restarts_manual, 1u);
  EXPECT_EQ(d.info("a").restarts_automatic, 1u);
}

TEST(machine, restart_of_a_running_child_stops_it_then_starts_one_new_attempt) {
  // Proves restart on a live child: stop_attempt first, then after its exit exactly one new
  // attempt, the token completing then; the ending is attempt_cancelled, not a failure.
  driver d;
  d.add("a");
  d.clear();
  d.restart("a", 4);
  EXPECT_EQ(d.log, (std::vector<std::string>{"stop a"}));
  d.fail("a", "interrupted");
  EXPECT_EQ(d.log, (std::vector<std::string>{"stop a", "attempt_cancelled root/a", "done 4",
                                             "attempt_starting root/a", "start a#2"}));
  EXPECT_EQ(d.info("a").failure_streak, 0u);
  EXPECT_TRUE(d.info("a").recent_failures.empty());
}

TEST(machine, stale_exit_of_an_older_generation_changes_nothing) {
  // Proves trap 3: after attempt 2 started, on_exit with attempt 1's generation (any outcome)
  // emits nothing and leaves attempt 2 running.
  driver d;
  d.add("a");
  const auto old = d.starts[0].generation;
  d.fail("a");
  d.advance(100ms);
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_NE(d.starts[1].generation, old);
  d.clear();
  for (const outcome& o : {success(), failure("x"), fatal("y"), cancelled()}) {
    d.m.on_exit(d.id("a"), old, o, d.now);
    d.m.on_ready(d.id("a"), old, d.now);
  }
  d.drain();
  EXPECT_TRUE(d.log.empty());
  EXPECT_EQ(d.state("a"), child_state::running);
  EXPECT_EQ(d.info("a").attempt, 2u);
  EXPECT_FALSE(d.info("a").ready);
  EXPECT_EQ(d.info("a").failure_streak, 1u);
}

TEST(machine, concurrent_stop_and_remove_perform_one_stop_and_complete_both) {
  // Proves §13.9: stop then remove of one child emit a single stop_attempt, both tokens complete
  // when the attempt ends, the child is erased, and the name is free afterwards.
  for (const bool stop_first : {true, false}) {
    SCOPED_TRACE(stop_first ? "stop, remove" : "remove, stop");
    driver d;
    d.add("a");
    if (stop_first) {
      EXPECT_TRUE(d.stop("a", 1));
      EXPECT_TRUE(d.remove("a", 2));
    } else {
      EXPECT_TRUE(d.remove("a", 2));
      EXPECT_TRUE(d.stop("a", 1));
    }
    EXPECT_EQ(d.stops.size(), 1u);
    EXPECT_TRUE(d.done.empty());
    EXPECT_EQ(d.add("a").code, errc::already_exists) << "reserved while stopping";
    d.succeed("a");
    ASSERT_EQ(d.done.size(), 2u);
    EXPECT_EQ(d.erased.size(), 1u);
    EXPECT_EQ(d.count(event_kind::child_removed), 1u);
    EXPECT_EQ(d.m.find("a"), no_child);
    EXPECT_EQ(d.final("a")->status, final_status::stopped);
    EXPECT_TRUE(d.add("a"));
  }
}

TEST(machine, name_is_reusable_only_after_remove) {
  // Proves §13.8: a terminal child stays listed (already_exists on add) until removed; after
  // remove the name is free and the new child starts at attempt 1.
  driver d;
  d.add("a");
  d.exit("a", fatal("x"));
  EXPECT_EQ(d.add("a").code, errc::already_exists);
  EXPECT_EQ(d.m.children().size(), 1u);
  d.clear();
  EXPECT_TRUE(d.remove("a", 8));
  EXPECT_EQ(d.log, (std::vector<std::string>{"done 8", "child_removed root/a", "erased a"}));
  EXPECT_TRUE(d.add("a"));
  EXPECT_EQ(d.starts.back().attempt, 1u);
  EXPECT_EQ(d.info("a").attempt, 1u);
}

TEST(machine, remove_during_backoff_erases_without_another_attempt) {
  // Proves remove of a backing-off child reports child_stopped, finishes it stopped and erases
  // it at once.
  driver d;
  d.add("a");
  d.fail("a");
  d.clear();
  d.remove("a", 3);
  EXPECT_EQ(d.log, (std::vector<std::string>{"child_stopped root/a", "finished a stopped", "done 3",
                                             "child_removed root/a", "erased a"}));
  d.advance(1h);
  EXPECT_TRUE(d.starts.empty());
}

TEST(machine, restart_of_a_child_being_removed_fails_with_not_found) {
  // Proves a child being removed can no longer be restarted: not_found, and the removal goes on.
  driver d;
  d.add("a");
  d.remove("a", 1);
  EXPECT_EQ(d.restart("a", 2).code, errc::not_found);
  d.succeed("a");
  EXPECT_EQ(d.m.find("a"), no_child);
  EXPECT_EQ(d.starts.size(), 1u);
  ASSERT_EQ(d.done.size(), 1u);
  EXPECT_EQ(d.done[0].token, 1u);
}

TEST(machine, mutating_calls_after_shutdown_fail_with_shutting_down) {
  // Proves §13.16: after shutdown began and after the end, add/stop/start/restart/remove/pause/
  // resume fail with shutting_down, while queries keep working.
  driver d;
  d.add("a");
  d.succeed("a");
  d.shutdown();
  ASSERT_TRUE(d.m.ended());
  d.clear();
  EXPECT_EQ(d.add("b").code, errc::shutting_down);
  EXPECT_EQ(d.stop("a", 1).code, errc::shutting_down);
  EXPECT_EQ(d.start("a", 2).code, errc::shutting_down);
  EXPECT_EQ(d.restart("a", 3).code, errc::shutting_down);
  EXPECT_EQ(d.remove("a", 4).code, errc::shutting_down);
  EXPECT_EQ(d.m.pause_child("a", d.now).code, errc::shutting_down);
  EXPECT_EQ(d.m.resume_child("a", d.now).code, errc::shutting_down);
  EXPECT_TRUE(d.log.empty()) << "a refused command completes no token and emits nothing";
  EXPECT_EQ(d.info("a").state, child_state::completed);
  EXPECT_EQ(d.m.final_of(d.id("a"))->status, final_status::completed);
  EXPECT_EQ(d.m.children().size(), 1u);
  EXPECT_EQ(d.m.result()->reason, exit_reason::shutdown_requested);
}

TEST(machine, mutating_calls_during_shutdown_fail_with_shutting_down) {
  // Proves new work is refused as soon as shutdown begins, before the supervisor has ended.
  driver d;
  d.add("a");
  d.shutdown();
  ASSERT_FALSE(d.m.ended());
  EXPECT_EQ(d.add("b").code, errc::shutting_down);
  EXPECT_EQ(d.restart("a").code, errc::shutting_down);
  EXPECT_EQ(d.stop("a").code, errc::shutting_down);
  EXPECT_EQ(d.starts.size(), 1u);
}

TEST(machine, max_children_limits_listed_children) {
  // Proves §13.24: with max_children = 2 a third add fails with too_many_children (terminal
  // children still count), and a removal makes room.
  supervisor_policy sp;
  sp.max_children = 2;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.succeed("a");
  const auto r = d.add("c");
  EXPECT_EQ(r.code, errc::too_many_children);
  EXPECT_EQ(d.starts.size(), 2u);
  d.remove("a");
  EXPECT_TRUE(d.add("c"));
}

TEST(machine, pause_holds_the_restart_and_resume_releases_it_now) {
  // Proves pause/resume: a paused child whose attempt fails schedules nothing (state paused, no
  // deadline, no start for an hour); resume starts it at once.
  driver d;
  d.add("a");
  EXPECT_TRUE(d.m.pause_child("a", d.now));
  EXPECT_EQ(d.state("a"), child_state::running) << "a live attempt keeps running";
  d.fail("a");
  EXPECT_EQ(d.state("a"), child_state::paused);
  EXPECT_EQ(d.m.next_deadline(), std::nullopt);
  d.advance(1h);
  EXPECT_EQ(d.starts.size(), 1u);
  EXPECT_TRUE(d.m.resume_child("a", d.now));
  d.drain();
  ASSERT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.state("a"), child_state::running);
}

TEST(machine, pause_during_backoff_cancels_the_pending_restart) {
  // Proves pausing a backing-off child disarms its timer; resume starts exactly one attempt.
  driver d;
  d.add("a");
  d.fail("a");
  d.m.pause_child("a", d.now);
  EXPECT_EQ(d.state("a"), child_state::paused);
  d.advance(1h);
  EXPECT_EQ(d.starts.size(), 1u);
  d.m.resume_child("a", d.now);
  d.advance(1h);
  EXPECT_EQ(d.starts.size(), 2u);
}

TEST(machine, max_concurrent_grants_permits_first_come_first_served) {
  // Proves §13.21: with max_concurrent = 1, a, b, c start in arrival order, each only when the
  // previous attempt ended; waiting children show pending.
  supervisor_policy sp;
  sp.max_concurrent = 1;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.add("c");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(d.state("b"), child_state::pending);
  EXPECT_EQ(d.state("c"), child_state::pending);
  d.succeed("a");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "b"}));
  d.fail("b");  // b's restart queues behind c
  d.advance(100ms);
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(d.state("b"), child_state::pending);
  d.succeed("c");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "b", "c", "b"}));
}

TEST(machine, permit_order_survives_a_queued_child_being_stopped_and_started_again) {
  // Proves FIFO when a queued child leaves the queue and rejoins: b (stopped, then started
  // again) must queue behind c, so c gets the next permit.
  supervisor_policy sp;
  sp.max_concurrent = 1;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.add("c");
  d.stop("b");
  EXPECT_EQ(d.state("b"), child_state::stopped);
  EXPECT_TRUE(d.start("b"));
  EXPECT_EQ(d.state("b"), child_state::pending);
  d.succeed("a");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "c"}));
  d.succeed("c");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "c", "b"}));
}

TEST(machine, permit_order_survives_a_queued_child_removed_and_its_id_reused) {
  // Proves FIFO when a queued child is removed and a new child reuses its id: the newcomer
  // queues behind the children that were already waiting.
  supervisor_policy sp;
  sp.max_concurrent = 1;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.add("c");
  const child_id b_id = d.id("b");
  d.remove("b");
  d.add("d");
  ASSERT_EQ(d.id("d"), b_id) << "the test needs the id to be reused";
  d.succeed("a");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "c"}));
  d.succeed("c");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "c", "d"}));
}

TEST(machine, add_emits_child_added_then_starts_the_first_attempt) {
  // Proves the order of add's outputs: child_added, attempt_starting, start_attempt #1 streak 0.
  driver d;
  const auto r = d.add("a");
  ASSERT_TRUE(r);
  EXPECT_EQ(r.id, d.id("a"));
  EXPECT_EQ(d.log, (std::vector<std::string>{"child_added root/a", "attempt_starting root/a",
                                             "start a#1"}));
  EXPECT_EQ(d.starts[0].failure_streak, 0u);
  EXPECT_EQ(*d.m.path_of(r.id), "root/a");
  EXPECT_EQ(d.info("a").path, "root/a");
}

TEST(machine, events_can_be_switched_off_without_changing_decisions) {
  // Proves set_events_enabled(false) suppresses events only: starts, stops and final results
  // are the same as with events on.
  driver d;
  d.m.set_events_enabled(false);
  d.add("a");
  d.fail("a");
  d.advance(100ms);
  d.exit("a", fatal("x"));
  EXPECT_TRUE(d.events.empty());
  EXPECT_EQ(d.starts.size(), 2u);
  EXPECT_EQ(d.final("a")->status, final_status::dead);
}

// ================================================================ shutdown (§8, §13.26)

TEST(machine, shutdown_stops_children_one_at_a_time_in_reverse_start_order) {
  // Proves §8: shutdown asks c first; b only after c exited; a only after b; then
  // all_stopped_within_grace and supervisor_ended with reason shutdown_requested and ok().
  driver d;
  d.add("a");
  d.add("b");
  d.add("c");
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c"}));
  d.advance(1s);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c"}));
  d.succeed("c");
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  d.succeed("b");
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b", "a"}));
  EXPECT_TRUE(d.ended.empty());
  d.succeed("a");
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].reason, exit_reason::shutdown_requested);
  EXPECT_TRUE(d.ended[0].ok());
  EXPECT_EQ(d.kinds().front(), event_kind::shutdown_requested);
  EXPECT_EQ(d.kinds().back(), event_kind::all_stopped_within_grace);
  for (const char* n : {"a", "b", "c"}) EXPECT_EQ(d.final(n)->status, final_status::stopped);
  EXPECT_EQ(d.log.back(), "ended");
}

TEST(machine, shutdown_ends_backing_off_children_without_another_attempt) {
  // Proves waiting children (backing off, paused) get no stop request and no further attempt:
  // each ends stopped at its turn (§13.28: c at once, a only after b, started after it, has
  // ended), and a's restart timer, due meanwhile, starts nothing. (Before on_shutdown hooks
  // followed the stop order, waiting children all ended when the shutdown began.)
  driver d;
  d.add("a");
  d.add("b");
  d.add("c");
  d.fail("a");
  d.m.pause_child("c", d.now);
  d.fail("c");
  ASSERT_EQ(d.state("c"), child_state::paused);
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.final("c")->status, final_status::stopped);
  EXPECT_FALSE(d.final("a"));
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"b"}));
  d.advance(1s);  // a's back-off (100 ms) is over: it must not start
  EXPECT_TRUE(d.starts.empty());
  d.succeed("b");
  EXPECT_EQ(d.final("a")->status, final_status::stopped);
  d.advance(1h);
  EXPECT_TRUE(d.starts.empty());
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_TRUE(d.ended[0].ok());
}

TEST(machine, shutdown_ends_children_waiting_for_a_permit) {
  // Proves children queued for a permit end stopped at shutdown and never start, even when the
  // running one frees its permit.
  supervisor_policy sp;
  sp.max_concurrent = 1;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.shutdown();
  EXPECT_EQ(d.final("b")->status, final_status::stopped);
  d.succeed("a");
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a"}));
  EXPECT_EQ(d.ended.size(), 1u);
}

TEST(machine, grace_deadline_forces_the_rest_and_reports_the_stuck_paths) {
  // Proves trap 4 / §8 / §13.29: children ignoring their stop are forced although their own
  // shutdown is 60 s: c, asked first, when the shared 10 s grace runs out (stuck); b and a,
  // whose turns come after the grace ran out, each asked then and forced after a short turn of
  // min_stop_turn (cut short, not stuck). Final stopped+forced each; result grace_exceeded.
  supervisor_policy sp;
  sp.grace = 10s;
  driver d(sp);
  child_policy p = plain();
  p.shutdown = 60s;
  d.add("a", p);
  d.add("b", p);
  d.add("c", p);
  d.clear();
  d.shutdown();
  d.advance(10s - 1ns);
  EXPECT_TRUE(d.abandons.empty());
  EXPECT_TRUE(d.ended.empty());
  d.advance(1ns);
  ASSERT_EQ(d.count(event_kind::grace_exceeded), 1u);
  EXPECT_EQ(d.of(event_kind::grace_exceeded)[0].reason, "root/c");
  ASSERT_EQ(d.abandons.size(), 1u);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  d.advance(min_stop_turn - 1ns);
  EXPECT_EQ(d.abandons.size(), 1u);
  d.advance(1ns);
  EXPECT_EQ(d.abandons.size(), 2u);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b", "a"}));
  d.advance(min_stop_turn);
  ASSERT_EQ(d.abandons.size(), 3u);
  ASSERT_EQ(d.ended.size(), 1u);
  const supervisor_result& r = d.ended[0];
  EXPECT_TRUE(r.grace_exceeded);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.stuck, (std::vector<std::string>{"root/c"}));
  EXPECT_EQ(r.cut_short, (std::vector<std::string>{"root/b", "root/a"}));
  EXPECT_EQ(r.abandoned, (std::vector<std::string>{"root/c", "root/b", "root/a"}));
  EXPECT_EQ(r.reason, exit_reason::shutdown_requested);
  for (const char* n : {"a", "b", "c"}) {
    ASSERT_TRUE(d.final(n)) << n;
    EXPECT_EQ(d.final(n)->status, final_status::stopped) << n;
    EXPECT_TRUE(d.final(n)->forced) << n;
  }
  EXPECT_EQ(d.count(event_kind::all_stopped_within_grace), 0u);
  EXPECT_EQ(d.count(event_kind::attempt_failed), 0u);
}

TEST(machine, children_forced_when_the_grace_runs_out_are_reported_stuck_whatever_timers_exist) {
  // Proves the grace verdict does not depend on unrelated timers: with 60 s shutdowns under a
  // 10 s grace, b (asked first) is still running when the grace ends (stuck), and a (not asked
  // yet: its own 9 s timeout does not act during shutdown, which stops children only in their
  // turn) is asked then and forced after its short turn (cut short), whether or not heartbeat
  // timers also sit in the deadline queue (they changed the heap's tie order and hid the
  // breach).
  for (const bool heartbeats : {false, true}) {
    SCOPED_TRACE(heartbeats ? "with heartbeat timers" : "without heartbeat timers");
    supervisor_policy sp;
    sp.grace = 10s;
    driver d(sp);
    child_policy pa = plain();
    pa.shutdown = 60s;
    pa.timeout = 9s;
    child_policy pb = pa;
    pb.timeout = 12s;
    if (heartbeats) {
      pa.heartbeat_timeout = 18s;
      pb.heartbeat_timeout = 19s;
    }
    d.add("a", pa);
    d.add("b", pb);
    d.shutdown();
    d.advance(9s);
    EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"b"}));
    d.advance(1s + min_stop_turn);
    ASSERT_EQ(d.ended.size(), 1u);
    EXPECT_TRUE(d.ended[0].grace_exceeded);
    EXPECT_EQ(d.ended[0].stuck, (std::vector<std::string>{"root/b"}));
    EXPECT_EQ(d.ended[0].cut_short, (std::vector<std::string>{"root/a"}));
    EXPECT_EQ(d.count(event_kind::grace_exceeded), 1u);
    EXPECT_EQ(d.count(event_kind::all_stopped_within_grace), 0u);
    EXPECT_EQ(d.abandons.size(), 2u);
  }
}

TEST(machine, a_child_shutdown_timeout_shorter_than_grace_forces_only_that_child) {
  // Proves each child's own shutdown timeout applies inside the grace: c ignores its stop and is
  // forced after 2 s, then b is asked and exits; the supervisor ends within grace.
  supervisor_policy sp;
  sp.grace = 30s;
  driver d(sp);
  child_policy p = plain();
  p.shutdown = 2s;
  d.add("b", p);
  d.add("c", p);
  d.shutdown();
  d.advance(2s);
  ASSERT_EQ(d.abandons.size(), 1u);
  EXPECT_EQ(d.name_of(d.abandons[0].id), "c");
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c", "b"}));
  d.succeed("b");
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_FALSE(d.ended[0].grace_exceeded);
  EXPECT_TRUE(d.final("c")->forced);
  EXPECT_FALSE(d.final("b")->forced);
}

TEST(machine, zero_grace_forces_every_child_at_once) {
  // Proves §13.2: grace 0 forces all live children at the first deadline.
  supervisor_policy sp;
  sp.grace = 0s;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.shutdown();
  EXPECT_EQ(d.m.next_deadline(), d.now);
  d.m.on_deadline(d.now);
  d.drain();
  EXPECT_EQ(d.abandons.size(), 2u);
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_TRUE(d.ended[0].grace_exceeded);
}

TEST(machine, children_ending_by_themselves_during_shutdown_keep_their_outcome) {
  // Proves §13.26: while c is being stopped, a fails, b (always) succeeds and d dies on their
  // own: they end failed / completed / dead, are not restarted and no intensity is charged.
  supervisor_policy sp;
  sp.intensity = {0, 10s};
  driver d(sp);
  d.add("a");
  d.add("b", plain(restart::always));
  d.add("d");
  d.add("c");
  d.shutdown();
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c"}));
  d.fail("a");
  d.succeed("b");
  d.exit("d", fatal("gone"));
  EXPECT_EQ(d.final("a")->status, final_status::failed);
  EXPECT_EQ(d.final("b")->status, final_status::completed);
  EXPECT_EQ(d.final("d")->status, final_status::dead);
  EXPECT_EQ(d.count(event_kind::backoff_scheduled), 0u);
  EXPECT_EQ(d.count(event_kind::intensity_exceeded), 0u);
  d.succeed("c");
  EXPECT_EQ(d.starts.size(), 4u);
  EXPECT_EQ(d.stopped_names(), (std::vector<std::string>{"c"})) << "no one else needed a stop";
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].reason, exit_reason::shutdown_requested);
  EXPECT_EQ(d.final("c")->status, final_status::stopped);
}

TEST(machine, shutdown_is_idempotent_and_the_first_reason_wins) {
  // Proves §8: a second shutdown (another reason) adds no event and does not change the reason.
  driver d;
  d.add("a");
  d.shutdown(exit_reason::too_many_dead);
  d.shutdown(exit_reason::shutdown_requested);
  EXPECT_EQ(d.count(event_kind::shutdown_requested), 1u);
  EXPECT_EQ(d.stops.size(), 1u);
  d.succeed("a");
  d.shutdown();
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].reason, exit_reason::too_many_dead);
  EXPECT_EQ(d.m.result()->reason, exit_reason::too_many_dead);
}

TEST(machine, shutdown_with_nothing_live_ends_at_once) {
  // Proves an idle supervisor ends in the shutdown call itself, within grace.
  driver d;
  d.add("a");
  d.succeed("a");
  d.clear();
  d.shutdown();
  EXPECT_EQ(d.log, (std::vector<std::string>{"shutdown_requested root",
                                             "all_stopped_within_grace root", "ended"}));
  EXPECT_TRUE(d.m.ended());
}

TEST(machine, exit_when_idle_ends_with_idle_once_every_child_is_terminal) {
  // Proves exit_when_idle: nothing ends while one child backs off; when the last child becomes
  // terminal the supervisor ends with reason idle, without a shutdown_requested.
  supervisor_policy sp;
  sp.exit_when_idle = true;
  driver d(sp);
  d.add("a");
  d.add("b");
  d.succeed("a");
  d.fail("b");
  EXPECT_TRUE(d.ended.empty());
  d.advance(100ms);
  EXPECT_TRUE(d.ended.empty());
  d.exit("b", fatal("x"));
  ASSERT_EQ(d.ended.size(), 1u);
  EXPECT_EQ(d.ended[0].reason, exit_reason::idle);
  EXPECT_TRUE(d.ended[0].ok());
  EXPECT_EQ(d.count(event_kind::shutdown_requested), 0u);
  EXPECT_TRUE(d.m.ended());
}

TEST(machine, exit_when_idle_off_keeps_running_with_only_terminal_children) {
  // Proves the default (serve): terminal children do not end the supervisor.
  driver d;
  d.add("a");
  d.succeed("a");
  d.m.check_idle(d.now);
  d.drain();
  EXPECT_TRUE(d.ended.empty());
  EXPECT_FALSE(d.m.shutting_down());
}

TEST(machine, construction_rejects_an_invalid_supervisor_policy) {
  // Proves the machine validates its policy: negative max_restarts → invalid_argument.
  supervisor_policy sp;
  sp.intensity.max_restarts = -1;
  EXPECT_THROW((void)supervisor_machine(sp, nullptr, 1), vigil::core::error);
  sp = {};
  sp.grace = -1s;
  try {
    supervisor_machine m(sp, nullptr, 1);
    ADD_FAILURE() << "no exception";
  } catch (const vigil::core::error& e) {
    EXPECT_EQ(e.code(), errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("grace"), std::string::npos);
  }
}

TEST(machine, info_reports_attempts_streak_failures_and_next_restart) {
  // Proves the status snapshot while backing off: attempt count, streak, last outcome and time,
  // next restart time, recent failures with reasons, and zero uptime when not running.
  driver d;
  d.add("a");
  d.advance(3s);
  EXPECT_EQ(d.info("a").uptime, 3s);
  d.fail("a", "first");
  const child_info i = d.info("a");
  EXPECT_EQ(i.state, child_state::backing_off);
  EXPECT_EQ(i.attempt, 1u);
  EXPECT_EQ(i.failure_streak, 1u);
  EXPECT_EQ(i.last_outcome->reason, "first");
  EXPECT_EQ(i.last_outcome_at, d.now);
  EXPECT_EQ(i.next_restart, d.now + 100ms);
  EXPECT_EQ(i.uptime, 0s);
  ASSERT_EQ(i.recent_failures.size(), 1u);
  EXPECT_EQ(i.recent_failures[0].reason, "first");
  EXPECT_EQ(i.recent_failures[0].attempt, 1u);
}

TEST(machine, recent_failures_keep_the_last_sixteen) {
  // Proves the failure history is bounded to 16, newest last.
  supervisor_policy sp;
  sp.intensity = {1000, 10s};
  driver d(sp);
  child_policy p = plain();
  p.backoff = backoff::constant(0ns);
  d.add("a", p);
  for (int i = 1; i <= 20; ++i) d.fail("a", "f" + std::to_string(i));
  const auto f = d.info("a").recent_failures;
  ASSERT_EQ(f.size(), 16u);
  EXPECT_EQ(f.front().reason, "f5");
  EXPECT_EQ(f.back().reason, "f20");
}

// ================================================================ seeded simulation

TEST(machine, seeded_random_runs_keep_every_invariant) {
  // Proves, over 20 seeded runs of 400 random commands, exits and time steps, that no child ever
  // has two live attempts, every listed child is live exactly when its state says so, finished
  // children are terminal, and a final shutdown always ends the supervisor exactly once.
  std::size_t total_starts = 0, total_abandons = 0, total_cancelled = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    random_source rng(seed);
    supervisor_policy sp;
    sp.intensity = {1000, 1s};
    sp.max_concurrent = static_cast<std::uint32_t>(rng.uniform(0, 3));
    sp.grace = 20s;
    driver d(sp, seed);
    const std::vector<std::string> names = {"a", "b", "c", "d"};
    std::map<child_id, std::uint64_t> live;  // id → live generation, as the shell sees it
    std::size_t seen = 0;
    const auto sync = [&] {
      for (; seen < d.lifecycle.size(); ++seen) {
        const auto& l = d.lifecycle[seen];
        if (l.start) {
          EXPECT_FALSE(live.contains(l.id)) << d.name_of(l.id) << " started twice";
          live[l.id] = l.generation;
        } else {
          EXPECT_EQ(live[l.id], l.generation);
          live.erase(l.id);
        }
      }
    };
    for (int step = 0; step < 400 && !d.m.shutting_down(); ++step) {
      const std::string& n = names[rng.uniform(0, names.size() - 1)];
      const child_id id = d.id(n);
      const std::uint64_t token = static_cast<std::uint64_t>(step) + 1;
      switch (rng.uniform(0, 9)) {
        case 0: {
          child_policy p = plain(static_cast<restart>(rng.uniform(0, 2)));
          p.shutdown = std::chrono::seconds(rng.uniform(0, 3));
          p.timeout = std::chrono::seconds(rng.uniform(0, 4));
          p.max_retries = rng.uniform(0, 1) != 0 ? std::optional<std::uint32_t>(3) : std::nullopt;
          d.add(n, p);
          break;
        }
        case 1:
          d.stop(n, token);
          break;
        case 2:
          d.start(n, token);
          break;
        case 3:
          d.restart(n, token);
          break;
        case 4:
          d.remove(n, token);
          break;
        case 5:
          if (rng.uniform(0, 1) != 0)
            d.m.pause_child(n, d.now);
          else
            d.m.resume_child(n, d.now);
          d.drain();
          break;
        case 6:
        case 7:
          if (id != no_child && live.contains(id)) {
            const std::uint64_t gen = live[id];
            live.erase(id);
            const outcome o = rng.uniform(0, 3) == 0   ? success()
                              : rng.uniform(0, 5) == 0 ? fatal("f")
                                                       : failure("x");
            d.m.on_exit(id, gen, o, d.now);
            d.drain();
          }
          break;
        default:
          d.advance(std::chrono::milliseconds(rng.uniform(0, 3000)));
          break;
      }
      sync();
      for (const child_id c : d.m.children()) {
        const child_info i = d.m.info(c, d.now);
        const bool running = i.state == child_state::running || i.state == child_state::stopping ||
                             i.state == child_state::starting;
        EXPECT_EQ(running, live.contains(c)) << i.name << " is " << to_string(i.state);
        EXPECT_EQ(i.final.has_value(), is_terminal(i.state)) << i.name;
      }
    }
    d.shutdown();
    sync();
    // Every live attempt now exits when asked (or is forced by the grace).
    for (int guard = 0; guard < 100 && !d.m.ended(); ++guard) {
      for (const auto& s : d.stops) {
        if (live.contains(s.id) && live[s.id] == s.generation) {
          live.erase(s.id);
          d.m.on_exit(s.id, s.generation, success(), d.now);
          d.drain();
        }
      }
      sync();
      d.advance(1s);
      sync();
    }
    EXPECT_TRUE(d.m.ended());
    EXPECT_EQ(d.ended.size(), 1u);
    EXPECT_TRUE(live.empty());
    for (const child_id c : d.m.children()) EXPECT_TRUE(is_terminal(d.m.info(c, d.now).state));
    total_starts += d.starts.size();
    total_abandons += d.abandons.size();
    total_cancelled += d.count(event_kind::attempt_cancelled);
  }
  // The runs must actually exercise restarts, stops and forced stops to prove anything.
  EXPECT_GT(total_starts, 500u);
  EXPECT_GT(total_abandons, 10u);
  EXPECT_GT(total_cancelled, 50u);
}

TEST(machine, actions_keep_their_order_when_the_shell_pulls_only_some_between_inputs) {
  // The action queue reuses its storage: a shell that pulls part of a long queue, feeds more
  // inputs and pulls again still gets every action once, in the order it was queued.
  supervisor_machine m({}, std::make_shared<const std::string>("root"), 1);
  const auto policy = std::make_shared<const child_policy>(plain());
  time_point now{};
  std::vector<std::string> expected;
  std::vector<std::string> pulled;
  const auto pull = [&](std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) {
      auto a = m.next_action();
      if (!a) return;
      if (const auto* p = std::get_if<publish_event>(&*a)) {
        pulled.push_back(std::string(to_string(p->ev.kind)) + " " + std::string(p->ev.path()));
      } else if (const auto* s = std::get_if<start_attempt>(&*a)) {
        pulled.push_back("start " + *m.path_of(s->id));
      }
    }
  };
  int next = 0;
  for (const std::size_t take : {2000u, 1u, 3000u, 0u, 5000u, 100000u}) {
    for (int k = 0; k < 700; ++k, ++next) {
      const std::string name = "c" + std::to_string(next);
      ASSERT_TRUE(m.add_child(name, policy, task_kind::coroutine, now));
      expected.push_back("child_added root/" + name);
      expected.push_back("attempt_starting root/" + name);
      expected.push_back("start root/" + name);
    }
    pull(take);
  }
  EXPECT_FALSE(m.next_action());
  EXPECT_EQ(pulled, expected);
}

}  // namespace
