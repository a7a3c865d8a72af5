// A task: what a child runs on every attempt. Three kinds share every policy: a C++20 coroutine,
// a blocking function on its own thread (vigil::thread) and a child process (vigil::process).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "vigil/runtime/context.hpp"

namespace vigil {

struct subtree;  // a nested supervisor as a task (supervisor.hpp)

/// A coroutine task returns an outcome (the fast path: `co_return vigil::failure("…")`).
using coroutine_task = std::function<boost::asio::awaitable<outcome>(context)>;
/// A coroutine task that returns nothing reports failure by throwing.
using void_coroutine_task = std::function<boost::asio::awaitable<void>(context)>;
/// A thread task: a blocking function run on its own std::jthread for each attempt. It should
/// watch `ctx.stop_token()` and return soon after a stop is requested.
using thread_task = std::function<outcome(context)>;

/// Whether a child process starts from vigil's own environment.
enum class env_mode : std::uint8_t {
  inherit,  ///< vigil's environment (without NOTIFY_SOCKET), then `env` on top (the default)
  replace,  ///< only the variables in `env`
};

/// What happens to a child process's stdout and stderr.
enum class output : std::uint8_t {
  capture,      ///< read line by line and published as process_output events (the default)
  passthrough,  ///< the child writes straight to vigil's own stdout and stderr
  both,         ///< captured as events and copied to vigil's stdout and stderr
  discard,      ///< /dev/null
};

/// How to run a child process; fill with designated initialisers in declaration order:
/// `{.argv = {"/usr/bin/worker", "--fast"}, .cwd = "/srv"}`.
struct process_options {
  /// The program and its arguments; never run through a shell. A program name without '/' is
  /// searched in vigil's PATH. Must not be empty.
  std::vector<std::string> argv;
  /// Variables to set in the child ("NAME" → "value"); they override inherited ones.
  std::map<std::string, std::string> env;
  /// inherit (default): vigil's environment plus `env`; replace: `env` only.
  vigil::env_mode env_mode = vigil::env_mode::inherit;
  /// The working directory; empty: vigil's own.
  std::string cwd;
  /// Exit codes mapped to other outcomes, like systemd's RestartPreventExitStatus:
  /// `{{78, vigil::outcome_kind::fatal}}` ends the child as dead on exit code 78. Unmapped
  /// codes give outcome `exited` (0 is success).
  std::map<int, outcome_kind> exit_codes;
  /// stdout and stderr handling; default capture.
  vigil::output output = vigil::output::capture;
  /// Captured lines longer than this many bytes are split (at a UTF-8 character boundary).
  std::size_t max_line = 4096;
  /// The systemd notify protocol: when true, vigil passes NOTIFY_SOCKET to the child and reads
  /// READY=1 (ready), WATCHDOG=1 (heartbeat) and STATUS=… (status text) from it.
  bool notify = false;
};

/// What a child runs on every attempt. Every attempt, of every kind, starts from the task as
/// it was added (SEMANTICS §13.27): a coroutine callable that holds state (mutable captures,
/// members) is copied for each attempt, and that copy lives as long as the attempt's coroutine;
/// a thread task's callable is copied per attempt too. State meant to survive restarts is
/// shared explicitly (a pointer, an atomic). A function pointer or an empty callable (a lambda
/// without captures) is not copied: it costs nothing per attempt. Copyable; copies share nothing
/// mutable.
class task {
 public:
  /// An empty task; adding a child with it fails with invalid_argument.
  task() = default;

  /// A coroutine task from a function; being a non-template, it also picks the right overload
  /// of an overloaded name (a task called `poll` next to POSIX ::poll).
  task(boost::asio::awaitable<outcome> (*fn)(context))
      : kind_(task_kind::coroutine), body_(coroutine_task(fn)) {}
  /// A coroutine task from a function returning nothing (throwing is failure).
  task(boost::asio::awaitable<void> (*fn)(context))
      : kind_(task_kind::coroutine), body_(each_void_attempt(fn)) {}

  /// A coroutine task from any callable `awaitable<outcome>(context)`; a stateful one runs each
  /// attempt on its own copy.
  template <class F>
  requires std::is_invocable_r_v<boost::asio::awaitable<outcome>, F&, context> task(F f)
      : kind_(task_kind::coroutine), body_(each_attempt(std::move(f))) {}

  /// A coroutine task from any callable `awaitable<void>(context)`: returning is success,
  /// throwing is failure (vigil::fatal_error: fatal). Each attempt runs on its own copy.
  template <class F>
  requires(std::is_invocable_r_v<boost::asio::awaitable<void>, F&, context> &&
           !std::is_invocable_r_v<boost::asio::awaitable<outcome>, F&, context>) task(F f)
      : kind_(task_kind::coroutine), body_(each_void_attempt(std::move(f))) {}

  /// A nested supervisor: each attempt runs a fresh supervisor with the declared children,
  /// named after the child; it ends when that supervisor ends (see vigil::subtree).
  task(const subtree& tree);

