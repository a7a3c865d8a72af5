// vigil::runtime: an io_context with its own threads, for programs that want vigil to own them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "vigil/runtime/handle.hpp"

namespace vigil {

/// Whether run() turns SIGINT and SIGTERM into a graceful shutdown.
enum class signal_handling : std::uint8_t {
  on_run,  ///< while run() waits, SIGINT/SIGTERM shut the supervisor down (the default)
  none,    ///< vigil installs no signal handler
};

/// Options of a runtime.
struct runtime_options {
  /// Worker threads; zero: std::thread::hardware_concurrency() (at least 1).
  std::size_t threads = 0;
  /// Signal handling in run().
  vigil::signal_handling signals = vigil::signal_handling::on_run;
};

/// An io_context and `threads` worker threads, started at construction; the only threads vigil
/// starts besides one per thread task. Its destructor shuts down the supervisors created on it,
/// waits for each (bounded by its grace) and joins the threads. Thread-safe.
class runtime {
 public:
  explicit runtime(runtime_options options = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime();

  /// Waits until `sup` has ended (SIGINT/SIGTERM start its shutdown, see runtime_options) and
  /// returns the process exit code: 0 when it ended as asked, 1 when it escalated
  /// (intensity_exceeded, child_exhausted, too_many_dead) and 2 when its shutdown exceeded the
  /// grace. Calls that overlap (from several threads), or come after the shutdown began or
  /// ended, all wait for the one end and return the same code (§13.15); each installs signal
  /// handling only while it waits. Must not be called from a thread running the runtime's
  /// executor (vigil::error(would_deadlock)). Throws vigil::error(invalid_argument) when signal
  /// handling cannot be installed.
  int run(const handle& sup);

  /// The executor of the runtime's io_context.
  boost::asio::any_io_executor get_executor() noexcept;
  /// The number of worker threads.
  std::size_t threads() const noexcept;

  struct impl;

 private:
  friend class supervisor;
  std::unique_ptr<impl> impl_;
};

/// The exit code run() returns for a result: 0 ok, 1 escalated, 2 grace exceeded.
int exit_code(const supervisor_result& r) noexcept;

}  // namespace vigil
