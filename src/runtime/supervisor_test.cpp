// Runtime tests: the Asio shell driven on one io_context in virtual time (manual clock).
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>
#include <thread>

#include "vigil/testing/event_recorder.hpp"
#include "vigil/testing/manual_clock.hpp"
#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

// A supervisor on a single-threaded io_context that only this test runs, with a manual clock.
// Every test runs twice: without strands (the io_context declared one-thread, as a one-thread
// vigil::runtime's is) and with strands (as on any other executor).
struct runtime_test : ::testing::TestWithParam<bool> {
  vt::virtual_runtime vr{GetParam()};
  std::optional<vigil::supervisor>& sup = vr.sup;
  std::optional<vt::event_recorder>& rec = vr.events;

  void make(vigil::supervisor_options o = {}) {
    if (!o.seed) o.seed = 42;
    vr.start(std::move(o));
  }
  void settle() { vr.settle(); }
  void run_for(vigil::duration d) { vr.run_for(d); }
  std::error_code add(vigil::child_spec spec) { return vr.add(std::move(spec)).code; }

  template <class Op>
  std::error_code call(Op op) {
    std::optional<std::error_code> r;
    op([&](std::error_code ec) { r = ec; });
    settle();
    EXPECT_TRUE(r.has_value()) << "command did not complete";
    return r.value_or(vigil::errc::timeout);
  }
  // Throws (failing the test) on an error or a missing reply: never a default child_info.
  vigil::child_info status(std::string_view name) { return vr.status(name).value(); }
  // The supervisor's result once it has ended; the wait is registered once and stays pending
  // across calls, so it never outlives what it writes to.
  std::optional<vigil::supervisor_result> ended;
  bool waiting = false;
  std::optional<vigil::supervisor_result> result() {
    if (!waiting) {
      waiting = true;
      sup->async_wait(
          [this](std::error_code, vigil::supervisor_result x) { ended = std::move(x); });
    }
    settle();
    return ended;
  }
};

// A task whose every attempt counts itself and then behaves as `script` says for that attempt.
struct scripted {
  std::shared_ptr<std::atomic<int>> runs = std::make_shared<std::atomic<int>>(0);
  std::function<asio::awaitable<vigil::outcome>(vigil::context, int)> body;
  vigil::task task() const {
    return [runs = runs, body = body](vigil::context ctx) {
      const int n = ++*runs;
      return body(std::move(ctx), n);
    };
  }
};

asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

TEST_P(runtime_test, failing_task_is_restarted_with_backoff_until_it_succeeds) {
  // Fails twice then succeeds; constant 1 s back-off: attempt 2 comes only after 1 s of virtual
  // time, attempt 3 after another, and the child completes.
  make();
  scripted s;
  s.body = [](vigil::context, int n) -> asio::awaitable<vigil::outcome> {
    co_return n < 3 ? vigil::failure("boom") : vigil::success();
  };
  ASSERT_FALSE(add({.name = "w",
                    .task = s.task(),
                    .backoff = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none)}));
  EXPECT_EQ(*s.runs, 1);
  run_for(999ms);
  EXPECT_EQ(*s.runs, 1);
  run_for(1ms);
  EXPECT_EQ(*s.runs, 2);
  run_for(1s);
  EXPECT_EQ(*s.runs, 3);
  const auto st = status("w");
  EXPECT_EQ(st.state, vigil::child_state::completed);
  EXPECT_EQ(st.attempt, 3u);
  EXPECT_EQ(st.restarts_automatic, 2u);
  EXPECT_EQ(rec->count(vigil::event_kind::attempt_failed, "root/w"), 2u);
  EXPECT_EQ(rec->count(vigil::event_kind::attempt_succeeded, "root/w"), 1u);
}

TEST_P(runtime_test, thrown_exceptions_become_failures_and_fatal_error_is_fatal) {
  // A task that throws std::runtime_error is retried; vigil::fatal_error ends it as dead.
  make();
  scripted s;
  s.body = [](vigil::context, int n) -> asio::awaitable<vigil::outcome> {
    if (n == 1) throw std::runtime_error("disk on fire");
    throw vigil::fatal_error("config invalid");
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "t", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  settle();
  EXPECT_EQ(*s.runs, 2);
  const auto st = status("t");
  EXPECT_EQ(st.state, vigil::child_state::dead);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_EQ(st.final->status, vigil::final_status::dead);
  EXPECT_EQ(st.final->last.reason, "config invalid");
  EXPECT_TRUE(st.final->last.exception != nullptr);
  const auto failed = rec->of(vigil::event_kind::attempt_failed, "root/t");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0].reason, "disk on fire");
  EXPECT_EQ(failed[0].outcome, vigil::outcome_kind::failure);
}

TEST_P(runtime_test, void_task_that_returns_is_a_success) {
  // An awaitable<void> task: returning is success; restart::never keeps it completed.
  make();
  std::atomic<int> runs{0};
  ASSERT_FALSE(add({.name = "v",
                    .task = [&runs](vigil::context) -> asio::awaitable<void> {
                      ++runs;
                      co_return;
                    },
                    .restart = vigil::restart::never}));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(status("v").state, vigil::child_state::completed);
}

