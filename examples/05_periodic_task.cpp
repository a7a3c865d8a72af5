// A periodic job: restart::always with an interval runs a task again after each success.
#include <atomic>
#include <iostream>
#include <thread>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::atomic<int> runs{0};

// One run of the job; returning is success, so restart::always schedules the next run.
asio::awaitable<void> flush_metrics(vigil::context) {
  ++runs;
  co_return;
}

int main() {
  vigil::runtime rt;
  vigil::supervisor sup{rt};

  // The wait before each run is a backoff_scheduled event with source=interval.
  std::atomic<int> interval_waits{0};
  std::atomic<int> failure_waits{0};
  auto sub = sup.subscribe([&](const vigil::event& e) {
    if (e.kind != vigil::event_kind::backoff_scheduled) return;
    ++(e.source == vigil::delay_source::interval ? interval_waits : failure_waits);
  });

  sup.add({.name = "flusher",
           .task = flush_metrics,
           .restart = vigil::restart::always,
           .interval = 50ms});

  std::this_thread::sleep_for(300ms);  // let it tick about six times
  sup.shutdown();
  sup.wait();  // subscribers have drained when this returns

  std::cout << "flusher ran " << runs << " times; backoff_scheduled: " << interval_waits
            << " with source=interval, " << failure_waits << " with source=failure\n";
}
