// The supervisor's decision logic as a pure state machine (sans-I/O): things that happened go in
// with the time they were observed; actions for the shell to perform come out.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "vigil/core/event.hpp"
#include "vigil/core/intensity.hpp"
#include "vigil/core/outcome.hpp"
#include "vigil/core/policy.hpp"
#include "vigil/core/random.hpp"
#include "vigil/core/time.hpp"

namespace vigil::core {

/// A child's index in its supervisor's machine; reused after the child is removed.
using child_id = std::uint32_t;
inline constexpr child_id no_child = UINT32_MAX;

/// The final result of a child: what outcome(name) resolves with.
struct final_result {
  final_status status = final_status::completed;
  std::uint32_t total_attempts = 0;
  outcome last;         ///< the last attempt's outcome (empty success if it never ran)
  bool forced = false;  ///< the last stop had to be forced
};

/// One remembered failure of a child.
struct failure_record {
  time_point at{};
  std::uint32_t attempt = 0;
  outcome_kind kind = outcome_kind::failure;
  std::string reason;
};

/// A snapshot of one child, as status() and children() report it.
struct child_info {
  std::string name;
  std::string path;
  task_kind kind = task_kind::coroutine;
  child_state state = child_state::pending;
  bool paused = false;
  bool ready = false;
  std::uint32_t attempt = 0;         ///< attempts so far (1-based once started)
  std::uint32_t failure_streak = 0;  ///< consecutive failures
  std::uint32_t restarts_automatic = 0;
  std::uint32_t restarts_manual = 0;
  std::optional<outcome> last_outcome;
  time_point last_outcome_at{};
  duration uptime{};                            ///< how long the live attempt has run; zero if none
  std::optional<time_point> next_restart;       ///< when backing off
  std::optional<final_result> final;            ///< set once terminal
  std::vector<failure_record> recent_failures;  ///< newest last, at most 16
  std::string status_text;                      ///< the task's last status(text) (shell-filled)
};

/// Why a supervisor ended, with the cause when a failure escalated.
struct supervisor_result {
  exit_reason reason = exit_reason::shutdown_requested;
  bool grace_exceeded = false;  ///< the shared grace ran out before every child had stopped
  /// Paths asked to stop (at their turn, or before) that were still running when the grace ran
  /// out, and were forced then: they ignored their stop for their whole bound.
  std::vector<std::string> stuck;
  /// Paths whose turn came when the grace had (nearly) run out: asked to stop, given only the
  /// short turn (min(core::min_stop_turn, their shutdown timeout, the grace)) and forced after
  /// it. Not stuck: they never had their full bound. Children that stopped within the short
  /// turn are in neither list.
  std::vector<std::string> cut_short;
  /// Paths whose attempt had to be forced during the shutdown (killed, or abandoned: a thread
  /// or coroutine that ignored its stop), whether by its own shutdown timeout or the grace.
  std::vector<std::string> abandoned;
  std::string cause_path;        ///< the child whose failure escalated (intensity, exhaustion)
  std::optional<outcome> cause;  ///< that failure
  std::uint32_t dead = 0;   ///< too_many_dead: children that ended dead, exhausted or quarantined
  std::uint32_t total = 0;  ///< too_many_dead: children listed

