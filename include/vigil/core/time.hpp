// Time types of the pure core: durations and steady time points, never a clock read.
#pragma once

#include <chrono>

namespace vigil::core {

/// Every duration in vigil, at nanosecond resolution.
using duration = std::chrono::nanoseconds;
/// A point on the steady time line; the core is handed these, it never reads a clock.
using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

/// A shutdown or wait that never times out.
inline constexpr duration infinity = duration::max();
/// A shutdown timeout that forces the stop at once, without waiting.
inline constexpr duration brutal = duration::zero();

/// `t + d`, saturating at the end of time instead of overflowing (for `infinity`).
constexpr time_point saturating_add(time_point t, duration d) noexcept {
  if (d >= time_point::max() - t) return time_point::max();
  return t + d;
}

}  // namespace vigil::core
