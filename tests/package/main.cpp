// Consumer smoke test: the README quick start, built against an installed vigil. Exits 0 only
// when the flaky poller was restarted and completed.
#include <vigil/vigil.hpp>

#include <iostream>

using namespace std::chrono_literals;
namespace asio = boost::asio;

asio::awaitable<vigil::outcome> poll(vigil::context ctx) {
  if (ctx.attempt() < 3) co_return vigil::failure("upstream not ready");
  co_return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.strategy = vigil::one_for_one, .exit_when_idle = true}};
  sup.add({.name = "poller",
           .task = poll,
           .restart = vigil::restart::on_failure,
           .backoff = vigil::backoff::exponential(1ms, 10ms)});
  const int code = rt.run(sup);
  const auto r = sup.outcome("poller");
  std::cout << "poller: " << vigil::to_string(r.status) << " after " << r.total_attempts
            << " attempts\n";
  return code == 0 && r.status == vigil::final_status::completed && r.total_attempts == 3 ? 0 : 1;
}
