// Lifecycle hooks (§11): every timing rule, on one io_context in virtual time (manual clock).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "vigil/testing/event_recorder.hpp"
#include "vigil/testing/manual_clock.hpp"
#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

// A supervisor on a single-threaded io_context with a manual clock; hooks append to `log`
// (one thread runs everything, so no lock is needed).
struct hooks_test : ::testing::Test {
  vt::virtual_runtime vr;
  std::optional<vigil::supervisor>& sup = vr.sup;
  std::optional<vt::event_recorder>& rec = vr.events;
  std::vector<std::string> log;

  void make(vigil::supervisor_options o = {}) {
    if (!o.seed) o.seed = 7;
    vr.start(std::move(o));
  }
  void settle() { vr.settle(); }
  void run_for(vigil::duration d) { vr.run_for(d); }
  std::error_code add(vigil::child_spec spec) { return vr.add(std::move(spec)).code; }

  std::optional<vigil::final_result> outcome_of(std::string name) {
    std::optional<vigil::final_result> r;
    sup->async_outcome(name, [&](std::error_code ec, vigil::final_result f) {
      if (!ec) r = f;
    });
    settle();
    return r;
  }
  // Every hook, logging "<hook>" or "<hook>(n)".
  void log_all(vigil::child_spec& s) {
    s.setup = [this] { log.push_back("setup"); };
    s.on_start = [this](std::uint32_t n) { log.push_back("on_start(" + std::to_string(n) + ")"); };
    s.on_restart = [this](std::uint32_t n) {
      log.push_back("on_restart(" + std::to_string(n) + ")");
    };
    s.on_failure = [this](const vigil::outcome& o) { log.push_back("on_failure:" + o.reason); };
    s.cleanup = [this] { log.push_back("cleanup"); };
  }
  std::size_t count(const std::string& what) const {
    return static_cast<std::size_t>(std::count(log.begin(), log.end(), what));
  }
};

// Fails on attempts < `succeed_at`, then succeeds; logs "run(n)".
vigil::task failing_until(std::vector<std::string>& log, int succeed_at) {
  auto runs = std::make_shared<int>(0);
  return [&log, runs, succeed_at](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
    const int n = ++*runs;
    log.push_back("run(" + std::to_string(ctx.attempt()) + ")");
    co_return n < succeed_at ? vigil::failure("boom" + std::to_string(n)) : vigil::success();
  };
}

asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

const auto no_jitter = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none);

TEST_F(hooks_test, hooks_run_in_order_setup_once_on_restart_only_from_the_second_attempt) {
  // Two failures, then success: setup once; on_start before every attempt, on_restart before
  // attempts 2 and 3 only (before on_start); on_failure after each failure; cleanup at the end.
  make();
  vigil::child_spec s{.name = "w", .task = failing_until(log, 3), .backoff = no_jitter};
  log_all(s);
  ASSERT_FALSE(add(std::move(s)));
  run_for(1s);
  run_for(1s);
  ASSERT_EQ(outcome_of("w")->status, vigil::final_status::completed);
  EXPECT_EQ(log,
            (std::vector<std::string>{"setup", "on_start(1)", "run(1)", "on_failure:boom1",
                                      "on_restart(2)", "on_start(2)", "run(2)", "on_failure:boom2",
                                      "on_restart(3)", "on_start(3)", "run(3)", "cleanup"}));
}

TEST_F(hooks_test, a_throwing_setup_ends_the_child_setup_failed_without_attempts) {
  // setup throws: final status setup_failed, zero attempts, no on_start, cleanup once.
  make();
  vigil::child_spec s{.name = "w", .task = failing_until(log, 1)};
  log_all(s);
  s.setup = [] { throw std::runtime_error("no database"); };
  ASSERT_FALSE(add(std::move(s)));
  const auto f = outcome_of("w");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, vigil::final_status::setup_failed);
  EXPECT_EQ(f->total_attempts, 0u);
  EXPECT_EQ(log, (std::vector<std::string>{"cleanup"}));
  const auto failed = rec->of(vigil::event_kind::attempt_failed, "root/w");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].reason.find("no database"), std::string::npos);
}

