// A child's specification: its name, its task and its policies. Unset fields take the
// supervisor's child_defaults, then vigil's defaults.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "vigil/runtime/hooks.hpp"
#include "vigil/runtime/task.hpp"
#include "vigil/runtime/types.hpp"

namespace vigil {

/// A child to add to a supervisor; fill it with designated initialisers in declaration order:
/// `{.name = "poller", .task = poll, .restart = vigil::restart::always}`.
struct child_spec {
  /// 1 to 128 bytes of [A-Za-z0-9._-], unique within the supervisor.
  std::string name;
  /// What each attempt runs.
  vigil::task task;
  /// When to run again; default on_failure.
  std::optional<vigil::restart> restart;
  /// Delays between failing attempts; default exponential(100 ms, 30 s), factor 2, equal jitter.
  std::optional<vigil::backoff> backoff;
  /// Wait after a success under restart::always (periodic tasks); default 0 (at least 1 ms
  /// after the previous start).
  std::optional<duration> interval;
  /// Retries allowed per failure streak; default unlimited. N retries: at most N+1 attempts.
  std::optional<std::uint32_t> max_retries;
  /// Running this long resets the failure streak; default 60 s.
  std::optional<duration> stable_after;
  /// Per-attempt time limit (outcome timeout); default none (zero also means none).
  std::optional<duration> timeout;
  /// The task must call ctx.heartbeat() this often (outcome unresponsive); default none.
  std::optional<duration> heartbeat_timeout;
  /// How long a stop waits before forcing; default 5 s; vigil::brutal forces at once,
  /// vigil::infinity waits forever.
  std::optional<duration> shutdown;
  /// Children (already added) this one needs: it starts after they have started (and are
  /// ready, if they declare wait_ready) and restarts whenever one of them restarts.
  std::vector<std::string> depends_on;
  /// Later children and dependents wait until this one calls ctx.ready(). Default false.
  bool wait_ready = false;
  /// Bound on the wait for ready() (outcome timeout); default none.
  std::optional<duration> startup_timeout;
  /// Its completion can end the supervisor (supervisor_options::auto_shutdown). Default false.
  bool significant = false;
  /// What using up max_retries does; default escalate (the supervisor ends).
  std::optional<vigil::on_exhausted> on_exhausted;
  /// keep (default): a terminal child stays listed until remove(); remove_on_exit: it is
  /// deleted once terminal (the controller's submissions use this).
  vigil::retention retention = vigil::retention::keep;

  // ---- Hooks (§11, docs/hooks-and-admission.md). Each is a plain function or a coroutine;
  // none runs on the supervisor's strand or under a vigil lock, and a throw never stops
  // supervision (it is reported as a subscriber_failed event naming the hook). ----

  /// Once, before the first attempt. A throw ends the child with final status setup_failed
  /// (no attempt runs).
  hook<void()> setup;
  /// Inside every attempt (after on_restart), before the task; not for process or nested
  /// supervisor tasks. A throw fails that attempt.
  hook<void(std::uint32_t attempt)> on_start;
  /// Inside every attempt >= 2, before on_start and the task; not for process or nested
  /// supervisor tasks. A throw fails that attempt.
  hook<void(std::uint32_t attempt)> on_restart;
  /// After every failed attempt (failure, exception, timeout, unresponsive, fatal; not a
  /// requested stop), with its outcome. Not awaited before the next attempt.
  hook<void(const outcome&)> on_failure;
  /// Consulted only when the policy would restart; false ends the child with final status
  /// restart_prevented. A throw is reported and the policy decides (the child restarts).
  hook<bool(const outcome&)> should_restart;
  /// Exactly once each time the child becomes terminal (completion, exhaustion, stop, removal,
  /// shutdown, setup failure). outcome() waiters registered before the end resolve after it.
  hook<void()> cleanup;
  /// When the supervisor's shutdown begins, for a child that is not terminal yet; the end of
  /// the supervisor waits for it at most min(child's shutdown timeout, grace) (§13.19).
  hook<void()> on_shutdown;
};

/// Supervisor-wide defaults for every child_spec field left unset (§13.24).
struct child_defaults {
  std::optional<vigil::restart> restart;
  std::optional<vigil::backoff> backoff;
  std::optional<duration> interval;
  std::optional<std::uint32_t> max_retries;
  std::optional<duration> stable_after;
  std::optional<duration> timeout;
  std::optional<duration> heartbeat_timeout;
  std::optional<duration> shutdown;
  std::optional<vigil::on_exhausted> on_exhausted;
};

/// A child's specification as its supervisor uses it, every default resolved (OTP's
/// get_childspec): returned by handle::spec(name).
struct effective_spec {
  std::string name;
  std::string path;  ///< e.g. "root/db/pool-3"
  vigil::task_kind kind = vigil::task_kind::coroutine;
  child_policy policy;  ///< restart, back-off, timeouts, shutdown, … exactly as applied
  std::vector<std::string> depends_on;  ///< the children it depends on, as given
};

/// Resolves a spec's policy over `defaults`, exactly as a supervisor does when the child is
/// added (a nested supervisor's shutdown timeout defaults to infinity); throws
/// vigil::error(invalid_argument) naming a bad field.
core::child_policy resolve_policy(const child_spec& spec, const child_defaults& defaults);

}  // namespace vigil