  /// True when the supervisor ended as asked (idle, shutdown, auto-shutdown) within its grace.
  bool ok() const noexcept {
    return !grace_exceeded &&
           (reason == exit_reason::idle || reason == exit_reason::shutdown_requested ||
            reason == exit_reason::auto_shutdown);
  }
};

/// What a command returns at once: an error (with a message naming what is wrong) or success.
struct command_result {
  std::error_code code;
  std::string message;
  child_id id = no_child;
  explicit operator bool() const noexcept { return !code; }
};

/// One child of an add_children() batch.
struct new_child {
  std::string name;
  std::shared_ptr<const child_policy> policy;  ///< null: every default
  task_kind kind = task_kind::coroutine;
  std::vector<std::string> depends_on;  ///< listed children, or children earlier in the batch
};

/// What add_children() returns: every new child's id in batch order, or the first error.
struct batch_result {
  std::error_code code;
  std::string message;        ///< names the refused child and what is wrong with it
  std::size_t index = 0;      ///< on error: the refused child's position in the batch
  std::vector<child_id> ids;  ///< on success: the new ids, in batch order
  explicit operator bool() const noexcept { return !code; }
};

// ---- Actions, pulled one at a time by the shell ----

/// Run attempt `attempt` of child `id`; its completion must be reported with `generation`.
struct start_attempt {
  child_id id;
  std::uint64_t generation;
  std::uint32_t attempt;
  std::uint32_t failure_streak;
};
/// Ask the attempt to stop cooperatively (cancellation, stop token, SIGTERM).
struct stop_attempt {
  child_id id;
  std::uint64_t generation;
};
/// Give up on the attempt: it ignored its stop past the shutdown timeout (kill / abandon).
/// The machine already treats it as ended; its late completion will be ignored.
struct abandon_attempt {
  child_id id;
  std::uint64_t generation;
};
/// Report the attempt's last heartbeat time through on_heartbeat().
struct check_heartbeat {
  child_id id;
  std::uint64_t generation;
};
/// Run the child's setup once, off the supervisor's strand; answer with on_setup_done(token).
struct run_setup {
  child_id id;
  std::uint64_t token;
};
/// Ask the child's should_restart hook about `last`; answer with on_should_restart().
struct ask_should_restart {
  child_id id;
  std::uint64_t generation;
  outcome last;
};
/// The child's turn in the shutdown has come (§13.28): run its on_shutdown hook now, off the
/// supervisor's strand, for at most `limit` (its stop's bound: min(its shutdown timeout, the
/// remaining grace)). Emitted only for children whose policy has_on_shutdown, just before their
/// stop is requested; nothing waits for the hook's answer.
struct run_shutdown_hook {
  child_id id;
  duration limit;
};
/// Publish an event to subscribers (seq and wall time are assigned by the shell).
struct publish_event {
  event ev;
};
/// The child reached a final result: resolve its outcome() waiters.
struct child_finished {
  child_id id;
  final_result result;
};
/// The child's record was removed; the shell may free what it keeps for `id`.
struct child_erased {
  child_id id;
};
/// A command submitted with `token` has completed.
struct command_done {
  std::uint64_t token;
  std::error_code code;
};
/// The supervisor has ended: every attempt has ended or was abandoned.
struct supervisor_ended {
  supervisor_result result;
};

using action = std::variant<start_attempt, stop_attempt, abandon_attempt, check_heartbeat,
                            publish_event, child_finished, child_erased, command_done,
                            supervisor_ended, run_setup, ask_should_restart, run_shutdown_hook>;

/// The decision logic of one supervisor. Pure: no clocks, threads or I/O; time and randomness
/// are arguments. Not thread-safe: the shell owns it on one strand. Every input is validated
/// and stale inputs (an older generation, a passed deadline) are ignored, never fatal.
class supervisor_machine {
 public:
  /// Validates `policy` (throws vigil::error) and seeds jitter with `seed`.
  supervisor_machine(supervisor_policy policy, std::shared_ptr<const std::string> path,
                     std::uint64_t seed);
  ~supervisor_machine();
  supervisor_machine(const supervisor_machine&) = delete;
  supervisor_machine& operator=(const supervisor_machine&) = delete;

  // ---- commands (SEMANTICS §9); `token` != 0 gets a command_done when the work is done ----

  /// Registers a child and schedules its first attempt (after its dependencies have started,
  /// and are ready if they declare wait_ready). Errors: invalid_argument (name, policy),
  /// already_exists, unknown_dependency, too_many_children, shutting_down.
  command_result add_child(std::string name, std::shared_ptr<const child_policy> policy,
                           task_kind kind, time_point now,
                           const std::vector<std::string>& depends_on = {});
  /// Adds every child of `batch` or none (§13.10): the whole batch is checked first against
  /// every rule add_child() enforces (names, duplicates within the batch and against listed
  /// children, dependencies, which may name earlier children of the batch, max_children, the
  /// shutdown, every policy rule), then all are listed (child_added each) and started in order.
  /// On refusal nothing changes and the first error names the child and what is wrong.
  batch_result add_children(std::vector<new_child> batch, time_point now);
  /// Stops the child and keeps it (final status stopped). A no-op on a terminal child.
  command_result stop_child(std::string_view name, std::uint64_t token, time_point now);
  /// Starts a stopped or terminal child now with a fresh failure streak. already_running if live.
  command_result start_child(std::string_view name, std::uint64_t token, time_point now);
  /// Stops the child (if running) and starts one new attempt now.
  command_result restart_child(std::string_view name, std::uint64_t token, time_point now);
  /// Stops the child and deletes it; its name is free once done.
  command_result remove_child(std::string_view name, std::uint64_t token, time_point now);
  /// No automatic restarts until resume_child(); a live attempt keeps running.
  command_result pause_child(std::string_view name, time_point now);
  /// Lifts a pause; a restart that was held back happens now.
  command_result resume_child(std::string_view name, time_point now);
  /// Starts the graceful shutdown (§8). Idempotent: the first trigger's reason wins.
  void shutdown(time_point now, exit_reason reason = exit_reason::shutdown_requested);

