// What a task attempt receives: who it is, how to report liveness, and how to notice a stop.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "vigil/runtime/types.hpp"

namespace vigil {

namespace detail {
struct attempt_state;
}

/// The context of one attempt of a child. Cheap to copy (a shared pointer); every member
/// function is thread-safe and may be called after the attempt ended (it then does nothing).
class context {
 public:
  explicit context(std::shared_ptr<detail::attempt_state> state) noexcept;

  /// The child's name, e.g. "poller".
  std::string_view name() const noexcept;
  /// The child's path, e.g. "root/db/poller".
  const std::string& path() const noexcept;
  /// This attempt's number: 1-based, counting every attempt, never reset.
  std::uint32_t attempt() const noexcept;
  /// Consecutive failures before this attempt (0 on a first or post-success attempt).
  std::uint32_t failure_streak() const noexcept;

  /// Becomes stop-requested when the supervisor asks this attempt to stop.
  std::stop_token stop_token() const noexcept;
  /// Whether the supervisor has asked this attempt to stop.
  bool stop_requested() const noexcept;

  /// Tells the watchdog the attempt is alive; required at least every heartbeat_timeout.
  /// Lock-free; cheap enough to call in a hot loop.
  void heartbeat() const noexcept;
  /// Marks the child ready (event child_ready, status ready flag). Idempotent.
  void ready() const;
  /// Sets the child's status text, shown by status() and children().
  void status(std::string text) const;

  /// Waits for `d` on the supervisor's clock. Throws boost::system::system_error
  /// (operation_aborted) when the attempt is asked to stop, before or during the wait.
  /// `sleep(vigil::infinity)` arms no timer.
  boost::asio::awaitable<void> sleep(duration d) const;
  /// Waits, without a timer, until the supervisor asks this attempt to stop, and then returns
  /// normally (no exception): the cheapest way to park an idle attempt. Other cancellation of
  /// the awaiting coroutine, or awaiting it after the stop has already cancelled a wait, throws
  /// system_error(operation_aborted), as every co_await in Asio does then.
  boost::asio::awaitable<void> stopped() const;

  /// The executor this attempt's coroutine runs on: a strand of the supervisor's executor,
  /// shared with some siblings, or that executor itself on a one-thread vigil::runtime.
  boost::asio::any_io_executor executor() const noexcept;

 private:
  std::shared_ptr<detail::attempt_state> state_;
};

}  // namespace vigil