TEST_P(runtime_test, factory_that_throws_is_a_failed_attempt) {
  // The factory itself throws: that is a failed attempt, not a crash, and it is retried.
  make();
  int calls = 0;
  ASSERT_FALSE(add({.name = "f",
                    .task = [&calls](vigil::context) -> asio::awaitable<vigil::outcome> {
                      if (++calls < 3) throw std::runtime_error("cannot build");
                      return hang(vigil::context(nullptr));
                    },
                    .backoff = vigil::backoff::constant(0s),
                    .max_retries = 1}));
  settle();
  EXPECT_EQ(calls, 2);
  const auto st = status("f");
  ASSERT_TRUE(st.final.has_value());
  EXPECT_EQ(st.final->status, vigil::final_status::retries_exhausted);
  EXPECT_EQ(st.final->last.reason, "cannot build");
}

TEST_P(runtime_test, timeout_cancels_the_attempt_with_outcome_timeout) {
  // A hanging attempt with timeout = 2 s is cancelled at exactly 2 s of virtual time.
  make();
  ASSERT_FALSE(add({.name = "h", .task = hang, .restart = vigil::restart::never, .timeout = 2s}));
  run_for(1999ms);
  EXPECT_EQ(status("h").state, vigil::child_state::running);
  run_for(1ms);
  const auto st = status("h");
  EXPECT_EQ(st.state, vigil::child_state::failed);
  ASSERT_TRUE(st.last_outcome.has_value());
  EXPECT_EQ(st.last_outcome->kind, vigil::outcome_kind::timeout);
  const auto ev = rec->of(vigil::event_kind::attempt_timed_out, "root/h");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].elapsed, 2s);
  EXPECT_EQ(st.last_outcome->reason, "exceeded its timeout of 2s");
}

TEST_P(runtime_test, heartbeat_watchdog_catches_a_task_that_stops_beating) {
  // Beats every 100 ms for 1 s, then hangs; heartbeat_timeout 500 ms: unresponsive is detected
  // exactly 500 ms after the last beat (1.5 s), not before.
  make();
  ASSERT_FALSE(add({.name = "hb",
                    .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      for (int i = 0; i < 10; ++i) {
                        co_await ctx.sleep(100ms);
                        ctx.heartbeat();
                      }
                      co_await ctx.sleep(24h);
                      co_return vigil::success();
                    },
                    .restart = vigil::restart::never,
                    .heartbeat_timeout = 500ms}));
  run_for(1499ms);
  EXPECT_EQ(status("hb").state, vigil::child_state::running);
  run_for(1ms);
  const auto st = status("hb");
  ASSERT_TRUE(st.last_outcome.has_value());
  EXPECT_EQ(st.last_outcome->kind, vigil::outcome_kind::unresponsive)
      << vigil::describe(*st.last_outcome);
  const auto ev = rec->of(vigil::event_kind::attempt_unresponsive, "root/hb");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].elapsed, 1500ms);
  EXPECT_EQ(st.last_outcome->reason, "no heartbeat within 500ms");
}

TEST_P(runtime_test, duplicate_names_are_rejected_and_the_first_child_keeps_running) {
  // The second add of "a" fails with already_exists; the first child is untouched.
  make();
  ASSERT_FALSE(add({.name = "a", .task = hang}));
  EXPECT_EQ(add({.name = "a", .task = hang}), vigil::errc::already_exists);
  EXPECT_EQ(add({.name = "bad name", .task = hang}), vigil::errc::invalid_argument);
  EXPECT_EQ(add({.name = "empty"}), vigil::errc::invalid_argument);
  EXPECT_EQ(add({.name = "neg", .task = hang, .timeout = -1s}), vigil::errc::invalid_argument);
  EXPECT_EQ(status("a").state, vigil::child_state::running);
  EXPECT_EQ(status("a").attempt, 1u);
}

TEST_P(runtime_test, stop_start_restart_remove_control_a_running_child) {
  // Each handle command takes effect and completes only when done; names free after remove.
  make();
  ASSERT_FALSE(add({.name = "c", .task = hang}));
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("c", h); }));
  EXPECT_EQ(status("c").state, vigil::child_state::stopped);
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("c", h); }));  // no-op on a stopped child
  EXPECT_FALSE(call([&](auto h) { sup->async_start("c", h); }));
  EXPECT_EQ(status("c").state, vigil::child_state::running);
  EXPECT_EQ(call([&](auto h) { sup->async_start("c", h); }), vigil::errc::already_running);
  EXPECT_FALSE(call([&](auto h) { sup->async_restart("c", h); }));
  auto st = status("c");
  EXPECT_EQ(st.state, vigil::child_state::running);
  EXPECT_EQ(st.attempt, 3u);
  EXPECT_EQ(st.restarts_manual, 2u);
  EXPECT_EQ(add({.name = "c", .task = hang}), vigil::errc::already_exists);
  EXPECT_FALSE(call([&](auto h) { sup->async_remove("c", h); }));
  EXPECT_EQ(call([&](auto h) { sup->async_stop("c", h); }), vigil::errc::not_found);
  EXPECT_FALSE(add({.name = "c", .task = hang}));
  EXPECT_EQ(rec->count(vigil::event_kind::child_removed, "root/c"), 1u);
}

