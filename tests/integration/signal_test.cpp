// Integration: a real process running vigil::runtime::run() shuts down gracefully on SIGTERM
// and SIGINT and exits with code 0.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;

boost::asio::awaitable<vigil::outcome> serve(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

// Runs a supervisor in a forked child until `sig` arrives; returns the child's wait status.
int run_child_and_signal(int sig) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int code = 3;
    {
      vigil::runtime rt({.threads = 2});
      vigil::supervisor sup{rt};
      sup.add({.name = "svc", .task = serve});
      // Tell the parent only once run() has installed its handler, so the signal cannot hit
      // the default action: this waits for a condition, it does not guess a delay.
      std::jthread notifier([fd = fds[1]] {
        struct sigaction sa {};
        do {
          std::this_thread::sleep_for(1ms);
          sigaction(SIGTERM, nullptr, &sa);
        } while (sa.sa_handler == SIG_DFL);
        (void)!write(fd, "r", 1);
      });
      const int rc = rt.run(sup);
      const bool stopped = sup.outcome("svc").status == vigil::final_status::stopped;
      code = (rc == 0 && stopped) ? 0 : 4;
    }
    _exit(code);
  }
  close(fds[1]);
  char c = 0;
  if (read(fds[0], &c, 1) != 1) return -1;
  close(fds[0]);
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(signals, sigterm_shuts_the_supervisor_down_gracefully_with_exit_code_0) {
  // The child stops its task (final status stopped) and exits 0, not by the signal.
  const int status = run_child_and_signal(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(signals, sigint_shuts_the_supervisor_down_gracefully_with_exit_code_0) {
  // Same for SIGINT (Ctrl-C).
  const int status = run_child_and_signal(SIGINT);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
