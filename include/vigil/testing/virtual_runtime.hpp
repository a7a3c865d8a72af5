// A supervisor in virtual time for tests: one io_context that only the test runs, a manual
// clock, and helpers that run it until nothing is ready. No threads, no sleeps.
#pragma once

#include <optional>
#include <system_error>

#include <boost/asio/io_context.hpp>

#include "vigil/runtime/supervisor.hpp"
#include "vigil/testing/event_recorder.hpp"
#include "vigil/testing/manual_clock.hpp"

namespace vigil::testing {

/// A supervisor on a single-threaded io_context and a manual clock, with an event recorder.
/// Drive it with settle() and run_for(); use the async_ forms of the handle (a blocking call
/// would wait for an io_context nobody runs). Not thread-safe: one test thread owns it.
class virtual_runtime {
 public:
  /// one_thread (the default): the io_context counts as single-threaded, like a one-thread
  /// vigil::runtime's, so supervisors on it use no strands; false: they use strands, as on any
  /// other executor.
  explicit virtual_runtime(bool one_thread = true);
  virtual_runtime(const virtual_runtime&) = delete;
  virtual_runtime& operator=(const virtual_runtime&) = delete;
  ~virtual_runtime();

  /// Creates the supervisor (jitter seed 42 unless `options.seed` is set) and its recorder.
  vigil::supervisor& start(supervisor_options options = {});
  /// Runs every ready handler, without moving time.
  void settle();
  /// Moves virtual time forward by `d`, running what comes due at each step.
  void run_for(duration d);
  /// Adds a child and returns the add's error code (settles first).
  std::error_code add(child_spec spec);

  boost::asio::io_context io;
  manual_clock clock;
  std::optional<vigil::supervisor> sup;
  std::optional<event_recorder> events;
};

}  // namespace vigil::testing
