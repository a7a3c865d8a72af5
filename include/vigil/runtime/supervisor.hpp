// vigil::supervisor: owns a supervisor and its children; the entry point of the library.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/clock.hpp"
#include "vigil/runtime/handle.hpp"
#include "vigil/runtime/types.hpp"

namespace vigil {

class runtime;

/// A supervisor's options; fill with designated initialisers in declaration order.
struct supervisor_options {
  /// The supervisor's name, the first element of its children's paths. Default "root".
  std::string name = "root";
  /// Which siblings restart together. Default one_for_one.
  vigil::strategy strategy = vigil::strategy::one_for_one;
  /// Restart budget before escalation. Default 10 restarts in 10 s.
  vigil::intensity intensity{};
  /// Shared deadline for stopping every child at shutdown. Default 30 s; zero forces at once.
  /// A child whose turn comes after it ran out still gets a stop request and a short turn
  /// (min(vigil::min_stop_turn = 100 ms, its shutdown timeout, grace)) before it is forced;
  /// supervisor_result tells those (cut_short) from children that ignored their stop (stuck).
  duration grace = std::chrono::seconds(30);
  /// Attempts allowed to run at once (permits, first come first served). Zero: unlimited.
  std::uint32_t max_concurrent = 0;
  /// How many children may be listed; add() fails with too_many_children beyond it.
  /// Default nullopt: unlimited; 0: no child allowed.
  std::optional<std::uint32_t> max_children;
  /// End on its own once every child is terminal. Default off (runs until shut down).
  bool exit_when_idle = false;
  /// End when significant children complete. Default never (significant children refused).
  vigil::auto_shutdown auto_shutdown = vigil::auto_shutdown::never;
  /// Shut down (too_many_dead) when more than this fraction of the children ended dead,
  /// exhausted or quarantined. Default 0: off.
  double dead_threshold = 0.0;
  /// How the shutdown stops the children: sequential (default: one at a time in reverse start
  /// order) or parallel (every child whose dependents have ended is asked at once, so
  /// independent children stop together and dependents still stop before their dependencies).
  vigil::shutdown_order shutdown_order = vigil::shutdown_order::sequential;
  /// Defaults for child_spec fields left unset.
  vigil::child_defaults child_defaults{};
  /// Seed of the jitter random source; default: a fresh random seed.
  std::optional<std::uint64_t> seed;
  /// How long the end of a supervisor waits for subscribers to drain. Default 5 s.
  duration subscriber_drain = std::chrono::seconds(5);
};

/// A nested supervisor, used as a child's task: `.task = vigil::subtree{.options = {…},
/// .children = {…}}`. Each attempt starts a fresh supervisor (named after the child, so its
/// children's paths are "root/child/grandchild") with exactly the declared children. It ends
/// when that supervisor ends: normally (idle, auto_shutdown) as success; by escalation
/// (intensity_exceeded, child_exhausted, too_many_dead) as a failure whose reason carries the
/// cause chain. Its events go to the root's subscribers; a stop shuts it down gracefully. The
/// child's shutdown timeout defaults to infinity (it stops its own children first).
struct subtree {
  supervisor_options options;
  std::vector<child_spec> children;
};

/// Owns a running supervisor. Non-copyable; get_handle() gives copyable references. Destroying
/// it (when no handle is left) starts a graceful shutdown and returns at once. Thread-safe.
class supervisor : public handle {
 public:
  /// A supervisor on `rt`'s executor; `rt` waits for it in its destructor.
  /// Throws vigil::error(invalid_argument) for invalid options.
  explicit supervisor(runtime& rt, supervisor_options options = {});
  /// A supervisor on any executor (an io_context's, a thread_pool's, …) and clock.
  /// The executor must outlive the supervisor's shutdown; `clk` must outlive the supervisor.
  explicit supervisor(boost::asio::any_io_executor ex, supervisor_options options = {},
                      vigil::clock& clk = vigil::clock::steady());
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;
  ~supervisor();

  /// A copyable reference to this supervisor.
  handle get_handle() const { return *this; }
};

}  // namespace vigil
