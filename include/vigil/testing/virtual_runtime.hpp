// A supervisor in virtual time for tests: one io_context that only the test runs, a manual
// clock, and synchronous ("settled") forms of every handle call. No threads, no sleeps.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "vigil/runtime/supervisor.hpp"
#include "vigil/testing/event_recorder.hpp"
#include "vigil/testing/manual_clock.hpp"
#include "vigil/testing/result.hpp"

namespace vigil::testing {

/// A supervisor on a single-threaded io_context and a manual clock, with an event recorder.
/// The test runs the io_context itself, so the handle's blocking calls cannot be used (they
/// would wait for an io_context nobody runs): use the settled forms below, or the async_ forms
/// with settle() / run_for() / run_until(). Not thread-safe: one test thread owns it.
///
/// Settled forms (add, stop, start(name), restart, remove, pause, resume, status, children,
/// tree, outcome, wait, shutdown) send the asynchronous call to `sup`, then run the io_context
/// and move virtual time from wake-up to wake-up, only as far as needed, until the reply
/// arrives: at once for add or status; after the attempt ended for stop; once the child is
/// terminal for outcome. They return a testing::result carrying the error code and the
/// supervisor's message. No reply within `reply_limit` of virtual time, or nothing left that
/// could ever produce one, is an explicit failure (errc::timeout, with a message saying
/// which); the call itself then stays pending, as an async call would.
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
  /// Runs ready handlers, then moves virtual time to each next wake-up in turn (running what
  /// comes due), until `done()` holds; never past now() + `limit`. Returns whether `done()`
  /// held; false also when nothing is left to run (no pending wait) while it does not.
  bool run_until(const std::function<bool()>& done, duration limit);

  /// How far (in virtual time) a settled call may run while waiting for its reply. Default
  /// 10 minutes; outcome() and wait() also take their own limit.
  duration reply_limit = std::chrono::minutes(10);

  // ---- Settled forms of the handle's calls, on `sup` (start() must have been called first;
  // otherwise they fail with supervisor_gone). See vigil::handle for what each one does.

  /// Adds a child; completes once it is registered and its first attempt scheduled.
  result<> add(child_spec spec);
  /// Adds every child of the list, or none (the list is checked first).
  result<> add(std::vector<child_spec> children);
  /// Stops a child; completes once its attempt has ended (or was forced).
  result<> stop(std::string_view name);
  /// Starts a stopped or terminal child (not the supervisor: that is start(options)).
  result<> start(std::string_view name);
  /// Stops the child if it runs, then starts one new attempt.
  result<> restart(std::string_view name);
  /// Stops and deletes a child; completes once the name is free.
  result<> remove(std::string_view name);
  /// Holds back automatic restarts of the child.
  result<> pause(std::string_view name);
  /// Lifts pause().
  result<> resume(std::string_view name);
  /// A snapshot of one child (not_found for an unknown name).
  result<child_info> status(std::string_view name);
  /// Snapshots of the supervisor's children, in start order.
  result<std::vector<child_info>> children();
  /// Snapshots of the whole tree (nested supervisors' children after their supervisor).
  result<std::vector<child_info>> tree();
  /// Runs virtual time until the child is terminal (at most `limit`; default reply_limit) and
  /// returns its final result.
  result<final_result> outcome(std::string_view name, std::optional<duration> limit = {});
  /// Runs virtual time until the supervisor has ended (at most `limit`; default reply_limit)
  /// and returns its result. Does not ask it to end: see shutdown().
  result<supervisor_result> wait(std::optional<duration> limit = {});
  /// Starts the graceful shutdown, then wait(limit).
  result<supervisor_result> shutdown(std::optional<duration> limit = {});

  boost::asio::io_context io;
  manual_clock clock;
  std::optional<vigil::supervisor> sup;
  std::optional<event_recorder> events;

 private:
  template <class Send>
  result<> command(const char* call, std::string_view name, Send send);
  template <class T, class Send>
  result<T> query(const char* call, std::string_view name, duration limit, Send send);
  std::string no_reply(const char* call, std::string_view name, duration limit) const;
};

}  // namespace vigil::testing
