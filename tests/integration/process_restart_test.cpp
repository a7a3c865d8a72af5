// Integration: process tasks leave nothing behind. After 1,000 restarts of /bin/true and a
// shutdown, this process has the same open descriptors as before and no zombie children.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>

#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;

bool eventually(const std::function<bool()>& pred, std::chrono::seconds bound = 60s) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;  // the directory stream's own descriptor
}

// Children of this process (zombies included), from /proc/<pid>/stat: "pid (comm) S ppid …".
std::vector<std::string> children_states() {
  std::vector<std::string> out;
  const pid_t self = ::getpid();
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == self) out.push_back(std::string(e->d_name) + ":" + state);
  }
  ::closedir(d);
  return out;
}

TEST(process_cleanup, thousand_restarts_leave_no_zombie_and_no_open_descriptor) {
  // /bin/true restarted at once (restart always, zero interval) 1,000 times with output capture
  // and the notify socket on; after the shutdown the descriptor count is back to where it was and
  // no child of this process remains, zombie or not.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  {
    // Warm up the reactor (its epoll and timer descriptors are created lazily).
    vigil::supervisor warm{rt};
    warm.add({.name = "once",
              .task = vigil::process({.argv = {"/bin/true"}}),
              .restart = vigil::restart::never});
    warm.outcome("once");
    warm.shutdown();
    warm.wait();
  }
  const std::size_t fds_before = open_fds();
  ASSERT_TRUE(children_states().empty());

  constexpr std::uint32_t restarts = 1000;
  vigil::supervisor sup{rt, {.intensity = {.max_restarts = 1'000'000, .period = 1s}}};
  std::atomic<std::uint32_t> started{0};
  auto sub = sup.subscribe([&](const vigil::event& e) {
    if (e.kind == vigil::event_kind::attempt_starting) ++started;
  });
  sup.add({.name = "flash",
           .task = vigil::process({.argv = {"/bin/true"}, .notify = true}),
           .restart = vigil::restart::always,
           .backoff = vigil::backoff::constant(vigil::duration::zero()),
           .interval = vigil::duration::zero()});
  ASSERT_TRUE(eventually([&] { return started.load() > restarts; }))
      << "only " << started.load() << " attempts";
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
  EXPECT_GT(sup.status("flash").attempt, restarts);

  EXPECT_TRUE(children_states().empty()) << ::testing::PrintToString(children_states());
  EXPECT_EQ(open_fds(), fds_before);
}

TEST(process_cleanup, killed_process_group_leaves_no_orphan_or_zombie) {
  // A shell that starts a background sleeper and ignores SIGTERM: the shutdown's SIGKILL goes to
  // the whole group, so the sleeper (the shell's child, not ours) dies too, and no child of ours
  // is left.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  std::atomic<pid_t> sleeper{0};
  vigil::supervisor sup{rt};
  auto sub = sup.subscribe([&](const vigil::event& e) {
    if (e.kind == vigil::event_kind::process_output) sleeper = std::stoi(e.reason);
  });
  sup.add({.name = "forker",
           .task = vigil::process(
               {.argv = {"/bin/sh", "-c", "trap '' TERM; sleep 1000 & echo $!; wait; wait"}}),
           .shutdown = 100ms});
  ASSERT_TRUE(eventually([&] { return sleeper.load() != 0; }));
  sup.shutdown();
  sup.wait();
  EXPECT_TRUE(children_states().empty()) << ::testing::PrintToString(children_states());
  // Gone, or a zombie waiting for whichever process adopted it (its reaping is not ours).
  EXPECT_TRUE(eventually([&] {
    std::ifstream f("/proc/" + std::to_string(sleeper.load()) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    const auto close = stat.rfind(')');
    return close == std::string::npos || stat.compare(close + 2, 1, "Z") == 0;
  }));
}

}  // namespace
