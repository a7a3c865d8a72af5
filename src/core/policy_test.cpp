// Unit tests of policy validation, child-name rules and vigil's error codes (§1, §13.2, §9).
#include "vigil/core/policy.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "vigil/core/error.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::core::child_policy;
using vigil::core::supervisor_policy;

TEST(child_name, accepts_1_to_128_bytes_of_letters_digits_dot_underscore_dash) {
  // Proves the name rule of §1 on a table of valid and invalid names, including both length edges.
  struct row {
    std::string name;
    bool valid;
  };
  const std::vector<row> table = {
      {"a", true},
      {"pool-3", true},
      {"db.primary_v2", true},
      {"A-Z.a_z-0.9", true},
      {std::string(128, 'x'), true},
      {"", false},
      {std::string(129, 'x'), false},
      {"a/b", false},
      {"a b", false},
      {" a", false},
      {"a\n", false},
      {"naïve", false},
      {"a:b", false},
      {std::string("a\0b", 3), false},
  };
  for (const auto& r : table) {
    EXPECT_EQ(vigil::core::is_valid_child_name(r.name), r.valid) << "'" << r.name << "'";
  }
}

TEST(child_policy, validation_rejects_each_negative_duration_naming_the_field) {
  // Proves §13.2 for child policies: each negative duration throws invalid_argument whose message
  // names that field; zero values are accepted (zero timeout/heartbeat mean none).
  struct row {
    std::string field;
    std::function<void(child_policy&)> spoil;
  };
  const std::vector<row> table = {
      {"interval", [](child_policy& p) { p.interval = -1ns; }},
      {"stable_after", [](child_policy& p) { p.stable_after = -1s; }},
      {"timeout", [](child_policy& p) { p.timeout = -1ms; }},
      {"heartbeat_timeout", [](child_policy& p) { p.heartbeat_timeout = -1s; }},
      {"shutdown", [](child_policy& p) { p.shutdown = -1s; }},
  };
  for (const auto& r : table) {
    child_policy p;
    r.spoil(p);
    try {
      vigil::core::validate(p);
      ADD_FAILURE() << r.field << ": no exception";
    } catch (const vigil::core::error& e) {
      EXPECT_EQ(e.code(), vigil::core::errc::invalid_argument) << r.field;
      EXPECT_NE(std::string(e.what()).find(r.field), std::string::npos) << e.what();
    }
  }
  child_policy zero;
  zero.interval = 0s;
  zero.stable_after = 0s;
  zero.timeout = 0s;
  zero.heartbeat_timeout = 0s;
  zero.shutdown = vigil::core::brutal;
  EXPECT_NO_THROW(vigil::core::validate(zero));
  zero.shutdown = vigil::core::infinity;
  EXPECT_NO_THROW(vigil::core::validate(zero));
}

TEST(supervisor_policy, validation_rejects_bad_intensity_and_negative_grace) {
  // Proves supervisor policies reject max_restarts < 0, period <= 0 and grace < 0 by field name,
  // and accept a zero grace (force at once).
  struct row {
    std::string field;
    std::function<void(supervisor_policy&)> spoil;
  };
  const std::vector<row> table = {
      {"max_restarts", [](supervisor_policy& p) { p.intensity.max_restarts = -1; }},
      {"period", [](supervisor_policy& p) { p.intensity.period = 0s; }},
      {"grace", [](supervisor_policy& p) { p.grace = -1s; }},
  };
  for (const auto& r : table) {
    supervisor_policy p;
    r.spoil(p);
    try {
      vigil::core::validate(p);
      ADD_FAILURE() << r.field << ": no exception";
    } catch (const vigil::core::error& e) {
      EXPECT_EQ(e.code(), vigil::core::errc::invalid_argument) << r.field;
      EXPECT_NE(std::string(e.what()).find(r.field), std::string::npos) << e.what();
    }
  }
  supervisor_policy ok;
  ok.grace = 0s;
  EXPECT_NO_THROW(vigil::core::validate(ok));
}

TEST(child_policy, defaults_match_the_specification) {
  // Proves the documented defaults: on_failure, no interval, unlimited retries, 60 s stability,
  // default back-off, no timeout or heartbeat, 5 s shutdown.
  const child_policy p;
  EXPECT_EQ(p.restart_policy, vigil::core::restart::on_failure);
  EXPECT_EQ(p.interval, 0s);
  EXPECT_FALSE(p.max_retries.has_value());
  EXPECT_EQ(p.stable_after, 60s);
  EXPECT_EQ(p.backoff.first(), 100ms);
  EXPECT_EQ(p.timeout, 0s);
  EXPECT_EQ(p.heartbeat_timeout, 0s);
  EXPECT_EQ(p.shutdown, 5s);
  const supervisor_policy s;
  EXPECT_EQ(s.strategy, vigil::core::strategy::one_for_one);
  EXPECT_EQ(s.grace, 30s);
  EXPECT_EQ(s.max_concurrent, 0u);
  EXPECT_FALSE(s.exit_when_idle);
}

TEST(errc, codes_belong_to_the_vigil_category_with_messages) {
  // Proves errc converts implicitly to std::error_code of category "vigil", compares equal to
  // itself, and that vigil::error carries code and message.
  const std::error_code ec = vigil::core::errc::not_found;
  EXPECT_STREQ(ec.category().name(), "vigil");
  EXPECT_EQ(ec, vigil::core::errc::not_found);
  EXPECT_NE(ec, vigil::core::errc::already_exists);
  EXPECT_EQ(ec.message(), "no such child");
  EXPECT_TRUE(static_cast<bool>(ec));
  const vigil::core::error e(vigil::core::errc::shutting_down, "root is shutting down");
  EXPECT_EQ(e.code(), vigil::core::errc::shutting_down);
  EXPECT_NE(std::string(e.what()).find("root is shutting down"), std::string::npos);
}

TEST(states, terminal_states_are_exactly_the_final_ones) {
  // Proves is_terminal: pending..paused are live states, completed..dependency_failed terminal.
  using vigil::core::child_state;
  const std::vector<std::pair<child_state, bool>> table = {
      {child_state::pending, false},    {child_state::starting, false},
      {child_state::running, false},    {child_state::backing_off, false},
      {child_state::stopping, false},   {child_state::paused, false},
      {child_state::completed, true},   {child_state::failed, true},
      {child_state::dead, true},        {child_state::stopped, true},
      {child_state::quarantined, true}, {child_state::dependency_failed, true},
  };
  for (const auto& [s, terminal] : table) {
    EXPECT_EQ(vigil::core::is_terminal(s), terminal) << vigil::core::to_string(s);
  }
}

}  // namespace
