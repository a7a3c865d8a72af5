// Strategies, dependencies, readiness, exhaustion, significant children and the dead-child
// threshold (SEMANTICS §4, §5, §13), driven in virtual time with vigil::testing::simulator.
#include "vigil/testing/simulator.hpp"

#include "vigil/core/error.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace std::chrono_literals;
using namespace vigil::core;
using vigil::testing::simulator;

child_policy plain(restart r = restart::on_failure) {
  child_policy p;
  p.restart_policy = r;
  p.backoff = backoff::constant(1s);
  return p;
}

supervisor_policy with(strategy s) {
  supervisor_policy p;
  p.strategy = s;
  return p;
}

// The log lines that match `prefix` ("start ", "stop "), in order.
std::vector<std::string> lines(const simulator& sim, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : sim.log()) {
    if (l.rfind(prefix, 0) == 0) out.push_back(l);
  }
  return out;
}

TEST(strategy, one_for_all_stops_the_others_in_reverse_order_then_restarts_all_in_order) {
  // b fails: c then a are stopped (newest first), and after b's 1 s back-off a, b, c start again
  // in start order; the round costs one restart (one backoff_scheduled, one group_restart).
  simulator sim(with(strategy::one_for_all));
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(sim.add(n, plain()));
  sim.fail("b");
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop c", "stop a"}));
  EXPECT_TRUE(sim.live().empty());
  EXPECT_EQ(sim.info("b").state, child_state::backing_off);
  EXPECT_EQ(sim.info("a").state, child_state::pending);
  sim.advance(999ms);
  EXPECT_TRUE(sim.live().empty());
  sim.advance(1ms);
  const auto starts = lines(sim, "start ");
  ASSERT_EQ(starts.size(), 6u);
  EXPECT_EQ(std::vector<std::string>(starts.begin() + 3, starts.end()),
            (std::vector<std::string>{"start a#2", "start b#2", "start c#2"}));
  EXPECT_EQ(sim.count(event_kind::backoff_scheduled), 1u);
  EXPECT_EQ(sim.count(event_kind::group_restart), 1u);
}

TEST(strategy, rest_for_one_restarts_the_child_and_those_started_after_it) {
  // b fails: only c is stopped; a keeps its first attempt; c shows pending while b backs off.
  simulator sim(with(strategy::rest_for_one));
  for (const char* n : {"a", "b", "c"}) ASSERT_TRUE(sim.add(n, plain()));
  sim.fail("b");
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop c"}));
  EXPECT_TRUE(sim.is_live("a"));
  EXPECT_EQ(sim.info("c").state, child_state::pending);
  sim.advance(1s);
  EXPECT_EQ(sim.starts("a"), 1u);
  EXPECT_EQ(sim.starts("b"), 2u);
  EXPECT_EQ(sim.starts("c"), 2u);
}

TEST(strategy, several_failures_at_once_cause_one_group_restart_and_nobody_runs_twice) {
  // c ignores its stop (shutdown 2 s): while the group waits for it, b fails on its own; that
  // failure joins the running round. Every child then starts exactly once more.
  simulator sim(with(strategy::one_for_all));
  child_policy slow = plain();
  slow.shutdown = 2s;
  ASSERT_TRUE(sim.add("a", plain()));
  ASSERT_TRUE(sim.add("b", plain()));
  ASSERT_TRUE(sim.add("c", slow));
  sim.set_stubborn("c");
  sim.fail("a");
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop c"}));
  sim.fail("b");    // absorbed
  sim.advance(2s);  // c is forced, then the round starts (a's back-off has passed)
  EXPECT_EQ(sim.starts("a"), 2u);
  EXPECT_EQ(sim.starts("b"), 2u);
  EXPECT_EQ(sim.starts("c"), 2u);
  EXPECT_EQ(sim.count(event_kind::backoff_scheduled), 1u);
  sim.advance(10s);
  EXPECT_EQ(sim.starts("a"), 2u);
  EXPECT_EQ(sim.starts("b"), 2u);
}

