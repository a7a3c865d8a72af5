// A task: what a child runs on every attempt. Today a C++20 coroutine; later threads and
// processes share the same policies.
#pragma once

#include <concepts>
#include <functional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "vigil/runtime/context.hpp"

namespace vigil {

/// A coroutine task returns an outcome (the fast path: `co_return vigil::failure("…")`).
using coroutine_task = std::function<boost::asio::awaitable<outcome>(context)>;
/// A coroutine task that returns nothing reports failure by throwing.
using void_coroutine_task = std::function<boost::asio::awaitable<void>(context)>;

/// The factory a child calls for every attempt; it is invoked afresh each time, so state the
/// task owns resets on restart. Copyable; copies share nothing mutable.
class task {
 public:
  /// An empty task; adding a child with it fails with invalid_argument.
  task() = default;

  /// A coroutine task from a function; being a non-template, it also picks the right overload
  /// of an overloaded name (a task called `poll` next to POSIX ::poll).
  task(boost::asio::awaitable<outcome> (*fn)(context))
      : kind_(task_kind::coroutine), coroutine_(fn) {}
  /// A coroutine task from a function returning nothing (throwing is failure).
  task(boost::asio::awaitable<void> (*fn)(context)) : task(adapt(void_coroutine_task(fn))) {}

  /// A coroutine task from any callable `awaitable<outcome>(context)`.
  template <class F>
  requires std::is_invocable_r_v<boost::asio::awaitable<outcome>, F&, context> task(F f)
      : kind_(task_kind::coroutine), coroutine_(std::move(f)) {}

  /// A coroutine task from any callable `awaitable<void>(context)`: returning is success,
  /// throwing is failure (vigil::fatal_error: fatal).
  template <class F>
  requires(std::is_invocable_r_v<boost::asio::awaitable<void>, F&, context> &&
           !std::is_invocable_r_v<boost::asio::awaitable<outcome>, F&, context>) task(F f)
      : task(adapt(void_coroutine_task(std::move(f)))) {}

  /// What kind of task this is.
  task_kind kind() const noexcept { return kind_; }
  /// False for an empty task.
  explicit operator bool() const noexcept { return static_cast<bool>(coroutine_); }
  /// The coroutine factory (for the runtime).
  const coroutine_task& coroutine() const noexcept { return coroutine_; }

 private:
  static coroutine_task adapt(void_coroutine_task f);
  task_kind kind_ = task_kind::coroutine;
  coroutine_task coroutine_;
};

}  // namespace vigil
