// A small seeded random source (xoshiro256**): jitter is reproducible from its seed.
#pragma once

#include <cstdint>

namespace vigil::core {

/// Deterministic pseudo-random numbers from a 64-bit seed; same seed, same sequence on every
/// platform. Not thread-safe: each supervisor owns one.
class random_source {
 public:
  /// Seeds the generator; the default seed is a fixed constant.
  explicit random_source(std::uint64_t seed = 0x5eed'0f'7a11ULL) noexcept { reseed(seed); }

  /// Restarts the sequence from `seed`.
  void reseed(std::uint64_t seed) noexcept {
    for (auto& s : s_) s = splitmix(seed);
  }

  /// The next 64 random bits.
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// A uniformly distributed integer in [lo, hi], both inclusive; lo when hi <= lo.
  std::uint64_t uniform(std::uint64_t lo, std::uint64_t hi) noexcept {
    if (hi <= lo) return lo;
    const std::uint64_t span = hi - lo;
    if (span == UINT64_MAX) return next();
    const std::uint64_t n = span + 1;
    // Rejection sampling keeps the distribution exactly uniform.
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    std::uint64_t r;
    do r = next();
    while (r >= limit);
    return lo + r % n;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix(std::uint64_t& x) noexcept {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t s_[4];
};

}  // namespace vigil::core