TEST(strategy, never_bystanders_are_not_restarted_and_stopped_children_stay_stopped) {
  // §13.5: b (restart never) is stopped by a's group restart and not started again; d was
  // stopped on request before and is not revived.
  simulator sim(with(strategy::one_for_all));
  ASSERT_TRUE(sim.add("a", plain()));
  ASSERT_TRUE(sim.add("b", plain(restart::never)));
  ASSERT_TRUE(sim.add("d", plain()));
  ASSERT_TRUE(sim.stop("d"));
  sim.fail("a");
  sim.advance(1s);
  EXPECT_EQ(sim.starts("a"), 2u);
  EXPECT_EQ(sim.starts("b"), 1u);
  EXPECT_EQ(sim.info("b").state, child_state::stopped);
  EXPECT_EQ(sim.starts("d"), 1u);
  EXPECT_EQ(sim.info("d").state, child_state::stopped);
}

TEST(strategy, a_failure_at_the_start_of_a_round_starts_another_round_counted_once_each) {
  // §13.6: b fails immediately whenever it starts: every round is one restart against the
  // intensity {3, 1 min}, so the fourth round breaches.
  supervisor_policy sp = with(strategy::one_for_all);
  sp.intensity = {3, std::chrono::minutes(1)};
  simulator sim(sp);
  ASSERT_TRUE(sim.add("a", plain()));
  ASSERT_TRUE(sim.add("b", plain()));
  for (int round = 0; round < 4 && !sim.result(); ++round) {
    sim.fail("b");
    sim.advance(1s);
  }
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_EQ(sim.result()->reason, exit_reason::intensity_exceeded);
  EXPECT_EQ(sim.count(event_kind::group_restart), 3u);
  EXPECT_EQ(sim.starts("a"), 4u);
}

TEST(dependencies, unknown_and_self_dependencies_are_rejected) {
  // add fails with unknown_dependency / dependency_cycle, naming the children involved.
  simulator sim;
  ASSERT_TRUE(sim.add("db", plain()));
  const auto unknown = sim.add("api", plain(), {"cache"});
  EXPECT_EQ(unknown.code, errc::unknown_dependency);
  EXPECT_NE(unknown.message.find("'cache'"), std::string::npos);
  EXPECT_EQ(sim.add("loop", plain(), {"loop"}).code, errc::dependency_cycle);
  EXPECT_EQ(sim.children(), (std::vector<std::string>{"db"}));
}

TEST(dependencies, a_failing_dependency_restarts_its_transitive_dependents_under_one_for_one) {
  // db <- api <- web, and cache beside them: db fails; web then api are stopped, cache is not;
  // after db's back-off db, api and web start again in that order.
  simulator sim;
  ASSERT_TRUE(sim.add("db", plain()));
  ASSERT_TRUE(sim.add("cache", plain()));
  ASSERT_TRUE(sim.add("api", plain(), {"db"}));
  ASSERT_TRUE(sim.add("web", plain(), {"api"}));
  sim.fail("db");
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop web", "stop api"}));
  EXPECT_TRUE(sim.is_live("cache"));
  sim.advance(1s);
  const auto starts = lines(sim, "start ");
  EXPECT_EQ(std::vector<std::string>(starts.end() - 3, starts.end()),
            (std::vector<std::string>{"start db#2", "start api#2", "start web#2"}));
  EXPECT_EQ(sim.starts("cache"), 1u);
}

TEST(dependencies, dependents_wait_for_readiness_and_fail_when_the_dependency_fails_for_good) {
  // db declares wait_ready: api (depends on db) and the later child log wait until db is
  // ready; when db then dies without being ready... here: ready first, then a second tree
  // where db fails for good before ready and its pending dependent ends dependency_failed.
  {
    simulator sim;
    child_policy db = plain();
    db.wait_ready = true;
    ASSERT_TRUE(sim.add("db", db));
    ASSERT_TRUE(sim.add("api", plain(), {"db"}));
    ASSERT_TRUE(sim.add("log", plain()));
    EXPECT_EQ(sim.live(), (std::set<std::string>{"db"}));
    EXPECT_EQ(sim.info("db").state, child_state::starting);
    ASSERT_TRUE(sim.ready("db"));
    EXPECT_EQ(sim.live(), (std::set<std::string>{"db", "api", "log"}));
  }
  {
    simulator sim;
    child_policy db = plain(restart::never);
    db.wait_ready = true;
    ASSERT_TRUE(sim.add("db", db));
    ASSERT_TRUE(sim.add("api", plain(), {"db"}));
    sim.fail("db");
    EXPECT_EQ(sim.info("api").state, child_state::dependency_failed);
    EXPECT_EQ(sim.starts("api"), 0u);
    // §13.20: a child added later that depends on the failed db fails at once too.
    ASSERT_TRUE(sim.add("late", plain(), {"db"}));
    EXPECT_EQ(sim.info("late").state, child_state::dependency_failed);
  }
}

