// Unit tests of back-off schedules, jitter bounds and the seeded random source (SEMANTICS §3).
#include "vigil/core/backoff.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "vigil/core/error.hpp"
#include "vigil/core/random.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::core::backoff;
using vigil::core::duration;
using vigil::core::jitter;
using vigil::core::random_source;

constexpr std::uint32_t huge_n = std::numeric_limits<std::uint32_t>::max();

TEST(backoff, exponential_doubles_from_first_until_the_cap) {
  // Proves delay(n) = min(max, first × factor^n) by checking a table of n against exact values.
  const backoff b = backoff::exponential(100ms, 30s, 2.0);
  const std::vector<std::pair<std::uint32_t, duration>> table = {
      {0, 100ms}, {1, 200ms}, {2, 400ms}, {3, 800ms}, {4, 1600ms}, {8, 25600ms},
      {9, 30s},   {10, 30s},  {63, 30s},  {64, 30s},  {1000, 30s}, {huge_n, 30s},
  };
  for (const auto& [n, want] : table) EXPECT_EQ(b.base_delay(n), want) << "n=" << n;
}

TEST(backoff, exponential_honours_a_fractional_factor) {
  // Proves a non-integer factor multiplies exactly: 1 s × 1.5^n for small n.
  const backoff b = backoff::exponential(1s, 1h, 1.5);
  EXPECT_EQ(b.base_delay(0), 1000ms);
  EXPECT_EQ(b.base_delay(1), 1500ms);
  EXPECT_EQ(b.base_delay(2), 2250ms);
  EXPECT_EQ(b.base_delay(3), 3375ms);
}

TEST(backoff, exponential_with_factor_one_stays_at_first) {
  // Proves factor 1 is accepted and gives a flat schedule even for a huge n.
  const backoff b = backoff::exponential(250ms, 1s, 1.0);
  EXPECT_EQ(b.base_delay(0), 250ms);
  EXPECT_EQ(b.base_delay(1000), 250ms);
  EXPECT_EQ(b.base_delay(huge_n), 250ms);
}

TEST(backoff, huge_n_yields_exactly_max_without_overflow) {
  // Proves every shape saturates at exactly max() for huge n, including near-overflow inputs.
  const std::vector<std::pair<std::string, backoff>> table = {
      {"exp factor 2", backoff::exponential(100ms, 30s, 2.0)},
      {"exp factor 1e300", backoff::exponential(1ns, 30s, 1e300)},
      {"exp max = duration::max", backoff::exponential(1s, duration::max(), 2.0)},
      {"exp first = max", backoff::exponential(30s, 30s, 3.0)},
      {"linear", backoff::linear(1s, 1s, 10s)},
      {"linear huge step", backoff::linear(1s, duration::max() / 2, duration::max())},
      {"linear max = duration::max", backoff::linear(0ns, 1h, duration::max())},
  };
  for (const auto& [name, b] : table) {
    EXPECT_EQ(b.base_delay(huge_n), b.max()) << name;
    EXPECT_EQ(b.base_delay(huge_n - 1), b.max()) << name;
    EXPECT_LE(b.base_delay(1000), b.max()) << name;
  }
  // And the one that would overflow int64 after a single doubling stays exact.
  const backoff big = backoff::exponential(duration::max() / 2 + 1ns, duration::max(), 2.0);
  EXPECT_EQ(big.base_delay(1), duration::max());
}

TEST(backoff, exponential_with_zero_first_is_always_zero) {
  // Proves a zero first delay stays zero (0 × factor^n), not max.
  const backoff b = backoff::exponential(0ns, 30s, 2.0);
  EXPECT_EQ(b.base_delay(0), 0ns);
  EXPECT_EQ(b.base_delay(huge_n), 0ns);
}

TEST(backoff, default_is_exponential_100ms_to_30s_with_factor_2_and_equal_jitter) {
  // Proves the documented defaults by reading them back and computing two delays.
  const backoff b;
  EXPECT_EQ(b.first(), 100ms);
  EXPECT_EQ(b.max(), 30s);
  EXPECT_EQ(b.factor(), 2.0);
  EXPECT_EQ(b.jitter_mode(), jitter::equal);
  EXPECT_EQ(b.base_delay(0), 100ms);
  EXPECT_EQ(b.base_delay(3), 800ms);
}

TEST(backoff, constant_is_the_same_for_every_n) {
  // Proves constant(d) yields d for any n, from the first retry to a huge one.
  const backoff b = backoff::constant(750ms);
  for (const std::uint32_t n : {0u, 1u, 2u, 17u, huge_n}) EXPECT_EQ(b.base_delay(n), 750ms);
  EXPECT_EQ(b.max(), 30s);
}

