// Unit tests of outcomes: success/failure classification, exception mapping and descriptions.
#include "vigil/core/outcome.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "vigil/core/event.hpp"

namespace {

using namespace std::chrono_literals;
using vigil::core::outcome;
using vigil::core::outcome_kind;

TEST(outcome, classifies_every_kind_as_success_failure_or_neither) {
  // Proves the table behind the restart policy: only success and exited(0) succeed; fatal is
  // neither; everything else (including cancelled and signals) is a retryable failure.
  struct row {
    outcome o;
    bool success;
    bool failure;
  };
  const std::vector<row> table = {
      {vigil::core::success(), true, false},
      {{outcome_kind::exited, 0, {}, nullptr}, true, false},
      {vigil::core::failure("x"), false, true},
      {vigil::core::fatal("x"), false, false},
      {{outcome_kind::timeout, 0, {}, nullptr}, false, true},
      {{outcome_kind::unresponsive, 0, {}, nullptr}, false, true},
      {vigil::core::cancelled(), false, true},
      {{outcome_kind::exited, 3, {}, nullptr}, false, true},
      {{outcome_kind::exited, -1, {}, nullptr}, false, true},
      {{outcome_kind::signalled, 9, {}, nullptr}, false, true},
  };
  for (const auto& r : table) {
    EXPECT_EQ(r.o.is_success(), r.success) << vigil::core::describe(r.o);
    EXPECT_EQ(r.o.is_failure(), r.failure) << vigil::core::describe(r.o);
  }
}

TEST(outcome, exceptions_map_to_fatal_failure_or_unknown_and_are_kept) {
  // Proves §1 and §13.14: fatal_error → fatal{what}, std::exception → failure{what}, anything
  // else → failure{"unknown exception"}; the exception_ptr is kept and rethrows the original.
  const auto f = vigil::core::outcome_from_exception(
      std::make_exception_ptr(vigil::core::fatal_error("disk gone")));
  EXPECT_EQ(f.kind, outcome_kind::fatal);
  EXPECT_EQ(f.reason, "disk gone");
  ASSERT_TRUE(f.exception);
  EXPECT_THROW(std::rethrow_exception(f.exception), vigil::core::fatal_error);

  const auto r =
      vigil::core::outcome_from_exception(std::make_exception_ptr(std::out_of_range("index 7")));
  EXPECT_EQ(r.kind, outcome_kind::failure);
  EXPECT_EQ(r.reason, "index 7");
  EXPECT_THROW(std::rethrow_exception(r.exception), std::out_of_range);

  const auto u = vigil::core::outcome_from_exception(std::make_exception_ptr(42));
  EXPECT_EQ(u.kind, outcome_kind::failure);
  EXPECT_EQ(u.reason, "unknown exception");
  EXPECT_THROW(std::rethrow_exception(u.exception), int);
}

// Exception types whose std::exception (or fatal_error) part is not at the object's address,
// or is there twice: the classification must adjust the address like a catch clause does.
struct with_data {
  virtual ~with_data() = default;
  long pad[3] = {1, 2, 3};
};
struct second_base_error : with_data, std::runtime_error {
  second_base_error() : std::runtime_error("second base") {}
};
struct second_base_fatal : with_data, vigil::core::fatal_error {
  second_base_fatal() : vigil::core::fatal_error("fatal second base") {}
};
struct twice_an_exception : std::runtime_error, std::logic_error {
  twice_an_exception() : std::runtime_error("a"), std::logic_error("b") {}
};
struct not_an_exception {
  int code = 7;
};

TEST(outcome, classification_matches_catch_clauses_for_any_hierarchy) {
  // The mapping is found without rethrowing; it must agree with what `catch` would match:
  // bases at an offset are found (and what() read from them), an ambiguous std::exception
  // base is no std::exception, class types outside the hierarchy are unknown.
  const auto a = vigil::core::outcome_from_exception(std::make_exception_ptr(second_base_error()));
  EXPECT_EQ(a.kind, outcome_kind::failure);
  EXPECT_EQ(a.reason, "second base");
  const auto b = vigil::core::outcome_from_exception(std::make_exception_ptr(second_base_fatal()));
  EXPECT_EQ(b.kind, outcome_kind::fatal);
  EXPECT_EQ(b.reason, "fatal second base");
  const auto c = vigil::core::outcome_from_exception(std::make_exception_ptr(twice_an_exception()));
  EXPECT_EQ(c.kind, outcome_kind::failure);
  EXPECT_EQ(c.reason, "unknown exception");
  const auto d = vigil::core::outcome_from_exception(std::make_exception_ptr(not_an_exception()));
  EXPECT_EQ(d.reason, "unknown exception");
  EXPECT_THROW(std::rethrow_exception(d.exception), not_an_exception);
  // Thrown for real (not made by make_exception_ptr) and caught as current_exception().
  std::exception_ptr e;
  try {
    throw second_base_fatal();
  } catch (...) {
    e = std::current_exception();
  }
  const auto f = vigil::core::outcome_from_exception(e);
  EXPECT_EQ(f.kind, outcome_kind::fatal);
  EXPECT_EQ(f.reason, "fatal second base");
}

TEST(outcome, factories_build_the_documented_values) {
  // Proves success(), failure(r), fatal(r) and cancelled(r) set kind and reason and nothing else.
  EXPECT_EQ(vigil::core::success().kind, outcome_kind::success);
  EXPECT_TRUE(vigil::core::success().reason.empty());
  EXPECT_EQ(vigil::core::failure("a").reason, "a");
  EXPECT_EQ(vigil::core::fatal("b").kind, outcome_kind::fatal);
  EXPECT_EQ(vigil::core::cancelled("c").kind, outcome_kind::cancelled);
  EXPECT_EQ(vigil::core::cancelled("c").reason, "c");
  EXPECT_EQ(vigil::core::failure("a").code, 0);
  EXPECT_FALSE(vigil::core::failure("a").exception);
}

TEST(outcome, describe_writes_kind_code_and_reason) {
  // Proves the log form of outcomes for each shape of kind, code and reason.
  struct row {
    outcome o;
    std::string text;
  };
  const std::vector<row> table = {
      {vigil::core::success(), "success"},
      {vigil::core::failure("boom"), "failure: boom"},
      {vigil::core::fatal("bad config"), "fatal: bad config"},
      {{outcome_kind::exited, 3, {}, nullptr}, "exited(3)"},
      {{outcome_kind::signalled, 9, "killed", nullptr}, "signalled(9): killed"},
      {vigil::core::cancelled(), "cancelled"},
  };
  for (const auto& r : table) EXPECT_EQ(vigil::core::describe(r.o), r.text);
}

TEST(outcome, every_kind_has_its_name) {
  // Proves to_string covers all eight kinds with their documented names.
  const std::vector<std::pair<outcome_kind, std::string>> table = {
      {outcome_kind::success, "success"},
      {outcome_kind::failure, "failure"},
      {outcome_kind::fatal, "fatal"},
      {outcome_kind::timeout, "timeout"},
      {outcome_kind::unresponsive, "unresponsive"},
      {outcome_kind::cancelled, "cancelled"},
      {outcome_kind::exited, "exited"},
      {outcome_kind::signalled, "signalled"},
  };
  for (const auto& [k, name] : table) EXPECT_EQ(vigil::core::to_string(k), name);
}

TEST(event, format_writes_one_readable_line) {
  // Proves format(event) includes kind, path, attempt, outcome, streak, duration, limit and reason.
  vigil::core::event e;
  e.kind = vigil::core::event_kind::attempt_timed_out;
  e.path_ = std::make_shared<const std::string>("root/db");
  e.attempt = 3;
  e.failure_streak = 2;
  e.outcome = outcome_kind::timeout;
  e.elapsed = 1500us;
  e.timeout = 2s;
  e.reason = "slow";
  EXPECT_EQ(vigil::core::format(e),
            "attempt_timed_out root/db attempt=3 outcome=timeout streak=2 ran=1.5ms limit=2000ms "
            "reason=\"slow\"");
  vigil::core::event b;
  b.kind = vigil::core::event_kind::backoff_scheduled;
  b.path_ = std::make_shared<const std::string>("root/p");
  b.delay = 250ms;
  b.source = vigil::core::delay_source::interval;
  EXPECT_EQ(vigil::core::format(b), "backoff_scheduled root/p delay=250ms source=interval");
}

TEST(event, process_output_lines_name_their_stream) {
  // A process_output event prints stdout or stderr (exit_code 1 or 2) before the line.
  vigil::core::event e;
  e.kind = vigil::core::event_kind::process_output;
  e.exit_code = 2;
  e.reason = "disk full";
  EXPECT_NE(vigil::core::format(e).find("stderr reason=\"disk full\""), std::string::npos);
  e.exit_code = 1;
  EXPECT_NE(vigil::core::format(e).find("stdout"), std::string::npos);
}

}  // namespace
