// vigil_micro_bench: Google Benchmark micro-benchmarks of the pure core: decisions per second of
// the supervisor machine, back-off computation, and the intensity window at 10 and 1,000,000.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <benchmark/benchmark.h>

#include "vigil/core/backoff.hpp"
#include "vigil/core/intensity.hpp"
#include "vigil/core/machine.hpp"
#include "vigil/core/outcome.hpp"
#include "vigil/core/policy.hpp"
#include "vigil/core/random.hpp"

namespace {

using namespace std::chrono_literals;
namespace core = vigil::core;

// Pulls actions until the next start_attempt; nothing if the machine stops asking for one.
std::optional<core::start_attempt> next_start(core::supervisor_machine& m) {
  while (auto a = m.next_action()) {
    if (auto* s = std::get_if<core::start_attempt>(&*a)) return *s;
  }
  return std::nullopt;
}

// One decision: an attempt fails (on_exit), the machine decides on a zero back-off restart and
// hands out the next start_attempt (next_action). Arg 1 builds events as with a subscriber.
void machine_decisions(benchmark::State& state) {
  core::supervisor_policy sp;
  sp.intensity = {.max_restarts = 1'000'000'000, .period = 1s};
  core::supervisor_machine m(sp, std::make_shared<const std::string>("root"), 1);
  m.set_events_enabled(state.range(0) != 0);
  auto policy = std::make_shared<const core::child_policy>(
      core::child_policy{.backoff = core::backoff::constant(0s)});
  core::time_point now{};
  if (!m.add_child("c", policy, core::task_kind::coroutine, now)) {
    state.SkipWithError("add_child failed");
    return;
  }
  auto start = next_start(m);
  for (auto _ : state) {
    now += 1us;  // 1,000,000 restarts/s of virtual time: the window holds up to 1,000,000
    m.on_exit(start->id, start->generation, core::failure("boom"), now);
    start = next_start(m);
    if (!start) {
      state.SkipWithError("the machine stopped restarting");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(machine_decisions)->ArgName("events")->Arg(0)->Arg(1);

// backoff::next_delay over failure streaks 0..15 for each jitter mode (Arg: jitter).
void backoff_next_delay(benchmark::State& state) {
  const auto j = static_cast<core::jitter>(state.range(0));
  const core::backoff b = core::backoff::exponential(100ms, 30s, 2.0).with_jitter(j);
  core::random_source rng(42);
  core::duration previous{};
  std::uint32_t n = 0;
  for (auto _ : state) {
    previous = b.next_delay(n++ & 15u, previous, rng);
    benchmark::DoNotOptimize(previous);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(backoff_next_delay)
    ->ArgName("jitter")
    ->Arg(static_cast<int>(core::jitter::none))
    ->Arg(static_cast<int>(core::jitter::equal))
    ->Arg(static_cast<int>(core::jitter::decorrelated));

// intensity_window::record with Arg restarts in the window: the window is Arg ns long and one
// restart is recorded per ns, so each record evicts exactly one and the window stays full.
void intensity_record(benchmark::State& state) {
  const std::int64_t size = state.range(0);
  core::intensity_window w({.max_restarts = size, .period = core::duration(size)});
  core::time_point now{};
  for (std::int64_t i = 0; i < size; ++i) {
    now += core::duration(1);
    if (w.record(now)) {
      state.SkipWithError("prefill breached");
      return;
    }
  }
  for (auto _ : state) {
    now += core::duration(1);
    benchmark::DoNotOptimize(w.record(now));
  }
  if (w.count(now) != static_cast<std::size_t>(size)) state.SkipWithError("window not full");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(intensity_record)->ArgName("in_window")->Arg(10)->Arg(1'000'000);

}  // namespace
