// How one attempt of a task ended: the value tasks return and the supervisor decides on.
#pragma once

#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

namespace vigil::core {

/// The kinds of ending an attempt can have (SEMANTICS §1).
enum class outcome_kind : std::uint8_t {
  success,       ///< finished its work
  failure,       ///< failed; retryable
  fatal,         ///< failed; never restarted
  timeout,       ///< exceeded its per-attempt timeout
  unresponsive,  ///< stopped calling heartbeat() within heartbeat_timeout
  cancelled,     ///< ended after a stop was requested (a failure when nobody asked)
  exited,        ///< a process exited; code() holds the exit status (0 is success)
  signalled,     ///< a process was killed by a signal; code() holds the signal number
};

/// The name of an outcome kind, e.g. "failure".
std::string_view to_string(outcome_kind k) noexcept;

/// The result of one attempt. Cheap to return: a reason of up to 15 bytes does not allocate.
struct outcome {
  outcome_kind kind = outcome_kind::success;
  int code = 0;                  ///< exit code for `exited`, signal number for `signalled`
  std::string reason;            ///< human-readable cause; empty for success
  std::exception_ptr exception;  ///< the thrown exception, when the attempt threw

  /// True for `success` and for `exited` with code 0.
  bool is_success() const noexcept {
    return kind == outcome_kind::success || (kind == outcome_kind::exited && code == 0);
  }
  /// True when the policy treats this as a retryable failure (everything but success and fatal).
  bool is_failure() const noexcept { return !is_success() && kind != outcome_kind::fatal; }
};

/// The attempt did its work.
inline outcome success() {
  return {};
}
/// The attempt failed and may be retried by the restart policy.
inline outcome failure(std::string reason) {
  return {outcome_kind::failure, 0, std::move(reason), nullptr};
}
/// The attempt failed for good: the child is never restarted (final status `dead`).
inline outcome fatal(std::string reason) {
  return {outcome_kind::fatal, 0, std::move(reason), nullptr};
}
/// The attempt gave up because it was asked to stop.
inline outcome cancelled(std::string reason = {}) {
  return {outcome_kind::cancelled, 0, std::move(reason), nullptr};
}

/// Throw this from a task to end it with a `fatal` outcome.
class fatal_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Converts an exception caught from a task into its outcome: fatal_error → fatal,
/// std::exception → failure{what()}, anything else → failure{"unknown exception"}.
outcome outcome_from_exception(std::exception_ptr e);

/// "success", "failure: reason", "exited(3)", … for logs.
std::string describe(const outcome& o);

}  // namespace vigil::core
