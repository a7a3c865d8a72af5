// vigil::controller: admits submitted child specs into named slots of a supervisor, one
// running child per slot, with queue / replace / drop_if_running admission (SEMANTICS §12).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/async_result.hpp>

#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/handle.hpp"

namespace vigil {

/// What a submission does when its slot is busy (running or terminating).
enum class admission : std::uint8_t {
  queue,            ///< wait in the slot's FIFO queue (beyond max_slot_queue: queue_full)
  replace,          ///< stop and remove the running child; go to the head of the queue
  drop_if_running,  ///< rejected with slot_busy
};

/// Why a submission was rejected; error codes of category "vigil.controller".
enum class rejection {
  queue_full = 1,      ///< the slot's queue is at max_slot_queue, or try_submit found no room
  superseded,          ///< a replace submission took its place at the head of the queue
  slot_busy,           ///< drop_if_running while the slot was running or terminating
  removed_from_queue,  ///< controller::remove() while it was queued
  shutting_down,       ///< the supervisor (or the controller) is going away
  already_exists,      ///< its name is live in another slot, or listed in the supervisor
};

/// The category of rejection codes; its name is "vigil.controller".
const std::error_category& rejection_category() noexcept;
/// Makes a std::error_code of the rejection category (found by ADL).
std::error_code make_error_code(rejection r) noexcept;

/// The state of a slot: idle (nothing running), running, terminating (a replace is stopping
/// the running child; the slot is freed when it has ended).
enum class slot_state : std::uint8_t { idle, running, terminating };
std::string_view to_string(slot_state s) noexcept;
std::string_view to_string(admission a) noexcept;

/// A snapshot of one slot.
struct slot_info {
  std::string slot;
  vigil::slot_state state = vigil::slot_state::idle;
  std::string running;  ///< the running (or terminating) child's name; empty when idle
  std::size_t queued = 0;
};

/// A controller's options; fill with designated initialisers in declaration order.
struct controller_options {
  /// Submissions a slot's queue holds; beyond it a submission is rejected queue_full.
  std::size_t max_slot_queue = 100;
  /// Submissions all slots' queues hold together. When full, submit() and async_submit()
  /// wait for room and try_submit() fails with queue_full. Zero: unlimited.
  std::size_t max_queued = 1024;
};

namespace detail {
class controller_state;
using submit_reply = boost::asio::any_completion_handler<void(std::error_code)>;
using slots_reply =
    boost::asio::any_completion_handler<void(std::error_code, std::vector<slot_info>)>;
}  // namespace detail

/// Admits submitted children into named slots of the supervisor behind a handle: at most one
/// child per slot runs at a time. Every submission is added with retention remove_on_exit, and
/// a slot is freed only by the reliable completion of its child (its outcome, never an event).
/// Publishes controller_submitted, controller_rejected (reason: the rejection kind and slot)
/// and slot_transition events through the supervisor's subscribers. The supervisor's own
/// stop(name) and remove(name) reach a submission still queued here: it is rejected
/// removed_from_queue and the call succeeds (§13.22).
/// Thread-safe: its state lives on its own strand of the supervisor's executor. Destroying it
/// rejects every queued submission with shutting_down; running children keep running. An
/// asynchronous operation started after that (a deferred one) completes with shutting_down.
class controller {
 public:
  /// Throws vigil::error(supervisor_gone) for an empty handle.
  explicit controller(handle h, controller_options options = {});
  controller(const controller&) = delete;
  controller& operator=(const controller&) = delete;
  ~controller();

  /// Submits `spec` into `slot`. Completion signature `void(std::error_code)`: empty once the
  /// child has been added to the supervisor (it starts), or a rejection (category
  /// rejection_category()), or the vigil::errc add() failed with (invalid_argument, …). Waits
  /// for room when max_queued submissions are already queued. Handler: on its associated
  /// executor (default the supervisor's), never inline. Not cancellable (use remove()).
  template <class CompletionToken>
  auto async_submit(std::string slot, child_spec spec, admission a, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code)>(
        [](auto h, std::shared_ptr<detail::controller_state> st, std::string s, child_spec c,
           admission adm) {
          submit_(st, std::move(s), std::move(c), adm, detail::submit_reply(std::move(h)), true);
        },
        token, state_, std::move(slot), std::move(spec), a);
  }
  /// Blocking async_submit: returns the same error code (it does not throw for rejections).
  /// Throws vigil::error(would_deadlock) on a thread running the supervisor's executor.
  std::error_code submit(std::string slot, child_spec spec, admission a = admission::queue);
  /// Like async_submit, but returns queue_full at once instead of waiting for room; otherwise
  /// returns an empty code and reports the eventual result to `done` (if given), like
  /// async_submit, on the supervisor's executor.
  std::error_code try_submit(std::string slot, child_spec spec, admission a = admission::queue,
                             std::function<void(std::error_code)> done = {});

  /// Removes the named submission: a queued one is rejected removed_from_queue; a running one
  /// is stopped and removed from the supervisor. Completion `void(std::error_code)` once done;
  /// not_found when the controller knows no such submission.
  template <class CompletionToken>
  auto async_remove(std::string name, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::error_code)>(
        [](auto h, std::shared_ptr<detail::controller_state> st, std::string n) {
          remove_(st, std::move(n), detail::submit_reply(std::move(h)));
        },
        token, state_, std::move(name));
  }
  /// Blocking async_remove; returns its error code.
  std::error_code remove(std::string name);

  /// A snapshot of every slot the controller has seen, sorted by name.
  template <class CompletionToken>
  auto async_slots(CompletionToken&& token) const {
    return boost::asio::async_initiate<CompletionToken,
                                       void(std::error_code, std::vector<slot_info>)>(
        [](auto h, std::shared_ptr<detail::controller_state> st) {
          slots_(st, detail::slots_reply(std::move(h)));
        },
        token, state_);
  }
  /// Blocking async_slots.
  std::vector<slot_info> slots() const;

 private:
  // The initiations take the shared state as an argument, never `this`: a deferred operation
  // (asio::deferred, use_awaitable) may be started after the controller is gone.
  static void submit_(const std::shared_ptr<detail::controller_state>& st, std::string slot,
                      child_spec spec, admission a, detail::submit_reply r, bool wait);
  static void remove_(const std::shared_ptr<detail::controller_state>& st, std::string name,
                      detail::submit_reply r);
  static void slots_(const std::shared_ptr<detail::controller_state>& st, detail::slots_reply r);
  std::shared_ptr<detail::controller_state> state_;
};

}  // namespace vigil

template <>
struct std::is_error_code_enum<vigil::rejection> : std::true_type {};
