// Events: everything that happens in a supervisor tree, as published to subscribers (§10).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/core/outcome.hpp"
#include "vigil/core/time.hpp"

namespace vigil::core {

/// The kinds of events (SEMANTICS §10).
enum class event_kind : std::uint8_t {
  child_added,
  child_removed,
  attempt_starting,
  attempt_succeeded,
  attempt_failed,
  attempt_timed_out,
  attempt_unresponsive,
  attempt_cancelled,
  backoff_scheduled,
  child_ready,
  child_exhausted,
  child_dead,
  restart_prevented,
  group_restart,
  intensity_exceeded,
  shutdown_requested,
  all_stopped_within_grace,
  grace_exceeded,
  process_output,
  subscriber_failed,
  subscriber_overflow,
  controller_submitted,
  controller_rejected,
  slot_transition,
  stop_timed_out,
  /// A child with no live attempt (pending, backing off, paused) was stopped: by stop(),
  /// remove() or the shutdown. `reason` = the state it left, e.g. "backing_off".
  child_stopped,
};

/// The name of an event kind, e.g. "attempt_failed".
std::string_view to_string(event_kind k) noexcept;

/// Why a backoff_scheduled wait happens: after a failure, or a periodic task's interval.
enum class delay_source : std::uint8_t { failure, interval };

/// One event. Fields that do not apply to a kind are zero or empty.
struct event {
  std::uint64_t seq = 0;  ///< strictly increasing per supervisor tree, assigned at publish
  event_kind kind = event_kind::child_added;
  time_point at{};                               ///< steady time the supervisor observed it
  std::chrono::system_clock::time_point wall{};  ///< wall-clock time, assigned at publish
  std::shared_ptr<const std::string> path_;      ///< shared path storage; use path()
  std::uint32_t attempt = 0;
  std::uint32_t failure_streak = 0;
  outcome_kind outcome = outcome_kind::success;  ///< for attempt_* events
  std::string reason;
  duration delay{};  ///< backoff_scheduled: the wait (outcome, reason: what it waits after)
  /// attempt_timed_out, attempt_unresponsive: the limit that passed; stop_timed_out: the
  /// child's shutdown timeout as set (0 = brutal, vigil::infinity = none: the grace forced it).
  duration timeout{};
  duration elapsed{};  ///< attempt_* endings: how long the attempt ran
  int exit_code = 0;  ///< attempt endings and backoff_scheduled: the outcome's code (not signalled)
  int signal = 0;     ///< attempt endings and backoff_scheduled: a signalled outcome's signal
  delay_source source = delay_source::failure;
  std::uint64_t lost = 0;  ///< subscriber_overflow: events dropped in the episode
  bool forced = false;     ///< stop_timed_out and forced endings

  /// The child's (or supervisor's) path, e.g. "root/db/pool-3".
  std::string_view path() const noexcept {
    return path_ ? std::string_view(*path_) : std::string_view();
  }
};

/// One readable line: "attempt_failed root/poller attempt=3 streak=2 reason=…".
std::string format(const event& e);

}  // namespace vigil::core