TEST_P(runtime_test, stop_during_backoff_never_resurrects_the_child) {
  // Trap 1: the pending back-off timer fires after the stop and must not start an attempt.
  make();
  scripted s;
  s.body = [](vigil::context, int) -> asio::awaitable<vigil::outcome> {
    co_return vigil::failure("x");
  };
  ASSERT_FALSE(add({.name = "b",
                    .task = s.task(),
                    .backoff = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none)}));
  EXPECT_EQ(status("b").state, vigil::child_state::backing_off);
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("b", h); }));
  run_for(5s);
  EXPECT_EQ(*s.runs, 1);
  EXPECT_EQ(status("b").state, vigil::child_state::stopped);
}

TEST_P(runtime_test, restart_during_backoff_starts_exactly_one_attempt) {
  // Trap 2: a manual restart while backing off starts one attempt now, and the old timer
  // does not add a second one.
  make();
  scripted s;
  s.body = [](vigil::context ctx, int n) -> asio::awaitable<vigil::outcome> {
    if (n == 1) co_return vigil::failure("x");
    co_await ctx.sleep(24h);
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "r",
                    .task = s.task(),
                    .backoff = vigil::backoff::constant(1s).with_jitter(vigil::jitter::none)}));
  EXPECT_FALSE(call([&](auto h) { sup->async_restart("r", h); }));
  EXPECT_EQ(*s.runs, 2);
  run_for(3s);
  EXPECT_EQ(*s.runs, 2);
  EXPECT_EQ(status("r").state, vigil::child_state::running);
}

TEST_P(runtime_test, stop_forces_a_task_that_ignores_cancellation_after_its_shutdown_timeout) {
  // A task that disables cancellation and hangs: stop() waits the child's shutdown timeout
  // (2 s), then abandons it: final status stopped, flagged forced, with stop_timed_out.
  make();
  ASSERT_FALSE(add({.name = "s",
                    .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      co_await asio::this_coro::reset_cancellation_state(
                          asio::disable_cancellation());
                      while (true) {
                        try {
                          co_await ctx.sleep(1h);
                        } catch (const boost::system::system_error&) {
                          co_return vigil::success();
                        }
                      }
                    },
                    .shutdown = 2s}));
  std::optional<std::error_code> done;
  sup->async_stop("s", [&](std::error_code ec) { done = ec; });
  settle();
  // ctx.sleep notices the stop token at its next call only; this task is parked in a sleep
  // whose cancellation is disabled, so nothing ends it before the deadline.
  EXPECT_FALSE(done.has_value());
  run_for(1999ms);
  EXPECT_FALSE(done.has_value());
  run_for(1ms);
  ASSERT_TRUE(done.has_value());
  const auto st = status("s");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_TRUE(st.final->forced);
  EXPECT_EQ(rec->count(vigil::event_kind::stop_timed_out, "root/s"), 1u);
}

TEST_P(runtime_test, shutdown_stops_children_in_reverse_start_order) {
  // Three hanging children: shutdown cancels c, then b, then a; wait() reports success.
  make();
  for (const char* n : {"a", "b", "c"}) ASSERT_FALSE(add({.name = n, .task = hang}));
  sup->shutdown();
  settle();
  const auto r = result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, vigil::exit_reason::shutdown_requested);
  EXPECT_TRUE(r->ok());
  std::vector<std::string> order;
  for (const auto& e : rec->of(vigil::event_kind::attempt_cancelled)) {
    order.emplace_back(e.path());
  }
  EXPECT_EQ(order, (std::vector<std::string>{"root/c", "root/b", "root/a"}));
  EXPECT_EQ(rec->count(vigil::event_kind::all_stopped_within_grace), 1u);
  EXPECT_EQ(add({.name = "late", .task = hang}), vigil::errc::shutting_down);
  EXPECT_EQ(status("a").state, vigil::child_state::stopped);  // read-only calls still work
}

TEST_P(runtime_test, shutdown_grace_is_enforced_even_if_a_task_ignores_cancellation) {
  // Trap 4: grace 3 s, child shutdown timeout infinity, task ignores cancellation: at 3 s the
  // supervisor forces it and reports grace_exceeded naming the stuck path.
  make({.grace = 3s});
  ASSERT_FALSE(add({.name = "stuck",
                    .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      co_await asio::this_coro::reset_cancellation_state(
                          asio::disable_cancellation());
                      // Cancellation is disabled: only the grace can end this wait.
                      co_await ctx.sleep(1h);
                      co_return vigil::success();
                    },
                    .shutdown = vigil::infinity}));
  sup->shutdown();
  settle();
  EXPECT_FALSE(result().has_value());
  run_for(2999ms);
  EXPECT_FALSE(result().has_value());
  run_for(1ms);
  const auto r = result();
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->grace_exceeded);
  EXPECT_EQ(r->stuck, (std::vector<std::string>{"root/stuck"}));
  EXPECT_EQ(vigil::exit_code(*r), 2);
}

