// Subscribing to a supervisor's events: each subscriber has its own bounded queue and runs off
// the supervisor's strand, so a slow or throwing subscriber never stalls supervision.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "vigil/runtime/types.hpp"

namespace vigil {

namespace detail {
struct subscriber_state;
}

/// Options of one subscriber.
struct subscriber_options {
  /// Events buffered for this subscriber; beyond it events are dropped for this subscriber only
  /// and one subscriber_overflow{lost} is delivered when room returns. Default 1024.
  std::size_t queue = 1024;
};

/// The callback of a subscriber. Runs on the supervisor's executor, one event at a time and in
/// seq order, never under a vigil lock. A throw is reported as subscriber_failed.
using event_handler = std::function<void(const event&)>;

/// Owns one subscription; destroying it (or unsubscribe()) stops delivery. Movable, not copyable.
/// Thread-safe.
class [[nodiscard]] subscription {
 public:
  subscription() = default;
  explicit subscription(std::shared_ptr<detail::subscriber_state> s) noexcept;
  subscription(subscription&&) noexcept = default;
  subscription& operator=(subscription&& o) noexcept;
  subscription(const subscription&) = delete;
  subscription& operator=(const subscription&) = delete;
  ~subscription();

  /// Stops delivery. When it returns the handler is not running and will not run again, so
  /// what it captures may be destroyed; it waits for a call in progress on another thread
  /// (called from inside the handler, that call finishes as usual). Idempotent; the destructor
  /// does the same.
  void unsubscribe() noexcept;
  /// Whether this object holds an active subscription.
  bool active() const noexcept;

 private:
  std::shared_ptr<detail::subscriber_state> state_;
};

}  // namespace vigil
