// vigil::until: when handle::add() and handle::start() complete.
#pragma once

#include <cstdint>

namespace vigil {

/// When add() and start() complete.
enum class until : std::uint8_t {
  /// Once the child is registered and its attempt scheduled (the default).
  scheduled,
  /// Once that attempt is running — or ready, for a child that declares wait_ready — so that
  /// a program can fail fast at start-up. An attempt that ends before (a failed spawn, a
  /// throwing factory or setup, a dependency that failed, a stop) completes the call with
  /// errc::start_failed and a message naming its outcome; one that succeeds at once completes
  /// it without error.
  running,
};

}  // namespace vigil