  // ---- things that happened ----

  /// An attempt ended with `o`.
  void on_exit(child_id id, std::uint64_t generation, outcome o, time_point now);
  /// An attempt called ctx.ready().
  void on_ready(child_id id, std::uint64_t generation, time_point now);
  /// The answer to check_heartbeat: the attempt's last heartbeat (or its start) was at `last`.
  void on_heartbeat(child_id id, std::uint64_t generation, time_point last, time_point now);
  /// The setup step asked for by run_setup ended: `failed` holds its failure, if any
  /// (final status setup_failed, no attempt). A stale token is ignored.
  void on_setup_done(child_id id, std::uint64_t token, std::optional<outcome> failed,
                     time_point now);
  /// The should_restart hook answered: false ends the child with restart_prevented.
  void on_should_restart(child_id id, std::uint64_t generation, bool restart_it, time_point now);
  /// Time has reached `now`; a spurious call is harmless.
  void on_deadline(time_point now);
  /// Ends the supervisor if exit_when_idle is set and every child is terminal.
  void check_idle(time_point now);

  // ---- outputs ----

  /// The next action to perform, or nothing.
  std::optional<action> next_action();
  /// When on_deadline() must next be called, if ever.
  std::optional<time_point> next_deadline();
  /// Whether events are built at all; off saves their cost when nobody subscribes.
  void set_events_enabled(bool on) noexcept { events_enabled_ = on; }

  // ---- queries ----

  /// The child's id, or no_child.
  child_id find(std::string_view name) const;
  /// A snapshot of one child; `id` must be valid.
  child_info info(child_id id, time_point now) const;
  /// The child's resolved policy (what the machine decides by); `id` must be valid.
  const child_policy& policy_of(child_id id) const;
  /// The names of the children `id` depends on, in the order they were given.
  std::vector<std::string> dependencies_of(child_id id) const;
  /// The ids of all listed children, in start order.
  std::vector<child_id> children() const;
  /// The final result of a terminal child.
  std::optional<final_result> final_of(child_id id) const;
  /// True once shutdown has begun.
  bool shutting_down() const noexcept { return phase_ != phase::running; }
  /// True once the supervisor has ended.
  bool ended() const noexcept { return phase_ == phase::ended; }
  /// The result, once ended.
  const std::optional<supervisor_result>& result() const noexcept { return result_; }
  /// The path of a child (shared with its events).
  const std::shared_ptr<const std::string>& path_of(child_id id) const;
  /// Number of listed children.
  std::size_t size() const noexcept { return by_name_.size(); }
  const supervisor_policy& policy() const noexcept { return policy_; }

 private:
  enum class phase : std::uint8_t { running, shutting_down, ended };
  enum class stop_cause : std::uint8_t {
    none,
    stop,
    restart,
    remove,
    shutdown,
    timeout,
    unresponsive,
    group,  // stopped as a bystander of a group restart
  };
  enum class timer_kind : std::uint8_t {
    restart,
    timeout,
    heartbeat,
    stop_deadline,
    grace,
    group_start,
    startup,
  };
  struct child;
  struct deadline {
    time_point at;
    child_id id;
    std::uint64_t generation;
    timer_kind kind;
    // Earlier first; at the same instant the grace comes first, so a stop deadline that the
    // grace clamped to that instant cannot end the shutdown as "within grace" (heap ties are
    // otherwise broken arbitrarily).
    bool operator>(const deadline& o) const noexcept {
      if (at != o.at) return at > o.at;
      return (kind != timer_kind::grace) > (o.kind != timer_kind::grace);
    }
  };

  child* get(child_id id) noexcept;
  const child* get(child_id id) const noexcept;
  child* lookup(std::string_view name, command_result& r);
  void link_last(child_id id);
  void unlink(child_id id);

