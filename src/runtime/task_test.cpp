// Coroutine tasks in virtual time: every attempt starts from a fresh copy of the task as it was
// added (SEMANTICS §1, §13.27), and that copy lives as long as its attempt.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

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
  ASSERT_FALSE(
      vr.add(three_attempts("outcome",
                            [&seen, runs = 0, text = std::string("x")](
                                vigil::context ctx) mutable -> asio::awaitable<vigil::outcome> {
                              ++runs;
                              co_await ctx.sleep(0ms);
                              text += "y";
                              seen.push_back("outcome " + std::to_string(runs) + " " + text);
                              co_return vigil::failure("again");
                            })));
  ASSERT_FALSE(vr.add(three_attempts(
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
  ASSERT_FALSE(vr.add(three_attempts(
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
  ASSERT_FALSE(vr.add(three_attempts("object", counting_task{&seen})));
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
  ASSERT_FALSE(vr.add({.name = "stubborn",
                       .task = [&seen, gate, text = std::string(64, 'c')](
                                   vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                         co_await ctx.stopped();
                         co_await asio::this_coro::reset_cancellation_state();
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
  ASSERT_FALSE(vr.add(three_attempts("empty", counted<empty_task>{})));
  ASSERT_FALSE(vr.add(three_attempts("stateful", counted<stateful_task>{})));
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
  EXPECT_EQ(vr.add({.name = "none", .task = vigil::void_coroutine_task{}}),
            vigil::errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(strands, task_test, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "one_thread" : "strands"; });

}  // namespace
