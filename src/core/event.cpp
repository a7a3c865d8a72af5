// Event names and the one-line text form.
#include "vigil/core/event.hpp"

namespace vigil::core {

std::string_view to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::child_added:
      return "child_added";
    case event_kind::child_removed:
      return "child_removed";
    case event_kind::attempt_starting:
      return "attempt_starting";
    case event_kind::attempt_succeeded:
      return "attempt_succeeded";
    case event_kind::attempt_failed:
      return "attempt_failed";
    case event_kind::attempt_timed_out:
      return "attempt_timed_out";
    case event_kind::attempt_unresponsive:
      return "attempt_unresponsive";
    case event_kind::attempt_cancelled:
      return "attempt_cancelled";
    case event_kind::backoff_scheduled:
      return "backoff_scheduled";
    case event_kind::child_ready:
      return "child_ready";
    case event_kind::child_exhausted:
      return "child_exhausted";
    case event_kind::child_dead:
      return "child_dead";
    case event_kind::restart_prevented:
      return "restart_prevented";
    case event_kind::group_restart:
      return "group_restart";
    case event_kind::intensity_exceeded:
      return "intensity_exceeded";
    case event_kind::shutdown_requested:
      return "shutdown_requested";
    case event_kind::all_stopped_within_grace:
      return "all_stopped_within_grace";
    case event_kind::grace_exceeded:
      return "grace_exceeded";
    case event_kind::process_output:
      return "process_output";
    case event_kind::subscriber_failed:
      return "subscriber_failed";
    case event_kind::subscriber_overflow:
      return "subscriber_overflow";
    case event_kind::controller_submitted:
      return "controller_submitted";
    case event_kind::controller_rejected:
      return "controller_rejected";
    case event_kind::slot_transition:
      return "slot_transition";
    case event_kind::stop_timed_out:
      return "stop_timed_out";
    case event_kind::child_stopped:
      return "child_stopped";
  }
  return "unknown";
}

namespace {
std::string ms(duration d) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  std::string s = std::to_string(us / 1000);
  const auto frac = us % 1000;
  if (frac != 0) {
    std::string f = std::to_string(frac);
    s += '.' + std::string(3 - f.size(), '0') + f;
    while (s.back() == '0') s.pop_back();
  }
  return s + "ms";
}
}  // namespace

std::string format(const event& e) {
  std::string s(to_string(e.kind));
  s += ' ';
  s += e.path();
  if (e.attempt != 0) s += " attempt=" + std::to_string(e.attempt);
  switch (e.kind) {
    case event_kind::attempt_succeeded:
    case event_kind::attempt_failed:
    case event_kind::attempt_timed_out:
    case event_kind::attempt_unresponsive:
    case event_kind::attempt_cancelled:
      s += " outcome=";
      s += to_string(e.outcome);
      s += " streak=" + std::to_string(e.failure_streak);
      s += " ran=" + ms(e.elapsed);
      break;
    case event_kind::backoff_scheduled:
      s += " delay=" + ms(e.delay);
      s += e.source == delay_source::failure ? " source=failure" : " source=interval";
      break;
    case event_kind::subscriber_overflow:
      s += " lost=" + std::to_string(e.lost);
      break;
    case event_kind::process_output:
      s += e.exit_code == 2 ? " stderr" : " stdout";  // the stream, then the line as reason
      break;
    case event_kind::stop_timed_out:
      // The child's own shutdown timeout, also when it is 0 (brutal) or none (infinity).
      s += " limit=" + (e.timeout == duration::max() ? std::string("infinity") : ms(e.timeout));
      break;
    default:
      break;
  }
  if (e.timeout != duration::zero() && e.kind != event_kind::stop_timed_out) {
    s += " limit=" + ms(e.timeout);
  }
  if (e.forced) s += " forced";
  if (!e.reason.empty()) {
    s += " reason=\"";
    s += e.reason;
    s += '"';
  }
  return s;
}

}  // namespace vigil::core
