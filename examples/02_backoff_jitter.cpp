// Back-off with full jitter: a child that always fails is retried with randomised exponential
// delays until max_retries is used up, then ends with status retries_exhausted.
#include <iomanip>
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Always fails: every attempt asks for a retry.
asio::awaitable<vigil::outcome> connect(vigil::context ctx) {
  co_await ctx.sleep(1ms);
  co_return vigil::failure("connection refused");
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.exit_when_idle = true}};

  // Each backoff_scheduled event carries the jittered delay the supervisor chose: exponential
  // bases 10, 20, 40, 80 ms, each drawn uniformly from [0, base] (jitter::full). Subscribers run
  // one event at a time, so printing needs no lock.
  auto delays = sup.subscribe([&](const vigil::event& e) {
    if (e.kind != vigil::event_kind::backoff_scheduled) return;
    const auto ms = std::chrono::duration<double, std::milli>(e.delay).count();
    std::cout << "retry " << e.failure_streak << " after " << std::fixed << std::setprecision(1)
              << ms << " ms\n";
  });

  sup.add({.name = "connector",
           .task = connect,
           .restart = vigil::restart::on_failure,
           .backoff = vigil::backoff::exponential(10ms, 1s).with_jitter(vigil::jitter::full),
           .max_retries = 4});

  const int code = rt.run(sup);  // the supervisor ends once the child is terminal
  const auto result = sup.outcome("connector");
  std::cout << "connector: " << vigil::to_string(result.status) << " after "
            << result.total_attempts << " attempts (" << vigil::describe(result.last) << ")\n";
  return code;
}
