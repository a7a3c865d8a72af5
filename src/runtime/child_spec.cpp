// Policy resolution.
#include "vigil/runtime/child_spec.hpp"

namespace vigil {

core::child_policy resolve_policy(const child_spec& s, const child_defaults& d) {
  core::child_policy p;
  const auto pick = [](const auto& spec_value, const auto& default_value, auto& out) {
    if (spec_value)
      out = *spec_value;
    else if (default_value)
      out = *default_value;
  };
  pick(s.restart, d.restart, p.restart_policy);
  pick(s.backoff, d.backoff, p.backoff);
  pick(s.interval, d.interval, p.interval);
  if (s.max_retries)
    p.max_retries = s.max_retries;
  else if (d.max_retries)
    p.max_retries = d.max_retries;
  pick(s.stable_after, d.stable_after, p.stable_after);
  pick(s.timeout, d.timeout, p.timeout);
  pick(s.heartbeat_timeout, d.heartbeat_timeout, p.heartbeat_timeout);
  pick(s.shutdown, d.shutdown, p.shutdown);
  // A nested supervisor stops its own children first: no forced stop unless asked for.
  if (s.task.kind() == task_kind::supervisor && !s.shutdown && !d.shutdown) {
    p.shutdown = infinity;
  }
  pick(s.on_exhausted, d.on_exhausted, p.on_exhausted_action);
  if (s.startup_timeout) p.startup_timeout = *s.startup_timeout;
  p.wait_ready = s.wait_ready;
  p.significant = s.significant;
  p.remove_on_exit = s.retention == retention::remove_on_exit;
  p.has_setup = static_cast<bool>(s.setup);
  p.has_should_restart = static_cast<bool>(s.should_restart);
  p.has_on_shutdown = static_cast<bool>(s.on_shutdown);
  core::validate(p);
  return p;
}

}  // namespace vigil
