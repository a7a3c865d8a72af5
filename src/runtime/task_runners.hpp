// Internal: how the supervisor runs thread and process attempts (thread_task.cpp,
// process_task.cpp). Coroutine attempts are run by supervisor.cpp itself.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "vigil/runtime/task.hpp"

namespace vigil::detail {

struct attempt_state;

/// The kind-specific part of a live thread or process attempt: the rungs of its stop ladder.
/// The attempt_state holds it weakly; the running attempt (its thread, its pending I/O) keeps it
/// alive. Called on the supervisor's strand.
struct attempt_runner {
  virtual ~attempt_runner() = default;
  /// stop_attempt: the attempt's stop source has been requested; ask the attempt to end.
  virtual void stop(attempt_state& st) = 0;
  /// abandon_attempt: the attempt ignored its stop past the shutdown timeout.
  virtual void abandon(attempt_state& st) = 0;
};

/// Runs `fn(context(st))` on a new std::jthread and reports its outcome to st->sup. Sets
/// st->runner. A thread that cannot be created is reported as a failed attempt.
void start_thread_attempt(const std::shared_ptr<attempt_state>& st, thread_task fn);

/// Spawns the process `opts` describes and reports its outcome to st->sup once it has been
/// reaped and its descriptors closed. Sets st->runner. A spawn failure is a failed attempt.
void start_process_attempt(const std::shared_ptr<attempt_state>& st,
                           std::shared_ptr<const process_options> opts);

class supervisor_impl;

/// Runs a nested supervisor for this attempt: a fresh supervisor_impl named after the child,
/// on the parent's executor, clock and event bus, with the declared children. The attempt ends
/// when it ends; stop_attempt shuts it down gracefully. Sets st->runner.
void start_nested_attempt(const std::shared_ptr<attempt_state>& st, supervisor_impl& parent,
                          std::shared_ptr<const subtree> spec);

/// The nested supervisor running in this attempt, if it is one.
std::shared_ptr<supervisor_impl> nested_of(const attempt_state& st);

/// Threads of thread tasks that currently exist (running, or finished and not yet joined).
std::size_t live_task_threads() noexcept;

/// `in` with every byte that is not part of valid UTF-8 replaced by U+FFFD.
std::string sanitize_utf8(std::string_view in);

}  // namespace vigil::detail