TEST_P(runtime_test, intensity_breach_ends_the_supervisor_with_the_cause) {
  // Zero back-off and intensity {3, 10 s}: the 4th automatic restart breaches; wait() reports
  // intensity_exceeded with the failing child and its reason.
  make({.intensity = {.max_restarts = 3, .period = 10s}});
  scripted s;
  s.body = [](vigil::context, int) -> asio::awaitable<vigil::outcome> {
    co_return vigil::failure("crash");
  };
  ASSERT_FALSE(add({.name = "loop", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  settle();
  EXPECT_EQ(*s.runs, 4);
  const auto r = result();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, vigil::exit_reason::intensity_exceeded);
  EXPECT_EQ(r->cause_path, "root/loop");
  ASSERT_TRUE(r->cause.has_value());
  EXPECT_EQ(r->cause->reason, "crash");
  EXPECT_EQ(vigil::exit_code(*r), 1);
}

TEST_P(runtime_test, outcome_resolves_when_the_child_becomes_terminal) {
  // async_outcome waits for the final result; not_found for unknown names.
  make();
  scripted s;
  s.body = [](vigil::context ctx, int) -> asio::awaitable<vigil::outcome> {
    co_await ctx.sleep(1s);
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "o", .task = s.task()}));
  std::optional<vigil::final_result> got;
  sup->async_outcome("o", [&](std::error_code ec, vigil::final_result f) {
    EXPECT_FALSE(ec);
    got = f;
  });
  std::optional<std::error_code> missing;
  sup->async_outcome("nope", [&](std::error_code ec, vigil::final_result) { missing = ec; });
  settle();
  EXPECT_FALSE(got.has_value());
  EXPECT_EQ(missing, vigil::errc::not_found);
  run_for(1s);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->status, vigil::final_status::completed);
  EXPECT_EQ(got->total_attempts, 1u);
}

TEST_P(runtime_test, max_concurrent_grants_permits_first_come_first_served) {
  // max_concurrent = 1: b waits for a's permit; when a ends, b starts; c after b.
  make({.max_concurrent = 1});
  std::vector<std::string> started;
  auto task = [&started](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
    started.emplace_back(ctx.name());
    co_await ctx.sleep(1s);
    co_return vigil::success();
  };
  for (const char* n : {"a", "b", "c"}) ASSERT_FALSE(add({.name = n, .task = task}));
  EXPECT_EQ(started, (std::vector<std::string>{"a"}));
  EXPECT_EQ(status("b").state, vigil::child_state::pending);
  run_for(1s);
  EXPECT_EQ(started, (std::vector<std::string>{"a", "b"}));
  run_for(1s);
  EXPECT_EQ(started, (std::vector<std::string>{"a", "b", "c"}));
}

TEST_P(runtime_test, pause_holds_restarts_until_resume) {
  // A paused child that fails is not restarted; resume restarts it at once.
  make();
  scripted s;
  s.body = [](vigil::context ctx, int n) -> asio::awaitable<vigil::outcome> {
    if (n == 1) {
      co_await ctx.sleep(1s);
      co_return vigil::failure("x");
    }
    co_await ctx.sleep(24h);
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "p", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  EXPECT_FALSE(call([&](auto h) { sup->async_pause("p", h); }));
  run_for(10s);
  EXPECT_EQ(*s.runs, 1);
  EXPECT_EQ(status("p").state, vigil::child_state::paused);
  EXPECT_FALSE(call([&](auto h) { sup->async_resume("p", h); }));
  EXPECT_EQ(*s.runs, 2);
  EXPECT_EQ(status("p").state, vigil::child_state::running);
}

TEST_P(runtime_test, context_reports_identity_status_text_and_readiness) {
  // The context carries name, path, attempt and streak; status text and ready() show up.
  make({.name = "sys"});
  scripted s;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> seen;
  s.body = [&seen](vigil::context ctx, int n) -> asio::awaitable<vigil::outcome> {
    seen.emplace_back(ctx.attempt(), ctx.failure_streak());
    EXPECT_EQ(ctx.name(), "job");
    EXPECT_EQ(ctx.path(), "sys/job");
    if (n < 3) co_return vigil::failure("x");
    ctx.status("serving");
    ctx.ready();
    co_await ctx.sleep(24h);
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "job", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  settle();
  EXPECT_EQ(seen, (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 0}, {2, 1}, {3, 2}}));
  const auto st = status("job");
  EXPECT_EQ(st.status_text, "serving");
  EXPECT_TRUE(st.ready);
  EXPECT_EQ(rec->count(vigil::event_kind::child_ready, "sys/job"), 1u);
}

