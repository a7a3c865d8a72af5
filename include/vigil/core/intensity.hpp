// Supervisor intensity: the sliding window of automatic restarts that trips escalation (§4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "vigil/core/time.hpp"

namespace vigil::core {

/// At most `max_restarts` automatic restarts within any window of `period`; one more breaches.
/// Default: 10 restarts in 10 s.
struct intensity {
  std::int64_t max_restarts = 10;
  duration period = std::chrono::seconds(10);
};

/// Rejects max_restarts < 0 and period <= 0 with vigil::error(invalid_argument) naming the field.
void validate(const intensity& limit);

/// Counts restarts in a sliding window in O(1) amortised per restart, whatever the window size.
/// Thread-compatible.
class intensity_window {
 public:
  /// Validates `limit` (see validate()).
  explicit intensity_window(intensity limit);

  /// Records one restart at `now`; returns true when it breaches (it is then not recorded).
  /// A restart exactly `period` old has left the window.
  bool record(time_point now);

  /// How many restarts are inside the window that ends at `now`.
  std::size_t count(time_point now);

  const intensity& limit() const noexcept { return limit_; }

 private:
  void evict(time_point now);
  intensity limit_;
  std::deque<time_point> times_;
};

}  // namespace vigil::core
