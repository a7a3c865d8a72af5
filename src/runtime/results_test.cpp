// Final results (§9, §13.10): outcome() when the supervisor goes away, run(children),
// wait_all and wait_any — blocking forms on a real runtime, async forms in virtual time.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "vigil/testing/manual_clock.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace vt = vigil::testing;

asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

// Succeeds after `d` of (virtual or real) time; counts its starts.
vigil::task after(vigil::duration d, std::shared_ptr<std::atomic<int>> starts = nullptr,
                  vigil::outcome o = vigil::success()) {
  return [d, starts, o](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
    if (starts) ++*starts;
    co_await ctx.sleep(d);
    co_return o;
  };
}

vigil::runtime_options two_threads() {
  return {.threads = 2, .signals = vigil::signal_handling::none};
}

TEST(results, run_adds_the_whole_list_and_returns_every_final_result_in_order) {
  // Three children ending differently; run() returns once all are terminal, in list order.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  const auto r = sup.run({{.name = "a", .task = after(5ms)},
                          {.name = "b", .task = after(1ms, nullptr, vigil::fatal("bad"))},
                          {.name = "c",
                           .task = after(0ms, nullptr, vigil::failure("x")),
                           .restart = vigil::restart::never}});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status, vigil::final_status::completed);
  EXPECT_EQ(r[1].status, vigil::final_status::dead);
  EXPECT_EQ(r[1].last.reason, "bad");
  EXPECT_EQ(r[2].status, vigil::final_status::failed);
  EXPECT_EQ(r[2].total_attempts, 1u);
}

TEST(results, run_rejects_the_whole_list_before_any_task_starts) {
  // A duplicate name, an invalid name, a name already listed, an unknown dependency: each
  // rejects the list with nothing added and no task started.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  sup.add({.name = "taken", .task = hang});
  auto starts = std::make_shared<std::atomic<int>>(0);
  const auto expect_rejected = [&](std::vector<vigil::child_spec> list, vigil::errc code) {
    try {
      (void)sup.run(std::move(list));
      ADD_FAILURE() << "must throw";
    } catch (const vigil::error& e) {
      EXPECT_EQ(e.code(), code) << e.what();
    }
  };
  expect_rejected({{.name = "x", .task = after(0ms, starts)}, {.name = "x", .task = hang}},
                  vigil::errc::already_exists);
  expect_rejected({{.name = "y", .task = after(0ms, starts)}, {.name = "bad name", .task = hang}},
                  vigil::errc::invalid_argument);
  expect_rejected({{.name = "z", .task = after(0ms, starts)}, {.name = "taken", .task = hang}},
                  vigil::errc::already_exists);
  expect_rejected({{.name = "w", .task = after(0ms, starts), .depends_on = {"nope"}}},
                  vigil::errc::unknown_dependency);
  EXPECT_EQ(*starts, 0);
  EXPECT_EQ(sup.children().size(), 1u);
}