TEST_P(runtime_test, each_attempt_gets_a_fresh_stop_state_and_ready_flag) {
  // The supervisor reuses a finished attempt's state for the next attempt: what the previous
  // attempt left behind (a requested stop, a sent ready) must not leak into the next one.
  make();
  scripted s;
  std::vector<bool> stop_at_start;
  s.body = [&stop_at_start](vigil::context ctx, int n) -> asio::awaitable<vigil::outcome> {
    stop_at_start.push_back(ctx.stop_requested());
    ctx.ready();
    if (n == 2) co_return vigil::failure("second fails at once");
    co_await ctx.sleep(24h);
    co_return vigil::success();
  };
  ASSERT_FALSE(add({.name = "c", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  // Attempt 1 is stopped by restart (its stop source is requested); attempt 2 fails on its own;
  // attempt 3 must start un-stopped and sleep, not be cancelled at once.
  EXPECT_FALSE(call([&](auto h) { sup->async_restart("c", h); }));
  run_for(1s);
  EXPECT_EQ(*s.runs, 3);
  EXPECT_EQ(stop_at_start, (std::vector<bool>{false, false, false}));
  EXPECT_EQ(status("c").state, vigil::child_state::running);
  EXPECT_EQ(status("c").attempt, 3u);
  EXPECT_EQ(rec->count(vigil::event_kind::child_ready, "root/c"), 3u);
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("c", h); }));
  EXPECT_EQ(status("c").state, vigil::child_state::stopped);
}

TEST_P(runtime_test, stopped_returns_normally_on_a_stop_and_sleep_infinity_throws) {
  // Two idle children park without a timer: one in ctx.stopped(), which returns on the stop,
  // one in ctx.sleep(infinity), which throws operation_aborted. Neither wakes before the stop.
  make();
  std::vector<std::string> seen;
  ASSERT_FALSE(add(
      {.name = "parked", .task = [&seen](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
         co_await ctx.stopped();
         seen.push_back(ctx.stop_requested() ? "parked: stopped" : "parked: early");
         co_return vigil::success();
       }}));
  ASSERT_FALSE(add(
      {.name = "sleeper", .task = [&seen](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
         try {
           co_await ctx.sleep(vigil::infinity);
           seen.push_back("sleeper: woke");
         } catch (const boost::system::system_error& e) {
           seen.push_back(e.code() == asio::error::operation_aborted ? "sleeper: aborted"
                                                                     : "sleeper: other error");
         }
         co_return vigil::success();
       }}));
  run_for(1000h);
  EXPECT_TRUE(seen.empty());
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("parked", h); }));
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("sleeper", h); }));
  EXPECT_EQ(seen, (std::vector<std::string>{"parked: stopped", "sleeper: aborted"}));
  EXPECT_EQ(status("parked").state, vigil::child_state::stopped);
  EXPECT_EQ(status("sleeper").state, vigil::child_state::stopped);
}

TEST_P(runtime_test, other_cancellation_ends_a_parked_wait) {
  // A cancellation that is not a stop (the losing side of ||) ends a parked wait.
  make();
  std::vector<std::string> seen;
  ASSERT_FALSE(
      add({.name = "c", .task = [&seen](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
             using namespace asio::experimental::awaitable_operators;
             const auto r = co_await (ctx.stopped() || ctx.sleep(5s));
             seen.push_back(r.index() == 1 ? "slept" : "stopped first");
             try {
               co_await ctx.sleep(1h);
               seen.push_back("woke");
             } catch (const boost::system::system_error&) {
               seen.push_back("sleep aborted");
             }
             try {
               co_await ctx.stopped();
               seen.push_back("stopped() returned");
             } catch (const boost::system::system_error&) {
               seen.push_back("stopped() threw");
             }
             co_return vigil::success();
           }}));
  run_for(4s);
  EXPECT_TRUE(seen.empty());
  run_for(1s);
  ASSERT_EQ(seen, (std::vector<std::string>{"slept"}));
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("c", h); }));
  // Once the stop's cancellation has reached the coroutine, Asio makes every later co_await
  // throw operation_aborted (this_coro::throw_if_cancelled), stopped() included.
  EXPECT_EQ(seen, (std::vector<std::string>{"slept", "sleep aborted", "stopped() threw"}));
  EXPECT_EQ(status("c").state, vigil::child_state::stopped);
}

TEST_P(runtime_test, a_list_add_adds_all_in_order_or_nothing) {
  // add(vector) checks the whole list first: one bad entry adds nothing; a good list starts
  // every child, in list order.
  make();
  std::vector<std::string> started;
  const auto spec = [&started](std::string name) {
    return vigil::child_spec{
        .name = name,
        .task = [&started, name](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
          started.push_back(name);
          co_await ctx.stopped();
          co_return vigil::success();
        }};
  };
  ASSERT_FALSE(add(spec("old")));
  const auto add_list = [&](std::vector<vigil::child_spec> list) {
    return call([&](auto h) { sup->async_add(std::move(list), h); });
  };
  EXPECT_EQ(add_list({spec("a"), spec("b"), spec("a")}), vigil::errc::already_exists);
  EXPECT_EQ(add_list({spec("a"), spec("old")}), vigil::errc::already_exists);
  EXPECT_EQ(add_list({spec("a"), vigil::child_spec{.name = "b"}}), vigil::errc::invalid_argument);
  EXPECT_EQ(add_list({spec("a"), spec("bad name!")}), vigil::errc::invalid_argument);
  std::vector<vigil::child_spec> with_bad_dep;
  with_bad_dep.push_back(spec("a"));
  with_bad_dep.push_back(spec("b"));
  with_bad_dep.back().depends_on = {"nobody"};
  EXPECT_EQ(add_list(std::move(with_bad_dep)), vigil::errc::unknown_dependency);
  EXPECT_EQ(started, std::vector<std::string>{"old"});
  std::optional<std::vector<vigil::child_info>> list;
  sup->async_children([&](std::error_code, std::vector<vigil::child_info> l) { list = l; });
  settle();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 1u);

  EXPECT_FALSE(add_list({spec("a"), spec("b"), spec("c")}));
  EXPECT_EQ(started, (std::vector<std::string>{"old", "a", "b", "c"}));
  EXPECT_EQ(status("c").state, vigil::child_state::running);
  EXPECT_FALSE(add_list({}));  // an empty list is fine
}

