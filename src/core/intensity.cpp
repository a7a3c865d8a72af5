// Sliding-window restart intensity.
#include "vigil/core/intensity.hpp"

#include "vigil/core/error.hpp"

namespace vigil::core {

void validate(const intensity& limit) {
  if (limit.max_restarts < 0) {
    throw error(errc::invalid_argument, "intensity.max_restarts must not be negative");
  }
  if (limit.period <= duration::zero()) {
    throw error(errc::invalid_argument, "intensity.period must be positive");
  }
}

intensity_window::intensity_window(intensity limit) : limit_(limit) {
  validate(limit_);
}

void intensity_window::evict(time_point now) {
  // Each restart is pushed and popped once: O(1) amortised, never a walk of the history.
  while (!times_.empty() && now - times_.front() >= limit_.period) times_.pop_front();
}

bool intensity_window::record(time_point now) {
  evict(now);
  if (static_cast<std::int64_t>(times_.size()) >= limit_.max_restarts) return true;
  times_.push_back(now);
  return false;
}

std::size_t intensity_window::count(time_point now) {
  evict(now);
  return times_.size();
}

}  // namespace vigil::core