  /// What kind of task this is.
  task_kind kind() const noexcept { return kind_; }
  /// False for an empty task.
  explicit operator bool() const noexcept {
    return std::visit([](const auto& b) { return has(b); }, body_);
  }
  /// The coroutine factory (for the runtime); empty unless kind() is coroutine.
  const coroutine_task& coroutine() const noexcept { return get<coroutine_task>(); }
  /// The thread body (for the runtime); empty unless kind() is thread.
  const thread_task& thread_body() const noexcept { return get<thread_task>(); }
  /// The process options (for the runtime); null unless kind() is process.
  const std::shared_ptr<const process_options>& process_spec() const noexcept {
    return get<std::shared_ptr<const process_options>>();
  }
  /// The nested supervisor's declaration (kind supervisor), else null.
  const std::shared_ptr<const subtree>& subtree_spec() const noexcept {
    return get<std::shared_ptr<const subtree>>();
  }

 private:
  friend task make_thread_task(thread_task fn);
  friend task process(process_options options);
  // One attempt on its own copy `f` of a stateful callable: the frame owns the copy, so what a
  // coroutine lambda captured (its frame reaches it through `this`) lives as long as the attempt.
  template <class F>
  static boost::asio::awaitable<outcome> run_copy(F f, context ctx) {
    // Named first: GCC 12 mishandles temporaries built inside a co_await expression.
    auto aw = std::invoke(f, std::move(ctx));
    co_return co_await std::move(aw);
  }
  // The same for a task returning nothing: returning is success.
  template <class F>
  static boost::asio::awaitable<outcome> run_void_copy(F f, context ctx) {
    auto aw = std::invoke(f, std::move(ctx));
    co_await std::move(aw);
    co_return success();
  }
  // Decided where F is known: an empty callable has no state to reset and is called in place;
  // any other is copied into each attempt's frame (one more coroutine frame per attempt).
  template <class F>
  static coroutine_task each_attempt(F f) {
    if constexpr (std::is_empty_v<F>) {
      return coroutine_task(std::move(f));
    } else {
      if (is_null(f)) return {};
      return [f = std::move(f)](context ctx) { return run_copy(f, std::move(ctx)); };
    }
  }
  // A void task needs a frame of its own anyway (to return success): the copy rides in it.
  template <class F>
  static coroutine_task each_void_attempt(F f) {
    if (is_null(f)) return {};
    return [f = std::move(f)](context ctx) { return run_void_copy(f, std::move(ctx)); };
  }
  template <class F>
  struct is_std_function : std::false_type {};
  template <class R>
  struct is_std_function<std::function<R(context)>> : std::true_type {};
  // An empty std::function or a null function pointer makes an empty task.
  template <class F>
  static bool is_null(const F& f) noexcept {
    if constexpr (std::is_pointer_v<F>) {
      return f == nullptr;
    } else if constexpr (is_std_function<F>::value) {
      return !f;
    } else {
      return false;
    }
  }
  static bool has(std::monostate) noexcept { return false; }
  template <class T>
  static bool has(const T& b) noexcept {
    return static_cast<bool>(b);
  }
  // The alternative T, or an empty one: one body per task, so a child pays for one callable.
  template <class T>
  const T& get() const noexcept {
    static const T none{};
    const T* p = std::get_if<T>(&body_);
    return p != nullptr ? *p : none;
  }
  task_kind kind_ = task_kind::coroutine;
  std::variant<std::monostate, coroutine_task, thread_task, std::shared_ptr<const process_options>,
               std::shared_ptr<const subtree>>
      body_;
};

/// A thread task from a `thread_task`; vigil::thread() is the usual spelling.
task make_thread_task(thread_task fn);

/// A task whose every attempt runs `fn(ctx)` on its own std::jthread (exactly one thread per
/// attempt). `fn` returns a vigil::outcome, or nothing (returning is success); an exception is
/// failure{what()} and vigil::fatal_error is fatal. A stop requests `ctx.stop_token()`; a thread
/// that ignores it past the child's shutdown timeout is abandoned: reported (stop_timed_out,
/// status text "abandoned …"), never awaited again, and left to finish on its own.
template <class F>
requires(std::is_invocable_r_v<outcome, F&, context> || std::is_invocable_v<F&, context>) task
    thread(F fn) {
  if constexpr (std::is_void_v<std::invoke_result_t<F&, context>>) {
    return make_thread_task([fn = std::move(fn)](context ctx) mutable {
      fn(std::move(ctx));
      return success();
    });
  } else {
    return make_thread_task(thread_task(std::move(fn)));
  }
}

/// A task whose every attempt spawns a child process in its own process group. Outcomes:
/// `exited{code}` (0 is success; see exit_codes), `signalled{signal}`, or failure when it cannot
/// be spawned (the reason names the program and the errno text). A stop sends SIGTERM to the
/// process group, the shutdown timeout SIGKILL; every process is reaped. Throws
/// vigil::error(invalid_argument) for an empty argv.
task process(process_options options);

}  // namespace vigil