TEST_P(runtime_test, events_have_strictly_increasing_seq) {
  // Every subscriber sees seq numbers strictly increasing.
  make();
  scripted s;
  s.body = [](vigil::context, int n) -> asio::awaitable<vigil::outcome> {
    co_return n < 5 ? vigil::failure("x") : vigil::success();
  };
  ASSERT_FALSE(add({.name = "e", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  settle();
  const auto ev = rec->events();
  ASSERT_GT(ev.size(), 10u);
  for (std::size_t i = 1; i < ev.size(); ++i) EXPECT_LT(ev[i - 1].seq, ev[i].seq);
}

TEST_P(runtime_test, a_throwing_subscriber_is_reported_and_keeps_receiving) {
  // The subscriber throws on every attempt_starting; others see subscriber_failed, and it
  // still receives later events.
  make();
  std::atomic<int> received{0};
  auto bad = sup->subscribe([&](const vigil::event& e) {
    ++received;
    if (e.kind == vigil::event_kind::attempt_starting) throw std::runtime_error("oops");
  });
  ASSERT_FALSE(add({.name = "x", .task = hang}));
  settle();
  EXPECT_GE(received, 2);  // child_added, attempt_starting (+ its own failure report)
  const auto failed = rec->of(vigil::event_kind::subscriber_failed);
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].reason.find("oops"), std::string::npos);
  const int before = received;
  EXPECT_FALSE(call([&](auto h) { sup->async_stop("x", h); }));
  settle();
  EXPECT_GT(received, before);
}

TEST_P(runtime_test, a_full_subscriber_queue_drops_for_that_subscriber_only_and_reports_loss) {
  // A queue of 2 with events published faster than delivered (nothing runs the drain between
  // publishes on this single thread): the small subscriber loses events and is told how many;
  // the recorder (large queue) loses none.
  make();
  std::vector<vigil::event> small;
  auto sub = sup->subscribe([&](const vigil::event& e) { small.push_back(e); }, {.queue = 2});
  settle();
  scripted s;
  s.body = [](vigil::context, int n) -> asio::awaitable<vigil::outcome> {
    co_return n < 4 ? vigil::failure("x") : vigil::success();
  };
  ASSERT_FALSE(add({.name = "burst", .task = s.task(), .backoff = vigil::backoff::constant(0s)}));
  settle();
  const auto all = rec->events();
  ASSERT_GT(all.size(), small.size());
  // A later event ends the overflow episode and reports it.
  ASSERT_FALSE(add({.name = "later", .task = hang}));
  settle();
  std::uint64_t lost = 0;
  for (const auto& e : small) {
    if (e.kind == vigil::event_kind::subscriber_overflow) lost += e.lost;
  }
  EXPECT_GT(lost, 0u);
  EXPECT_EQ(rec->count(vigil::event_kind::subscriber_overflow), 0u);
  for (std::size_t i = 1; i < small.size(); ++i) EXPECT_LT(small[i - 1].seq, small[i].seq);
}

TEST_P(runtime_test, last_handle_destruction_shuts_down_and_copies_do_not) {
  // Trap 5: destroying a copy changes nothing; destroying the supervisor while a copy lives
  // changes nothing; destroying the last reference starts the graceful shutdown.
  make();
  ASSERT_FALSE(add({.name = "k", .task = hang}));
  std::optional<vigil::handle> copy = sup->get_handle();
  { vigil::handle another = *copy; }
  settle();
  EXPECT_EQ(status("k").state, vigil::child_state::running);
  rec.reset();
  sup.reset();
  settle();
  std::optional<vigil::child_info> st;
  copy->async_status("k", [&](std::error_code, vigil::child_info i) { st = i; });
  settle();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, vigil::child_state::running);
  std::optional<vigil::supervisor_result> r;
  copy->async_wait([&](std::error_code, vigil::supervisor_result x) { r = x; });
  vigil::handle weak_view = *copy;  // a handle copy keeps it alive too
  copy.reset();
  settle();
  EXPECT_FALSE(r.has_value());
  weak_view = vigil::handle{};
  settle();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->reason, vigil::exit_reason::shutdown_requested);
}

