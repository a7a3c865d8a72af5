// What a task attempt receives: who it is, how to report liveness, and how to notice a stop.
#pragma once

#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/this_coro.hpp>

#include "vigil/runtime/types.hpp"

namespace vigil {

namespace detail {
struct attempt_state;

/// The cancellation filter a wind-down installs: after a stop it lets no cancellation through,
/// so a stop signal still in flight cannot cancel the tidy-up; without a stop (nothing to wind
/// down from) it keeps Asio's default, terminal cancellation.
struct wind_down_filter {
  bool stop_requested = false;
  boost::asio::cancellation_type_t operator()(boost::asio::cancellation_type_t t) const noexcept {
    return stop_requested ? boost::asio::cancellation_type::none
                          : (t & boost::asio::cancellation_type::terminal);
  }
};
}  // namespace detail

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
  /// (operation_aborted) when the attempt is asked to stop, before or during the wait, and
  /// keeps doing so after a wind-down: a tidy-up waits with its own timers or I/O.
  /// `sleep(vigil::infinity)` arms no timer.
  boost::asio::awaitable<void> sleep(duration d) const;
  /// Waits, without a timer, until the supervisor asks this attempt to stop, and then returns
  /// normally (no exception) with the coroutine's cancellation state reset, as wind_down()
  /// does: the task may then co_await its tidy-up (flush, close, say goodbye) within its
  /// shutdown timeout, after which it is forced. The cheapest way to park an idle attempt.
  /// Other cancellation of the awaiting coroutine throws system_error(operation_aborted); so
  /// does awaiting it once the stop has already cancelled one of the coroutine's waits (Asio
  /// refuses to start any awaitable then): use wind_down() there.
  boost::asio::awaitable<void> stopped() const;
  /// Ends the effect of a stop's cancellation on the calling coroutine, so that it may co_await
  /// its tidy-up: after catching the stop's operation_aborted, `co_await ctx.wind_down();
  /// co_await flush();` (outside the catch block). Without it, once the stop has cancelled a
  /// wait every later co_await throws operation_aborted. It resets the cancellation state of the
  /// whole coroutine stack the attempt runs (this works from a nested coroutine), and a stop
  /// already requested cancels nothing more; a stop requested later cancels as usual. Awaitable
  /// even when the coroutine is cancelled (an Asio this_coro object, not an awaitable<T>);
  /// completes at once. The tidy-up stays bounded by the child's shutdown timeout, after which
  /// the attempt is forced; ctx.sleep() keeps throwing.
  boost::asio::this_coro::reset_cancellation_state_1_t<detail::wind_down_filter> wind_down()
      const noexcept;

  /// The executor this attempt's coroutine runs on: a strand of the supervisor's executor,
  /// shared with some siblings, or that executor itself on a one-thread vigil::runtime.
  boost::asio::any_io_executor executor() const noexcept;

 private:
  std::shared_ptr<detail::attempt_state> state_;
};

}  // namespace vigil