  command_result check_new(const std::string& name, const child_policy& policy,
                           const std::vector<std::string>& depends_on,
                           const std::vector<std::string_view>& batch) const;
  child& insert(std::string name, std::shared_ptr<const child_policy> policy, task_kind kind,
                const std::vector<std::string>& depends_on, time_point now);
  void begin(child& c, time_point now);
  void request_start(child& c, time_point now);
  void start_now(child& c, time_point now);
  void grant_permits(time_point now);
  void request_stop(child& c, stop_cause cause, time_point now);
  void attempt_ended(child& c, outcome&& o, time_point now, bool forced);
  void decide(child& c, outcome&& o, duration elapsed, time_point now);
  void record_outcome(child& c, const outcome& o, time_point now);
  void record_outcome(child& c, outcome&& o, time_point now);
  void schedule_restart(child& c, duration delay, delay_source source, time_point now);
  void finish(child& c, final_status status, time_point now);
  void erase(child& c, time_point now);
  void complete_waiters(child& c, std::error_code ec = {});
  void shutdown_next(time_point now);
  void take_turn(child& c, time_point now);
  bool dependents_done(const child& c) const;
  duration stop_limit(const child& c, time_point now, bool* short_turn = nullptr) const;
  // Strategies and dependencies (§5).
  bool deps_satisfied(const child& c) const;
  bool satisfies_dependents(const child& c) const;
  void release_dependents(child& c, time_point now);
  void fail_dependents(child& c, time_point now);
  void release_startup_queue(time_point now);
  std::vector<child_id> group_of(const child& c) const;
  void begin_group(child& trigger, const std::vector<child_id>& members, duration delay,
                   time_point now);
  void leave_group(child& c);
  void group_step(time_point now);
  void start_group(time_point now);
  void absorb_in_group(child& c, time_point now);
  void escalate(child& c, exit_reason reason, const std::string& why, time_point now);
  void mark_ready(child& c, time_point now);
  void rerun(child& c, time_point now);
  void restart_after_failure(child& c, time_point now);
  void end(time_point now);
  void force(child& c, time_point now);
  // Ends a child that has no live attempt (pending, backing off, paused) as stopped.
  void stop_waiting(child& c, time_point now);

  void push_deadline(time_point at, child_id id, std::uint64_t generation, timer_kind kind);
  bool deadline_valid(const deadline& d) const;
  void compact_deadlines();
  // Appends a publish_event for `k` to the action queue and returns its event to fill in; the
  // reference is valid until the next action is queued.
  event& emit_event(event_kind k, const child& c, time_point now);
  event& emit_event(event_kind k, time_point now);

  supervisor_policy policy_;
  std::shared_ptr<const std::string> path_;
  random_source rng_;
  intensity_window intensity_;
  phase phase_ = phase::running;
  bool events_enabled_ = true;
  bool escalating_ = false;  // an intensity breach is ending the supervisor

  std::vector<std::unique_ptr<child>> children_;  // indexed by child_id; null = free
  std::vector<child_id> free_ids_;
  std::unordered_map<std::string_view, child_id> by_name_;  // views into child::name
  child_id first_ = no_child;                               // start-order list
  child_id last_ = no_child;
  std::size_t active_ = 0;  // listed children that are not terminal

  std::uint32_t running_ = 0;          // attempts holding a permit
  std::deque<child_id> permit_queue_;  // first come, first served

  std::vector<deadline> deadlines_;  // min-heap; entries are validated when popped
  std::size_t live_deadlines_hint_ = 0;
  // A FIFO without node churn: taken from actions_head_, reset to empty once drained.
  std::vector<action> actions_;
  std::size_t actions_head_ = 0;

  std::uint64_t generation_ = 0;  // machine-wide, so a reused child_id never matches old timers
  std::uint64_t next_order_ = 0;  // insertion sequence: start order comparisons
  std::uint32_t starting_ = 0;    // children started and waiting for ready()
  std::deque<child_id> startup_queue_;  // first starts held behind a starting child
  struct group_restart {
    bool active = false;
    std::vector<child_id> members;  // in start order
    time_point start_at{};
    // How many members, counted from the newest, are known not live: members stop newest
    // first, so each step resumes here instead of rescanning (a round stays O(members)).
    // Reset whenever members change.
    std::size_t not_live_from_back = 0;
  } group_;
  std::uint32_t dead_count_ = 0;  // children that ended dead, exhausted or quarantined
  std::vector<std::pair<child_id, time_point>> pending_erase_;  // remove_on_exit children
  std::vector<std::string> result_abandoned_;
  std::uint32_t result_dead_ = 0;
  std::uint32_t result_total_ = 0;
  child_id shutdown_cursor_ = no_child;
  exit_reason end_reason_ = exit_reason::shutdown_requested;
  bool grace_exceeded_ = false;
  std::vector<std::string> result_stuck_;
  std::vector<std::string> result_cut_short_;
  std::vector<child_id> turn_queue_;  // parallel shutdown: children to offer their turn
  time_point grace_deadline_ = time_point::max();
  std::optional<supervisor_result> result_;
  std::string cause_path_;
  std::optional<outcome> cause_;
};

}  // namespace vigil::core