TEST(dependencies, startup_timeout_bounds_the_wait_for_ready) {
  // A wait_ready child that never calls ready() within startup_timeout 2 s ends its attempt
  // with outcome timeout (and backs off per its policy).
  simulator sim;
  child_policy p = plain(restart::never);
  p.wait_ready = true;
  p.startup_timeout = 2s;
  ASSERT_TRUE(sim.add("slow", p));
  sim.advance(1999ms);
  EXPECT_TRUE(sim.is_live("slow"));
  sim.advance(1ms);
  const auto i = sim.info("slow");
  ASSERT_TRUE(i.last_outcome.has_value());
  EXPECT_EQ(i.last_outcome->kind, outcome_kind::timeout);
  EXPECT_EQ(i.last_outcome->reason, "not ready within its startup_timeout of 2s");
  const auto timed_out = std::find_if(sim.events().begin(), sim.events().end(), [](const auto& e) {
    return e.kind == event_kind::attempt_timed_out;
  });
  ASSERT_NE(timed_out, sim.events().end());
  EXPECT_EQ(timed_out->timeout, 2s);  // the limit that passed, not the (unset) attempt timeout
}

TEST(exhaustion, quarantine_parks_the_child_and_its_siblings_run_on) {
  // max_retries 1 with on_exhausted quarantine: after 2 failures the child is quarantined, the
  // supervisor keeps running; with the default (escalate) it would end.
  simulator sim;
  child_policy p = plain();
  p.max_retries = 1;
  p.on_exhausted_action = on_exhausted::quarantine;
  ASSERT_TRUE(sim.add("flaky", p));
  ASSERT_TRUE(sim.add("steady", plain()));
  sim.fail("flaky");
  sim.advance(1s);
  sim.fail("flaky");
  EXPECT_EQ(sim.info("flaky").state, child_state::quarantined);
  EXPECT_EQ(sim.info("flaky").final->status, final_status::quarantined);
  EXPECT_FALSE(sim.result().has_value());
  EXPECT_TRUE(sim.is_live("steady"));
}

TEST(significant, any_significant_ends_the_supervisor_when_one_completes) {
  // job is significant and completes: the supervisor shuts down (auto_shutdown), stopping
  // the server; a manual stop of a significant child would not count (§13.4).
  supervisor_policy sp;
  sp.auto_shutdown = auto_shutdown::any_significant;
  simulator sim(sp);
  child_policy job = plain();
  job.significant = true;
  ASSERT_TRUE(sim.add("server", plain()));
  ASSERT_TRUE(sim.add("job", job));
  ASSERT_TRUE(sim.add("other_job", job));
  ASSERT_TRUE(sim.stop("other_job"));
  EXPECT_FALSE(sim.result().has_value());
  sim.succeed("job");
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_EQ(sim.result()->reason, exit_reason::auto_shutdown);
  EXPECT_TRUE(sim.result()->ok());
  EXPECT_FALSE(sim.is_live("server"));
}

TEST(significant, all_significant_waits_for_every_significant_child) {
  supervisor_policy sp;
  sp.auto_shutdown = auto_shutdown::all_significant;
  simulator sim(sp);
  child_policy job = plain();
  job.significant = true;
  ASSERT_TRUE(sim.add("a", job));
  ASSERT_TRUE(sim.add("b", job));
  sim.succeed("a");
  EXPECT_FALSE(sim.result().has_value());
  sim.succeed("b");
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_EQ(sim.result()->reason, exit_reason::auto_shutdown);
}