TEST(backoff, constant_above_30s_raises_the_cap_to_d) {
  // Proves §13.23: constant(d) with d > 30 s is honoured (cap raised), not clamped to 30 s.
  const backoff b = backoff::constant(45s);
  EXPECT_EQ(b.max(), 45s);
  EXPECT_EQ(b.base_delay(0), 45s);
  EXPECT_EQ(b.base_delay(9), 45s);
  random_source rng(7);
  for (const jitter j : {jitter::none, jitter::full, jitter::equal, jitter::decorrelated}) {
    for (int i = 0; i < 200; ++i) EXPECT_LE(b.with_jitter(j).next_delay(0, 45s, rng), 45s);
  }
  EXPECT_EQ(b.with_jitter(jitter::none).next_delay(0, 0ns, rng), 45s);
}

TEST(backoff, sub_millisecond_delays_are_honoured_as_given) {
  // Proves §13.23: delays below 1 ms are not rounded up (250 µs and 1 ns stay as they are).
  random_source rng;
  EXPECT_EQ(backoff::constant(250us).with_jitter(jitter::none).next_delay(0, 0ns, rng), 250us);
  EXPECT_EQ(backoff::constant(1ns).with_jitter(jitter::none).next_delay(5, 0ns, rng), 1ns);
  EXPECT_EQ(backoff::exponential(10us, 1ms, 2.0).base_delay(2), 40us);
}

TEST(backoff, linear_adds_one_step_per_retry_until_max) {
  // Proves delay(n) = min(max, first + step × n) for a table of n.
  const backoff b = backoff::linear(1s, 500ms, 4s);
  const std::vector<std::pair<std::uint32_t, duration>> table = {
      {0, 1000ms}, {1, 1500ms}, {2, 2000ms},         {5, 3500ms},
      {6, 4000ms}, {7, 4000ms}, {1'000'000, 4000ms}, {huge_n, 4000ms},
  };
  for (const auto& [n, want] : table) EXPECT_EQ(b.base_delay(n), want) << "n=" << n;
}

TEST(backoff, linear_with_zero_step_stays_at_first) {
  // Proves a zero step is accepted and never divides by zero.
  const backoff b = backoff::linear(2s, 0ns, 10s);
  EXPECT_EQ(b.base_delay(0), 2s);
  EXPECT_EQ(b.base_delay(huge_n), 2s);
}

TEST(backoff, custom_function_is_clamped_to_zero_and_max) {
  // Proves custom(fn, max) returns fn(n) inside [0, max]: negatives become 0, large become max.
  const backoff b = backoff::custom(
      [](std::uint32_t n) -> duration {
        if (n == 0) return 3s;
        if (n == 1) return -5s;
        if (n == 2) return duration::max();
        return std::chrono::seconds(n);
      },
      10s);
  EXPECT_EQ(b.base_delay(0), 3s);
  EXPECT_EQ(b.base_delay(1), 0ns);
  EXPECT_EQ(b.base_delay(2), 10s);
  EXPECT_EQ(b.base_delay(7), 7s);
  EXPECT_EQ(b.base_delay(11), 10s);
  EXPECT_EQ(b.first(), 3s);
  EXPECT_EQ(b.max(), 10s);
}

TEST(backoff, custom_copies_share_the_function) {
  // Proves a copied custom schedule still calls the same function (counted calls).
  int calls = 0;
  const backoff a = backoff::custom([&calls](std::uint32_t) {
    ++calls;
    return duration(1s);
  });
  const int after_construction = calls;
  const backoff b = a.with_jitter(jitter::none);
  EXPECT_EQ(b.base_delay(4), 1s);
  EXPECT_EQ(a.base_delay(4), 1s);
  EXPECT_EQ(calls, after_construction + 2);
}

