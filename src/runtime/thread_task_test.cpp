// Thread tasks with real threads: outcomes, exceptions, the stop token, heartbeats, readiness,
// and abandonment of a thread that ignores its stop.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "task_runners.hpp"
#include "test_support.hpp"
#include "vigil/testing/event_recorder.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace vt = vigil::testing;

using vigil::test::eventually;

// Blocks the calling thread until the attempt is asked to stop.
void wait_for_stop(const vigil::context& ctx) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait(lock, ctx.stop_token(), [] { return false; });
}

using vigil::test::gate;

struct thread_tasks : ::testing::Test {
  std::size_t threads_before = vigil::detail::live_task_threads();
  vigil::runtime rt{{.threads = 2, .signals = vigil::signal_handling::none}};

  void TearDown() override {
    // Every thread task's thread is gone once its attempts ended: none leaks.
    EXPECT_TRUE(eventually([&] { return vigil::detail::live_task_threads() == threads_before; }));
  }
};

TEST_F(thread_tasks, returned_outcomes_and_exceptions_map_like_coroutine_tasks) {
  // One child per way of ending: returned success, returned failure, a thrown std::exception, a
  // thrown fatal_error and a void body; each final result carries the expected outcome.
  vigil::supervisor sup{rt};
  const auto once = vigil::restart::never;
  sup.add({.name = "ok",
           .task = vigil::thread([](vigil::context) { return vigil::success(); }),
           .restart = once});
  sup.add({.name = "fails",
           .task = vigil::thread([](vigil::context) { return vigil::failure("disk full"); }),
           .restart = once});
  sup.add({.name = "throws",
           .task = vigil::thread(
               [](vigil::context) -> vigil::outcome { throw std::runtime_error("bad input"); }),
           .restart = once});
  sup.add({.name = "fatal",
           .task = vigil::thread(
               [](vigil::context) -> vigil::outcome { throw vigil::fatal_error("corrupt"); }),
           .restart = once});
  std::atomic<bool> ran{false};
  sup.add({.name = "void",
           .task = vigil::thread([&](vigil::context) { ran = true; }),
           .restart = once});

  EXPECT_EQ(sup.outcome("ok").status, vigil::final_status::completed);
  const auto fails = sup.outcome("fails");
  EXPECT_EQ(fails.last.kind, vigil::outcome_kind::failure);
  EXPECT_EQ(fails.last.reason, "disk full");
  const auto throws = sup.outcome("throws");
  EXPECT_EQ(throws.last.kind, vigil::outcome_kind::failure);
  EXPECT_EQ(throws.last.reason, "bad input");
  EXPECT_TRUE(throws.last.exception);
  const auto fatal = sup.outcome("fatal");
  EXPECT_EQ(fatal.status, vigil::final_status::dead);
  EXPECT_EQ(fatal.last.kind, vigil::outcome_kind::fatal);
  EXPECT_EQ(sup.outcome("void").status, vigil::final_status::completed);
  EXPECT_TRUE(ran);
  EXPECT_EQ(sup.status("ok").kind, vigil::task_kind::thread);
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
}

TEST_F(thread_tasks, each_attempt_runs_on_its_own_thread_and_failures_are_retried) {
  // Fails twice, then succeeds: three attempts, each on a thread that is not the caller's.
  vigil::supervisor sup{rt, {.exit_when_idle = true}};
  std::mutex m;
  std::vector<std::thread::id> ids;
  sup.add({.name = "w",
           .task = vigil::thread([&](vigil::context ctx) {
             std::lock_guard lock(m);
             ids.push_back(std::this_thread::get_id());
             return ctx.attempt() < 3 ? vigil::failure("not yet") : vigil::success();
           }),
           .backoff = vigil::backoff::constant(1ms)});
  EXPECT_TRUE(sup.wait().ok());
  EXPECT_EQ(sup.outcome("w").total_attempts, 3u);
  std::lock_guard lock(m);
  ASSERT_EQ(ids.size(), 3u);
  for (const auto& id : ids) EXPECT_NE(id, std::this_thread::get_id());
}

