// Internal: the supervisor actor. Its state lives on one strand; every command, completion and
// timer is posted there, fed to the pure core, and the core's actions are performed.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "event_bus.hpp"
#include "hooks_impl.hpp"
#include "one_thread.hpp"
#include "vigil/core/machine.hpp"
#include "vigil/runtime/clock.hpp"
#include "vigil/runtime/handle.hpp"
#include "vigil/runtime/supervisor.hpp"

namespace vigil::detail {

class supervisor_impl;
struct attempt_runner;
class controller_state;

/// What a child keeps across attempts and shares with its attempts' contexts.
struct child_shared {
  std::mutex m;
  std::string status_text;               // guarded by m
  std::uint64_t current_generation = 0;  // guarded by m: only this attempt may set the status
};

/// One attempt, shared by the supervisor and the attempt's context.
struct attempt_state {
  std::weak_ptr<supervisor_impl> sup;
  core::child_id id = core::no_child;
  std::uint64_t generation = 0;
  std::uint32_t attempt = 0;
  std::uint32_t failure_streak = 0;
  std::shared_ptr<const std::string> path;
  std::string_view name;                  // the last element of *path
  boost::asio::any_io_executor executor;  // the child's strand (see child_slot::strand)
  vigil::clock* clk = nullptr;
  std::shared_ptr<child_shared> shared;
  std::stop_source stop;
  boost::asio::cancellation_signal cancel;  // emitted only on `executor`
  std::atomic<std::int64_t> last_beat{0};   // ns since the clock's epoch
  std::atomic<bool> ready_sent{false};
  std::atomic<bool> reap_awaited{false};  // an abandoned process: the end waits for its reaping
  /// What only thread, process and nested attempts use; made by perform(start_attempt) before
  /// such an attempt runs, absent for coroutines (an idle child does not pay for it).
  struct runner_state {
    std::weak_ptr<attempt_runner> runner;  // their stop ladder
    std::shared_ptr<event_bus> bus;        // process attempts publish process_output here
    std::string failure_note;              // nested supervisors: why a declared child was refused
    std::shared_ptr<void> keep_alive;      // nested supervisors: the record owns the subtree
  };
  std::unique_ptr<runner_state> more;
  /// The attempt's runner, if it has one and it is still alive.
  std::shared_ptr<attempt_runner> runner() const { return more ? more->runner.lock() : nullptr; }

  explicit attempt_state(boost::asio::any_io_executor ex) : executor(std::move(ex)) {}
  /// Makes a state no one else holds any more ready for the child's next attempt, on `ex`.
  /// The stop source is kept unless it was requested; the cancellation slot's memory is kept.
  void reset(boost::asio::any_io_executor ex);
};

/// The owner token: its destruction (the last handle and supervisor gone) starts shutdown.
struct owner_token {
  std::shared_ptr<supervisor_impl> impl;
  ~owner_token();
};

class supervisor_impl : public std::enable_shared_from_this<supervisor_impl> {
 public:
  /// A root supervisor (path = its name, its own event bus), or with `path` and `bus` given, a
  /// nested one that publishes to its tree's bus. Call listen() once it is in a shared_ptr.
  supervisor_impl(boost::asio::any_io_executor ex, supervisor_options opts, vigil::clock& clk,
                  std::shared_ptr<const std::string> path = nullptr,
                  std::shared_ptr<event_bus> bus = nullptr);
  /// Follows the bus's subscriber count: events are built only while someone listens.
  void listen();
  /// The tree's event bus.
  const std::shared_ptr<event_bus>& bus() const noexcept { return bus_; }
  ~supervisor_impl();

  // Entry points from handles (any thread). A `name` may be a path "sub/…/child" below this
  // supervisor: the call is handed to the running nested supervisor `sub` (not_found if `sub`
  // is not one).
  /// Adds a declared child (a subtree's own children come this way too).
  void add(child_spec spec, command_reply reply);
  /// Adds a child at run time into the nested supervisor at path `into` (empty: this one).
  /// until::running: `reply` waits until the first attempt runs (see handle::add).
  void add(std::string into, child_spec spec, until u, command_reply reply);
  void command(command c, std::string name, command_reply reply, until u = until::scheduled);
  void status(std::string name, info_reply reply);
  /// The child's effective specification (handle::spec).
  void spec(std::string name, spec_reply reply);
  void children(list_reply reply);
  /// Every child of this supervisor and, after each nested supervisor, its own tree.
  void tree(std::function<void(std::vector<core::child_info>)> done);
  void outcome(std::string name, final_reply reply);
  /// Publishes an event made outside the machine (the controller's), stamped with this
  /// supervisor's clock, when anyone subscribes. Thread-safe.
  void publish_external(core::event e);
  /// Adds every child of `specs` or none (§13.10: checked as a whole first); each `watch[i]`
  /// then resolves with child i's final result. On refusal, `reply` gets the error and no
  /// watch is called.
  void add_all(std::vector<child_spec> specs, command_reply reply, std::vector<final_reply> watch);
  /// Registers a controller admitting into this supervisor: a stop or remove of a name this
  /// supervisor does not list is offered to it, as it may hold the name queued (§13.22).
  /// Thread-safe; held weakly. Defined in controller.cpp.
  void attach_controller(std::weak_ptr<controller_state> c);
  void wait(wait_reply reply);
  void shutdown();
  subscription subscribe(event_handler fn, subscriber_options opts);

