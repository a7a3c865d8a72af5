// Policy names and validation.
#include "vigil/core/policy.hpp"

#include "vigil/core/error.hpp"

namespace vigil::core {

std::string_view to_string(restart r) noexcept {
  switch (r) {
    case restart::always:
      return "always";
    case restart::on_failure:
      return "on_failure";
    case restart::never:
      return "never";
  }
  return "unknown";
}

std::string_view to_string(strategy s) noexcept {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
  }
  return "unknown";
}

std::string_view to_string(task_kind k) noexcept {
  switch (k) {
    case task_kind::coroutine:
      return "coroutine";
    case task_kind::thread:
      return "thread";
    case task_kind::process:
      return "process";
    case task_kind::supervisor:
      return "supervisor";
  }
  return "unknown";
}

std::string_view to_string(child_state s) noexcept {
  switch (s) {
    case child_state::pending:
      return "pending";
    case child_state::starting:
      return "starting";
    case child_state::running:
      return "running";
    case child_state::backing_off:
      return "backing_off";
    case child_state::stopping:
      return "stopping";
    case child_state::paused:
      return "paused";
    case child_state::completed:
      return "completed";
    case child_state::failed:
      return "failed";
    case child_state::dead:
      return "dead";
    case child_state::stopped:
      return "stopped";
    case child_state::quarantined:
      return "quarantined";
    case child_state::dependency_failed:
      return "dependency_failed";
  }
  return "unknown";
}

std::string_view to_string(final_status s) noexcept {
  switch (s) {
    case final_status::completed:
      return "completed";
    case final_status::failed:
      return "failed";
    case final_status::dead:
      return "dead";
    case final_status::retries_exhausted:
      return "retries_exhausted";
    case final_status::restart_prevented:
      return "restart_prevented";
    case final_status::setup_failed:
      return "setup_failed";
    case final_status::stopped:
      return "stopped";
    case final_status::quarantined:
      return "quarantined";
    case final_status::dependency_failed:
      return "dependency_failed";
  }
  return "unknown";
}

std::string_view to_string(exit_reason r) noexcept {
  switch (r) {
    case exit_reason::idle:
      return "idle";
    case exit_reason::shutdown_requested:
      return "shutdown_requested";
    case exit_reason::intensity_exceeded:
      return "intensity_exceeded";
    case exit_reason::too_many_dead:
      return "too_many_dead";
    case exit_reason::auto_shutdown:
      return "auto_shutdown";
    case exit_reason::child_exhausted:
      return "child_exhausted";
  }
  return "unknown";
}

std::string_view to_string(on_exhausted e) noexcept {
  switch (e) {
    case on_exhausted::escalate:
      return "escalate";
    case on_exhausted::quarantine:
      return "quarantine";
  }
  return "unknown";
}

std::string_view to_string(shutdown_order o) noexcept {
  switch (o) {
    case shutdown_order::sequential:
      return "sequential";
    case shutdown_order::parallel:
      return "parallel";
  }
  return "unknown";
}

std::string_view to_string(auto_shutdown a) noexcept {
  switch (a) {
    case auto_shutdown::never:
      return "never";
    case auto_shutdown::any_significant:
      return "any_significant";
    case auto_shutdown::all_significant:
      return "all_significant";
  }
  return "unknown";
}

namespace {
void require_non_negative(duration d, const char* field) {
  if (d < duration::zero()) {
    throw error(errc::invalid_argument, std::string(field) + " must not be negative");
  }
}
}  // namespace

void validate(const child_policy& p) {
  if (p.restart_policy > restart::never) {
    throw error(errc::invalid_argument, "restart is not a restart policy");
  }
  require_non_negative(p.interval, "interval");
  require_non_negative(p.stable_after, "stable_after");
  require_non_negative(p.timeout, "timeout");
  require_non_negative(p.heartbeat_timeout, "heartbeat_timeout");
  require_non_negative(p.shutdown, "shutdown");
  require_non_negative(p.startup_timeout, "startup_timeout");
  if (p.on_exhausted_action > on_exhausted::quarantine) {
    throw error(errc::invalid_argument, "on_exhausted is not an on_exhausted action");
  }
  if (p.significant && p.restart_policy == restart::always) {
    throw error(errc::invalid_argument, "significant is not allowed with restart = always");
  }
}

void validate(const supervisor_policy& p) {
  if (p.strategy > strategy::rest_for_one) {
    throw error(errc::invalid_argument, "strategy is not a strategy");
  }
  if (p.shutdown_order > shutdown_order::parallel) {
    throw error(errc::invalid_argument, "shutdown_order is not a shutdown order");
  }
  if (p.auto_shutdown > auto_shutdown::all_significant) {
    throw error(errc::invalid_argument, "auto_shutdown is not an auto_shutdown mode");
  }
  if (!(p.dead_threshold >= 0.0 && p.dead_threshold < 1.0)) {
    throw error(errc::invalid_argument, "dead_threshold must be in [0, 1)");
  }
  validate(p.intensity);
  require_non_negative(p.grace, "grace");
}

bool is_valid_child_name(std::string_view name) noexcept {
  if (name.empty() || name.size() > 128) return false;
  for (const char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace vigil::core
