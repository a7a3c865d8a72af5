// Runtime control: add, stop, start, restart and remove a child while the supervisor runs, from
// main through blocking handle calls; a duplicate add fails without disturbing anything; a list
// of children is added in one call.
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Serves until asked to stop: ctx.stopped() parks the attempt without a timer and returns when
// the supervisor stops it.
asio::awaitable<void> serve(vigil::context ctx) {
  co_await ctx.stopped();
  std::cout << "  " << ctx.name() << ": stop received, attempt " << ctx.attempt() << " tidies up\n";
}

void show(const vigil::handle& sup, std::string_view step) {
  std::cout << step << ":";
  for (const auto& c : sup.children())
    std::cout << " " << c.name << "=" << vigil::to_string(c.state) << " (attempts " << c.attempt
              << ", manual restarts " << c.restarts_manual << ")";
  std::cout << "\n";
}

int main() {
  vigil::runtime rt{{.threads = 2}};
  vigil::supervisor sup{rt};  // runs until shut down

  sup.add({.name = "worker", .task = serve});
  show(sup, "after add");
  sup.stop("worker");  // returns once the attempt has ended
  show(sup, "after stop");
  sup.start("worker");
  show(sup, "after start");
  sup.restart("worker");
  show(sup, "after restart");

  bool rejected = false;
  try {
    sup.add({.name = "worker", .task = serve});
  } catch (const vigil::error& e) {
    rejected = e.code() == vigil::errc::already_exists;
    std::cout << "duplicate add: " << e.what() << "\n";
  }
  std::cout << "worker still " << vigil::to_string(sup.status("worker").state) << "\n";

  sup.remove("worker");
  show(sup, "after remove");

  // Many children in one hand-off: the whole list is checked first, then all of it is added.
  std::vector<vigil::child_spec> pool;
  for (int i = 0; i < 3; ++i) pool.push_back({.name = "pool-" + std::to_string(i), .task = serve});
  sup.add(std::move(pool));
  show(sup, "after adding a list");

  sup.shutdown();
  const auto result = sup.wait();
  std::cout << "duplicate rejected with already_exists: " << (rejected ? "yes" : "no")
            << "; supervisor ended: " << vigil::to_string(result.reason) << "\n";
}
