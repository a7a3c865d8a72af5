// Coroutine tasks in virtual time: every attempt starts from a fresh copy of the task as it was
// added (SEMANTICS §1, §13.27), and that copy lives as long as its attempt; after a stop a task
// may still await its tidy-up, within its shutdown timeout (§13.30).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

// A supervisor on a manual clock; every test runs without strands (a one-thread io_context) and
// with them.
struct task_test : ::testing::TestWithParam<bool> {
  vt::virtual_runtime vr{GetParam()};

  template <class Op>
  std::error_code call(Op op) {
    std::optional<std::error_code> r;
    op([&](std::error_code ec) { r = ec; });
    vr.settle();
    EXPECT_TRUE(r.has_value()) << "command did not complete";
    return r.value_or(vigil::errc::timeout);
  }
  vigil::child_info status(std::string_view name) {
    std::optional<vigil::child_info> r;
    vr.sup->async_status(name, [&](std::error_code, vigil::child_info i) { r = std::move(i); });
    vr.settle();
    return r.value_or(vigil::child_info{});
  }
};

// Three attempts of a failing child, 1 ms apart.
vigil::child_spec three_attempts(std::string name, vigil::task t) {
  return {.name = std::move(name),
          .task = std::move(t),
          .backoff = vigil::backoff::constant(1ms).with_jitter(vigil::jitter::none),
          .max_retries = 2};
}

TEST_P(task_test, a_lambdas_mutable_captures_start_every_attempt_from_their_added_values) {
  // A coroutine lambda counts its runs in a mutable capture and appends to a captured string
  // after a co_await: every attempt sees the values the task was added with (1 and "x"), and the
  // captures stay valid across the await (ASan). A void lambda and a non-coroutine lambda that
  // returns a coroutine's awaitable behave the same.
  vr.start();
  std::vector<std::string> seen;
  ASSERT_TRUE(
      vr.add(three_attempts("outcome",
                            [&seen, runs = 0, text = std::string("x")](
                                vigil::context ctx) mutable -> asio::awaitable<vigil::outcome> {
                              ++runs;
                              co_await ctx.sleep(0ms);
                              text += "y";
                              seen.push_back("outcome " + std::to_string(runs) + " " + text);
                              co_return vigil::failure("again");
                            })));
  ASSERT_TRUE(vr.add(three_attempts(
      "void", [&seen, runs = 0](vigil::context ctx) mutable -> asio::awaitable<void> {
        ++runs;
        co_await ctx.sleep(0ms);
        seen.push_back("void " + std::to_string(runs));
        throw std::runtime_error("again");
      })));
  auto body = [](std::vector<std::string>* seen, int runs) -> asio::awaitable<vigil::outcome> {
    seen->push_back("factory " + std::to_string(runs));
    co_return vigil::failure("again");
  };
  ASSERT_TRUE(vr.add(three_attempts(
      "factory", [&seen, body, runs = 0](vigil::context) mutable { return body(&seen, ++runs); })));
  vr.run_for(1s);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"factory 1", "factory 1", "factory 1", "outcome 1 xy",
                                            "outcome 1 xy", "outcome 1 xy", "void 1", "void 1",
                                            "void 1"}));
  EXPECT_EQ(status("outcome").final->status, vigil::final_status::retries_exhausted);
}

// A task class whose member counts the runs of this object.
struct counting_task {
  std::vector<int>* seen;
  int runs = 0;
  asio::awaitable<vigil::outcome> operator()(vigil::context ctx) {
    ++runs;
    co_await ctx.sleep(0ms);
    seen->push_back(runs);
    co_return vigil::failure("again");
  }
};

TEST_P(task_test, a_task_objects_members_start_every_attempt_from_their_added_values) {
  // A callable class with a member counter: each attempt runs a fresh copy, so the member is 1
  // in every attempt; state meant to survive restarts goes through a pointer (here `seen`).
  vr.start();
  std::vector<int> seen;
  ASSERT_TRUE(vr.add(three_attempts("object", counting_task{&seen})));
  vr.run_for(1s);
  EXPECT_EQ(seen, (std::vector<int>{1, 1, 1}));
}

