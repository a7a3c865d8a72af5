// Lifecycle hooks of a child (SEMANTICS §11): a callable that is either a plain function or a
// coroutine, held in a child_spec. The runtime runs them; see docs/hooks-and-admission.md.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "vigil/runtime/types.hpp"

namespace vigil {

/// What happens to a child once it is terminal (§13.8).
enum class retention : std::uint8_t {
  keep,            ///< stays listed with its final result until remove(name) (the default)
  remove_on_exit,  ///< deleted once terminal; its outcome waiters still resolve
};

template <class Signature>
class hook;

/// One hook: a plain function `R(Args...)` or a coroutine `awaitable<R>(Args...)`, chosen at
/// compile time from the callable's return type. Empty by default (no hook). Copyable; the
/// runtime calls it, never concurrently with another hook of the same child.
template <class R, class... Args>
class hook<R(Args...)> {
 public:
  using sync_fn = std::function<R(Args...)>;
  using async_fn = std::function<boost::asio::awaitable<R>(Args...)>;

  /// No hook.
  hook() = default;
  hook(std::nullptr_t) {}
  /// A plain function; it runs on a thread of the supervisor's executor (off its strand).
  template <class F>
  requires(std::is_invocable_r_v<R, F&, Args...> &&
           !std::is_invocable_r_v<boost::asio::awaitable<R>, F&, Args...> &&
           !std::is_same_v<std::remove_cvref_t<F>, hook>) hook(F f)
      : sync_(std::move(f)) {}
  /// A coroutine; it is awaited on a strand of the supervisor's executor.
  template <class F>
  requires(std::is_invocable_r_v<boost::asio::awaitable<R>, F&, Args...> &&
           !std::is_same_v<std::remove_cvref_t<F>, hook>) hook(F f)
      : async_(std::move(f)) {}

  /// True when a hook is set.
  explicit operator bool() const noexcept {
    return static_cast<bool>(sync_) || static_cast<bool>(async_);
  }
  /// The plain form (for the runtime); empty for a coroutine hook.
  const sync_fn& sync() const noexcept { return sync_; }
  /// The coroutine form (for the runtime); empty for a plain hook.
  const async_fn& async() const noexcept { return async_; }

 private:
  sync_fn sync_;
  async_fn async_;
};

}  // namespace vigil