TEST_F(hooks_test, a_coroutine_setup_is_awaited_before_the_first_attempt) {
  // setup is a coroutine that waits on an Asio timer first; the task runs only after it.
  make();
  vigil::child_spec s{.name = "w", .task = failing_until(log, 1)};
  s.setup = [this]() -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, 1ms);
    co_await t.async_wait(asio::use_awaitable);
    log.push_back("setup");
  };
  ASSERT_FALSE(add(std::move(s)));
  while (log.size() < 2) vr.io.run_one();
  settle();
  EXPECT_EQ(log, (std::vector<std::string>{"setup", "run(1)"}));
}

TEST_F(hooks_test, a_throwing_on_start_fails_that_attempt_and_the_policy_retries) {
  // on_start throws on attempt 1 only: attempt 1 fails with the hook's text (the task never
  // ran), attempt 2 runs the task and completes.
  make();
  vigil::child_spec s{.name = "w", .task = failing_until(log, 1), .backoff = no_jitter};
  s.on_start = [](std::uint32_t n) {
    if (n == 1) throw std::runtime_error("not yet");
  };
  ASSERT_FALSE(add(std::move(s)));
  EXPECT_TRUE(log.empty());
  const auto failed = rec->of(vigil::event_kind::attempt_failed, "root/w");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].reason, "on_start hook threw: not yet");
  run_for(1s);
  EXPECT_EQ(log, (std::vector<std::string>{"run(2)"}));
  EXPECT_EQ(outcome_of("w")->status, vigil::final_status::completed);
}

TEST_F(hooks_test, on_failure_runs_for_a_timed_out_attempt_that_had_to_be_forced) {
  // The task ignores its cancellation: its 2 s timeout asks it to stop, it does not, and after
  // its 1 s shutdown timeout it is abandoned. on_failure still sees that timeout (the shell
  // never gets an exit for an abandoned attempt). A forced requested stop is not a failure.
  make();
  std::vector<vigil::outcome_kind> seen;
  vigil::child_spec s{
      .name = "deaf",
      .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
        co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
        co_await ctx.sleep(1h);
        co_return vigil::success();
      },
      .restart = vigil::restart::never,
      .timeout = 2s,
      .shutdown = 1s};
  s.on_failure = [&](const vigil::outcome& o) { seen.push_back(o.kind); };
  ASSERT_FALSE(add(std::move(s)));
  run_for(3s);
  EXPECT_EQ(seen, (std::vector<vigil::outcome_kind>{vigil::outcome_kind::timeout}));
  vigil::child_spec t{
      .name = "deaf2",
      .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
        co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
        co_await ctx.sleep(1h);
        co_return vigil::success();
      },
      .shutdown = 1s};
  t.on_failure = [&](const vigil::outcome& o) { seen.push_back(o.kind); };
  ASSERT_FALSE(add(std::move(t)));
  sup->async_stop("deaf2", [](std::error_code) {});
  run_for(2s);
  EXPECT_EQ(seen.size(), 1u);
}

TEST_F(hooks_test, on_failure_sees_exceptions_and_timeouts_but_not_requested_stops) {
  // Attempt 1 throws, attempt 2 times out, attempt 3 hangs and is stopped: on_failure runs for
  // the first two (with their outcomes) and not for the stop.
  make();
  auto runs = std::make_shared<int>(0);
  std::vector<vigil::outcome_kind> seen;
  vigil::child_spec s{.name = "w",
                      .task = [runs](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                        if (++*runs == 1) throw std::runtime_error("kaput");
                        co_await ctx.sleep(24h);
                        co_return vigil::success();
                      },
                      .backoff = no_jitter,
                      .timeout = 10s};
  s.on_failure = [&](const vigil::outcome& o) { seen.push_back(o.kind); };
  ASSERT_FALSE(add(std::move(s)));
  run_for(1s);   // attempt 2
  run_for(10s);  // times out
  run_for(1s);   // attempt 3
  std::optional<std::error_code> stopped;
  sup->async_stop("w", [&](std::error_code ec) { stopped = ec; });
  settle();
  ASSERT_TRUE(stopped);
  EXPECT_EQ(seen, (std::vector<vigil::outcome_kind>{vigil::outcome_kind::failure,
                                                    vigil::outcome_kind::timeout}));
}

