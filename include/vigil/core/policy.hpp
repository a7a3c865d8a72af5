// The policies the core decides by: restart, strategy, a child's resolved policy, a supervisor's.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "vigil/core/backoff.hpp"
#include "vigil/core/intensity.hpp"
#include "vigil/core/time.hpp"

namespace vigil::core {

/// When a child runs again (SEMANTICS §2); OTP's permanent, transient and temporary.
enum class restart : std::uint8_t {
  always,      ///< after success too (periodic with an interval); never after fatal or a stop
  on_failure,  ///< after failure, timeout or unresponsive (the default)
  never,       ///< never restarted
};

/// Which siblings restart with a child (SEMANTICS §5).
enum class strategy : std::uint8_t { one_for_one, one_for_all, rest_for_one };

/// What happens when a child uses up max_retries (SEMANTICS §4).
enum class on_exhausted : std::uint8_t {
  escalate,    ///< the supervisor shuts down with exit_reason::child_exhausted (the default)
  quarantine,  ///< the child is parked as quarantined; its siblings run on
};

/// When significant children end the supervisor (OTP auto_shutdown).
enum class auto_shutdown : std::uint8_t {
  never,            ///< significant children are not allowed (the default)
  any_significant,  ///< end when any significant child has completed
  all_significant,  ///< end when every significant child has completed
};

/// How a shutdown stops the children (SEMANTICS §8).
enum class shutdown_order : std::uint8_t {
  sequential,  ///< one at a time in reverse start order (the default)
  parallel,    ///< every child whose dependents have ended at once: in waves of the dependencies
};

/// The shortest turn a child gets to stop cooperatively in a shutdown when the grace has (nearly)
/// run out before its turn (§13.29): it is asked and forced only after min(this, its shutdown
/// timeout, the grace).
inline constexpr duration min_stop_turn = std::chrono::milliseconds(100);

/// What a child's task is; reported by children().
enum class task_kind : std::uint8_t { coroutine, thread, process, supervisor };

/// The lifecycle state of a child (SEMANTICS §9).
enum class child_state : std::uint8_t {
  pending,            ///< waiting to start (for a permit or its turn)
  starting,           ///< started, waiting for ready() (wait_ready children)
  running,            ///< an attempt is live
  backing_off,        ///< waiting for its next attempt
  stopping,           ///< a stop was requested; the attempt has not ended yet
  paused,             ///< no automatic restarts until resume()
  completed,          ///< terminal: finished its work
  failed,             ///< terminal: failed for good (never policy, retries exhausted, …)
  dead,               ///< terminal: ended fatally
  stopped,            ///< terminal: stopped on request (start() can run it again)
  quarantined,        ///< terminal: parked after exhausting retries
  dependency_failed,  ///< terminal: a dependency failed before it could start
};

/// The final status of a child that will not run again on its own (SEMANTICS §9).
enum class final_status : std::uint8_t {
  completed,
  failed,
  dead,
  retries_exhausted,
  restart_prevented,
  setup_failed,
  stopped,
  quarantined,
  dependency_failed,
};

/// Why a supervisor ended.
enum class exit_reason : std::uint8_t {
  idle,                ///< every child terminal and exit_when_idle set
  shutdown_requested,  ///< shutdown(), a signal, or the last handle's destruction
  intensity_exceeded,  ///< too many automatic restarts within the period
  too_many_dead,       ///< the dead-child threshold was exceeded
  auto_shutdown,       ///< significant children completed
  child_exhausted,     ///< a child used up max_retries under on_exhausted::escalate
};

std::string_view to_string(restart r) noexcept;
std::string_view to_string(strategy s) noexcept;
std::string_view to_string(task_kind k) noexcept;
std::string_view to_string(child_state s) noexcept;
std::string_view to_string(final_status s) noexcept;
std::string_view to_string(exit_reason r) noexcept;
std::string_view to_string(on_exhausted e) noexcept;
std::string_view to_string(auto_shutdown a) noexcept;
std::string_view to_string(shutdown_order o) noexcept;

/// True for the states a child does not leave on its own.
constexpr bool is_terminal(child_state s) noexcept {
  return s >= child_state::completed;
}

/// A child's policies with every default resolved. Shared between children with equal specs.
struct child_policy {
  restart restart_policy = restart::on_failure;
  duration interval{};                       ///< wait after a success under `always`
  std::optional<std::uint32_t> max_retries;  ///< none: unlimited
  duration stable_after = std::chrono::seconds(60);
  core::backoff backoff;
  duration timeout{};                           ///< per attempt; zero: none
  duration heartbeat_timeout{};                 ///< zero: no watchdog
  duration shutdown = std::chrono::seconds(5);  ///< brutal: force at once; infinity: wait forever
  core::on_exhausted on_exhausted_action = on_exhausted::escalate;
  bool wait_ready = false;          ///< later children and dependents wait for ctx.ready()
  duration startup_timeout{};       ///< bound on the wait for ready(); zero: none
  bool significant = false;         ///< its completion can end the supervisor (auto_shutdown)
  bool remove_on_exit = false;      ///< retention: delete the child once it is terminal
  bool has_setup = false;           ///< a setup step runs once before the first attempt
  bool has_should_restart = false;  ///< ask should_restart before each automatic restart
  bool has_on_shutdown = false;     ///< run_shutdown_hook at the child's turn in the shutdown
};

/// Rejects negative durations with vigil::error(invalid_argument) naming the field.
void validate(const child_policy& p);

/// A supervisor's own policies with defaults resolved.
struct supervisor_policy {
  core::strategy strategy = strategy::one_for_one;
  core::intensity intensity;
  duration grace = std::chrono::seconds(30);  ///< shared shutdown deadline; zero forces at once
  std::uint32_t max_concurrent = 0;           ///< attempts running at once; zero: unlimited
  /// Children the supervisor may list; nullopt (the default): unlimited; 0: none allowed.
  std::optional<std::uint32_t> max_children;
  bool exit_when_idle = false;  ///< end when every child is terminal
  core::auto_shutdown auto_shutdown = auto_shutdown::never;
  /// Shut down (too_many_dead) when more than this fraction of the listed children ended dead,
  /// exhausted or quarantined; 0 (the default) is off. Must be in [0, 1).
  double dead_threshold = 0.0;
  /// Children stopped one at a time (sequential, the default) or in dependency waves (parallel).
  core::shutdown_order shutdown_order = shutdown_order::sequential;
};

/// Rejects invalid intensity and negative grace with vigil::error(invalid_argument).
void validate(const supervisor_policy& p);

/// Non-empty, at most 128 bytes of [A-Za-z0-9._-].
bool is_valid_child_name(std::string_view name) noexcept;

}  // namespace vigil::core