TEST_P(task_test, an_attempts_copy_of_the_task_outlives_the_child) {
  // An attempt that ignores its stop is abandoned after its 1 s shutdown timeout and its child
  // removed (the supervisor drops the child's task); when the abandoned coroutine resumes later
  // it still reads its captures: they belong to the attempt's own copy (ASan proves it).
  vr.start();
  auto gate = std::make_shared<asio::steady_timer>(vr.io, asio::steady_timer::time_point::max());
  std::vector<std::string> seen;
  ASSERT_TRUE(vr.add({.name = "stubborn",
                      .task = [&seen, gate, text = std::string(64, 'c')](
                                  vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                        co_await ctx.stopped();  // it ends the cancellation: the wait below runs
                        boost::system::error_code ec;
                        co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
                        seen.push_back(text);
                        co_return vigil::success();
                      },
                      .shutdown = 1s}));
  vr.sup->async_stop("stubborn", [](std::error_code) {});
  vr.run_for(1s);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/stubborn"), 1u);
  EXPECT_FALSE(call([&](auto h) { vr.sup->async_remove("stubborn", h); }));
  EXPECT_TRUE(seen.empty());
  gate->cancel();
  vr.settle();
  EXPECT_EQ(seen, std::vector<std::string>{std::string(64, 'c')});
}

// Counts the copies of a task callable (moves are free and not counted).
struct empty_task {
  asio::awaitable<vigil::outcome> operator()(vigil::context) const {
    co_return vigil::failure("again");
  }
};
struct stateful_task {
  int state = 0;
  asio::awaitable<vigil::outcome> operator()(vigil::context) const {
    co_return vigil::failure("again");
  }
};
template <class Base>
struct counted : Base {
  static inline int copies = 0;
  counted() = default;
  counted(const counted& o) : Base(o) { ++copies; }
  counted(counted&&) noexcept = default;
  counted& operator=(const counted&) = default;
  counted& operator=(counted&&) noexcept = default;
};
static_assert(std::is_empty_v<counted<empty_task>>);

TEST_P(task_test, an_empty_callable_runs_in_place_and_a_stateful_one_is_copied_per_attempt) {
  // The per-attempt copy costs nothing for an empty callable: across three attempts it is never
  // copied, while a callable with state is copied once per attempt. An empty std::function of
  // either shape still makes an empty task.
  vr.start();
  counted<empty_task>::copies = 0;
  counted<stateful_task>::copies = 0;
  ASSERT_TRUE(vr.add(three_attempts("empty", counted<empty_task>{})));
  ASSERT_TRUE(vr.add(three_attempts("stateful", counted<stateful_task>{})));
  const int empty_after_add = counted<empty_task>::copies;
  const int stateful_after_add = counted<stateful_task>::copies;
  vr.run_for(1s);
  EXPECT_EQ(status("empty").attempt, 3u);
  EXPECT_EQ(status("stateful").attempt, 3u);
  // The first attempt ran inside add(); the two later ones cost one copy each, or none.
  EXPECT_EQ(counted<empty_task>::copies - empty_after_add, 0);
  EXPECT_EQ(counted<stateful_task>::copies - stateful_after_add, 2);
  EXPECT_FALSE(vigil::task(vigil::coroutine_task{}));
  EXPECT_FALSE(vigil::task(vigil::void_coroutine_task{}));
  EXPECT_EQ(vr.add({.name = "none", .task = vigil::void_coroutine_task{}}).code,
            vigil::errc::invalid_argument);
}

// Awaits a real timer that expires at once and a post: the tidy-up of the wind-down tests
// (asynchronous, cancellation-aware, not vigil's).
asio::awaitable<void> flush(std::vector<std::string>& seen, std::string what) {
  const auto ex = co_await asio::this_coro::executor;
  asio::steady_timer t(ex, 0ms);
  co_await t.async_wait(asio::use_awaitable);
  co_await asio::post(ex, asio::use_awaitable);
  seen.push_back(std::move(what));
}

TEST_P(task_test, after_stopped_returns_a_task_can_await_its_tidy_up) {
  // §13.30: ctx.stopped() returns on the stop with the stop's cancellation ended, so the task
  // awaits its flush (a timer and a post) and returns; the child ends stopped, not forced, and
  // no stop_timed_out is emitted. ctx.sleep() after it still throws.
  vr.start();
  std::vector<std::string> seen;
  ASSERT_TRUE(vr.add(
      {.name = "buffered", .task = [&seen](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
         co_await ctx.stopped();
         co_await flush(seen, "flushed");
         try {
           co_await ctx.sleep(1ms);
           seen.push_back("slept");
         } catch (const boost::system::system_error& e) {
           seen.push_back(e.code() == asio::error::operation_aborted ? "sleep aborted" : "other");
         }
         co_await flush(seen, "flushed again");
         co_return vigil::success();
       }}));
  vr.run_for(1h);
  EXPECT_TRUE(seen.empty());
  EXPECT_FALSE(call([&](auto h) { vr.sup->async_stop("buffered", h); }));
  EXPECT_EQ(seen, (std::vector<std::string>{"flushed", "sleep aborted", "flushed again"}));
  const auto st = status("buffered");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(st.final->last.kind, vigil::outcome_kind::cancelled);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/buffered"), 0u);
}