TEST_F(hooks_test, should_restart_is_consulted_only_when_the_policy_would_restart) {
  // restart=never: not asked. on_failure policy and a success: not asked. A failure under
  // on_failure: asked with the outcome; false ends the child restart_prevented.
  make();
  int asked = 0;
  const auto ask = [&](const vigil::outcome&) {
    ++asked;
    return false;
  };
  ASSERT_FALSE(add({.name = "never",
                    .task = failing_until(log, 2),
                    .restart = vigil::restart::never,
                    .should_restart = ask}));
  EXPECT_EQ(outcome_of("never")->status, vigil::final_status::failed);
  ASSERT_FALSE(add({.name = "ok", .task = failing_until(log, 1), .should_restart = ask}));
  EXPECT_EQ(outcome_of("ok")->status, vigil::final_status::completed);
  EXPECT_EQ(asked, 0);
  ASSERT_FALSE(add({.name = "f", .task = failing_until(log, 5), .should_restart = ask}));
  const auto f = outcome_of("f");
  ASSERT_TRUE(f);
  EXPECT_EQ(asked, 1);
  EXPECT_EQ(f->status, vigil::final_status::restart_prevented);
  EXPECT_EQ(f->total_attempts, 1u);
  EXPECT_EQ(rec->count(vigil::event_kind::restart_prevented, "root/f"), 1u);
}

TEST_F(hooks_test, should_restart_true_restarts_and_a_throw_is_reported_and_the_policy_decides) {
  // A coroutine should_restart says yes once; then it throws: reported as subscriber_failed
  // naming the hook, and the child is restarted anyway (supervision never stops for a hook).
  make();
  int asked = 0;
  vigil::child_spec s{.name = "w", .task = failing_until(log, 3), .backoff = no_jitter};
  s.should_restart = [&](const vigil::outcome&) -> asio::awaitable<bool> {
    if (++asked == 2) throw std::runtime_error("predicate broke");
    co_return true;
  };
  ASSERT_FALSE(add(std::move(s)));
  run_for(1s);
  run_for(1s);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(outcome_of("w")->status, vigil::final_status::completed);
  const auto reports = rec->of(vigil::event_kind::subscriber_failed, "root/w");
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].reason, "should_restart hook threw: predicate broke");
}

TEST_F(hooks_test, cleanup_runs_exactly_once_on_every_terminal_path) {
  // completion, exhaustion (quarantine), restart_prevented, stop, removal, setup failure and
  // shutdown: each child's cleanup runs exactly once.
  make();
  std::map<std::string, int> cleaned;
  const auto with_cleanup = [&](vigil::child_spec s) {
    const std::string n = s.name;
    s.cleanup = [&cleaned, n] { ++cleaned[n]; };
    return s;
  };
  ASSERT_FALSE(add(with_cleanup({.name = "done", .task = failing_until(log, 1)})));
  ASSERT_FALSE(add(with_cleanup({.name = "exhausted",
                                 .task = failing_until(log, 99),
                                 .backoff = no_jitter,
                                 .max_retries = 1,
                                 .on_exhausted = vigil::on_exhausted::quarantine})));
  auto prevented = with_cleanup({.name = "prevented", .task = failing_until(log, 99)});
  prevented.should_restart = [](const vigil::outcome&) { return false; };
  ASSERT_FALSE(add(std::move(prevented)));
  ASSERT_FALSE(add(with_cleanup({.name = "stopped", .task = hang})));
  ASSERT_FALSE(add(with_cleanup({.name = "removed", .task = hang})));
  auto bad_setup = with_cleanup({.name = "bad_setup", .task = hang});
  bad_setup.setup = [] { throw std::runtime_error("x"); };
  ASSERT_FALSE(add(std::move(bad_setup)));
  ASSERT_FALSE(add(with_cleanup({.name = "at_shutdown", .task = hang})));
  run_for(1s);
  sup->async_stop("stopped", [](std::error_code) {});
  sup->async_remove("removed", [](std::error_code) {});
  settle();
  sup->async_stop("stopped", [](std::error_code) {});  // a no-op on a terminal child
  settle();
  EXPECT_EQ(outcome_of("exhausted")->status, vigil::final_status::quarantined);
  sup->shutdown();
  settle();
  run_for(10s);
  for (const char* n :
       {"done", "exhausted", "prevented", "stopped", "removed", "bad_setup", "at_shutdown"}) {
    EXPECT_EQ(cleaned[n], 1) << n;
  }
}

