// Unit tests of add_children (SEMANTICS §13.10, §13.3): a list of children is checked as a whole
// against every rule the core enforces and added entirely or not at all.
#include <gtest/gtest.h>

#include "machine_test_driver.hpp"
#include "vigil/core/error.hpp"

namespace {

using namespace machine_test;

struct spec {
  std::string name;
  child_policy policy = plain();
  std::vector<std::string> deps = {};
};

std::vector<new_child> batch_of(const std::vector<spec>& specs) {
  std::vector<new_child> out;
  for (const spec& s : specs) {
    out.push_back(
        {s.name, std::make_shared<const child_policy>(s.policy), task_kind::coroutine, s.deps});
  }
  return out;
}

child_policy significant(restart r = restart::on_failure) {
  child_policy p = plain(r);
  p.significant = true;
  return p;
}

child_policy negative_timeout() {
  child_policy p = plain();
  p.timeout = -1s;
  return p;
}

TEST(machine_add, a_batch_breaking_any_rule_is_refused_whole_with_nothing_changed) {
  // Proves §13.10 / §13.3 as a table: for each bad batch (listed: one child "taken"), the
  // error code, the refused child's index, a message naming it and the rule; and nothing
  // happened: no child added, no action (no event, no start), the listed child untouched.
  struct row {
    const char* what;
    supervisor_policy sup;
    std::vector<spec> batch;
    errc code;
    std::size_t index;
    std::vector<std::string> message_has;
  };
  supervisor_policy never_auto;  // auto_shutdown = never (the default)
  supervisor_policy any_sig;
  any_sig.auto_shutdown = auto_shutdown::any_significant;
  supervisor_policy two_max;
  two_max.max_children = 2;
  const std::vector<row> table = {
      {"significant under auto_shutdown = never",
       never_auto,
       {{"a"}, {"b", significant()}},
       errc::invalid_argument,
       1,
       {"'b'", "significant", "auto_shutdown = never"}},
      {"significant with restart = always",
       any_sig,
       {{"a"}, {"b", significant(restart::always)}},
       errc::invalid_argument,
       1,
       {"'b'", "restart = always"}},
      {"a name twice in the batch",
       never_auto,
       {{"a"}, {"b"}, {"a"}},
       errc::already_exists,
       2,
       {"'a' twice"}},
      {"a name already listed",
       never_auto,
       {{"a"}, {"taken"}},
       errc::already_exists,
       1,
       {"'taken'"}},
      {"an invalid name",
       never_auto,
       {{"a"}, {"bad name"}},
       errc::invalid_argument,
       1,
       {"'bad name'"}},
      {"an invalid policy",
       never_auto,
       {{"a"}, {"b", negative_timeout()}},
       errc::invalid_argument,
       1,
       {"'b'", "timeout"}},
      {"an unknown dependency",
       never_auto,
       {{"a"}, {"b", plain(), {"nope"}}},
       errc::unknown_dependency,
       1,
       {"'b'", "'nope'"}},
      {"a dependency on a later child of the batch",
       never_auto,
       {{"a", plain(), {"b"}}, {"b"}},
       errc::unknown_dependency,
       0,
       {"'a'", "'b'"}},
      {"a dependency on itself",
       never_auto,
       {{"a"}, {"b", plain(), {"b"}}},
       errc::dependency_cycle,
       1,
       {"'b'", "itself"}},
      {"more than max_children",
       two_max,
       {{"a"}, {"b"}},
       errc::too_many_children,
       1,
       {"'b'", "max_children = 2"}},
  };
  for (const row& r : table) {
    SCOPED_TRACE(r.what);
    driver d(r.sup);
    ASSERT_TRUE(d.add("taken"));
    d.clear();
    const batch_result res = d.m.add_children(batch_of(r.batch), d.now);
    d.drain();
    EXPECT_EQ(res.code, r.code) << res.message;
    EXPECT_EQ(res.index, r.index);
    EXPECT_TRUE(res.ids.empty());
    for (const auto& part : r.message_has) {
      EXPECT_NE(res.message.find(part), std::string::npos) << res.message;
    }
    EXPECT_EQ(d.m.size(), 1u);
    EXPECT_TRUE(d.log.empty()) << d.log.front();
    EXPECT_EQ(d.state("taken"), child_state::running);
  }
}

TEST(machine_add, a_batch_is_refused_while_shutting_down) {
  // Proves a batch during the shutdown is refused with shutting_down and nothing is added.
  driver d;
  d.add("taken");
  d.shutdown();
  d.clear();
  const batch_result res = d.m.add_children(batch_of({{"a"}, {"b"}}), d.now);
  d.drain();
  EXPECT_EQ(res.code, errc::shutting_down);
  EXPECT_EQ(res.index, 0u);
  EXPECT_EQ(d.m.size(), 1u);
  EXPECT_EQ(d.count(event_kind::child_added), 0u);
}

TEST(machine_add, an_accepted_batch_lists_every_child_then_starts_them_in_order) {
  // Proves an accepted batch: ids in batch order, child_added for all before any start, a
  // dependency on an earlier batch child is resolved (b waits for a's start), in start order.
  driver d;
  child_policy ready = plain();
  ready.wait_ready = true;
  std::vector<spec> specs = {{"a", ready}, {"b", plain(), {"a"}}, {"c"}};
  const batch_result res = d.m.add_children(batch_of(specs), d.now);
  ASSERT_TRUE(res) << res.message;
  ASSERT_EQ(res.ids.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) d.names[res.ids[i]] = specs[i].name;
  d.drain();
  EXPECT_EQ(d.m.children(), res.ids);
  EXPECT_EQ(d.log, (std::vector<std::string>{"child_added root/a", "child_added root/b",
                                             "child_added root/c", "attempt_starting root/a",
                                             "start a#1"}));
  d.m.on_ready(d.id("a"), d.current[d.id("a")].generation, d.now);
  d.drain();
  EXPECT_EQ(d.started_names(), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(machine_add, a_batch_child_whose_dependency_already_failed_ends_alone) {
  // Proves a batch child whose listed dependency already ended dead ends dependency_failed at
  // once (§13.20) while the rest of the batch is added and starts.
  driver d;
  d.add("db");
  d.exit("db", fatal("corrupt"));
  ASSERT_EQ(d.final("db")->status, final_status::dead);
  std::vector<spec> specs = {{"user", plain(), {"db"}}, {"other"}};
  const batch_result res = d.m.add_children(batch_of(specs), d.now);
  ASSERT_TRUE(res) << res.message;
  for (std::size_t i = 0; i < 2; ++i) d.names[res.ids[i]] = specs[i].name;
  d.drain();
  EXPECT_EQ(d.final("user")->status, final_status::dependency_failed);
  EXPECT_EQ(d.state("other"), child_state::running);
  EXPECT_EQ(d.m.size(), 3u);
}

}  // namespace
