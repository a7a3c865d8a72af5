// Back-off: how long a failing child waits before its next attempt (SEMANTICS §3).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "vigil/core/random.hpp"
#include "vigil/core/time.hpp"

namespace vigil::core {

/// How a delay is randomised, always inside the cap. Bounds are inclusive.
enum class jitter : std::uint8_t {
  none,          ///< exactly d
  full,          ///< U[0, d]
  equal,         ///< d/2 + U[0, d - d/2] (the default)
  decorrelated,  ///< min(max, U[first, 3 × previous delay]), AWS style, stateful
};

/// A back-off schedule: delay(n) for n = failure streak - 1, then jitter.
/// Immutable value type; cheap to copy (custom functions are shared). Thread-compatible.
class backoff {
 public:
  /// The default: exponential(100 ms, 30 s) with factor 2 and equal jitter.
  backoff();

  /// delay(n) = min(max, first × factor^n); rejects factor < 1, non-finite factor, negative
  /// durations and first > max with vigil::error(invalid_argument) naming the field.
  static backoff exponential(duration first = std::chrono::milliseconds(100),
                             duration max = std::chrono::seconds(30), double factor = 2.0);
  /// Always exactly `d` (jitter none unless with_jitter() says otherwise); a `d` above 30 s
  /// raises the cap to `d`. Zero restarts at once, without a timer.
  static backoff constant(duration d);
  /// delay(n) = min(max, first + step × n).
  static backoff linear(duration first, duration step, duration max = std::chrono::seconds(30));
  /// delay(n) = min(max, fn(n)); fn must be pure (it may be called from any thread).
  static backoff custom(std::function<duration(std::uint32_t n)> fn,
                        duration max = std::chrono::seconds(30));

  /// A copy with another jitter mode.
  backoff with_jitter(jitter j) const;

  /// The delay before retry n + 1 (n = failure streak - 1), before jitter. Never above max();
  /// a huge n yields exactly max() (no overflow).
  duration base_delay(std::uint32_t n) const;

  /// The jittered delay for retry n + 1; `previous` is the last delay handed out (decorrelated
  /// jitter only), zero before the first retry. Always within [0, max()].
  duration next_delay(std::uint32_t n, duration previous, random_source& rng) const;

  duration first() const noexcept { return first_; }  ///< the first delay
  duration max() const noexcept { return max_; }      ///< the cap
  double factor() const noexcept { return factor_; }  ///< the exponential factor (1 if none)
  jitter jitter_mode() const noexcept { return jitter_; }

 private:
  enum class shape : std::uint8_t { exponential, constant, linear, custom };
  backoff(shape s, duration first, duration step, duration max, double factor);

  shape shape_ = shape::exponential;
  jitter jitter_ = jitter::equal;
  double factor_ = 2.0;
  duration first_{};
  duration step_{};
  duration max_{};
  std::shared_ptr<const std::function<duration(std::uint32_t)>> fn_;
};

}  // namespace vigil::core