TEST(backoff, construction_rejects_invalid_values_naming_the_field) {
  // Proves each invalid argument throws vigil::error(invalid_argument) whose message names it.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  struct row {
    std::string what;
    std::function<void()> make;
    std::string field;
  };
  const std::vector<row> table = {
      {"factor < 1", [] { (void)backoff::exponential(1s, 2s, 0.5); }, "factor"},
      {"factor 0", [] { (void)backoff::exponential(1s, 2s, 0.0); }, "factor"},
      {"factor negative", [] { (void)backoff::exponential(1s, 2s, -2.0); }, "factor"},
      {"factor NaN", [nan] { (void)backoff::exponential(1s, 2s, nan); }, "factor"},
      {"factor +inf", [inf] { (void)backoff::exponential(1s, 2s, inf); }, "factor"},
      {"factor -inf", [inf] { (void)backoff::exponential(1s, 2s, -inf); }, "factor"},
      {"negative first", [] { (void)backoff::exponential(-1ns, 2s, 2.0); }, "first"},
      {"negative max", [] { (void)backoff::exponential(0ns, -1s, 2.0); }, "max"},
      {"first > max", [] { (void)backoff::exponential(3s, 2s, 2.0); }, "first"},
      {"linear negative first", [] { (void)backoff::linear(-1s, 1s, 2s); }, "first"},
      {"linear negative step", [] { (void)backoff::linear(1s, -1s, 2s); }, "step"},
      {"linear first > max", [] { (void)backoff::linear(3s, 1s, 2s); }, "first"},
      {"constant negative", [] { (void)backoff::constant(-1ms); }, "first"},
      {"custom empty function", [] { (void)backoff::custom({}, 1s); }, "custom"},
      {"custom negative max",
       [] { (void)backoff::custom([](std::uint32_t) { return duration(1s); }, -1s); }, "max"},
  };
  for (const auto& r : table) {
    try {
      r.make();
      ADD_FAILURE() << r.what << ": no exception";
    } catch (const vigil::core::error& e) {
      EXPECT_EQ(e.code(), vigil::core::errc::invalid_argument) << r.what;
      EXPECT_NE(std::string(e.what()).find(r.field), std::string::npos)
          << r.what << ": message '" << e.what() << "' does not name " << r.field;
    }
  }
}

TEST(backoff, first_equal_to_max_is_accepted) {
  // Proves the boundary first == max is valid (only first > max is rejected).
  const backoff b = backoff::exponential(5s, 5s, 2.0);
  EXPECT_EQ(b.base_delay(0), 5s);
  EXPECT_EQ(b.base_delay(3), 5s);
}

TEST(backoff, with_jitter_returns_a_copy_and_leaves_the_original) {
  // Proves with_jitter is a value operation: the source keeps its mode and schedule.
  const backoff a = backoff::exponential(1s, 8s, 2.0);
  const backoff b = a.with_jitter(jitter::full);
  EXPECT_EQ(a.jitter_mode(), jitter::equal);
  EXPECT_EQ(b.jitter_mode(), jitter::full);
  EXPECT_EQ(b.base_delay(2), 4s);
  EXPECT_EQ(b.first(), 1s);
  EXPECT_EQ(b.max(), 8s);
}

TEST(backoff, no_jitter_returns_the_base_delay) {
  // Proves jitter none is exactly delay(n) and consumes no randomness that changes results.
  const backoff b = backoff::exponential(100ms, 30s, 2.0).with_jitter(jitter::none);
  random_source rng(1);
  for (std::uint32_t n = 0; n < 40; ++n) EXPECT_EQ(b.next_delay(n, 0ns, rng), b.base_delay(n));
}

// Collects many jittered samples of retry n over several seeds.
std::vector<duration> samples(const backoff& b, std::uint32_t n, duration previous) {
  std::vector<duration> out;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    random_source rng(seed);
    for (int i = 0; i < 100; ++i) out.push_back(b.next_delay(n, previous, rng));
  }
  return out;
}

TEST(backoff, full_jitter_stays_in_zero_to_d_with_both_bounds_reachable) {
  // Proves full jitter is U[0, d] inclusive: with d = 3 ns every value 0..3 appears, nothing else;
  // with d = 800 ms all samples are in [0, 800 ms].
  const std::set<duration> seen = [] {
    const auto v = samples(backoff::constant(3ns).with_jitter(jitter::full), 0, 0ns);
    return std::set<duration>(v.begin(), v.end());
  }();
  EXPECT_EQ(seen, (std::set<duration>{0ns, 1ns, 2ns, 3ns}));
  const backoff b = backoff::exponential(100ms, 30s, 2.0).with_jitter(jitter::full);
  for (const duration d : samples(b, 3, 0ns)) {
    EXPECT_GE(d, 0ns);
    EXPECT_LE(d, 800ms);
  }
}

TEST(backoff, equal_jitter_stays_in_half_d_to_d_with_both_bounds_reachable) {
  // Proves equal jitter is d/2 + U[0, d - d/2] inclusive: with d = 5 ns exactly {2..5} appear.
  const std::set<duration> seen = [] {
    const auto v = samples(backoff::constant(5ns).with_jitter(jitter::equal), 0, 0ns);
    return std::set<duration>(v.begin(), v.end());
  }();
  EXPECT_EQ(seen, (std::set<duration>{2ns, 3ns, 4ns, 5ns}));
  const backoff b = backoff::exponential(100ms, 30s, 2.0).with_jitter(jitter::equal);
  for (const std::uint32_t n : {0u, 4u, 30u}) {
    const duration d = b.base_delay(n);
    for (const duration x : samples(b, n, 0ns)) {
      EXPECT_GE(x, d / 2) << "n=" << n;
      EXPECT_LE(x, d) << "n=" << n;
    }
  }
}