TEST_P(task_test, a_tidy_up_that_never_finishes_is_forced_after_the_shutdown_timeout) {
  // The tidy-up after ctx.stopped() waits on a timer that never expires: it is not cancelled by
  // the stop, and after the 2 s shutdown timeout the attempt is forced (stop_timed_out, final
  // forced), exactly as a task that ignores its stop.
  vr.start();
  auto never = std::make_shared<asio::steady_timer>(vr.io, asio::steady_timer::time_point::max());
  std::vector<std::string> seen;
  ASSERT_TRUE(vr.add({.name = "slow",
                      .task = [&seen, never](vigil::context ctx) -> asio::awaitable<void> {
                        co_await ctx.stopped();
                        seen.push_back("tidying");
                        co_await never->async_wait(asio::use_awaitable);
                        seen.push_back("tidied");
                      },
                      .shutdown = 2s}));
  vr.sup->async_stop("slow", [](std::error_code) {});
  vr.run_for(1999ms);
  EXPECT_EQ(seen, std::vector<std::string>{"tidying"});
  EXPECT_EQ(status("slow").state, vigil::child_state::stopping);
  vr.run_for(1ms);
  const auto st = status("slow");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_TRUE(st.final->forced);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/slow"), 1u);
  never->cancel();  // the abandoned frame ends (its late result is ignored)
  vr.settle();
  EXPECT_EQ(seen, std::vector<std::string>{"tidying"});
}

TEST_P(task_test, a_task_that_caught_the_stop_winds_down_and_awaits_its_tidy_up) {
  // §13.30, second pattern: the stop cancels the task's read (a timer that never expires) and
  // the task catches it. Until it winds down, Asio refuses every co_await (even one of a plain
  // awaitable<T>, before entering it); after co_await ctx.wind_down() its flush works and the
  // child ends stopped, not forced.
  vr.start();
  auto never = std::make_shared<asio::steady_timer>(vr.io, asio::steady_timer::time_point::max());
  std::vector<std::string> seen;
  ASSERT_TRUE(
      vr.add({.name = "reader",
              .task = [&seen, never](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                bool stopped = false;
                try {
                  co_await never->async_wait(asio::use_awaitable);
                } catch (const boost::system::system_error& e) {
                  stopped = e.code() == asio::error::operation_aborted && ctx.stop_requested();
                }
                if (!stopped) co_return vigil::failure("not stopped");
                try {
                  co_await flush(seen, "flushed too early");
                } catch (const boost::system::system_error&) {
                  seen.push_back("refused before the wind-down");
                }
                co_await ctx.wind_down();
                co_await flush(seen, "flushed");
                co_return vigil::success();
              },
              .shutdown = 2s}));
  vr.run_for(1h);
  EXPECT_TRUE(seen.empty());
  EXPECT_FALSE(call([&](auto h) { vr.sup->async_stop("reader", h); }));
  EXPECT_EQ(seen, (std::vector<std::string>{"refused before the wind-down", "flushed"}));
  const auto st = status("reader");
  ASSERT_TRUE(st.final.has_value());
  EXPECT_EQ(st.final->status, vigil::final_status::stopped);
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(vr.events->count(vigil::event_kind::stop_timed_out, "root/reader"), 0u);
}

// Reads until stopped, then winds down and flushes: all inside a nested coroutine.
asio::awaitable<void> read_then_flush(vigil::context ctx, std::vector<std::string>& seen,
                                      std::shared_ptr<asio::steady_timer> source) {
  boost::system::error_code ec;
  co_await source->async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_await ctx.wind_down();
  co_await flush(seen, "inner flush");
}

