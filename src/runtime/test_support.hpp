// Helpers shared by the runtime and integration tests that use real threads.
#pragma once

#include <chrono>
#include <functional>
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

}  // namespace vigil::test
