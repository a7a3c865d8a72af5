// Helpers shared by the runtime and integration tests that use real threads.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vigil::test {

/// Polls `pred` until it holds or a generous bound passes; never a guess at how long work
/// takes. Returns whether it held.
inline bool eventually(const std::function<bool()>& pred,
                       std::chrono::seconds bound = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A gate a thread can block on regardless of stop requests (a task that ignores its stop).
/// Hold it by shared_ptr: an abandoned thread may still be inside wait() when the test ends.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(m);
      open = true;
    }
    cv.notify_all();
  }
};

}  // namespace vigil::test
