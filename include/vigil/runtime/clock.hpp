// The time source a supervisor runs on: the real steady clock, or a manual clock in tests.
#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/error_code.hpp>

#include "vigil/core/time.hpp"

namespace vigil {

/// A source of time and timed waits. Implementations are thread-safe.
/// vigil's timers (back-off, timeouts, heartbeats, grace) and context::sleep() all go through it.
class clock {
 public:
  virtual ~clock() = default;

  /// The current time on the steady time line.
  virtual core::time_point now() const noexcept = 0;

  /// Completes `handler` with success once now() >= `at`, or with operation_aborted when
  /// `slot` (if connected) is emitted. The handler runs on its associated executor (else `ex`),
  /// never inline. The slot is explicit because type-erasing a handler that carries its own
  /// slot misbehaves in Asio 1.26.
  virtual void async_wait_until(
      const boost::asio::any_io_executor& ex, core::time_point at,
      boost::asio::cancellation_slot slot,
      boost::asio::any_completion_handler<void(boost::system::error_code)> handler) = 0;

  /// The process-wide real steady clock (std::chrono::steady_clock and Asio timers).
  static clock& steady() noexcept;
};

}  // namespace vigil