TEST_F(hooks_test, outcome_waiters_resolve_after_cleanup_has_returned) {
  // A waiter registered before the end sees cleanup's effect when it resolves.
  make();
  bool cleaned = false;
  bool seen_cleaned = false;
  vigil::child_spec s{.name = "w", .task = hang};
  s.cleanup = [&] { cleaned = true; };
  ASSERT_FALSE(add(std::move(s)));
  sup->async_outcome("w", [&](std::error_code, vigil::final_result) { seen_cleaned = cleaned; });
  settle();
  sup->async_stop("w", [](std::error_code) {});
  settle();
  EXPECT_TRUE(seen_cleaned);
}

TEST_F(hooks_test, a_throwing_cleanup_or_on_failure_is_reported_and_supervision_goes_on) {
  // Both hooks throw: two subscriber_failed reports naming them; the child still restarts and
  // completes, and the supervisor keeps serving.
  make();
  vigil::child_spec s{.name = "w", .task = failing_until(log, 2), .backoff = no_jitter};
  s.on_failure = [](const vigil::outcome&) { throw std::runtime_error("f"); };
  s.cleanup = [] { throw 42; };
  ASSERT_FALSE(add(std::move(s)));
  run_for(1s);
  EXPECT_EQ(outcome_of("w")->status, vigil::final_status::completed);
  std::vector<std::string> reasons;
  for (const auto& e : rec->of(vigil::event_kind::subscriber_failed, "root/w")) {
    reasons.push_back(e.reason);
  }
  EXPECT_EQ(reasons, (std::vector<std::string>{"on_failure hook threw: f",
                                               "cleanup hook threw: unknown exception"}));
  EXPECT_FALSE(add({.name = "next", .task = hang}));
}

TEST_F(hooks_test, on_shutdown_runs_for_live_children_and_the_end_waits_for_it) {
  // Shutdown: on_shutdown runs for the running child (not for a completed one), before its
  // cleanup; wait() completes only after both.
  make();
  vigil::child_spec live{.name = "live", .task = hang};
  live.on_shutdown = [this] { log.push_back("on_shutdown live"); };
  live.cleanup = [this] { log.push_back("cleanup live"); };
  vigil::child_spec done{.name = "done", .task = failing_until(log, 1)};
  done.on_shutdown = [this] { log.push_back("on_shutdown done"); };
  ASSERT_FALSE(add(std::move(live)));
  ASSERT_FALSE(add(std::move(done)));
  log.clear();
  bool ended = false;
  sup->async_wait([&](std::error_code, vigil::supervisor_result) {
    ended = true;
    log.push_back("ended");
  });
  sup->shutdown();
  settle();
  run_for(6s);
  EXPECT_TRUE(ended);
  EXPECT_EQ(log, (std::vector<std::string>{"on_shutdown live", "cleanup live", "ended"}));
}

TEST_F(hooks_test, on_shutdown_hooks_run_at_each_childs_turn_in_reverse_start_order) {
  // §13.28: a, b, c ignore their stop (each is forced after its 1 s shutdown timeout). Each
  // on_shutdown runs at its child's turn, just before its stop: c's at 0, b's only once c's
  // attempt has ended (forced at 1 s), a's at 2 s — not all three when the shutdown begins.
  // A child backing off at its turn (d, added first) gets its hook last, at 3 s.
  make();
  const auto t0 = vr.clock.now();
  const auto at = [&] {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::milliseconds>(vr.clock.now() - t0).count());
  };
  vigil::child_spec d{
      .name = "d", .task = failing_until(log, 100), .backoff = vigil::backoff::constant(1h)};
  d.on_shutdown = [&] { log.push_back("hook d @" + at()); };
  ASSERT_FALSE(add(std::move(d)));
  for (const char* name : {"a", "b", "c"}) {
    vigil::child_spec s{
        .name = name,
        .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
          co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
          co_await ctx.sleep(1h);
          co_return vigil::success();
        },
        .shutdown = 1s};
    s.on_shutdown = [&, name] { log.push_back(std::string("hook ") + name + " @" + at()); };
    ASSERT_FALSE(add(std::move(s)));
  }
  log.clear();
  bool ended = false;
  sup->async_wait([&](std::error_code, vigil::supervisor_result) { ended = true; });
  sup->shutdown();
  settle();
  EXPECT_EQ(log, (std::vector<std::string>{"hook c @0"}));
  run_for(999ms);
  EXPECT_EQ(log, (std::vector<std::string>{"hook c @0"}));
  run_for(1ms);
  EXPECT_EQ(log, (std::vector<std::string>{"hook c @0", "hook b @1000"}));
  run_for(2s);
  EXPECT_EQ(
      log, (std::vector<std::string>{"hook c @0", "hook b @1000", "hook a @2000", "hook d @3000"}));
  EXPECT_TRUE(ended);
}