TEST_F(thread_tasks, stop_is_delivered_through_the_stop_token) {
  // A thread blocked on its stop token: stop() wakes it, the child ends stopped and not forced,
  // and the outcome is cancelled whatever the body returned (§13.12).
  vigil::supervisor sup{rt};
  std::atomic<bool> running{false};
  sup.add({.name = "blocker", .task = vigil::thread([&](vigil::context ctx) {
                                ctx.ready();
                                running = true;
                                wait_for_stop(ctx);
                                return vigil::success();
                              })});
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  EXPECT_TRUE(eventually([&] { return sup.status("blocker").ready; }));
  sup.stop("blocker");
  const auto st = sup.status("blocker");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(st.final->last.kind, vigil::outcome_kind::cancelled);
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
}

TEST_F(thread_tasks, a_mutable_capture_starts_every_attempt_from_its_added_value) {
  // §13.27 for threads: the callable is copied per attempt, so a counter it captured by value
  // is 1 in each of three attempts.
  vigil::supervisor sup{rt, {.exit_when_idle = true}};
  std::mutex m;
  std::vector<int> seen;
  sup.add({.name = "w",
           .task = vigil::thread([&m, &seen, runs = 0](vigil::context ctx) mutable {
             std::lock_guard lock(m);
             seen.push_back(++runs);
             return ctx.attempt() < 3 ? vigil::failure("again") : vigil::success();
           }),
           .backoff = vigil::backoff::constant(1ms)});
  EXPECT_TRUE(sup.wait().ok());
  std::lock_guard lock(m);
  EXPECT_EQ(seen, (std::vector<int>{1, 1, 1}));
}

TEST_F(thread_tasks, a_thread_tidies_up_after_its_stop_within_the_shutdown_timeout) {
  // §13.30 for threads: after its stop token the body writes its buffer out (a blocking write
  // of 50 ms) and returns, well within the 5 s shutdown timeout: the write happened before
  // stop() returned, and the child ends stopped, not forced, without stop_timed_out.
  vigil::supervisor sup{rt};
  vt::event_recorder rec{sup};
  std::atomic<bool> running{false};
  std::mutex m;
  std::vector<std::string> written;
  sup.add({.name = "writer",
           .task = vigil::thread([&](vigil::context ctx) {
             std::vector<std::string> buffer{"a", "b", "c"};
             running = true;
             wait_for_stop(ctx);
             std::this_thread::sleep_for(50ms);  // the tidy-up: a slow blocking write
             std::lock_guard lock(m);
             written = std::move(buffer);
           }),
           .shutdown = 5s});
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  sup.stop("writer");
  {
    std::lock_guard lock(m);
    EXPECT_EQ(written, (std::vector<std::string>{"a", "b", "c"}));
  }
  const auto st = sup.status("writer");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_FALSE(st.final->forced);
  EXPECT_EQ(st.final->last.kind, vigil::outcome_kind::cancelled);
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
  EXPECT_EQ(rec.count(vigil::event_kind::stop_timed_out, "root/writer"), 0u);
}

TEST_F(thread_tasks, heartbeat_watchdog_stops_a_thread_that_stops_beating) {
  // Beats three times, then only waits for its stop: the watchdog ends it as unresponsive.
  vigil::supervisor sup{rt};
  sup.add({.name = "beater",
           .task = vigil::thread([](vigil::context ctx) {
             for (int i = 0; i < 3; ++i) ctx.heartbeat();
             wait_for_stop(ctx);
             return vigil::success();
           }),
           .restart = vigil::restart::on_failure,
           .max_retries = 0,
           .heartbeat_timeout = 50ms});
  EXPECT_EQ(sup.outcome("beater").last.kind, vigil::outcome_kind::unresponsive);
  sup.shutdown();
  sup.wait();
}

