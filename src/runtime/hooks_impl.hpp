// Internal: how the supervisor runs a child's lifecycle hooks (§11) — off its strand, one hook
// of a child at a time, a throw reported and never fatal.
#pragma once

#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>

#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/clock.hpp"

namespace vigil::detail {

class event_bus;

/// A child's hooks, fixed when it is added. Shared by the supervisor and its hook jobs.
struct child_hooks {
  hook<void()> setup;
  hook<void(std::uint32_t)> on_start;
  hook<void(std::uint32_t)> on_restart;
  hook<void(const outcome&)> on_failure;
  hook<bool(const outcome&)> should_restart;
  hook<void()> cleanup;
  hook<void()> on_shutdown;
  /// Runs this child's hooks (except on_start/on_restart, which run inside the attempt) one at
  /// a time, in the order they were asked for.
  boost::asio::strand<boost::asio::any_io_executor> strand;
  std::shared_ptr<const std::string> path;
  std::shared_ptr<event_bus> bus;
  vigil::clock* clk = nullptr;

  explicit child_hooks(boost::asio::strand<boost::asio::any_io_executor> s)
      : strand(std::move(s)) {}
};

/// True when `spec` has any hook.
bool has_hooks(const child_spec& spec) noexcept;

/// Moves the hooks out of `spec` into a new child_hooks (strand of `ex`).
std::shared_ptr<child_hooks> take_hooks(child_spec& spec, const boost::asio::any_io_executor& ex);

/// `t` wrapped so that on_restart (attempts >= 2) and on_start run inside each attempt, before
/// the task; a throw fails that attempt. Throws vigil::error(invalid_argument) when `t` is a
/// process or nested supervisor and on_start/on_restart are set.
vigil::task with_attempt_hooks(vigil::task t, const std::shared_ptr<const child_hooks>& h);

/// Awaits or calls a hook; exceptions propagate.
boost::asio::awaitable<void> invoke(std::shared_ptr<const child_hooks> keep, const hook<void()>& h);
boost::asio::awaitable<void> invoke_outcome(std::shared_ptr<const child_hooks> keep,
                                            const hook<void(const outcome&)>& h, outcome o);
boost::asio::awaitable<bool> invoke_bool(std::shared_ptr<const child_hooks> keep,
                                         const hook<bool(const outcome&)>& h, outcome o);

/// The text of an exception: what(), or "unknown exception".
std::string what_of(std::exception_ptr e);

/// Publishes subscriber_failed for the child (reason "<hook> hook threw: <what>") when anyone
/// subscribes. Thread-safe.
void report_hook_failure(const child_hooks& h, std::string_view hook_name, std::exception_ptr e);

}  // namespace vigil::detail
