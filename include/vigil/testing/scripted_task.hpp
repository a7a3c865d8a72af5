// testing::scripted_task: a task whose attempts the test steers — end them with any outcome,
// make them hang, ignore a stop or stop slowly, make the factory throw — and then asks about.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>

#include "vigil/runtime/clock.hpp"
#include "vigil/runtime/task.hpp"
#include "vigil/runtime/types.hpp"

namespace vigil::testing {

struct scripted_state;  // internal: shared by a scripted_task and its tasks

/// How an attempt of a scripted_task answers a stop request.
enum class stop_response : std::uint8_t {
  obey,    ///< returns at once, with outcome cancelled (the default)
  ignore,  ///< keeps running: the test ends it, or the supervisor forces it after the child's
           ///< shutdown timeout (an abandoned attempt stays running() here)
  slowly,  ///< returns `stop_delay` after it saw the stop, measured on the task's clock
};

/// What one attempt does on its own; the test can still steer it while it runs.
/// Fill with designated initialisers: `{.end = vigil::failure("boom"), .after = 2s}`.
struct attempt_plan {
  /// Ends by itself with this outcome, `after` its start. Unset (the default): runs until the
  /// test ends it or it is stopped.
  std::optional<vigil::outcome> end;
  /// With `end`: how long after its start the attempt returns it; zero: at once.
  duration after{};
  /// How the attempt answers a stop request. Default obey.
  stop_response on_stop = stop_response::obey;
  /// With stop_response::slowly: how long after the stop the attempt returns.
  duration stop_delay{};
  /// Set: the factory throws std::runtime_error(*factory_throws) for this attempt instead of
  /// starting it (a failed attempt, §1); it still counts in attempts().
  std::optional<std::string> factory_throws;
};

/// A coroutine task for tests whose every attempt follows an attempt_plan and the test's live
/// commands, and records what happened to it. Converts to a vigil::task (`.task = s`); every
/// copy of that task shares this object's state, so use one scripted_task per child. Attempts
/// are numbered from 1 in the order the factory was called.
///
/// Live commands act on the latest attempt and throw std::logic_error when it is not running or
/// hangs (a test bug, never silently ignored). Thread-safe (one mutex inside): it works on
/// testing::virtual_runtime and on a real vigil::runtime alike.
///
/// Timed behaviour (`after`, stop_response::slowly) waits on the clock given at construction:
/// pass the supervisor's clock (`vr.clock` on a virtual_runtime) so that it runs in the same
/// time as the supervisor.
class scripted_task {
 public:
  /// A scripted task timing its waits on `clk` (which must outlive every attempt); attempts
  /// without a queued plan follow `default_plan` (default: run until the test ends them).
  explicit scripted_task(vigil::clock& clk, attempt_plan default_plan = {});

  /// The task to put in a child_spec (`.task = s.task()`, or simply `.task = s`).
  vigil::task task() const;
  /// Same as task().
  operator vigil::task() const { return task(); }  // NOLINT(google-explicit-constructor)

  // ---- Plans for attempts that have not started yet.

  /// Queues `p` for the next attempt that starts without a plan (FIFO: one plan per attempt).
  void plan_next(attempt_plan p);
  /// The factory throws std::runtime_error(what) for the next attempt (a queued plan).
  void throw_from_factory_next(std::string what);

  // ---- Live commands on the latest attempt (std::logic_error when it is not running).

  /// The attempt returns `o` (success, failure, fatal, exited{code}, …).
  void end(vigil::outcome o);
  /// The attempt returns success.
  void succeed() { end(vigil::success()); }
  /// The attempt returns failure(reason).
  void fail(std::string reason) { end(vigil::failure(std::move(reason))); }
  /// The attempt throws `e` (std::exception: failure{what()}; vigil::fatal_error: fatal).
  void throw_exception(std::exception_ptr e);
  /// The attempt ignores everything from now on: stop requests, its plan, and the test (live
  /// commands then throw std::logic_error). Only a forced stop (the child's shutdown timeout)
  /// gets rid of it; it stays running() after that.
  void hang();
  /// The attempt ignores stop requests (until the test ends it or it is forced).
  void ignore_stop();
  /// The attempt returns `d` after it sees its stop (now, if it already has).
  void stop_slowly(duration d);
  /// The attempt calls ctx.heartbeat() (for children with a heartbeat_timeout).
  void heartbeat();
  /// The attempt calls ctx.ready() (for children that declare wait_ready).
  void ready();

  // ---- Queries.

  /// How many attempts the supervisor began (factory calls, including ones that threw).
  std::uint32_t attempts() const;
  /// Whether attempt `n` started and has not returned (an attempt that hangs or ignored its
  /// stop stays running even after the supervisor abandoned it). False for an unknown n.
  bool running(std::uint32_t n) const;
  /// Whether attempt `n` saw a stop request (a stop, a restart, a timeout, a shutdown).
  bool saw_stop(std::uint32_t n) const;
  /// What attempt `n` returned (an exception it threw: failure/fatal as the supervisor sees
  /// it); empty while it runs, for an unknown n, and when its factory threw.
  std::optional<vigil::outcome> returned(std::uint32_t n) const;
  /// For real runtimes: blocks until at least `n` attempts have begun, at most `bound` of real
  /// time. Returns whether they did. Never call it on a virtual_runtime's thread (nothing would
  /// run the attempts): use virtual_runtime::run_until there.
  bool wait_for_attempts(std::uint32_t n,
                         std::chrono::milliseconds bound = std::chrono::seconds(30)) const;

 private:
  std::shared_ptr<scripted_state> state_;
};

}  // namespace vigil::testing
