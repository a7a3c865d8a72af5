// Drives a supervisor's decision core in virtual time without threads or I/O: users test the
// policies of their own trees with it, and vigil's seeded simulations run on it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vigil/core/machine.hpp"

namespace vigil::testing {

/// One supervisor's core in virtual time. Attempts are imaginary: the test decides how each
/// ends (fail(), succeed(), exit()), and by default an attempt asked to stop ends at once
/// (cooperative); set_stubborn() makes it ignore stops until it is forced. Not thread-safe.
class simulator {
 public:
  /// A supervisor named `path` ("root" by default) with `policy`; `seed` drives jitter; virtual
  /// time starts at `start` (one hour after the epoch by default; a nested simulator starts at
  /// its parent's now()).
  explicit simulator(core::supervisor_policy policy = {}, std::uint64_t seed = 1,
                     std::string path = "root",
                     core::time_point start = core::time_point{} + std::chrono::hours(1));

  // ---- commands (as a handle would send them) ----
  core::command_result add(const std::string& name, const core::child_policy& policy = {},
                           const std::vector<std::string>& depends_on = {});
  core::command_result stop(const std::string& name);
  core::command_result start(const std::string& name);
  core::command_result restart(const std::string& name);
  core::command_result remove(const std::string& name);
  core::command_result pause(const std::string& name);
  core::command_result resume(const std::string& name);
  void shutdown();

  // ---- what the imaginary attempts do ----
  /// Ends the child's live attempt with `o`; false when it has none.
  bool exit(const std::string& name, core::outcome o);
  bool fail(const std::string& name, std::string reason = "failure") {
    return exit(name, core::failure(std::move(reason)));
  }
  bool succeed(const std::string& name) { return exit(name, core::success()); }
  /// The live attempt calls ctx.ready().
  bool ready(const std::string& name);
  /// The live attempt calls ctx.heartbeat() now.
  bool heartbeat(const std::string& name);
  /// Whether the child's attempts ignore stop requests (they then end only when forced);
  /// turning it off honours a stop the live attempt ignored.
  void set_stubborn(const std::string& name, bool stubborn = true);

  /// How the child's setup step ends (policy.has_setup): with `failure` set it fails,
  /// otherwise it succeeds (the default). Answered at once.
  void set_setup_result(const std::string& name, std::optional<std::string> failure);
  /// What the child's should_restart hook answers (policy.has_should_restart); default true.
  void set_should_restart(const std::string& name, bool answer);

  /// Moves virtual time forward by `d`, firing every deadline on the way, in order.
  void advance(core::duration d);
  /// Runs until no deadline is left or `limit` has passed.
  void run_until_idle(core::duration limit = std::chrono::hours(24));

  // ---- observations ----
  core::time_point now() const noexcept { return now_; }
  /// Every event in emission order.
  const std::vector<core::event>& events() const noexcept { return events_; }
  /// Every action as a line: "start a#2", "stop b", "abandon c", "finished a completed",
  /// "shutdown_hook a" (run_shutdown_hook), …
  const std::vector<std::string>& log() const noexcept { return log_; }
  /// Names of children with a live attempt.
  std::set<std::string> live() const;
  /// Whether `name` has a live attempt.
  bool is_live(const std::string& name) const;
  /// How many attempts of `name` were started.
  std::uint32_t starts(const std::string& name) const;
  /// The snapshot status() would give.
  core::child_info info(const std::string& name) const;
  /// Names of every listed child, in start order.
  std::vector<std::string> children() const;
  /// The supervisor's result once it has ended.
  const std::optional<core::supervisor_result>& result() const noexcept { return result_; }
  /// Count of events of one kind (optionally of one child name).
  std::size_t count(core::event_kind k, const std::string& name = {}) const;
  /// How many times an attempt was started while the same child still had one live (an
  /// invariant violation: it must stay 0).
  std::size_t overlapping_starts() const noexcept { return overlapping_starts_; }
  /// The underlying machine, for anything not covered here.
  core::supervisor_machine& machine() noexcept { return m_; }

 private:
  void drain();
  core::command_result name_command(core::command_result r, const std::string& name);
  std::string name_of(core::child_id id) const;

  core::supervisor_machine m_;
  core::time_point now_;
  std::map<core::child_id, std::string> names_;
  std::map<core::child_id, std::uint64_t> live_;  // id -> generation of the live attempt
  std::map<core::child_id, core::time_point> beats_;
  std::map<std::string, std::uint32_t> starts_;
  std::set<std::string> stubborn_;
  std::vector<std::pair<core::child_id, std::uint64_t>> stopping_;  // cooperative stops due
  std::vector<std::pair<core::child_id, std::uint64_t>> ignored_;   // stops ignored so far
  std::vector<core::event> events_;
  std::vector<std::string> log_;
  std::optional<core::supervisor_result> result_;
  std::size_t overlapping_starts_ = 0;
  std::map<std::string, std::optional<std::string>> setup_results_;
  std::map<std::string, bool> should_restart_;
  std::vector<core::action> answers_;  // hook answers due after the current batch
};

}  // namespace vigil::testing