TEST_F(hooks_test, on_shutdown_is_bounded_by_the_child_shutdown_timeout_and_the_grace) {
  // A coroutine on_shutdown that never finishes: the end waits for it only min(shutdown 2 s,
  // grace 30 s); then the hook is cancelled and the supervisor ends. With grace 1 s the bound
  // is 1 s.
  for (const auto& [grace, bound] : {std::pair{30s, 2s}, std::pair{1s, 1s}}) {
    hooks_test::TearDown();
    sup.reset();
    rec.reset();
    make({.grace = grace});
    bool cancelled = false;
    vigil::child_spec s{.name = "w", .task = hang, .shutdown = 2s};
    s.on_shutdown = [&]() -> asio::awaitable<void> {
      asio::steady_timer t(co_await asio::this_coro::executor, 24h);
      try {
        co_await t.async_wait(asio::use_awaitable);
      } catch (const boost::system::system_error&) {
        cancelled = true;
      }
    };
    ASSERT_FALSE(add(std::move(s)));
    bool ended = false;
    sup->async_wait([&](std::error_code, vigil::supervisor_result) { ended = true; });
    sup->shutdown();
    settle();
    run_for(bound - 1ms);
    EXPECT_FALSE(ended);
    run_for(1ms);
    EXPECT_TRUE(ended);
    EXPECT_TRUE(cancelled);
  }
}

TEST_F(hooks_test, on_start_and_on_restart_run_on_thread_tasks_and_process_tasks_refuse_them) {
  // A thread task gets its on_start inside the attempt; a process task with on_start is
  // refused with invalid_argument.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor s{rt};
  std::atomic<int> started{0};
  vigil::child_spec t{.name = "t", .task = vigil::thread([](vigil::context) {})};
  t.on_start = [&](std::uint32_t) { ++started; };
  s.add(std::move(t));
  EXPECT_EQ(s.outcome("t").status, vigil::final_status::completed);
  EXPECT_EQ(started, 1);
  vigil::child_spec p{.name = "p", .task = vigil::process({.argv = {"/bin/true"}})};
  p.on_start = [](std::uint32_t) {};
  try {
    s.add(std::move(p));
    ADD_FAILURE() << "must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::invalid_argument);
  }
}

// A task class with hook members, one of them a coroutine.
struct indexer {
  std::shared_ptr<std::vector<std::string>> log = std::make_shared<std::vector<std::string>>();
  int runs_here = 0;  // per attempt copy: always 0 at the start of run()
  asio::awaitable<vigil::outcome> run(vigil::context ctx) {
    log->push_back("run(" + std::to_string(ctx.attempt()) +
                   ") fresh=" + std::to_string(runs_here++ == 0));
    co_return ctx.attempt() < 2 ? vigil::failure("again") : vigil::success();
  }
  asio::awaitable<void> setup() {
    log->push_back("setup");
    co_return;
  }
  void on_restart(std::uint32_t n) { log->push_back("on_restart(" + std::to_string(n) + ")"); }
  bool should_restart(const vigil::outcome&) { return true; }
  void cleanup() { log->push_back("cleanup"); }
};
static_assert(vigil::task_class<indexer>);

TEST_F(hooks_test, task_object_detects_hook_members_including_coroutines) {
  // task_object fills the task and the hooks indexer has; every attempt runs on a fresh copy.
  make();
  indexer proto;
  auto log_ptr = proto.log;
  auto spec = vigil::task_object({.name = "idx", .backoff = no_jitter}, proto);
  EXPECT_TRUE(spec.setup && spec.on_restart && spec.should_restart && spec.cleanup);
  EXPECT_FALSE(spec.on_start || spec.on_failure || spec.on_shutdown);
  ASSERT_FALSE(add(std::move(spec)));
  run_for(1s);
  EXPECT_EQ(outcome_of("idx")->status, vigil::final_status::completed);
  EXPECT_EQ(*log_ptr, (std::vector<std::string>{"setup", "run(1) fresh=1", "on_restart(2)",
                                                "run(2) fresh=1", "cleanup"}));
}

}  // namespace
