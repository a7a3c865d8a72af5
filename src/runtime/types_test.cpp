// The user-facing names of namespace vigil: the core's helpers reached through the umbrella
// header alone, and the safe way to write one's own wait on a vigil::clock (docs/handle.md).
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <memory>
#include <optional>

#include "vigil/testing/manual_clock.hpp"
#include "vigil/vigil.hpp"

namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST(types, is_terminal_and_random_source_are_reachable_as_vigil_names) {
  // Proves the re-exports: vigil::is_terminal classifies states as the core does, and
  // vigil::random_source drives backoff::next_delay with the same sequence per seed.
  static_assert(vigil::is_terminal(vigil::child_state::completed));
  static_assert(vigil::is_terminal(vigil::child_state::stopped));
  static_assert(!vigil::is_terminal(vigil::child_state::running));
  static_assert(!vigil::is_terminal(vigil::child_state::backing_off));

  vigil::random_source a(42);
  vigil::random_source b(42);
  const vigil::backoff bo =
      vigil::backoff::exponential(100ms, 30s).with_jitter(vigil::jitter::full);
  for (std::uint32_t n = 0; n < 20; ++n) {
    const vigil::duration d = bo.next_delay(n, {}, a);
    EXPECT_EQ(d, bo.next_delay(n, {}, b));
    EXPECT_LE(d, bo.base_delay(n));
  }
  const std::uint64_t x = a.uniform(5, 9);
  EXPECT_GE(x, 5u);
  EXPECT_LE(x, 9u);
}

// The pattern docs/handle.md recommends for a wait of one's own on a vigil::clock: a coroutine
// (so its frame keeps what the wait needs alive), an initiation that captures only trivially
// destructible values (GCC 12 destroys other captures twice through use_awaitable), and the
// caller's cancellation slot passed explicitly with a slot-free handler (Asio 1.26).
asio::awaitable<void> wait_until(vigil::clock& clk, vigil::time_point at) {
  vigil::clock* c = &clk;
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(boost::system::error_code)>(
      [c, at](auto handler) {
        auto slot = asio::get_associated_cancellation_slot(handler);
        auto ex = asio::get_associated_executor(handler);
        c->async_wait_until(
            ex, at, slot,
            [h = std::move(handler)](boost::system::error_code ec) mutable { std::move(h)(ec); });
      },
      asio::use_awaitable);
}

TEST(types, a_user_wait_on_a_vigil_clock_completes_on_time_and_can_be_cancelled) {
  // Proves the documented pattern: a wait of 5 s on a manual clock resumes at exactly +5 s
  // (not before), and a second wait ends with operation_aborted when its coroutine's
  // cancellation slot is emitted, leaving no pending wait behind.
  asio::io_context io;
  vigil::testing::manual_clock clk;
  const vigil::time_point start = clk.now();
  auto shared = std::make_shared<int>(7);  // lives in the awaiting frame, as the docs say
  std::optional<vigil::time_point> woke;
  asio::co_spawn(
      io,
      [&, shared]() -> asio::awaitable<void> {
        co_await wait_until(clk, clk.now() + 5s);
        woke = clk.now();
        EXPECT_EQ(*shared, 7);
      },
      asio::detached);
  clk.run_for(io, 4s);
  EXPECT_FALSE(woke);
  clk.run_for(io, 1s);
  ASSERT_TRUE(woke);
  EXPECT_EQ(*woke - start, 5s);

  asio::cancellation_signal cancel;
  std::optional<boost::system::error_code> ended;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await wait_until(clk, clk.now() + 1h);
          ended = boost::system::error_code{};
        } catch (const boost::system::system_error& e) {
          ended = e.code();
        }
      },
      asio::bind_cancellation_slot(cancel.slot(), asio::detached));
  vigil::testing::manual_clock::settle(io);
  EXPECT_EQ(clk.pending_waits(), 1u);
  cancel.emit(asio::cancellation_type::terminal);
  vigil::testing::manual_clock::settle(io);
  ASSERT_TRUE(ended);
  EXPECT_EQ(*ended, asio::error::operation_aborted);
  EXPECT_EQ(clk.pending_waits(), 0u);
  EXPECT_EQ(shared.use_count(), 1);
}

}  // namespace