  // Entry points from attempts (any thread).
  void attempt_ended(const std::shared_ptr<attempt_state>& st, core::outcome o);
  /// A coroutine attempt's completion (on its strand): handled at once when the strand is free.
  void coroutine_ended(core::child_id id, std::uint64_t gen, core::outcome&& o);
  void attempt_ready(const std::shared_ptr<attempt_state>& st);

  bool running_in_executor_thread() const;
  const boost::asio::any_io_executor& executor() const noexcept { return pool_; }
  const std::string& path() const noexcept { return *path_; }
  vigil::clock& clock() const noexcept { return clock_; }

 private:
  struct child_slot {
    vigil::task task;
    std::shared_ptr<child_shared> shared;
    std::shared_ptr<attempt_state> attempt;
    std::vector<final_reply> outcome_waiters;
    std::shared_ptr<const child_hooks> hooks;  // null: no hooks (§11)
    // The strand every attempt of this child runs on, made once (not per attempt) and renewed
    // only after an abandoned attempt, which may still be running on the old one.
    boost::asio::any_io_executor strand;
    // add()/start() with until::running: resolved once the current attempt runs (is ready),
    // or with start_failed when it ends before that.
    std::vector<command_reply> start_waiters;
    // Added through a handle at run time (not declared): a nested supervisor reports such
    // children with child_removed when it ends, since its next attempt will not re-create
    // them (§13.7).
    bool added_at_run_time = false;
  };
  /// A new strand of pool_, concrete when pool_ is an io_context's executor; pool_ itself on a
  /// one-thread executor.
  boost::asio::any_io_executor make_strand() const;
  /// The strand for a child's attempts: one of at most child_strands strands, handed out in
  /// turn (made on first use), so a child costs no strand of its own.
  boost::asio::any_io_executor next_child_strand();
  static constexpr std::size_t child_strands = 64;

  /// A child checked by the runtime and ready for the machine: its resolved policy, its task
  /// (wrapped for on_start/on_restart) and its hooks.
  struct prepared_child {
    std::shared_ptr<const core::child_policy> policy;
    vigil::task task;
    std::shared_ptr<child_hooks> hooks;
  };
  /// The runtime-only checks of `spec` (a task, hook kinds) and its policy; on refusal sets
  /// `ec` and `message` (naming the child) and returns nothing. Moves the task and hooks out.
  std::optional<prepared_child> prepare(child_spec& spec, std::error_code& ec,
                                        std::string& message);
  /// Fills the slot of a child the machine has just accepted as `id`.
  void install(core::child_id id, prepared_child&& p, std::optional<final_reply> watch);
  void add_now(child_spec spec, command_reply r, until u = until::scheduled,
               bool at_run_time = false);
  // Hooks (§11), all run off the strand on the child's hook strand.
  // Path addressing: the running nested supervisor that is child `head`, or null.
  std::shared_ptr<supervisor_impl> nested_child(std::string_view head) const;
  // For a path "sub/rest", calls forward(nested `sub`, "rest") or, when `sub` is no running
  // subtree, missing(message); returns false for a plain name (the caller handles it here).
  template <class Forward, class Missing>
  bool routed(const std::string& name, Forward&& forward, Missing&& missing) const;
  // routed() for a query: a path goes to the nested supervisor's `call`; one whose subtree is
  // not running is answered not_found with an empty T.
  template <class T, class Reply>
  bool routed_query(const std::string& name, Reply& r,
                    void (supervisor_impl::*call)(std::string, Reply));
  // until::running waiters of child `id`: all resolved with `ec` and `message`.
  void resolve_start_waiters(core::child_id id, std::error_code ec, const std::string& message);
  // Posted after an attempt was started: its waiters resolve if it is still the running one.
  void confirm_started(core::child_id id, std::uint64_t gen);
  void report_run_time_children_removed();
  void after_exit(core::child_id id);
  void hook_job_done();