TEST_F(thread_tasks, a_thread_ignoring_its_stop_is_abandoned_and_the_next_attempt_starts) {
  // Attempt 1 ignores its stop (it blocks on a gate): after the timeout and the 20 ms shutdown
  // it is abandoned (stop_timed_out, status text "abandoned …"), attempt 2 starts while attempt
  // 1's thread still runs; releasing the gate lets the abandoned thread finish and be cleaned up.
  vigil::supervisor sup{rt};
  vt::event_recorder rec(sup);
  auto g = std::make_shared<gate>();
  std::atomic<int> started{0};
  sup.add({.name = "stubborn",
           .task = vigil::thread([&, g](vigil::context ctx) {
             if (++started == 1) {
               g->wait();  // ignores ctx.stop_token()
               return vigil::success();
             }
             ctx.status("second attempt");
             wait_for_stop(ctx);
             return vigil::success();
           }),
           .backoff = vigil::backoff::constant(1ms),
           .timeout = 30ms,
           .shutdown = 20ms});
  ASSERT_TRUE(eventually([&] { return started.load() >= 2; }));
  // Events reach the recorder asynchronously.
  EXPECT_TRUE(eventually(
      [&] { return rec.count(vigil::event_kind::stop_timed_out, "root/stubborn") == 1; }));
  EXPECT_TRUE(eventually(
      [&] { return rec.count(vigil::event_kind::attempt_timed_out, "root/stubborn") == 1; }));
  // Both threads exist now: the abandoned one and attempt 2's.
  EXPECT_GE(vigil::detail::live_task_threads(), threads_before + 2);

  g->release();
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
  EXPECT_EQ(sup.outcome("stubborn").total_attempts, 2u);
}

TEST_F(thread_tasks, abandoned_thread_reports_itself_in_the_status_text) {
  // stop() on a thread that ignores it: after the 20 ms shutdown the stop completes, forced,
  // and the status text says the attempt was abandoned.
  vigil::supervisor sup{rt};
  auto g = std::make_shared<gate>();
  std::atomic<bool> running{false};
  sup.add({.name = "deaf",
           .task = vigil::thread([&, g](vigil::context) {
             running = true;
             g->wait();
             return vigil::success();
           }),
           .shutdown = 20ms});
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  sup.stop("deaf");
  const auto st = sup.status("deaf");
  EXPECT_EQ(st.state, vigil::child_state::stopped);
  ASSERT_TRUE(st.final.has_value());
  EXPECT_TRUE(st.final->forced);
  EXPECT_NE(st.status_text.find("abandoned"), std::string::npos) << st.status_text;
  g->release();
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
}

TEST_F(thread_tasks, shutdown_never_hangs_on_an_abandoned_thread_which_later_cleans_up) {
  // Shutdown with a thread that ignores its stop: wait() returns once the child's 20 ms shutdown
  // has passed (the result ok, the child stopped and forced); the supervisor is then destroyed,
  // and the thread, released afterwards, finishes and releases itself.
  auto g = std::make_shared<gate>();
  std::atomic<bool> running{false};
  {
    vigil::supervisor sup{rt};
    sup.add({.name = "deaf",
             .task = vigil::thread([&, g](vigil::context) {
               running = true;
               g->wait();
               return vigil::success();
             }),
             .shutdown = 20ms});
    ASSERT_TRUE(eventually([&] { return running.load(); }));
    sup.shutdown();
    const auto r = sup.wait();
    EXPECT_FALSE(r.grace_exceeded);
    const auto f = sup.outcome("deaf");
    EXPECT_EQ(f.status, vigil::final_status::stopped);
    EXPECT_TRUE(f.forced);
    EXPECT_EQ(vigil::detail::live_task_threads(), threads_before + 1);
  }
  g->release();  // TearDown waits for the thread count to come back
}

}  // namespace
