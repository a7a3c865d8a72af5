// Timeouts and heartbeats: a per-attempt timeout ends a hanging attempt (outcome timeout), and a
// heartbeat watchdog ends an attempt that stopped reporting liveness (outcome unresponsive).
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Hangs: waits far longer than its 100 ms timeout allows.
asio::awaitable<vigil::outcome> hang(vigil::context ctx) {
  co_await ctx.sleep(1h);
  co_return vigil::success();
}

// Heartbeats for a while, then gets stuck without heartbeating.
asio::awaitable<vigil::outcome> stall(vigil::context ctx) {
  for (int i = 0; i < 2; ++i) {
    ctx.heartbeat();
    co_await ctx.sleep(30ms);
  }
  co_await ctx.sleep(1h);  // no more heartbeats: the watchdog fires after 100 ms
  co_return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.exit_when_idle = true}};
  auto log = sup.subscribe(vigil::observe::log_to(std::cout));

  // restart::never: each runs once, so both outcomes are visible at the end (with max_retries,
  // the first child to use them up would escalate and stop the other one).
  sup.add({.name = "hanger", .task = hang, .restart = vigil::restart::never, .timeout = 100ms});
  sup.add({.name = "staller",
           .task = stall,
           .restart = vigil::restart::never,
           .heartbeat_timeout = 100ms});

  const int code = rt.run(sup);
  std::cout << "hanger: " << vigil::describe(sup.outcome("hanger").last)
            << "; staller: " << vigil::describe(sup.outcome("staller").last) << "\n";
  return code;
}