TEST(backoff, decorrelated_jitter_stays_in_first_to_three_times_previous) {
  // Proves decorrelated = min(max, U[first, 3 × previous]) inclusive, chaining previous through
  // 2,000 steps of several seeds, and that a zero previous means `first`.
  const backoff b = backoff::exponential(100ms, 10s, 2.0).with_jitter(jitter::decorrelated);
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    random_source rng(seed);
    duration prev = 0ns;
    for (int i = 0; i < 100; ++i) {
      const duration d = b.next_delay(static_cast<std::uint32_t>(i), prev, rng);
      const duration base = prev == 0ns ? 100ms : prev;
      EXPECT_GE(d, 100ms);
      EXPECT_LE(d, std::min<duration>(10s, 3 * base));
      prev = d;
    }
  }
  // Tiny values make inclusivity observable: first = 1 ns, previous = 1 ns → {1, 2, 3}.
  const backoff tiny = backoff::exponential(1ns, 1s, 2.0).with_jitter(jitter::decorrelated);
  const auto v = samples(tiny, 0, 1ns);
  EXPECT_EQ(std::set<duration>(v.begin(), v.end()), (std::set<duration>{1ns, 2ns, 3ns}));
}

TEST(backoff, never_exceeds_max_even_with_jitter) {
  // Proves every jitter mode stays within [0, max] for every n and for huge previous delays.
  const backoff base = backoff::exponential(100ms, 2s, 3.0);
  for (const jitter j : {jitter::none, jitter::full, jitter::equal, jitter::decorrelated}) {
    const backoff b = base.with_jitter(j);
    for (const duration prev : {0ns, duration(1s), duration(2s), duration::max()}) {
      for (const std::uint32_t n : {0u, 1u, 5u, 64u, huge_n}) {
        for (const duration d : samples(b, n, prev)) {
          EXPECT_GE(d, 0ns);
          EXPECT_LE(d, 2s) << "jitter " << static_cast<int>(j) << " n=" << n;
        }
      }
    }
  }
}

TEST(backoff, equal_seeds_give_equal_delays_and_other_seeds_differ) {
  // Proves jitter is reproducible from the seed: two generators with seed 99 agree on 1,000
  // delays, and seed 100 disagrees somewhere.
  const backoff b = backoff::exponential(100ms, 30s, 2.0).with_jitter(jitter::full);
  random_source r1(99), r2(99), r3(100);
  bool differs = false;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const duration a = b.next_delay(i % 12, 0ns, r1);
    EXPECT_EQ(a, b.next_delay(i % 12, 0ns, r2));
    if (a != b.next_delay(i % 12, 0ns, r3)) differs = true;
  }
  EXPECT_TRUE(differs);
}

TEST(random_source, uniform_is_inclusive_and_returns_lo_for_an_empty_range) {
  // Proves uniform(lo, hi) covers both ends, stays inside, and gives lo when hi <= lo.
  random_source rng(3);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto x = rng.uniform(10, 13);
    EXPECT_GE(x, 10u);
    EXPECT_LE(x, 13u);
    seen.insert(x);
  }
  EXPECT_EQ(seen, (std::set<std::uint64_t>{10, 11, 12, 13}));
  EXPECT_EQ(rng.uniform(5, 5), 5u);
  EXPECT_EQ(rng.uniform(9, 2), 9u);
}

TEST(random_source, reseed_restarts_the_sequence) {
  // Proves reseed(s) replays exactly the sequence of a fresh generator seeded with s.
  random_source a(11);
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 8; ++i) first.push_back(a.next());
  a.reseed(11);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(a.next(), first[static_cast<std::size_t>(i)]);
}

}  // namespace

TEST(backoff, constant_is_exact_by_default_and_jitter_is_opt_in) {
  // Proves §13.23 "honoured as given": constant(d) has no jitter unless asked, so every
  // seeded draw is exactly d; with_jitter(full) then spreads it inside [0, d].
  random_source rng(7);
  const backoff b = backoff::constant(5ms);
  EXPECT_EQ(b.jitter_mode(), jitter::none);
  for (std::uint32_t n = 0; n < 50; ++n) EXPECT_EQ(b.next_delay(n, {}, rng), 5ms);
  const backoff j = b.with_jitter(jitter::full);
  bool below = false;
  for (int i = 0; i < 200; ++i) {
    const duration d = j.next_delay(0, {}, rng);
    EXPECT_LE(d, 5ms);
    below = below || d < 5ms;
  }
  EXPECT_TRUE(below);
}