  void run_command(detail::command c, const std::string& name, command_reply r, until u);
  /// A stop or remove the machine answered not_found (`res`): offered to the attached
  /// controllers; `r` gets their answer, else `res`. On strand_; defined in controller.cpp.
  void ask_controllers(detail::command c, const std::string& name, core::command_result res,
                       command_reply r);
  void exit_now(core::child_id id, std::uint64_t gen, core::outcome&& o);
  void pump();
  void perform(core::start_attempt& a);
  void perform(core::stop_attempt& a);
  void perform(core::abandon_attempt& a);
  void perform(core::check_heartbeat& a);
  void perform(core::publish_event& a);
  void perform(core::child_finished& a);
  void perform(core::child_erased& a);
  void perform(core::command_done& a);
  void perform(core::supervisor_ended& a);
  void perform(core::run_setup& a);
  void perform(core::ask_should_restart& a);
  void perform(core::run_shutdown_hook& a);
  void arm_timer();
  void on_timer(const std::shared_ptr<boost::asio::cancellation_signal>& sig);
  void cancel_timer();
  void finish_after_drain();
  void complete_wait();
  core::child_info info_of(core::child_id id);
  template <class Reply, class... Args>
  void reply(Reply r, Args&&... args);

  boost::asio::any_io_executor pool_;
  bool one_thread_;  // pool_ runs on one thread only: strand_ and the child strands are pool_
  bool nested_;      // a subtree's supervisor (a path was given)
  // A strand of pool_; concrete (io_context) strands fit in any_io_executor's small buffer.
  boost::asio::any_io_executor strand_;
  vigil::clock& clock_;
  supervisor_options opts_;
  std::shared_ptr<const std::string> path_;
  std::shared_ptr<const core::child_policy> default_policy_;
  core::supervisor_machine machine_;
  std::shared_ptr<event_bus> bus_;

  // Everything below is touched only on strand_.
  // A deque: a slot never moves, so a coroutine lambda's captures (inside slot.task) stay put
  // while its attempts run, however many children are added after it.
  std::deque<child_slot> slots_;
  std::vector<boost::asio::any_io_executor> child_strands_;  // see next_child_strand()
  std::size_t next_strand_ = 0;
  std::unordered_map<std::uint64_t, command_reply> pending_;
  std::uint64_t next_token_ = 1;
  std::optional<core::time_point> armed_;
  std::shared_ptr<boost::asio::cancellation_signal> timer_cancel_;
  std::vector<wait_reply> waiters_;
  bool pumping_ = false;  // inside pump(): an exit arriving now must not re-enter it
  bool drained_ = false;
  bool draining_ = false;
  bool drain_ready_ = false;  // subscribers drained (or their deadline passed)
  // cleanup and on_shutdown hooks and the reaping of abandoned processes: the end waits for them
  std::uint32_t hook_jobs_ = 0;

  std::mutex controllers_m_;
  std::vector<std::weak_ptr<controller_state>> controllers_;  // guarded by controllers_m_
};

// ---- member templates used by the supervisor's source files ----

template <class Reply, class... Args>
void supervisor_impl::reply(Reply r, Args&&... args) {
  // Handlers never run inline: post through the pool, which hands the handler on to its own
  // associated executor when it has one.
  boost::asio::post(pool_, boost::asio::append(std::move(r), std::forward<Args>(args)...));
}

template <class Forward, class Missing>
bool supervisor_impl::routed(const std::string& name, Forward&& forward, Missing&& missing) const {
  const auto slash = name.find('/');
  if (slash == std::string::npos) return false;
  const std::string_view head = std::string_view(name).substr(0, slash);
  if (auto n = nested_child(head)) {
    forward(n, name.substr(slash + 1));
    return true;
  }
  const core::child_id id = machine_.find(head);
  missing("'" + name + "': " + *path_ + "/" + std::string(head) +
          (id == core::no_child ? " does not exist" : " is not a running nested supervisor"));
  return true;
}

template <class T, class Reply>
bool supervisor_impl::routed_query(const std::string& name, Reply& r,
                                   void (supervisor_impl::*call)(std::string, Reply)) {
  return routed(
      name,
      [&](const std::shared_ptr<supervisor_impl>& n, std::string rest) {
        ((*n).*call)(std::move(rest), std::move(r));
      },
      [&](std::string) { reply(std::move(r), make_error_code(errc::not_found), T{}); });
}

}  // namespace vigil::detail