TEST_P(task_test, a_wind_down_in_a_nested_coroutine_frees_the_whole_task) {
  // The wind-down resets the cancellation state of the attempt's whole coroutine stack: after
  // the nested coroutine that did it returns, the task's own awaits work as well.
  vr.start();
  auto source = std::make_shared<asio::steady_timer>(vr.io, asio::steady_timer::time_point::max());
  std::vector<std::string> seen;
  ASSERT_TRUE(vr.add(
      {.name = "nested", .task = [&seen, source](vigil::context ctx) -> asio::awaitable<void> {
         co_await read_then_flush(ctx, seen, source);
         co_await flush(seen, "outer flush");
       }}));
  EXPECT_FALSE(call([&](auto h) { vr.sup->async_stop("nested", h); }));
  EXPECT_EQ(seen, (std::vector<std::string>{"inner flush", "outer flush"}));
  EXPECT_FALSE(status("nested").final->forced);
}

TEST_P(task_test, a_stop_signal_still_in_flight_does_not_cancel_a_wind_down) {
  // A stop requests the stop token at once and delivers the coroutine's cancellation signal
  // later, on the attempt's executor. A task that sees stop_requested() in between (it yields
  // in a loop) and winds down, by ctx.wind_down() or ctx.stopped(), must not have its flush
  // cancelled by that late signal. Each task records that the signal had indeed not arrived
  // when it saw the stop (the test is not vacuous).
  vr.start();
  std::map<std::string, std::shared_ptr<asio::steady_timer>> gates;
  std::vector<std::string> seen;
  const auto busy = [&](bool use_stopped) {
    auto gate = std::make_shared<asio::steady_timer>(vr.io, asio::steady_timer::time_point::max());
    gates[use_stopped ? "stopped" : "wind-down"] = gate;
    return [&seen, gate, use_stopped](vigil::context ctx) -> asio::awaitable<void> {
      boost::system::error_code ec;
      co_await gate->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      const auto ex = co_await asio::this_coro::executor;
      for (int i = 0; i < 1000 && !ctx.stop_requested(); ++i) {
        co_await asio::post(ex, asio::use_awaitable);
      }
      const auto cs = co_await asio::this_coro::cancellation_state;
      const std::string name(ctx.name());
      seen.push_back(name + (cs.cancelled() == asio::cancellation_type::none ? ": signal in flight"
                                                                             : ": signal arrived"));
      if (use_stopped) {
        co_await ctx.stopped();
      } else {
        co_await ctx.wind_down();
      }
      co_await flush(seen, name + ": flushed");
    };
  };
  ASSERT_TRUE(vr.add({.name = "wind-down", .task = busy(false)}));
  ASSERT_TRUE(vr.add({.name = "stopped", .task = busy(true)}));
  for (const char* name : {"wind-down", "stopped"}) {
    seen.clear();
    gates[name]->cancel();
    std::optional<std::error_code> stopped;
    vr.sup->async_stop(name, [&](std::error_code ec) { stopped = ec; });
    vr.settle();
    ASSERT_TRUE(stopped.has_value());
    EXPECT_EQ(seen, (std::vector<std::string>{std::string(name) + ": signal in flight",
                                              std::string(name) + ": flushed"}));
    EXPECT_FALSE(status(name).final->forced);
  }
}

TEST_P(task_test, after_stopped_in_an_awaitable_operator_the_task_winds_down_itself) {
  // Each branch of `a || b` runs as a coroutine of its own: stopped() winning the race ends the
  // cancellation of its branch only, not of the task, whose next co_await still throws; a
  // co_await ctx.wind_down() after the race lets the flush run.
  vr.start();
  std::vector<std::string> seen;
  ASSERT_TRUE(
      vr.add({.name = "raced", .task = [&seen](vigil::context ctx) -> asio::awaitable<void> {
                using namespace asio::experimental::awaitable_operators;
                const auto r = co_await (ctx.stopped() || ctx.sleep(1h));
                seen.push_back(r.index() == 0 ? "stopped won" : "slept");
                try {
                  co_await flush(seen, "flushed too early");
                } catch (const boost::system::system_error&) {
                  seen.push_back("refused before the wind-down");
                }
                co_await ctx.wind_down();
                co_await flush(seen, "flushed");
              }}));
  EXPECT_FALSE(call([&](auto h) { vr.sup->async_stop("raced", h); }));
  EXPECT_EQ(seen,
            (std::vector<std::string>{"stopped won", "refused before the wind-down", "flushed"}));
  EXPECT_FALSE(status("raced").final->forced);
}

INSTANTIATE_TEST_SUITE_P(strands, task_test, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "one_thread" : "strands"; });

}  // namespace