TEST(significant, invalid_combinations_are_rejected) {
  // §13.3: significant with restart always, or under auto_shutdown never.
  child_policy always = plain(restart::always);
  always.significant = true;
  supervisor_policy sp;
  sp.auto_shutdown = auto_shutdown::any_significant;
  simulator sim(sp);
  EXPECT_EQ(sim.add("x", always).code, errc::invalid_argument);
  simulator never;
  child_policy ok = plain();
  ok.significant = true;
  const auto r = never.add("y", ok);
  EXPECT_EQ(r.code, errc::invalid_argument);
  EXPECT_NE(r.message.find("auto_shutdown"), std::string::npos);
}

TEST(dead_threshold, exceeding_the_fraction_strictly_shuts_down) {
  // Threshold 0.5 over 4 children: 2 dead is not more than half; the 3rd ends it with
  // too_many_dead {dead 3, total 4}.
  supervisor_policy sp;
  sp.dead_threshold = 0.5;
  simulator sim(sp);
  for (const char* n : {"a", "b", "c", "d"}) ASSERT_TRUE(sim.add(n, plain()));
  sim.exit("a", fatal("x"));
  sim.exit("b", fatal("x"));
  EXPECT_FALSE(sim.result().has_value());
  sim.exit("c", fatal("x"));
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_EQ(sim.result()->reason, exit_reason::too_many_dead);
  EXPECT_EQ(sim.result()->dead, 3u);
  EXPECT_EQ(sim.result()->total, 4u);
  EXPECT_FALSE(sim.result()->ok());
}

TEST(shutdown, stops_dependents_before_their_dependencies) {
  // Reverse start order, which puts every dependent before what it depends on.
  simulator sim;
  ASSERT_TRUE(sim.add("db", plain()));
  ASSERT_TRUE(sim.add("api", plain(), {"db"}));
  ASSERT_TRUE(sim.add("web", plain(), {"api"}));
  sim.shutdown();
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop web", "stop api", "stop db"}));
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_TRUE(sim.result()->ok());
}

TEST(shutdown, a_timeout_during_shutdown_does_not_stop_a_dependency_early) {
  // Found by simulation seed 365: while shutdown waited for web (which ignores its stop,
  // shutdown 10 s), db's own 5 s timeout fell due and stopped db before its dependent api.
  // Now db is stopped only in its turn: web, then api, then db.
  simulator sim;
  child_policy db = plain();
  db.timeout = 5s;
  child_policy web = plain();
  web.shutdown = 10s;
  ASSERT_TRUE(sim.add("db", db));
  ASSERT_TRUE(sim.add("api", plain(), {"db"}));
  ASSERT_TRUE(sim.add("web", web));
  sim.set_stubborn("web");
  sim.advance(1s);
  sim.shutdown();
  sim.advance(20s);
  EXPECT_EQ(lines(sim, "stop "), (std::vector<std::string>{"stop web", "stop api", "stop db"}));
  ASSERT_TRUE(sim.result().has_value());
}

TEST(hooks, setup_runs_once_before_the_first_attempt_and_its_failure_is_final) {
  // §11: setup runs once (not before restarts); a failing setup ends the child setup_failed
  // with no attempt at all, and fails its pending dependents.
  simulator sim;
  child_policy p = plain();
  p.has_setup = true;
  ASSERT_TRUE(sim.add("ok", p));
  sim.fail("ok");
  sim.advance(1s);
  EXPECT_EQ(sim.starts("ok"), 2u);
  EXPECT_EQ(std::count(sim.log().begin(), sim.log().end(), "setup ok ok"), 1);
  sim.set_setup_result("bad", "no config");
  ASSERT_TRUE(sim.add("bad", p));
  ASSERT_TRUE(sim.add("user", plain(), {"bad"}));
  EXPECT_EQ(sim.starts("bad"), 0u);
  const auto i = sim.info("bad");
  ASSERT_TRUE(i.final.has_value());
  EXPECT_EQ(i.final->status, final_status::setup_failed);
  EXPECT_EQ(i.final->last.reason, "setup failed: no config");  // as its attempt_failed says
  EXPECT_EQ(sim.info("user").state, child_state::dependency_failed);
}

