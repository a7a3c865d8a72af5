// Quick start: one flaky poller restarted with exponential back-off until it succeeds.
#include <atomic>
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::atomic<int> polls{0};

// Fails twice, then succeeds: the failure is a value, the cheap path.
asio::awaitable<vigil::outcome> poll(vigil::context ctx) {
  co_await ctx.sleep(10ms);
  if (++polls < 3) co_return vigil::failure("upstream not ready");
  std::cout << "poll succeeded on attempt " << ctx.attempt() << "\n";
  co_return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.strategy = vigil::one_for_one, .exit_when_idle = true}};
  auto log = sup.subscribe(vigil::observe::log_to(std::cout));
  sup.add({.name = "poller",
           .task = poll,
           .restart = vigil::restart::on_failure,
           .backoff = vigil::backoff::exponential(20ms, 1s)});
  const int code = rt.run(sup);  // until the supervisor ends or SIGINT/SIGTERM
  const auto result = sup.outcome("poller");
  std::cout << "poller: " << vigil::to_string(result.status) << " after " << result.total_attempts
            << " attempts\n";
  return code;
}
