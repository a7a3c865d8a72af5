// vigil::handle: a cheap, copyable, thread-safe reference to a running supervisor.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>

#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/detail/handle_plumbing.hpp"
#include "vigil/runtime/diagnostics.hpp"
#include "vigil/runtime/subscription.hpp"
#include "vigil/runtime/types.hpp"
#include "vigil/runtime/until.hpp"

namespace vigil {

class controller;

/// A reference to a supervisor. Copies are cheap; the supervisor shuts down gracefully when the
/// last handle (and the owning vigil::supervisor) is gone. Every member is thread-safe.
///
/// Each operation comes in two forms. The blocking form (`add`, `stop`, …) throws vigil::error
/// and fails at once with errc::would_deadlock when called from a thread that is running the
/// supervisor's executor. The asynchronous form (`async_add`, …) takes an Asio completion token
/// (callback, use_awaitable, use_future, …) with a signature `void(std::error_code[, T])`:
/// errors arrive as a value, never thrown; the handler runs on its associated executor (by
/// default the supervisor's), never inline; operations are not cancellable once sent. The
/// commands (add, stop, start, restart, remove, pause, resume) also take a vigil::diagnostics
/// before the token, which receives the failure's message (see diagnostics.hpp).
///
/// Calls that name a child accept a path below this supervisor as well: "db/pool-3" is child
/// `pool-3` of the running nested supervisor `db` (a vigil::subtree child), at any depth. A path
/// whose subtree is not running completes with not_found.
class handle {
 public:
  /// An empty handle: calls throw vigil::error(supervisor_gone), async forms included;
  /// shutdown() does nothing, path() is empty.
  handle() = default;