TEST(results, a_list_breaking_a_core_rule_is_refused_whole_and_starts_nothing) {
  // §13.10 / §13.3: the 2nd child is significant under auto_shutdown = never (a rule only the
  // core checks). run(children) and add(list) both fail with invalid_argument naming it;
  // nothing is listed and the 1st child's task never ran. So for significant with
  // restart = always under any_significant.
  vigil::runtime rt(two_threads());
  auto starts = std::make_shared<std::atomic<int>>(0);
  const auto list = [&](bool always) {
    return std::vector<vigil::child_spec>{
        {.name = "first", .task = after(0ms, starts)},
        {.name = "second",
         .task = after(0ms, starts),
         .restart = always ? std::optional(vigil::restart::always) : std::nullopt,
         .significant = true}};
  };
  {
    vigil::supervisor sup{rt};
    try {
      (void)sup.run(list(false));
      ADD_FAILURE() << "run must throw";
    } catch (const vigil::error& e) {
      EXPECT_EQ(e.code(), vigil::errc::invalid_argument);
    }
    try {
      sup.add(list(false));
      ADD_FAILURE() << "add must throw";
    } catch (const vigil::error& e) {
      EXPECT_EQ(e.code(), vigil::errc::invalid_argument);
      EXPECT_NE(std::string(e.what()).find("'second'"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(sup.children().empty());
    sup.shutdown();
    (void)sup.wait();  // the end waits for every attempt that started: none may have
  }
  {
    vigil::supervisor sup{rt, {.auto_shutdown = vigil::auto_shutdown::any_significant}};
    EXPECT_THROW((void)sup.run(list(true)), vigil::error);
    EXPECT_TRUE(sup.children().empty());
    sup.shutdown();
    (void)sup.wait();
  }
  EXPECT_EQ(*starts, 0);
}

TEST(results, max_children_zero_refuses_every_child_and_nullopt_is_unlimited) {
  // max_children = 0 allows no child at all (too_many_children); the default is unlimited.
  vigil::runtime rt(two_threads());
  vigil::supervisor none{rt, {.max_children = 0}};
  try {
    none.add({.name = "a", .task = hang});
    ADD_FAILURE() << "add must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::too_many_children);
  }
  EXPECT_TRUE(none.children().empty());
  vigil::supervisor any{rt};
  std::vector<vigil::child_spec> many;
  for (int i = 0; i < 50; ++i) many.push_back({.name = "c" + std::to_string(i), .task = hang});
  any.add(std::move(many));
  EXPECT_EQ(any.children().size(), 50u);
}

TEST(results, run_of_an_empty_list_returns_at_once) {
  // Nothing to wait for.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  EXPECT_TRUE(sup.run({}).empty());
}

TEST(results, wait_all_and_wait_any_over_a_set_of_children) {
  // wait_any returns the first to end (the short one); wait_all returns every result in the
  // order asked; an unknown name is not_found at once.
  vigil::runtime rt(two_threads());
  vigil::supervisor sup{rt};
  sup.add({.name = "slow", .task = after(50ms)});
  sup.add({.name = "fast", .task = after(1ms)});
  const auto [name, first] = sup.wait_any({"slow", "fast"});
  EXPECT_EQ(name, "fast");
  EXPECT_EQ(first.status, vigil::final_status::completed);
  const auto all = sup.wait_all({"slow", "fast"});
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].status, vigil::final_status::completed);
  EXPECT_EQ(all[1].status, vigil::final_status::completed);
  try {
    (void)sup.wait_all({"slow", "ghost"});
    ADD_FAILURE() << "must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::not_found);
  }
  try {
    (void)sup.wait_any({});
    ADD_FAILURE() << "must throw";
  } catch (const vigil::error& e) {
    EXPECT_EQ(e.code(), vigil::errc::invalid_argument);
  }
}

TEST(results, async_forms_complete_through_completion_tokens_in_virtual_time) {
  // On one io_context with a manual clock: async_run, async_wait_all and async_wait_any
  // complete exactly when the virtual time says the children ended.
  asio::io_context io;
  vt::manual_clock clk;
  vigil::supervisor sup{io.get_executor(), {}, clk};
  std::optional<std::vector<vigil::final_result>> ran;
  sup.async_run({{.name = "a", .task = after(2s)}, {.name = "b", .task = after(1s)}},
                [&](std::error_code ec, std::vector<vigil::final_result> r) {
                  EXPECT_FALSE(ec);
                  ran = std::move(r);
                });
  std::optional<std::string> any;
  std::optional<std::vector<vigil::final_result>> all;
  vt::manual_clock::settle(io);
  sup.async_wait_any({"a", "b"}, [&](std::error_code ec, std::string n, vigil::final_result) {
    EXPECT_FALSE(ec);
    any = n;
  });
  sup.async_wait_all(
      {"a", "b"}, [&](std::error_code, std::vector<vigil::final_result> r) { all = std::move(r); });
  vt::manual_clock::settle(io);
  clk.run_for(io, 999ms);
  EXPECT_FALSE(any);
  clk.run_for(io, 1ms);
  EXPECT_EQ(any, "b");
  EXPECT_FALSE(all);
  EXPECT_FALSE(ran);
  clk.run_for(io, 1s);
  ASSERT_TRUE(all && ran);
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(ran->size(), 2u);
}

TEST(results, outcome_resolves_when_the_last_owner_goes_away_first) {
  // An outcome waiter is pending when the supervisor object (the only owner) is destroyed: the
  // graceful shutdown stops the child and the waiter resolves with status stopped.
  vigil::runtime rt(two_threads());
  std::future<std::tuple<std::error_code, vigil::final_result>> f;
  {
    vigil::supervisor sup{rt};
    sup.add({.name = "w", .task = hang});
    f = sup.async_outcome("w", asio::use_future);
  }
  const auto [ec, r] = f.get();
  EXPECT_FALSE(ec);
  EXPECT_EQ(r.status, vigil::final_status::stopped);
}

TEST(results, outcome_reports_an_error_instead_of_hanging_when_the_executor_goes_first) {
  // The supervisor's io_context is destroyed while an outcome waiter is pending: the waiter
  // never resolves with a guess; its future is broken (a blocking outcome() turns that into
  // supervisor_gone) instead of hanging.
  auto io = std::make_unique<asio::io_context>();
  vt::manual_clock clk;
  std::future<std::tuple<std::error_code, vigil::final_result>> f;
  {
    vigil::supervisor sup{io->get_executor(), {}, clk};
    // The task waits on an Asio timer of the io_context itself (not on the clock).
    sup.async_add({.name = "w",
                   .task = [](vigil::context) -> asio::awaitable<vigil::outcome> {
                     asio::steady_timer t(co_await asio::this_coro::executor, 24h);
                     co_await t.async_wait(asio::use_awaitable);
                     co_return vigil::success();
                   }},
                  [](std::error_code) {});
    vt::manual_clock::settle(*io);
    f = sup.async_outcome("w", asio::use_future);
    vt::manual_clock::settle(*io);
  }  // the shutdown is posted, but nobody runs the io_context again
  io.reset();
  ASSERT_EQ(f.wait_for(0s), std::future_status::ready);
  try {
    const auto [ec, r] = f.get();
    EXPECT_EQ(ec, vigil::errc::supervisor_gone);
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::future_errc::broken_promise);
  }
}

TEST(results, an_io_context_destroyed_with_parked_attempts_destroys_their_frames) {
  // Attempts parked in ctx.stopped() hold no timer; when their io_context is destroyed first,
  // their coroutine frames are destroyed with it (as a pending timer's would be), not leaked.
  auto io = std::make_unique<asio::io_context>();
  vt::manual_clock clk;
  auto token = std::make_shared<int>(0);  // each frame holds a copy
  {
    vigil::supervisor sup{io->get_executor(), {}, clk};
    for (const char* name : {"a", "b"}) {
      sup.async_add({.name = name,
                     .task = [token](vigil::context ctx) -> asio::awaitable<vigil::outcome> {
                       auto held = token;
                       co_await ctx.stopped();
                       co_return vigil::success();
                     }},
                    [](std::error_code) {});
    }
    vt::manual_clock::settle(*io);
    // Ours, two task factories, and in each attempt's frames its own copy of the task (§13.27)
    // and `held`.
    EXPECT_EQ(token.use_count(), 7);
  }  // the shutdown is posted, but nobody runs the io_context again
  io.reset();
  EXPECT_EQ(token.use_count(), 1);
}

}  // namespace
