// Control inside subtrees (paths from any handle), the effective-spec read-back and add/start
// forms that complete once the attempt runs: on a virtual runtime, with real threads for one.
#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>

#include "test_support.hpp"
#include "vigil/testing/virtual_runtime.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

asio::awaitable<vigil::outcome> idle(vigil::context ctx) {
  co_await ctx.stopped();
  co_return vigil::success();
}

asio::awaitable<vigil::outcome> fails_at_once(vigil::context) {
  co_return vigil::failure("no database");
}

asio::awaitable<vigil::outcome> ready_after_a_second(vigil::context ctx) {
  co_await ctx.sleep(1s);
  ctx.ready();
  co_await ctx.stopped();
  co_return vigil::success();
}

// The result of an async call on a virtual runtime, read after settling.
struct reply {
  std::optional<std::error_code> ec;
  auto handler() {
    return [this](std::error_code e) { ec = e; };
  }
};

vigil::child_info status_of(vigil::testing::virtual_runtime& vr, const std::string& name,
                            std::error_code* error = nullptr) {
  std::optional<std::pair<std::error_code, vigil::child_info>> got;
  vr.sup->async_status(name, [&](std::error_code ec, vigil::child_info i) { got.emplace(ec, i); });
  vr.settle();
  EXPECT_TRUE(got.has_value()) << "no reply to status(" << name << ")";
  if (!got) return {};
  if (error != nullptr) *error = got->first;
  return got->second;
}

vigil::subtree db_tree() {
  return vigil::subtree{
      .options = {.intensity = {.max_restarts = 100}},
      .children = {{.name = "conn", .task = idle, .restart = vigil::restart::always}}};
}

TEST(path_control, commands_and_queries_reach_a_child_of_a_running_subtree_by_path) {
  // restart("db/conn") starts conn's attempt 2 inside the subtree; stop("db/conn") stops it;
  // status and outcome answer for it; paths through a missing or non-subtree child are
  // not_found.
  vigil::testing::virtual_runtime vr;
  vr.start();
  ASSERT_TRUE(vr.add({.name = "db", .task = db_tree(), .restart = vigil::restart::always}));
  ASSERT_TRUE(vr.add({.name = "plain", .task = idle}));
  vr.settle();
  EXPECT_EQ(status_of(vr, "db/conn").path, "root/db/conn");
  EXPECT_EQ(status_of(vr, "db/conn").attempt, 1u);

  reply restarted;
  vr.sup->async_restart("db/conn", restarted.handler());
  vr.settle();
  ASSERT_TRUE(restarted.ec);
  EXPECT_FALSE(*restarted.ec);
  EXPECT_EQ(status_of(vr, "db/conn").attempt, 2u);
  EXPECT_EQ(status_of(vr, "db/conn").restarts_manual, 1u);
  EXPECT_EQ(status_of(vr, "db").attempt, 1u) << "the subtree itself did not restart";

  reply stopped;
  vr.sup->async_stop("db/conn", stopped.handler());
  vr.settle();
  ASSERT_TRUE(stopped.ec);
  EXPECT_FALSE(*stopped.ec);
  EXPECT_EQ(status_of(vr, "db/conn").state, vigil::child_state::stopped);
  std::optional<vigil::final_result> final;
  vr.sup->async_outcome("db/conn", [&](std::error_code ec, vigil::final_result f) {
    EXPECT_FALSE(ec);
    final = f;
  });
  vr.settle();
  ASSERT_TRUE(final);
  EXPECT_EQ(final->status, vigil::final_status::stopped);

  for (const char* bad : {"nope/conn", "plain/conn", "db/nope"}) {
    reply r;
    vr.sup->async_restart(bad, r.handler());
    vr.settle();
    ASSERT_TRUE(r.ec) << bad;
    EXPECT_EQ(*r.ec, vigil::errc::not_found) << bad;
    std::error_code ec;
    status_of(vr, bad, &ec);
    EXPECT_EQ(ec, vigil::errc::not_found) << bad;
  }
}

TEST(path_control, a_child_added_into_a_subtree_runs_there_and_is_not_recreated_by_its_restart) {
  // add_to("db", …) runs the child as root/db/extra. Restarting db brings back its declared
  // child only (OTP's rule) and reports extra with child_removed.
  vigil::testing::virtual_runtime vr;
  vr.start();
  ASSERT_TRUE(vr.add({.name = "db", .task = db_tree(), .restart = vigil::restart::always}));
  vr.settle();
  reply added;
  vr.sup->async_add_to("db", {.name = "extra", .task = idle}, added.handler());
  vr.settle();
  ASSERT_TRUE(added.ec);
  EXPECT_FALSE(*added.ec);
  EXPECT_EQ(status_of(vr, "db/extra").state, vigil::child_state::running);
  EXPECT_EQ(vr.events->count(vigil::event_kind::attempt_starting, "root/db/extra"), 1u);

  reply missing;
  vr.sup->async_add_to("nope", {.name = "x", .task = idle}, missing.handler());
  vr.settle();
  ASSERT_TRUE(missing.ec);
  EXPECT_EQ(*missing.ec, vigil::errc::not_found);

  reply restarted;
  vr.sup->async_restart("db", restarted.handler());
  vr.settle();
  ASSERT_TRUE(restarted.ec);
  EXPECT_FALSE(*restarted.ec);
  EXPECT_EQ(vr.events->count(vigil::event_kind::child_removed, "root/db/extra"), 1u);
  EXPECT_EQ(vr.events->count(vigil::event_kind::child_removed, "root/db/conn"), 0u);
  std::error_code ec;
  status_of(vr, "db/extra", &ec);
  EXPECT_EQ(ec, vigil::errc::not_found);
  EXPECT_EQ(status_of(vr, "db/conn").state, vigil::child_state::running);
  EXPECT_EQ(status_of(vr, "db").attempt, 2u);
}

