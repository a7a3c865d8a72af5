// vigil::task_object: a child from a task class whose hook members (setup, on_start, …) are
// detected at compile time. Only the detection lives here; hooks run as any spec's hooks.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>

#include <boost/asio/awaitable.hpp>

#include "vigil/runtime/child_spec.hpp"

namespace vigil {

/// A task class: copyable, with a coroutine `run(context)` returning awaitable<outcome> or
/// awaitable<void>.
template <class T>
concept task_class = std::copy_constructible<T> &&(
    requires(T& t, context c) {
      { t.run(c) } -> std::same_as<boost::asio::awaitable<outcome>>;
    } ||
    requires(T & t, context c) {
      { t.run(c) } -> std::same_as<boost::asio::awaitable<void>>;
    });

namespace detail {
/// Runs `run` on the object it holds. vigil::task copies a stateful callable into every attempt
/// (§13.27), so each attempt runs on a fresh copy of the object; an empty class is not copied.
template <class T>
struct object_runner {
  [[no_unique_address]] T object;
  auto operator()(context ctx) { return object.run(std::move(ctx)); }
};
}  // namespace detail

/// `spec` with its task and hooks taken from `prototype`: every attempt runs `run(ctx)` on a
/// fresh copy of `prototype` (state resets on restart, §1); the hook members it has — any of
/// `setup()`, `on_start(std::uint32_t)`, `on_restart(std::uint32_t)`,
/// `on_failure(const vigil::outcome&)`, `should_restart(const vigil::outcome&)`, `cleanup()`,
/// `on_shutdown()`, each a plain function or a coroutine — become the spec's hooks, unless the
/// spec already sets that hook. The hooks share one more copy of `prototype`, which lives as
/// long as the child; they never run at the same time as each other, but on_start/on_restart
/// run inside attempts, concurrently with on_failure of the previous attempt: share state
/// between them through atomics or a lock.
/// `h.add(vigil::task_object({.name = "indexer", .restart = vigil::restart::always}, indexer{}))`
template <task_class T>
child_spec task_object(child_spec spec, T prototype) {
  auto o = std::make_shared<T>(prototype);
  spec.task = task(detail::object_runner<T>{std::move(prototype)});
  if constexpr (requires(T & t) { t.setup(); }) {
    if (!spec.setup) spec.setup = [o] { return o->setup(); };
  }
  if constexpr (requires(T & t, std::uint32_t n) { t.on_start(n); }) {
    if (!spec.on_start) spec.on_start = [o](std::uint32_t n) { return o->on_start(n); };
  }
  if constexpr (requires(T & t, std::uint32_t n) { t.on_restart(n); }) {
    if (!spec.on_restart) spec.on_restart = [o](std::uint32_t n) { return o->on_restart(n); };
  }
  if constexpr (requires(T & t, const outcome& x) { t.on_failure(x); }) {
    if (!spec.on_failure) spec.on_failure = [o](const outcome& x) { return o->on_failure(x); };
  }
  if constexpr (requires(T & t, const outcome& x) { t.should_restart(x); }) {
    if (!spec.should_restart) {
      spec.should_restart = [o](const outcome& x) { return o->should_restart(x); };
    }
  }
  if constexpr (requires(T & t) { t.cleanup(); }) {
    if (!spec.cleanup) spec.cleanup = [o] { return o->cleanup(); };
  }
  if constexpr (requires(T & t) { t.on_shutdown(); }) {
    if (!spec.on_shutdown) spec.on_shutdown = [o] { return o->on_shutdown(); };
  }
  return spec;
}

}  // namespace vigil