TEST_P(runtime_test, blocking_call_from_the_executor_thread_fails_instead_of_deadlocking) {
  // A blocking call made from inside a task (a thread running the executor) throws
  // would_deadlock at once.
  make();
  std::optional<std::error_code> seen;
  vigil::handle h = sup->get_handle();
  ASSERT_FALSE(add({.name = "inner",
                    .task = [h, &seen](vigil::context) mutable -> asio::awaitable<vigil::outcome> {
                      try {
                        (void)h.status("inner");
                      } catch (const vigil::error& e) {
                        seen = e.code();
                      }
                      co_return vigil::success();
                    },
                    .restart = vigil::restart::never}));
  settle();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ(*seen, vigil::errc::would_deadlock);
  // The task holds a handle to its own supervisor (a reference cycle); ending the supervisor
  // releases the task, which breaks the cycle (LeakSanitizer checks it).
  h = vigil::handle{};
  sup->shutdown();
  ASSERT_TRUE(result().has_value());
}

TEST_P(runtime_test, always_with_interval_runs_periodically) {
  // restart::always with interval 1 s: runs at 0, 1, 2, 3 s; backoff_scheduled says interval.
  make();
  scripted s;
  s.body = [](vigil::context, int) -> asio::awaitable<vigil::outcome> {
    co_return vigil::success();
  };
  ASSERT_FALSE(
      add({.name = "tick", .task = s.task(), .restart = vigil::restart::always, .interval = 1s}));
  run_for(3500ms);
  EXPECT_EQ(*s.runs, 4);
  const auto waits = rec->of(vigil::event_kind::backoff_scheduled, "root/tick");
  ASSERT_FALSE(waits.empty());
  for (const auto& w : waits) EXPECT_EQ(w.source, vigil::delay_source::interval);
  // Runs at 1, 2 and 3 s were restarts, and the one due at 4 s is already scheduled.
  EXPECT_EQ(status("tick").restarts_automatic, 4u);
}

TEST_P(runtime_test, an_abandoned_attempt_cannot_overwrite_its_successors_status) {
  // Attempt 1 ignores its stop (cancellation disabled) and is forced after 1 s by restart();
  // attempt 2 sets "fresh". When attempt 1 wakes at 2 s and sets "zombie", it is ignored.
  make();
  ASSERT_FALSE(add({.name = "z",
                    .task = [](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      if (ctx.attempt() == 1) {
                        co_await asio::this_coro::reset_cancellation_state(
                            asio::disable_cancellation());
                        co_await ctx.sleep(2s);
                        ctx.status("zombie");
                        co_return vigil::success();
                      }
                      ctx.status("fresh");
                      co_await ctx.sleep(24h);
                      co_return vigil::success();
                    },
                    .shutdown = 1s}));
  sup->async_restart("z", [](std::error_code) {});
  run_for(1s);
  EXPECT_EQ(status("z").attempt, 2u);
  EXPECT_EQ(status("z").status_text, "fresh");
  run_for(2s);
  EXPECT_EQ(status("z").status_text, "fresh");
}

// ---- with real threads: the blocking API and the runtime

INSTANTIATE_TEST_SUITE_P(strands, runtime_test, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "one_thread" : "strands";
                         });

TEST(runtime_threads, blocking_api_works_from_a_foreign_thread) {
  // A runtime with 2 threads; the test thread uses blocking calls only.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, {.name = "app"}};
  sup.add({.name = "w", .task = hang});
  EXPECT_THROW(sup.add({.name = "w", .task = hang}), vigil::error);
  try {
    sup.add({.name = "w", .task = hang});
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::already_exists);
    EXPECT_NE(std::string(e.what()).find("'w'"), std::string::npos);
  }
  EXPECT_EQ(sup.status("w").state, vigil::child_state::running);
  sup.restart("w");
  EXPECT_EQ(sup.status("w").attempt, 2u);
  sup.stop("w");
  EXPECT_EQ(sup.outcome("w").status, vigil::final_status::stopped);
  EXPECT_EQ(sup.children().size(), 1u);
  sup.remove("w");
  EXPECT_TRUE(sup.children().empty());
  try {
    (void)sup.status("w");
    ADD_FAILURE() << "status of a removed child must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::not_found);
  }
  sup.shutdown();
  EXPECT_EQ(vigil::exit_code(sup.wait()), 0);
}