  /// Adds a child and schedules its first attempt; with until::running, completes once that
  /// attempt runs (or is ready) instead. Errors: invalid_argument (name, empty task, bad
  /// policy), already_exists, too_many_children, shutting_down; start_failed (until::running).
  void add(child_spec spec, until u = until::scheduled) const;
  template <class CompletionToken>
  auto async_add(child_spec spec, CompletionToken&& token) const {
    return async_add_(std::move(spec), until::scheduled, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_add that also puts the failure's message (naming the bad field, the clashing name,
  /// …) into `diag`, which must outlive the operation.
  template <class CompletionToken>
  auto async_add(child_spec spec, diagnostics& diag, CompletionToken&& token) const {
    return async_add_(std::move(spec), until::scheduled, &diag,
                      std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_add(child_spec spec, until u, CompletionToken&& token) const {
    return async_add_(std::move(spec), u, nullptr, std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_add(child_spec spec, until u, diagnostics& diag, CompletionToken&& token) const {
    return async_add_(std::move(spec), u, &diag, std::forward<CompletionToken>(token));
  }

  /// Adds a child at run time to the running nested supervisor at `subtree` (a path below this
  /// supervisor, e.g. "db" or "db/pools"), as add() does. Such a child lives as long as that
  /// nested supervisor's attempt: when the subtree restarts, only its declared children come
  /// back (OTP's rule), and each child added at run time is reported with child_removed.
  /// Errors: as add(), and not_found when `subtree` is not a running nested supervisor.
  void add_to(std::string_view subtree, child_spec spec, until u = until::scheduled) const;
  template <class CompletionToken>
  auto async_add_to(std::string_view subtree, child_spec spec, CompletionToken&& token) const {
    return async_add_to(subtree, std::move(spec), until::scheduled,
                        std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_add_to(std::string_view subtree, child_spec spec, until u,
                    CompletionToken&& token) const {
    std::string who = std::string(subtree) + "/" + spec.name;
    return async_command_(
        [u](const auto& impl, std::string into, child_spec s, detail::command_reply r) {
          detail::send_add(impl, std::move(s), std::move(r), u, std::move(into));
        },
        "add_to", nullptr, std::forward<CompletionToken>(token), std::move(who),
        std::string(subtree), std::move(spec));
  }

  /// Adds every child of `children` in one hand-off — or none: the list is checked as a whole
  /// first (§13.10; a name twice in the list is already_exists) — and schedules their first
  /// attempts in list order. The fast way to add many children. Errors: as add(), for the first
  /// problem found; nothing was added then.
  void add(std::vector<child_spec> children) const;
  template <class CompletionToken>
  auto async_add(std::vector<child_spec> children, CompletionToken&& token) const {
    return async_add_all_(std::move(children), nullptr, std::forward<CompletionToken>(token));
  }
  /// async_add of a list that also puts the failure's message into `diag`, which must outlive
  /// the operation.
  template <class CompletionToken>
  auto async_add(std::vector<child_spec> children, diagnostics& diag,
                 CompletionToken&& token) const {
    return async_add_all_(std::move(children), &diag, std::forward<CompletionToken>(token));
  }

  /// Stops a child and keeps it listed (status stopped); completes when it has ended. A no-op on
  /// a terminal child. Errors: not_found, shutting_down.
  void stop(std::string_view name) const;
  template <class CompletionToken>
  auto async_stop(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::stop, "stop", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_stop that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_stop(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::stop, "stop", name, &diag,
                      std::forward<CompletionToken>(token));
  }
  /// Starts a stopped or terminal child with a fresh failure streak; with until::running,
  /// completes once the new attempt runs (or is ready). Errors: not_found, already_running,
  /// shutting_down; start_failed (until::running).
  void start(std::string_view name, until u = until::scheduled) const;
  template <class CompletionToken>
  auto async_start(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::start, "start", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_start that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_start(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::start, "start", name, &diag,
                      std::forward<CompletionToken>(token));
  }
  template <class CompletionToken>
  auto async_start(std::string_view name, until u, CompletionToken&& token) const {
    return async_command_(
        [u](const auto& impl, std::string n, detail::command_reply r) {
          detail::send_command(impl, detail::command::start, std::move(n), std::move(r), u);
        },
        "start", nullptr, std::forward<CompletionToken>(token), std::string(), std::string(name));
  }
  /// Stops the child if it runs, then starts one new attempt now (during back-off: one attempt
  /// now). Manual restarts do not count against the intensity. Errors: not_found, shutting_down.
  void restart(std::string_view name) const;
  template <class CompletionToken>
  auto async_restart(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::restart, "restart", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_restart that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_restart(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::restart, "restart", name, &diag,
                      std::forward<CompletionToken>(token));
  }
  /// Stops the child and deletes it; completes once the name is free. Errors: not_found,
  /// shutting_down.
  void remove(std::string_view name) const;
  template <class CompletionToken>
  auto async_remove(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::remove, "remove", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_remove that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_remove(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::remove, "remove", name, &diag,
                      std::forward<CompletionToken>(token));
  }
  /// Holds back automatic restarts of the child until resume(); a live attempt keeps running.
  void pause(std::string_view name) const;
  template <class CompletionToken>
  auto async_pause(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::pause, "pause", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_pause that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_pause(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::pause, "pause", name, &diag,
                      std::forward<CompletionToken>(token));
  }
  /// Lifts pause(); a restart that was held back happens now.
  void resume(std::string_view name) const;
  template <class CompletionToken>
  auto async_resume(std::string_view name, CompletionToken&& token) const {
    return async_cmd_(detail::command::resume, "resume", name, nullptr,
                      std::forward<CompletionToken>(token));
  }
  /// async_resume that also puts the failure's message into `diag` (must outlive the operation).
  template <class CompletionToken>
  auto async_resume(std::string_view name, diagnostics& diag, CompletionToken&& token) const {
    return async_cmd_(detail::command::resume, "resume", name, &diag,
                      std::forward<CompletionToken>(token));
  }

  /// A snapshot of one child. Errors: not_found.
  child_info status(std::string_view name) const;
  template <class CompletionToken>
  auto async_status(std::string_view name, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, child_info)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::string n) {
          detail::send_status(impl, std::move(n), std::move(h));
        },
        token, impl_, std::string(name));
  }
  /// The child's specification exactly as the supervisor applies it: every policy default
  /// resolved (child_defaults, then vigil's; a nested supervisor's shutdown is infinity), its
  /// kind and dependencies (OTP's get_childspec). Errors: not_found.
  effective_spec spec(std::string_view name) const;
  template <class CompletionToken>
  auto async_spec(std::string_view name, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, effective_spec)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::string n) {
          detail::send_spec(impl, std::move(n), std::move(h));
        },
        token, impl_, std::string(name));
  }
  /// Snapshots of every listed child, in start order (terminal children included).
  std::vector<child_info> children() const;
  template <class CompletionToken>
  auto async_children(CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::vector<child_info>)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl) {
          detail::send_children(impl, std::move(h));
        },
        token, impl_);
  }
  /// Snapshots of the whole tree: every child in start order, each nested supervisor followed
  /// by its own children (paths tell the levels apart).
  std::vector<child_info> tree() const;
  template <class CompletionToken>
  auto async_tree(CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::vector<child_info>)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl) {
          detail::send_tree(impl, std::move(h));
        },
        token, impl_);
  }
  /// Waits until the child is terminal and returns its final result; resolves even when events
  /// were dropped. Errors: not_found, supervisor_gone.
  final_result outcome(std::string_view name) const;
  template <class CompletionToken>
  auto async_outcome(std::string_view name, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, final_result)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::string n) {
          detail::send_outcome(impl, std::move(n), std::move(h));
        },
        token, impl_, std::string(name));
  }

  /// Adds every child of `children` — or none: a duplicated, invalid or already listed name,
  /// an empty task, a bad policy or an unknown dependency rejects the whole list before any
  /// task starts (§13.10) — then waits until every one of them is terminal. Returns their final
  /// results in list order. Errors: invalid_argument, already_exists, unknown_dependency,
  /// too_many_children, shutting_down (all before anything was added), supervisor_gone.
  std::vector<final_result> run(std::vector<child_spec> children) const;
  template <class CompletionToken>
  auto async_run(std::vector<child_spec> children, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::vector<final_result>)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::vector<child_spec> c) {
          detail::send_run(impl, std::move(c), std::move(h));
        },
        token, impl_, std::move(children));
  }
  /// Waits until every named child is terminal; their final results in `names` order. Completes
  /// at once with not_found if a name is not listed. An empty list completes at once.
  std::vector<final_result> wait_all(std::vector<std::string> names) const;
  template <class CompletionToken>
  auto async_wait_all(std::vector<std::string> names, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::vector<final_result>)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::vector<std::string> n) {
          detail::send_wait_all(impl, std::move(n), std::move(h));
        },
        token, impl_, std::move(names));
  }
  /// Waits until the first of the named children is terminal: its name and final result (a
  /// child already terminal wins at once). A name that is not listed completes at once with
  /// not_found and that name; an empty list with invalid_argument.
  std::pair<std::string, final_result> wait_any(std::vector<std::string> names) const;
  template <class CompletionToken>
  auto async_wait_any(std::vector<std::string> names, CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::string, final_result)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::vector<std::string> n) {
          detail::send_wait_any(impl, std::move(n), std::move(h));
        },
        token, impl_, std::move(names));
  }

  /// Delivers every event of this supervisor to `fn` until the subscription is destroyed.
  subscription subscribe(event_handler fn, subscriber_options options = {}) const;

  /// Starts the graceful shutdown (§8) and returns at once. Idempotent.
  void shutdown() const;
  /// Blocks until the supervisor has ended (and subscribers drained); every caller gets the
  /// same result.
  supervisor_result wait() const;
  /// Like wait(), but gives up after `d` (returning nothing); never shortens the shutdown.
  std::optional<supervisor_result> wait_for(duration d) const;
  template <class CompletionToken>
  auto async_wait(CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code, supervisor_result)>(
        [](auto h, std::shared_ptr<detail::supervisor_impl> impl) {
          detail::send_wait(impl, std::move(h));
        },
        token, impl_);
  }

  /// The supervisor's path (its name for a root), e.g. "root".
  const std::string& path() const;
  /// The executor the supervisor's tasks and handlers run on.
  boost::asio::any_io_executor get_executor() const;
  /// False for an empty handle.
  explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

 protected:
  handle(std::shared_ptr<detail::supervisor_impl> impl, std::shared_ptr<detail::owner_token> o)
      : impl_(std::move(impl)), owner_(std::move(o)) {}

  std::shared_ptr<detail::supervisor_impl> impl_;
  std::shared_ptr<detail::owner_token> owner_;

 private:
  friend class controller;
  // Every command: `send` posts it with a command_reply; the handler gets the error code, and
  // `diag` (when given) the failure's text. The initiation captures only trivially destructible
  // values (see context::sleep: GCC 12 destroys a non-trivial capture twice under
  // use_awaitable); the child's name for the diagnostics travels as an argument.
  template <class Send, class CompletionToken, class... Args>
  auto async_command_(Send send, const char* call, diagnostics* diag, CompletionToken&& token,
                      std::string who, Args&&... args) const {
    if (diag != nullptr) diag->clear();
    return boost::asio::async_initiate<CompletionToken, void(std::error_code)>(
        [send, call, diag](auto h, std::shared_ptr<detail::supervisor_impl> impl, std::string w,
                           auto&&... a) {
          auto fallback = impl ? detail::executor_of(impl) : boost::asio::any_io_executor();
          if (diag != nullptr) {
            send(impl, std::forward<decltype(a)>(a)...,
                 detail::with_diagnostics(std::move(h), fallback, *diag, call, std::move(w)));
          } else {
            send(impl, std::forward<decltype(a)>(a)..., detail::error_only(std::move(h), fallback));
          }
        },
        token, impl_, std::move(who), std::forward<Args>(args)...);
  }
  template <class CompletionToken>
  auto async_add_(child_spec spec, until u, diagnostics* diag, CompletionToken&& token) const {
    std::string who = diag != nullptr ? spec.name : std::string();
    return async_command_(
        [u](const auto& impl, child_spec s, detail::command_reply r) {
          detail::send_add(impl, std::move(s), std::move(r), u);
        },
        "add", diag, std::forward<CompletionToken>(token), std::move(who), std::move(spec));
  }
  template <class CompletionToken>
  auto async_add_all_(std::vector<child_spec> children, diagnostics* diag,
                      CompletionToken&& token) const {
    return async_command_(
        [](const auto& impl, std::vector<child_spec> c, detail::command_reply r) {
          detail::send_add_all(impl, std::move(c), std::move(r));
        },
        "add", diag, std::forward<CompletionToken>(token), std::string(), std::move(children));
  }
  template <class CompletionToken>
  auto async_cmd_(detail::command c, const char* call, std::string_view name, diagnostics* diag,
                  CompletionToken&& token) const {
    return async_command_(
        [c](const auto& impl, std::string n, detail::command_reply r) {
          detail::send_command(impl, c, std::move(n), std::move(r));
        },
        call, diag, std::forward<CompletionToken>(token),
        diag != nullptr ? std::string(name) : std::string(), std::string(name));
  }
};

}  // namespace vigil
