// Graceful wind-down: after a stop request a coroutine task may still co_await its tidy-up
// (write out a buffer, say goodbye) within its shutdown timeout, after which it would be forced.
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Stands for an asynchronous write to a store (20 ms on a timer of its own). The tidy-up uses
// its own timers and I/O: after a stop, ctx.sleep() keeps throwing operation_aborted.
asio::awaitable<void> write_out(const std::vector<std::string>& records) {
  const auto ex = co_await asio::this_coro::executor;
  asio::steady_timer store(ex, 20ms);
  co_await store.async_wait(asio::use_awaitable);
  (void)records;
}

// Collects records and writes them in batches of 100. The stop cancels its wait: the task
// catches that, winds down (ends the stop's cancellation), and writes the partial batch.
asio::awaitable<void> collector(vigil::context ctx) {
  std::vector<std::string> buffer;
  try {
    for (int i = 0;; ++i) {
      co_await ctx.sleep(5ms);  // a record arrives
      buffer.push_back("record " + std::to_string(i));
      if (buffer.size() == 100) {
        co_await write_out(buffer);
        buffer.clear();
      }
    }
  } catch (const boost::system::system_error&) {
    if (!ctx.stop_requested()) throw;  // a real error: a failure, restarted by the policy
  }
  co_await ctx.wind_down();  // without it, every co_await below would throw at once
  co_await write_out(buffer);
  std::cout << "collector: wrote " << buffer.size() << " buffered records after the stop\n";
}

// Idle until stopped: ctx.stopped() returns on the stop with the cancellation already ended,
// so the goodbye can be awaited right away.
asio::awaitable<void> session(vigil::context ctx) {
  co_await ctx.stopped();
  asio::steady_timer goodbye(ctx.executor(), 10ms);  // stands for sending a goodbye message
  co_await goodbye.async_wait(asio::use_awaitable);
  std::cout << "session: said goodbye\n";
}

int main() {
  vigil::runtime rt{{.threads = 2}};
  vigil::supervisor sup{rt};
  sup.add({.name = "collector", .task = collector, .shutdown = 2s});
  sup.add({.name = "session", .task = session, .shutdown = 2s});
  std::this_thread::sleep_for(100ms);  // let some records arrive

  for (const char* name : {"collector", "session"}) {
    sup.stop(name);  // returns once the attempt has ended
    const auto result = sup.outcome(name);
    std::cout << name << ": " << vigil::to_string(result.status)
              << ", forced: " << (result.forced ? "yes" : "no") << "\n";
  }
  sup.shutdown();
  sup.wait();
}
