// Records a supervisor's events for assertions in tests.
#pragma once

#include <mutex>
#include <string>
#include <vector>

#include "vigil/runtime/handle.hpp"

namespace vigil::testing {

/// Subscribes to a supervisor and keeps every event it receives. Thread-safe.
class event_recorder {
 public:
  /// Starts recording `sup`'s events (queue: 1,000,000 so that tests lose none).
  explicit event_recorder(const handle& sup);

  /// A copy of the events received so far, in seq order.
  std::vector<event> events() const;
  /// The received events of one kind (optionally of one path).
  std::vector<event> of(event_kind k, std::string_view path = {}) const;
  /// How many events of kind `k` (optionally of one path) were received.
  std::size_t count(event_kind k, std::string_view path = {}) const;
  /// The kinds received for `path`, in order, as names ("attempt_starting", …).
  std::vector<std::string> kinds(std::string_view path) const;
  /// Stops recording.
  void stop() { sub_.unsubscribe(); }

 private:
  mutable std::mutex m_;
  std::vector<event> events_;
  subscription sub_;
};

}  // namespace vigil::testing
