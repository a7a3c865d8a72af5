// Mixed trees: one supervisor holds a coroutine, a blocking thread and a child process, under the
// same policies. Moving a child between kinds changes only its `.task = …` line.
#include <chrono>
#include <iostream>
#include <thread>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A coroutine: cheap, shares the event loop; fails twice before it succeeds.
asio::awaitable<vigil::outcome> fetch(vigil::context ctx) {
  co_await ctx.sleep(10ms);
  co_return ctx.attempt() < 3 ? vigil::failure("upstream busy") : vigil::success();
}

// A blocking loop on its own thread: watches its stop token and reports liveness.
vigil::outcome crunch(vigil::context ctx) {
  for (int i = 0; i < 5 && !ctx.stop_requested(); ++i) {
    ctx.heartbeat();
    std::this_thread::sleep_for(5ms);
  }
  return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.exit_when_idle = true}};
  auto log = sup.subscribe(vigil::observe::log_to(std::cout));
  const auto quick = vigil::backoff::constant(5ms);

  sup.add({.name = "fetcher", .task = fetch, .backoff = quick});
  sup.add({.name = "cruncher", .task = vigil::thread(crunch), .heartbeat_timeout = 1s});
  // An external program: exit code 78 would mean "bad configuration, do not retry".
  sup.add({.name = "reporter",
           .task = vigil::process({.argv = {"/bin/sh", "-c", "echo report ready"},
                                   .exit_codes = {{78, vigil::outcome_kind::fatal}}}),
           .backoff = quick});

  const int code = rt.run(sup);
  for (const char* name : {"fetcher", "cruncher", "reporter"}) {
    const auto child = sup.status(name);
    std::cout << name << " (" << vigil::to_string(child.kind)
              << "): " << vigil::to_string(child.final->status) << " after " << child.attempt
              << (child.attempt == 1 ? " attempt" : " attempts") << "\n";
  }
  return code;
}