TEST(path_control, spec_reads_back_exactly_the_policy_the_supervisor_applies) {
  // child_defaults fill the unset fields; a nested supervisor's shutdown default is infinity
  // (resolve_policy agrees with the supervisor); dependencies come back as given.
  vigil::testing::virtual_runtime vr;
  vr.start({.child_defaults = {.max_retries = 4, .timeout = 3s}});
  ASSERT_TRUE(vr.add({.name = "a", .task = idle, .restart = vigil::restart::always}));
  ASSERT_TRUE(vr.add({.name = "db", .task = db_tree(), .depends_on = {"a"}}));
  std::optional<vigil::effective_spec> a, db;
  vr.sup->async_spec("a", [&](std::error_code ec, vigil::effective_spec s) {
    EXPECT_FALSE(ec);
    a = s;
  });
  vr.sup->async_spec("db", [&](std::error_code ec, vigil::effective_spec s) {
    EXPECT_FALSE(ec);
    db = s;
  });
  vr.settle();
  ASSERT_TRUE(a && db);
  EXPECT_EQ(a->path, "root/a");
  EXPECT_EQ(a->kind, vigil::task_kind::coroutine);
  EXPECT_EQ(a->policy.restart_policy, vigil::restart::always);
  EXPECT_EQ(a->policy.timeout, 3s);
  EXPECT_EQ(a->policy.max_retries, 4u);
  EXPECT_EQ(a->policy.shutdown, 5s);
  EXPECT_EQ(db->kind, vigil::task_kind::supervisor);
  EXPECT_EQ(db->policy.shutdown, vigil::infinity);
  EXPECT_EQ(db->depends_on, std::vector<std::string>{"a"});
  EXPECT_EQ(vigil::resolve_policy({.name = "db", .task = db_tree()}, {}).shutdown, vigil::infinity);

  std::optional<vigil::effective_spec> conn;
  vr.sup->async_spec("db/conn", [&](std::error_code ec, vigil::effective_spec s) {
    EXPECT_FALSE(ec);
    conn = s;
  });
  vr.settle();
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn->path, "root/db/conn");
  std::optional<std::error_code> none;
  vr.sup->async_spec("zzz", [&](std::error_code ec, vigil::effective_spec) { none = ec; });
  vr.settle();
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, vigil::errc::not_found);
}

TEST(path_control, add_until_running_completes_when_the_first_attempt_runs_or_fails) {
  // A healthy child completes at once as running; one whose first attempt fails completes
  // with start_failed naming the reason; a wait_ready child completes only once it is ready.
  vigil::testing::virtual_runtime vr;
  vr.start();
  reply ok;
  vr.sup->async_add({.name = "ok", .task = idle}, vigil::until::running, ok.handler());
  vr.settle();
  ASSERT_TRUE(ok.ec);
  EXPECT_FALSE(*ok.ec);
  EXPECT_EQ(status_of(vr, "ok").state, vigil::child_state::running);

  std::optional<std::pair<std::error_code, std::string>> bad;
  vigil::child_spec failing{.name = "bad", .task = fails_at_once};
  vr.sup->async_add(failing, vigil::until::running,
                    [&](std::error_code ec) { bad.emplace(ec, ""); });
  vr.settle();
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->first, vigil::errc::start_failed);
  EXPECT_EQ(status_of(vr, "bad").attempt, 1u) << "the child stays listed and goes on by policy";

  reply slow;
  vr.sup->async_add({.name = "slow", .task = ready_after_a_second, .wait_ready = true},
                    vigil::until::running, slow.handler());
  vr.settle();
  EXPECT_FALSE(slow.ec) << "completed before the child was ready";
  vr.run_for(500ms);
  EXPECT_FALSE(slow.ec) << "completed before the child was ready";
  vr.run_for(600ms);
  ASSERT_TRUE(slow.ec);
  EXPECT_FALSE(*slow.ec);
  EXPECT_TRUE(status_of(vr, "slow").ready);

  // start(until::running) of a stopped child.
  reply stopped, started;
  vr.sup->async_stop("ok", stopped.handler());
  vr.settle();
  vr.sup->async_start("ok", vigil::until::running, started.handler());
  vr.settle();
  ASSERT_TRUE(started.ec);
  EXPECT_FALSE(*started.ec);
  EXPECT_EQ(status_of(vr, "ok").attempt, 2u);
}

TEST(path_control, blocking_add_until_running_reports_a_program_that_cannot_start) {
  // On a real runtime: a process whose program does not exist fails add(…, until::running)
  // with start_failed and a message naming the program; a thread task that runs succeeds.
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt};
  try {
    sup.add({.name = "ghost",
             .task = vigil::process({.argv = {"/nonexistent/vigil-ghost"}}),
             .restart = vigil::restart::never},
            vigil::until::running);
    ADD_FAILURE() << "add did not fail";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::start_failed);
    EXPECT_NE(std::string(e.what()).find("vigil-ghost"), std::string::npos) << e.what();
  }
  std::atomic<bool> ran{false};
  sup.add({.name = "worker", .task = vigil::thread([&](vigil::context ctx) {
                               ran = true;
                               while (!ctx.stop_requested()) std::this_thread::sleep_for(1ms);
                             })},
          vigil::until::running);
  EXPECT_EQ(sup.status("worker").state, vigil::child_state::running);
  sup.shutdown();
  EXPECT_TRUE(sup.wait().ok());
}

}  // namespace