TEST(hooks, should_restart_is_asked_only_when_the_policy_would_restart) {
  // A never-child is not asked; an on_failure child is asked after each failure, and "no"
  // ends it with restart_prevented and a restart_prevented event.
  simulator sim;
  child_policy asked = plain();
  asked.has_should_restart = true;
  child_policy never = plain(restart::never);
  never.has_should_restart = true;
  ASSERT_TRUE(sim.add("once", never));
  sim.fail("once");
  ASSERT_TRUE(sim.add("w", asked));
  sim.fail("w");
  sim.advance(1s);
  EXPECT_EQ(sim.starts("w"), 2u);
  sim.set_should_restart("w", false);
  sim.fail("w");
  sim.advance(5s);
  EXPECT_EQ(sim.starts("w"), 2u);
  EXPECT_EQ(sim.info("w").final->status, final_status::restart_prevented);
  EXPECT_EQ(sim.count(event_kind::restart_prevented, "w"), 1u);
  EXPECT_EQ(std::count_if(sim.log().begin(), sim.log().end(),
                          [](const std::string& l) { return l.rfind("ask once", 0) == 0; }),
            0);
  EXPECT_EQ(std::count_if(sim.log().begin(), sim.log().end(),
                          [](const std::string& l) { return l.rfind("ask w", 0) == 0; }),
            2);
}

TEST(retention, remove_on_exit_children_disappear_once_terminal_and_free_their_name) {
  // §13.8: a fire-and-forget child is erased after its final result; its name is free again.
  simulator sim;
  child_policy p = plain(restart::never);
  p.remove_on_exit = true;
  ASSERT_TRUE(sim.add("job", p));
  sim.succeed("job");
  EXPECT_TRUE(sim.children().empty());
  EXPECT_EQ(sim.count(event_kind::child_removed, "job"), 1u);
  EXPECT_TRUE(sim.add("job", p));
}

TEST(shutdown, the_result_names_every_attempt_that_had_to_be_abandoned) {
  // Stopped newest first: c stops cleanly; b ignores its stop and is forced by its own 1 s
  // shutdown timeout; a ignores it with an infinite timeout and is forced by the 5 s grace.
  // Both forced paths are listed as abandoned; only a as stuck at the grace.
  supervisor_policy sp;
  sp.grace = 5s;
  simulator sim(sp);
  child_policy slow = plain();
  slow.shutdown = infinity;
  child_policy quick = plain();
  quick.shutdown = 1s;
  ASSERT_TRUE(sim.add("a", slow));
  ASSERT_TRUE(sim.add("b", quick));
  ASSERT_TRUE(sim.add("c", plain()));
  sim.set_stubborn("a");
  sim.set_stubborn("b");
  sim.shutdown();
  sim.advance(10s);
  ASSERT_TRUE(sim.result().has_value());
  EXPECT_EQ(sim.result()->abandoned, (std::vector<std::string>{"root/b", "root/a"}));
  EXPECT_EQ(sim.result()->stuck, (std::vector<std::string>{"root/a"}));
  EXPECT_TRUE(sim.info("c").final.has_value());
  EXPECT_FALSE(sim.info("c").final->forced);
}

TEST(status, recent_failures_keep_the_last_sixteen_oldest_first) {
  // 20 failures: the snapshot holds failures 5..20 in order (a ring, allocated on first use).
  child_policy p = plain();
  p.backoff = backoff::constant(0s);
  supervisor_policy big;
  big.intensity = {1000, 1s};
  simulator s2(big);
  ASSERT_TRUE(s2.add("w", p));
  EXPECT_TRUE(s2.info("w").recent_failures.empty());
  for (int k = 1; k <= 20; ++k) s2.fail("w", "f" + std::to_string(k));
  const auto f = s2.info("w").recent_failures;
  ASSERT_EQ(f.size(), 16u);
  EXPECT_EQ(f.front().reason, "f5");
  EXPECT_EQ(f.back().reason, "f20");
  EXPECT_EQ(f.back().attempt, 20u);
}

}  // namespace