TEST(runtime_threads, a_one_thread_runtime_supervises_without_strands) {
  // A one-thread runtime runs its supervisors without strands; thread tasks and blocking calls
  // from other threads still go through it safely (TSan checks this preset too).
  vigil::runtime rt({.threads = 1, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, {.name = "one", .intensity = {.max_restarts = 1000, .period = 1s}}};
  std::atomic<int> coroutine_runs{0};
  std::atomic<int> thread_runs{0};
  sup.add({.name = "co",
           .task = [&coroutine_runs](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
             if (++coroutine_runs < 100) co_return vigil::failure("again");
             co_await ctx.sleep(24h);
             co_return vigil::success();
           },
           .backoff = vigil::backoff::constant(0s),
           .max_retries = 1000});
  sup.add({.name = "th",
           .task = vigil::thread([&thread_runs](vigil::context ctx) -> vigil::outcome {
             if (++thread_runs < 20) return vigil::failure("again");
             while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
             return vigil::success();
           }),
           .backoff = vigil::backoff::constant(0s),
           .max_retries = 1000});
  for (int i = 0; i < 2000 && (sup.status("co").attempt < 100 || sup.status("th").attempt < 20);
       ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(sup.status("co").attempt, 100u);
  EXPECT_EQ(sup.status("th").attempt, 20u);
  EXPECT_EQ(sup.status("co").state, vigil::child_state::running);
  sup.restart("co");
  EXPECT_EQ(sup.status("co").attempt, 101u);
  EXPECT_EQ(coroutine_runs.load(), 101);
  sup.shutdown();
  const auto r = sup.wait();
  EXPECT_EQ(vigil::exit_code(r), 0);
  EXPECT_EQ(thread_runs.load(), 20);
}

TEST(runtime_threads, a_task_or_hook_that_blocks_before_suspending_does_not_hold_the_supervisor) {
  // A coroutine task whose body blocks before its first co_await, and a plain setup hook that
  // blocks, each occupy one of the two runtime threads; the supervisor keeps answering on the
  // other. Each waits (at most 30 s) for a flag the test sets only after status() returned.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, {.name = "s"}};
  sup.add({.name = "other", .task = hang});
  std::atomic<bool> go{false};
  std::atomic<int> started{0};
  std::atomic<int> saw_go{0};
  const auto block_until_go = [&] {
    ++started;
    for (int i = 0; i < 3000 && !go; ++i) std::this_thread::sleep_for(10ms);
    if (go) ++saw_go;
  };
  sup.async_add({.name = "blocking_task",
                 .task = [&](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                   block_until_go();
                   co_await ctx.stopped();
                   co_return vigil::success();
                 }},
                [](std::error_code) {});
  for (int i = 0; i < 3000 && started < 1; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(started.load(), 1);
  EXPECT_EQ(sup.status("other").state, vigil::child_state::running);
  go = true;
  for (int i = 0; i < 3000 && saw_go < 1; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(saw_go.load(), 1) << "the task held the supervisor until it gave up";

  go = false;
  sup.async_add({.name = "blocking_setup", .task = hang, .setup = block_until_go},
                [](std::error_code) {});
  for (int i = 0; i < 3000 && started < 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(started.load(), 2);
  EXPECT_EQ(sup.status("other").state, vigil::child_state::running);
  go = true;
  for (int i = 0; i < 3000 && saw_go < 2; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(saw_go.load(), 2) << "the setup hook held the supervisor until it gave up";
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
}

TEST(runtime_threads, parked_attempts_wake_on_stops_from_several_threads) {
  // 200 children park without a timer (half in ctx.stopped(), half in sleep(infinity)) on a
  // two-thread runtime; two foreign threads stop and restart them concurrently; every attempt
  // wakes exactly once for its stop and nothing is lost (TSan checks this preset too).
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, {.name = "parks"}};
  std::atomic<int> woke_normally{0};
  std::atomic<int> woke_by_throw{0};
  std::vector<vigil::child_spec> list;
  for (int i = 0; i < 200; ++i) {
    const bool plain = i % 2 == 0;
    list.push_back({.name = "p" + std::to_string(i),
                    .task = [&, plain](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                      if (plain) {
                        co_await ctx.stopped();
                        ++woke_normally;
                      } else {
                        try {
                          co_await ctx.sleep(vigil::infinity);
                        } catch (const boost::system::system_error&) {
                          ++woke_by_throw;
                        }
                      }
                      co_return vigil::success();
                    }});
  }
  sup.add(std::move(list));
  std::thread a([&] {
    for (int i = 0; i < 100; ++i) sup.restart("p" + std::to_string(i));
  });
  std::thread b([&] {
    for (int i = 100; i < 200; ++i) sup.stop("p" + std::to_string(i));
  });
  a.join();
  b.join();
  EXPECT_EQ(woke_normally.load() + woke_by_throw.load(), 200);
  EXPECT_EQ(woke_normally.load(), 100);
  for (int i = 0; i < 200; ++i) {
    const auto st = sup.status("p" + std::to_string(i));
    EXPECT_EQ(st.state, i < 100 ? vigil::child_state::running : vigil::child_state::stopped);
    EXPECT_EQ(st.attempt, i < 100 ? 2u : 1u);
  }
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
  EXPECT_EQ(woke_normally.load() + woke_by_throw.load(), 300);
}

TEST(runtime_threads, empty_handle_reports_supervisor_gone) {
  // Every call on a default-constructed handle throws supervisor_gone.
  vigil::handle h;
  try {
    (void)h.children();
    ADD_FAILURE() << "must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::supervisor_gone);
  }
}

TEST(runtime_threads, runtime_destructor_waits_for_its_supervisors) {
  // The supervisor object goes first (shutdown starts), the runtime's destructor then waits
  // until its children were stopped: the cleanup flag is set by the time it returns.
  std::atomic<bool> cleaned{false};
  {
    vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
    vigil::supervisor sup{rt};
    sup.add(
        {.name = "svc", .task = [&cleaned](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
           try {
             co_await ctx.sleep(24h);
           } catch (...) {
             cleaned = true;
             throw;
           }
           co_return vigil::success();
         }});
    EXPECT_EQ(sup.status("svc").state, vigil::child_state::running);
  }
  EXPECT_TRUE(cleaned);
}

}  // namespace
