// A user-written subscriber: a small metrics class counting attempt outcomes with atomics over
// the events of two children.
#include <atomic>
#include <functional>
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Counters a metrics exporter could read from any thread while the supervisor runs.
struct attempt_metrics {
  std::atomic<int> started{0};
  std::atomic<int> succeeded{0};
  std::atomic<int> failed{0};

  // The event handler: called one event at a time on the supervisor's executor.
  void operator()(const vigil::event& e) {
    switch (e.kind) {
      case vigil::event_kind::attempt_starting:
        ++started;
        break;
      case vigil::event_kind::attempt_succeeded:
        ++succeeded;
        break;
      case vigil::event_kind::attempt_failed:
        ++failed;
        break;
      default:
        break;
    }
  }
};

// Fails on attempts 1 and 2, succeeds on attempt 3: 2 failures, 1 success.
asio::awaitable<vigil::outcome> fetch(vigil::context ctx) {
  co_await ctx.sleep(2ms);
  if (ctx.attempt() < 3) co_return vigil::failure("HTTP 503");
  co_return vigil::success();
}

// Always fails; with max_retries = 2 it runs 3 times: 3 failures.
asio::awaitable<vigil::outcome> report(vigil::context ctx) {
  co_await ctx.sleep(2ms);
  co_return vigil::failure("disk full");
}

int main() {
  attempt_metrics metrics;
  vigil::runtime rt;
  vigil::supervisor sup{rt, {.exit_when_idle = true}};
  // std::ref: the subscriber holds a reference, so main reads the same counters.
  auto sub = sup.subscribe(std::ref(metrics));

  sup.add({.name = "fetcher", .task = fetch, .backoff = vigil::backoff::constant(5ms)});
  // Once its retries are used up the reporter is parked (quarantined) and the fetcher carries
  // on; the default, on_exhausted::escalate, would end the whole supervisor instead.
  sup.add({.name = "reporter",
           .task = report,
           .backoff = vigil::backoff::constant(5ms),
           .max_retries = 2,
           .on_exhausted = vigil::on_exhausted::quarantine});

  // run() returns after the supervisor went idle and every subscriber has drained its queue,
  // so the counts below are final.
  const int code = rt.run(sup);
  std::cout << "attempts: started=" << metrics.started << " succeeded=" << metrics.succeeded
            << " failed=" << metrics.failed << "\n";
  return code;
}
