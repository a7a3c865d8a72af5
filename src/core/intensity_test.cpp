// Unit tests of the restart-intensity sliding window and its validation (SEMANTICS §4, §13.1-2).
#include "vigil/core/intensity.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "vigil/core/error.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::core::duration;
using vigil::core::intensity;
using vigil::core::intensity_window;
using vigil::core::time_point;

const time_point t0 = time_point{} + 1000s;

TEST(intensity, allows_n_restarts_and_the_next_one_breaches) {
  // Proves §13.1 for several N: N records at one instant pass, the (N+1)-th breaches.
  for (const std::int64_t n : {1, 2, 3, 10, 100}) {
    intensity_window w({n, 10s});
    for (std::int64_t i = 0; i < n; ++i) EXPECT_FALSE(w.record(t0 + i * 1ms)) << "N=" << n;
    EXPECT_TRUE(w.record(t0 + n * 1ms)) << "N=" << n;
    EXPECT_EQ(w.count(t0 + n * 1ms), static_cast<std::size_t>(n)) << "the breach is not recorded";
  }
}

TEST(intensity, a_restart_exactly_period_old_has_left_the_window) {
  // Proves §13.1's boundary: with {1, 10 s}, a restart at t0 no longer counts at t0 + 10 s.
  intensity_window w({1, 10s});
  EXPECT_FALSE(w.record(t0));
  EXPECT_TRUE(w.record(t0 + 10s - 1ns)) << "one tick short of period is still inside";
  EXPECT_FALSE(w.record(t0 + 10s));
  EXPECT_EQ(w.count(t0 + 10s), 1u);
}

TEST(intensity, the_window_slides_rather_than_resetting_in_buckets) {
  // Proves the window is sliding: {2, 10 s} with restarts at 0, 6, 11 s passes (0 has left at
  // 10 s), but one more at 12 s breaches because 6 and 11 are still inside.
  intensity_window w({2, 10s});
  EXPECT_FALSE(w.record(t0));
  EXPECT_FALSE(w.record(t0 + 6s));
  EXPECT_FALSE(w.record(t0 + 11s));
  EXPECT_TRUE(w.record(t0 + 12s));
  EXPECT_FALSE(w.record(t0 + 16s));
}

TEST(intensity, zero_max_restarts_breaches_on_the_first_restart) {
  // Proves max_restarts = 0 allows no automatic restart at all.
  intensity_window w({0, 1s});
  EXPECT_TRUE(w.record(t0));
  EXPECT_TRUE(w.record(t0 + 1h));
  EXPECT_EQ(w.count(t0 + 1h), 0u);
}

TEST(intensity, count_drops_restarts_that_left_the_window) {
  // Proves count(now) reports only restarts younger than period at `now`.
  intensity_window w({5, 10s});
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(w.record(t0 + i * 1s));
  EXPECT_EQ(w.count(t0 + 3s), 4u);
  EXPECT_EQ(w.count(t0 + 11s), 2u);
  EXPECT_EQ(w.count(t0 + 13s), 0u);
}

TEST(intensity, defaults_are_ten_restarts_in_ten_seconds) {
  // Proves the documented default {10, 10 s}: ten pass, the eleventh breaches.
  const intensity d;
  EXPECT_EQ(d.max_restarts, 10);
  EXPECT_EQ(d.period, 10s);
  intensity_window w(d);
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(w.record(t0));
  EXPECT_TRUE(w.record(t0 + 9s));
}

TEST(intensity, validation_rejects_negative_max_restarts_and_non_positive_period) {
  // Proves §13.2: invalid limits throw invalid_argument naming the field, from validate() and
  // from the window's constructor alike.
  struct row {
    intensity limit;
    std::string field;
  };
  const std::vector<row> table = {
      {{-1, 10s}, "max_restarts"},
      {{INT64_MIN, 10s}, "max_restarts"},
      {{3, 0s}, "period"},
      {{3, -1ns}, "period"},
  };
  for (const auto& r : table) {
    for (int via_constructor = 0; via_constructor < 2; ++via_constructor) {
      try {
        if (via_constructor != 0)
          intensity_window w(r.limit);
        else
          vigil::core::validate(r.limit);
        ADD_FAILURE() << r.field << ": no exception";
      } catch (const vigil::core::error& e) {
        EXPECT_EQ(e.code(), vigil::core::errc::invalid_argument);
        EXPECT_NE(std::string(e.what()).find(r.field), std::string::npos) << e.what();
      }
    }
  }
  EXPECT_NO_THROW(vigil::core::validate(intensity{0, 1ns}));
}

TEST(intensity, a_million_spaced_restarts_never_breach_and_keep_an_exact_count) {
  // Proves correctness at scale: 1,000,000 restarts 1 s apart under {10, 10 s} never breach
  // (each finds 9 younger ones) and the window always holds exactly the last 10.
  intensity_window w({10, 10s});
  int breaches = 0;
  for (int i = 0; i < 1'000'000; ++i) breaches += w.record(t0 + i * 1s) ? 1 : 0;
  EXPECT_EQ(breaches, 0);
  EXPECT_EQ(w.count(t0 + 999'999s), 10u);
  EXPECT_TRUE(w.record(t0 + 999'999s));
}

TEST(intensity, a_million_restarts_in_one_window_then_the_next_breaches) {
  // Proves a large N is honoured exactly: 1,000,000 restarts at one instant pass, one more
  // breaches, and all of them leave together exactly one period later.
  intensity_window w({1'000'000, 1min});
  for (int i = 0; i < 1'000'000; ++i) ASSERT_FALSE(w.record(t0)) << i;
  EXPECT_TRUE(w.record(t0 + 59s));
  EXPECT_EQ(w.count(t0 + 1min - 1ns), 1'000'000u);
  EXPECT_EQ(w.count(t0 + 1min), 0u);
}

}  // namespace
