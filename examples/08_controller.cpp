// A controller serving "re-index" requests: only the newest request matters, so each one is
// submitted with admission::replace — the running re-index is stopped and the new one starts.
#include <atomic>
#include <future>
#include <iostream>
#include <string>
#include <vector>

#include <boost/asio/use_future.hpp>
#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// A re-index that takes a while; ctx.sleep() throws when the controller replaces it.
vigil::child_spec reindex(int n) {
  return {.name = "reindex-" + std::to_string(n),
          .task = [n](vigil::context ctx) -> asio::awaitable<void> {
            ctx.status("indexing for request " + std::to_string(n));
            co_await ctx.sleep(300ms);
          }};
}

int main() {
  vigil::runtime rt{{.threads = 2}};
  vigil::supervisor sup{rt, {.name = "search"}};
  vigil::controller ctl{sup};
  std::atomic<int> transitions{0};
  auto counter = sup.subscribe([&](const vigil::event& e) {
    if (e.kind == vigil::event_kind::slot_transition) ++transitions;
  });

  // Three requests in quick succession. submit() returns once the new re-index has started,
  // i.e. after the one it replaced has ended; its final result is collected right away.
  std::vector<std::pair<std::string, std::future<std::tuple<std::error_code, vigil::final_result>>>>
      results;
  for (int n = 1; n <= 3; ++n) {
    auto spec = reindex(n);
    const std::string name = spec.name;
    if (auto ec = ctl.submit("index", std::move(spec), vigil::admission::replace)) {
      std::cout << name << " rejected: " << ec.message() << "\n";
      continue;
    }
    results.emplace_back(name, sup.async_outcome(name, asio::use_future));
    for (const auto& s : ctl.slots()) {
      std::cout << "slot " << s.slot << ": " << vigil::to_string(s.state) << " " << s.running
                << ", queued " << s.queued << "\n";
    }
  }
  // drop_if_running: a duplicate request while one runs is refused, not queued.
  const auto busy = ctl.submit("index", reindex(4), vigil::admission::drop_if_running);
  std::cout << "reindex-4: " << busy.message() << "\n";

  for (auto& [name, f] : results) {
    const auto [ec, r] = f.get();
    std::cout << name << ": " << vigil::to_string(r.status) << "\n";
  }
  sup.shutdown();
  const auto r = sup.wait();  // subscribers drained
  std::cout << "slot transitions: " << transitions << "\n";
  return vigil::exit_code(r);
}
