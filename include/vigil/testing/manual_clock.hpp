// A clock that moves only when told to: runtime tests of back-off, timeouts and heartbeats run
// in virtual time, without sleeping.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include <boost/asio/io_context.hpp>

#include "vigil/runtime/clock.hpp"

namespace vigil::testing {

/// A manual clock. Waits complete only when advance()/run_for() move time past them.
/// Thread-safe; handlers are posted to their executors, never run inside advance().
class manual_clock final : public vigil::clock {
 public:
  /// Starts at `start` (default: one hour after the epoch, so that subtracting is safe).
  explicit manual_clock(core::time_point start = core::time_point(std::chrono::hours(1)));
  ~manual_clock() override;

  core::time_point now() const noexcept override;
  void async_wait_until(
      const boost::asio::any_io_executor& ex, core::time_point at,
      boost::asio::cancellation_slot slot,
      boost::asio::any_completion_handler<void(boost::system::error_code)> handler) override;

  /// Moves time forward by `d` and posts every wait that came due, earliest first.
  void advance(core::duration d);
  /// Drives `io` (single-threaded, not run elsewhere) through virtual time: runs it until idle,
  /// then steps time to each next wake-up up to now() + d, running it again after each step, so
  /// chains of timers observe the right times. Ends at exactly now() + d, with `io` idle.
  void run_for(boost::asio::io_context& io, core::duration d);
  /// Runs `io` until it has nothing ready, without moving time.
  static void settle(boost::asio::io_context& io);

  /// The earliest pending wait, if any.
  std::optional<core::time_point> next_wakeup() const;
  /// How many waits are pending.
  std::size_t pending_waits() const;

 private:
  struct waiter;
  void fire_due(core::time_point t);
  void cancel(std::uint64_t id);

  std::atomic<core::duration::rep> now_;
  mutable std::mutex m_;
  std::multimap<core::time_point, std::uint64_t> order_;  // guarded by m_
  std::map<std::uint64_t, waiter> waiters_;               // guarded by m_
  std::uint64_t next_id_ = 1;                             // guarded by m_
};

}  // namespace vigil::testing
