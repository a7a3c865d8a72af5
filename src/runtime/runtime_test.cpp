// vigil::runtime::run (§13.15): calls that overlap, or come after the shutdown began, all wait
// for the supervisor's one end and return its one exit code; signal handling stays sound.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "test_support.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::test::eventually;

boost::asio::awaitable<vigil::outcome> serve(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

bool sigterm_handled() {
  struct sigaction sa {};
  sigaction(SIGTERM, nullptr, &sa);
  return sa.sa_handler != SIG_DFL;
}

// Waits until a handler for SIGTERM is installed, then takes Asio's signal-state lock once (by
// building a signal_set on a scratch io_context): the signal handler reads state that the
// installing thread wrote under that lock, and TSan does not count sigaction() as ordering.
bool wait_for_sigterm_handler() {
  if (!eventually(sigterm_handled)) return false;
  boost::asio::io_context scratch;
  boost::asio::signal_set sync(scratch);
  return true;
}

using vigil::test::gate;

TEST(runtime_run, two_runs_of_one_supervisor_at_once_join_its_one_result_on_a_signal) {
  // Two threads call rt.run(sup) at once on a fresh runtime with signal handling on; one
  // SIGTERM (sent once a handler is installed, so it cannot hit the default action) shuts the
  // supervisor down once: both calls return 0, the child ended stopped, and no SIGTERM
  // handler is left behind. 20 rounds: the two runs' first signal_sets of an io_context used
  // to race in Asio and lose the signal now and then (the runs then never returned; here the
  // test shuts the supervisor down itself after a bound and fails).
  for (int round = 0; round < 20; ++round) {
    ASSERT_FALSE(sigterm_handled());
    vigil::runtime rt({.threads = 2});
    vigil::supervisor sup{rt};
    sup.add({.name = "svc", .task = serve});
    std::atomic<int> r1{-1};
    std::atomic<int> r2{-1};
    std::thread t1([&] { r1 = rt.run(sup); });
    std::thread t2([&] { r2 = rt.run(sup); });
    ASSERT_TRUE(wait_for_sigterm_handler());
    kill(getpid(), SIGTERM);
    const bool returned = eventually([&] { return r1 != -1 && r2 != -1; }, 10s);
    EXPECT_TRUE(returned) << "round " << round << ": the signal was lost";
    if (!returned) sup.shutdown();  // let the runs return, so the test fails but ends
    t1.join();
    t2.join();
    if (!returned) return;
    EXPECT_EQ(r1.load(), 0);
    EXPECT_EQ(r2.load(), 0);
    EXPECT_EQ(sup.wait().reason, vigil::exit_reason::shutdown_requested);
    EXPECT_EQ(sup.outcome("svc").status, vigil::final_status::stopped);
    EXPECT_FALSE(sigterm_handled());
  }
}

TEST(runtime_run, runs_after_the_shutdown_began_wait_for_the_end_and_return_its_code) {
  // A thread task ignores its stop, so the shutdown ends only when the 100 ms grace runs out
  // (exit code 2). Two runs called after shutdown() began both wait for that end and return 2;
  // a run after the end returns 2 at once. Signal handling is on: it changes nothing here.
  auto g = std::make_shared<gate>();
  vigil::runtime rt({.threads = 2});
  vigil::supervisor sup{rt, {.grace = 100ms}};
  std::atomic<bool> running{false};
  sup.add({.name = "stuck", .task = vigil::thread([g, &running](vigil::context) {
                              running = true;
                              g->wait();
                              return vigil::success();
                            })});
  ASSERT_TRUE(eventually([&] { return running.load(); }));
  sup.shutdown();
  std::atomic<int> r1{-1};
  std::atomic<int> r2{-1};
  std::thread t1([&] { r1 = rt.run(sup); });
  std::thread t2([&] { r2 = rt.run(sup); });
  t1.join();
  t2.join();
  EXPECT_EQ(r1.load(), 2);
  EXPECT_EQ(r2.load(), 2);
  const vigil::supervisor_result r = sup.wait();
  EXPECT_TRUE(r.grace_exceeded);
  EXPECT_EQ(r.reason, vigil::exit_reason::shutdown_requested);
  EXPECT_EQ(rt.run(sup), 2);
  EXPECT_FALSE(sigterm_handled());
  g->release();
}

}  // namespace
