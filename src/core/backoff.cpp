// Back-off schedules and jitter; all arithmetic saturates at the cap instead of overflowing.
#include "vigil/core/backoff.hpp"

#include <cmath>

#include "vigil/core/error.hpp"

namespace vigil::core {
namespace {

using namespace std::chrono_literals;

void require(bool ok, const char* message) {
  if (!ok) throw error(errc::invalid_argument, message);
}

}  // namespace

backoff::backoff() : backoff(exponential()) {}

backoff::backoff(shape s, duration first, duration step, duration max, double factor)
    : shape_(s), factor_(factor), first_(first), step_(step), max_(max) {
  require(first >= duration::zero(), "backoff.first must not be negative");
  require(step >= duration::zero(), "backoff.step must not be negative");
  require(max >= duration::zero(), "backoff.max must not be negative");
  require(std::isfinite(factor), "backoff.factor must be finite");
  require(factor >= 1.0, "backoff.factor must be at least 1");
  require(first <= max, "backoff.first must not exceed backoff.max");
}

backoff backoff::exponential(duration first, duration max, double factor) {
  return {shape::exponential, first, {}, max, factor};
}

backoff backoff::constant(duration d) {
  require(d >= duration::zero(), "backoff.first must not be negative");
  backoff b{shape::constant, d, {}, std::max<duration>(d, 30s), 1.0};
  b.jitter_ = jitter::none;  // a constant delay is honoured as given (§13.23)
  return b;
}

backoff backoff::linear(duration first, duration step, duration max) {
  return {shape::linear, first, step, max, 1.0};
}

backoff backoff::custom(std::function<duration(std::uint32_t)> fn, duration max) {
  require(static_cast<bool>(fn), "backoff.custom needs a function");
  require(max >= duration::zero(), "backoff.max must not be negative");
  backoff b{shape::custom, std::min(max, std::max(fn(0), duration::zero())), {}, max, 1.0};
  b.fn_ = std::make_shared<const std::function<duration(std::uint32_t)>>(std::move(fn));
  return b;
}

backoff backoff::with_jitter(jitter j) const {
  require(j <= jitter::decorrelated, "backoff.jitter is not a jitter mode");
  backoff b = *this;
  b.jitter_ = j;
  return b;
}

duration backoff::base_delay(std::uint32_t n) const {
  switch (shape_) {
    case shape::constant:
      return first_;
    case shape::linear: {
      if (step_ == duration::zero()) return first_;
      const auto room = (max_ - first_).count() / step_.count();
      if (static_cast<std::uint64_t>(n) > static_cast<std::uint64_t>(room)) return max_;
      return std::min(max_, first_ + step_ * n);
    }
    case shape::custom: {
      const duration d = (*fn_)(n);
      return std::clamp(d, duration::zero(), max_);
    }
    case shape::exponential:
      break;
  }
  if (first_ == duration::zero()) return first_;
  const double d = static_cast<double>(first_.count()) * std::pow(factor_, static_cast<double>(n));
  if (!std::isfinite(d) || d >= static_cast<double>(max_.count())) return max_;
  return std::min(max_, duration(static_cast<duration::rep>(d)));
}

duration backoff::next_delay(std::uint32_t n, duration previous, random_source& rng) const {
  const duration d = base_delay(n);
  const auto u = [&rng](duration lo, duration hi) {
    return duration(static_cast<duration::rep>(rng.uniform(
        static_cast<std::uint64_t>(lo.count()), static_cast<std::uint64_t>(hi.count()))));
  };
  switch (jitter_) {
    case jitter::none:
      return d;
    case jitter::full:
      return u(duration::zero(), d);
    case jitter::equal: {
      const duration half = d / 2;
      return half + u(duration::zero(), d - half);
    }
    case jitter::decorrelated: {
      const duration prev = previous > duration::zero() ? previous : first_;
      // 3 × prev, saturating, then capped: the result never exceeds max().
      const duration hi = prev > max_ / 3 ? max_ : std::min(max_, prev * 3);
      return std::min(max_, u(std::min(first_, hi), hi));
    }
  }
  return d;
}

}  // namespace vigil::core
