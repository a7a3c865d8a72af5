// vigil_bench: the scenario runner of SCENARIOS.md (../shared/bench/). Prints one
// `scenario=<name> system=<system> value=<number> unit=<unit>` line per figure, each the median of
// several repetitions, plus the bare floors (asio-bare, jthread-bare, posix-bare) of the same run.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vigil/vigil.hpp>

extern char** environ;

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// ------------------------------------------------------------------ options and output

struct options {
  bool big = false;                     // --big: also the 1,000,000-children scenarios
  int reps = 3;                         // --reps N: repetitions per figure (median)
  double scale = 1.0;                   // --scale D: divide every count by D (profiling runs)
  std::set<std::string> only;           // --only a,b: run only these scenarios
  std::string system;                   // --system s: measure only this system (profiling runs)
  std::string self = "/proc/self/exe";  // this program, for re-executing a fresh process
};

options opts;

bool wanted(std::string_view scenario) {
  return opts.only.empty() || opts.only.contains(std::string(scenario));
}

bool wanted_system(std::string_view system) {
  return opts.system.empty() || opts.system == system;
}

std::uint64_t scaled(std::uint64_t n) {
  return std::max<std::uint64_t>(1,
                                 static_cast<std::uint64_t>(static_cast<double>(n) / opts.scale));
}

std::string number(double v) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  if (std::fabs(v) >= 1000) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else if (std::fabs(v) >= 1) {
    std::snprintf(buf, sizeof buf, "%.3f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.6f", v);
  }
  return buf;
}

void line(std::string_view scenario, std::string_view system, double value, std::string_view unit) {
  if (!wanted_system(system)) return;
  std::printf("scenario=%.*s system=%.*s value=%s unit=%.*s\n", static_cast<int>(scenario.size()),
              scenario.data(), static_cast<int>(system.size()), system.data(),
              number(value).c_str(), static_cast<int>(unit.size()), unit.data());
  std::fflush(stdout);
}

void note(const std::string& text) {
  std::printf("# %s\n", text.c_str());
  std::fflush(stdout);
}

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

double seconds(steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Runs `fn` opts.reps times and returns the median of what it returned; NaN results (a
// repetition that could not finish) are dropped.
double median_of(const std::function<double()>& fn) {
  std::vector<double> v;
  for (int i = 0; i < opts.reps; ++i) {
    const double x = fn();
    if (!std::isnan(x)) v.push_back(x);
  }
  return median(std::move(v));
}

// median_of(fn) for `system`, or nothing (NaN, not run) when --system names another one.
double measure(std::string_view system, const std::function<double()>& fn) {
  return wanted_system(system) ? median_of(fn) : std::nan("");
}

// A one-shot flag the measuring thread waits on, with a safety timeout so a bug cannot hang
// the whole run.
class done_flag {
 public:
  void set() {
    {
      std::lock_guard lock(m_);
      done_ = true;
    }
    cv_.notify_all();
  }
  bool wait_for(steady::duration d) {
    std::unique_lock lock(m_);
    return cv_.wait_for(lock, d, [this] { return done_; });
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
};

constexpr auto safety_timeout = 120s;

// A supervisor whose budget never trips: restarts are measured, not escalations.
vigil::supervisor_options never_trips(std::string name) {
  return {.name = std::move(name),
          .intensity = {.max_restarts = 1'000'000'000, .period = 1s},
          .seed = 1};
}

// ------------------------------------------------------------------ restart loops

// Counts attempts across every child of one measurement; the clock runs from attempt `first`
// to attempt `last` (so it covers last - first restarts), then every attempt succeeds.
struct restart_counter {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  std::atomic<std::uint64_t> attempts{0};
  std::atomic<steady::rep> start{0};  // atomic: another thread may stop the clock
  steady::time_point end{};           // published by done
  done_flag done;

  // Counts one attempt; returns false once the measurement is over (the attempt should succeed).
  bool count() {
    const std::uint64_t n = attempts.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n == first) start.store(steady::now().time_since_epoch().count());
    if (n == last) {
      end = steady::now();
      done.set();
    }
    return n < last;
  }
  double rate() const {
    const steady::time_point t0{steady::duration(start.load())};
    return static_cast<double>(last - first) / seconds(end - t0);
  }
};

// One attempt that fails at once with a failure value (the fast path).
asio::awaitable<vigil::outcome> fail_by_value(restart_counter* c) {
  if (!c->count()) co_return vigil::success();
  co_return vigil::failure("boom");
}

// One attempt that fails at once by throwing.
asio::awaitable<vigil::outcome> fail_by_throw(restart_counter* c) {
  if (!c->count()) co_return vigil::success();
  throw std::runtime_error("boom");
}

enum class fail_mode : std::uint8_t { value, exception };

// Whether the task callable holds state. Every attempt runs on a fresh copy of a stateful one
// (one copy and one coroutine frame more per attempt, SEMANTICS §13.27); an empty one (a lambda
// without captures) is called in place.
enum class task_shape : std::uint8_t { stateless, stateful };

// The counter of the measurement under way, for the stateless tasks (which capture nothing).
// Set before the runtime starts, so its threads see it.
restart_counter* current_counter = nullptr;

vigil::task failing_task(restart_counter* c, fail_mode mode,
                         task_shape shape = task_shape::stateless) {
  if (shape == task_shape::stateful) {
    if (mode == fail_mode::value) return [c](vigil::context) { return fail_by_value(c); };
    return [c](vigil::context) { return fail_by_throw(c); };
  }
  current_counter = c;
  if (mode == fail_mode::value) {
    return [](vigil::context) { return fail_by_value(current_counter); };
  }
  return [](vigil::context) { return fail_by_throw(current_counter); };
}

// vigil: `children` children under one supervisor on a runtime of `threads` threads, each failing
// at once; the rate of restarts between attempt `warmup` and attempt `warmup + restarts`.
double vigil_restart_rate(std::size_t threads, std::size_t children, std::uint64_t warmup,
                          std::uint64_t restarts, fail_mode mode,
                          task_shape shape = task_shape::stateless) {
  restart_counter c;
  c.first = warmup;
  c.last = warmup + restarts;
  vigil::runtime rt({.threads = threads, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, never_trips("bench")};
  for (std::size_t i = 0; i < children; ++i) {
    sup.add({.name = "c" + std::to_string(i),
             .task = failing_task(&c, mode, shape),
             .backoff = vigil::backoff::constant(0s)});
  }
  const bool ok = c.done.wait_for(safety_timeout);
  sup.shutdown();
  sup.wait();
  if (!ok) note("a vigil restart loop did not finish within the safety timeout");
  return ok ? c.rate() : std::nan("");
}

// asio-bare: the same loop by hand: each attempt is a co_spawned coroutine, and its completion
// handler spawns the next one. No policy, no events, no registry, no strand per attempt.
template <fail_mode Mode>
void bare_attempt_loop(asio::io_context& io, restart_counter* c) {
  auto attempt = [c] {
    if constexpr (Mode == fail_mode::value) return fail_by_value(c);
    return fail_by_throw(c);
  };
  asio::co_spawn(io, attempt(), [&io, c](std::exception_ptr e, vigil::outcome o) {
    if (e || !o.is_success()) bare_attempt_loop<Mode>(io, c);
  });
}

double bare_restart_rate(std::size_t threads, std::size_t loops, std::uint64_t warmup,
                         std::uint64_t restarts, fail_mode mode) {
  restart_counter c;
  c.first = warmup;
  c.last = warmup + restarts;
  asio::io_context io(static_cast<int>(threads));
  for (std::size_t i = 0; i < loops; ++i) {
    if (mode == fail_mode::value) {
      bare_attempt_loop<fail_mode::value>(io, &c);
    } else {
      bare_attempt_loop<fail_mode::exception>(io, &c);
    }
  }
  {
    std::vector<std::jthread> pool;
    for (std::size_t i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  }  // every loop ends after the measurement, so run() returns
  return c.rate();
}

void restart_scenarios() {
  const std::uint64_t serial = scaled(200'000);
  const std::uint64_t serial_warmup = scaled(1'000);
  if (wanted("restart_serial")) {
    note(
        "restart_serial: one child, zero back-off, runtime threads=1 (asio-bare: io_context, 1 "
        "thread); restarts counted inside the task; " +
        std::to_string(serial) + " restarts after " + std::to_string(serial_warmup));
    line("restart_serial", "vigil",
         measure("vigil",
                 [&] { return vigil_restart_rate(1, 1, serial_warmup, serial, fail_mode::value); }),
         "restarts_per_s");
    line("restart_serial", "asio-bare",
         measure("asio-bare",
                 [&] { return bare_restart_rate(1, 1, serial_warmup, serial, fail_mode::value); }),
         "restarts_per_s");
    if (opts.system.empty()) {  // the other thread count, for comparison
      const double vigil2 = median_of(
          [&] { return vigil_restart_rate(2, 1, serial_warmup, serial, fail_mode::value); });
      const double bare2 = median_of(
          [&] { return bare_restart_rate(2, 1, serial_warmup, serial, fail_mode::value); });
      note("restart_serial with threads=2: vigil " + number(vigil2) + ", asio-bare " +
           number(bare2) + " restarts_per_s");
    }
  }
  if (wanted("restart_serial_stateful")) {
    note(
        "restart_serial_stateful: as restart_serial, but the task lambda captures the counter, so "
        "every attempt runs on its own copy of it (restart_serial's captures nothing: called in "
        "place)");
    line("restart_serial_stateful", "vigil",
         measure("vigil",
                 [&] {
                   return vigil_restart_rate(1, 1, serial_warmup, serial, fail_mode::value,
                                             task_shape::stateful);
                 }),
         "restarts_per_s");
  }
  if (wanted("restart_serial_throw")) {
    note("restart_serial_throw: as restart_serial, the attempt throws std::runtime_error");
    line("restart_serial_throw", "vigil",
         measure(
             "vigil",
             [&] { return vigil_restart_rate(1, 1, serial_warmup, serial, fail_mode::exception); }),
         "restarts_per_s");
    line("restart_serial_throw", "asio-bare",
         measure(
             "asio-bare",
             [&] { return bare_restart_rate(1, 1, serial_warmup, serial, fail_mode::exception); }),
         "restarts_per_s");
  }
  if (wanted("restart_parallel")) {
    const std::uint64_t total = scaled(1'000'000);
    const std::uint64_t warmup = scaled(10'000);
    note(
        "restart_parallel: 1,000 children, runtime threads=2 (asio-bare: 1,000 loops on an "
        "io_context with 2 threads); " +
        std::to_string(total) + " restarts after " + std::to_string(warmup) + " attempts");
    line("restart_parallel", "vigil",
         measure("vigil",
                 [&] { return vigil_restart_rate(2, 1000, warmup, total, fail_mode::value); }),
         "restarts_per_s");
    line("restart_parallel", "asio-bare",
         measure("asio-bare",
                 [&] { return bare_restart_rate(2, 1000, warmup, total, fail_mode::value); }),
         "restarts_per_s");
    if (opts.system.empty()) {  // the other thread count, for comparison
      const double vigil1 =
          median_of([&] { return vigil_restart_rate(1, 1000, warmup, total, fail_mode::value); });
      const double bare1 =
          median_of([&] { return bare_restart_rate(1, 1000, warmup, total, fail_mode::value); });
      note("restart_parallel with threads=1: vigil " + number(vigil1) + ", asio-bare " +
           number(bare1) + " restarts_per_s");
    }
  }
}

// ------------------------------------------------------------------ latency

struct latency_state {
  std::uint64_t warmup = 0;
  std::size_t samples_wanted = 0;
  std::uint64_t attempts = 0;  // attempts of one child run one after another: no race
  steady::time_point failed_at{};
  std::vector<double> samples;  // microseconds
  done_flag done;
};

asio::awaitable<vigil::outcome> latency_attempt(latency_state* s) {
  const auto started = steady::now();
  if (++s->attempts > s->warmup) {
    s->samples.push_back(std::chrono::duration<double, std::micro>(started - s->failed_at).count());
    if (s->samples.size() == s->samples_wanted) {
      s->done.set();
      co_return vigil::success();
    }
  }
  s->failed_at = steady::now();
  co_return vigil::failure("boom");
}

void latency_scenario() {
  if (!wanted("restart_latency")) return;
  const std::uint64_t warmup = scaled(1'000);
  const std::size_t samples = scaled(10'000);
  note(
      "restart_latency: one child, runtime threads=1; from just before the failing co_return to "
      "the start of the next attempt; " +
      std::to_string(samples) + " samples after " + std::to_string(warmup));
  std::vector<double> p50, p99;
  for (int r = 0; r < opts.reps; ++r) {
    latency_state s;
    s.warmup = warmup;
    s.samples_wanted = samples;
    s.samples.reserve(samples);
    vigil::runtime rt({.threads = 1, .signals = vigil::signal_handling::none});
    vigil::supervisor sup{rt, never_trips("bench")};
    sup.add({.name = "c",
             .task = [p = &s](vigil::context) { return latency_attempt(p); },
             .backoff = vigil::backoff::constant(0s)});
    const bool ok = s.done.wait_for(safety_timeout);
    sup.shutdown();
    sup.wait();
    if (!ok) continue;
    p50.push_back(percentile(s.samples, 0.50));
    p99.push_back(percentile(s.samples, 0.99));
  }
  line("restart_latency_p50", "vigil", median(p50), "us");
  line("restart_latency_p99", "vigil", median(p99), "us");
}

// ------------------------------------------------------------------ many idle children

std::size_t resident_bytes() {
  std::ifstream f("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

struct idle_state {
  std::uint64_t target = 0;
  std::atomic<std::uint64_t> running{0};
  steady::time_point all_running{};
  done_flag done;
};

// An idle child: counts itself as running, then waits for cancellation.
asio::awaitable<vigil::outcome> idle_attempt(idle_state* s, vigil::context ctx) {
  if (s->running.fetch_add(1, std::memory_order_relaxed) + 1 == s->target) {
    s->all_running = steady::now();
    s->done.set();
  }
  co_await ctx.stopped();  // parks without a timer; returns (no exception) on the stop
  co_return vigil::cancelled();
}

// One repetition of spawn_<N>, in this (fresh) process: prints
// "spawn_s=… mem_bytes=… shutdown_s=… sibling_restarts_per_s=…". `vigil_bench --child spawn N
// memory-only` stops once every child is idle (for heaptrack).
int child_spawn(std::uint64_t n, bool memory_only) {
  vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, never_trips("bench")};
  idle_state s;
  s.target = n;
  // Names are built before the first measurement, like the caller's own data.
  std::vector<std::string> child_names;
  child_names.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) child_names.push_back("c" + std::to_string(i));

  // Batches of 1,024 children, one async_add(vector) each, at most 4 in flight, so queued
  // requests do not inflate memory; the submitter blocks (no spinning) while 4 are out.
  constexpr std::size_t batch = 1024;
  constexpr int max_in_flight = 4;
  std::mutex m;
  std::condition_variable cv;
  int in_flight = 0;
  std::atomic<bool> add_failed{false};
  const std::size_t rss_before = resident_bytes();
  const auto t0 = steady::now();
  for (std::uint64_t i = 0; i < n; i += batch) {
    std::vector<vigil::child_spec> specs;
    specs.reserve(batch);
    for (std::uint64_t k = i; k < std::min<std::uint64_t>(n, i + batch); ++k) {
      specs.push_back({.name = std::move(child_names[k]), .task = [p = &s](vigil::context ctx) {
                         return idle_attempt(p, std::move(ctx));
                       }});
    }
    {
      std::unique_lock lock(m);
      cv.wait(lock, [&] { return in_flight < max_in_flight; });
      ++in_flight;
    }
    sup.async_add(std::move(specs), [&](std::error_code ec) {
      if (ec) add_failed = true;
      std::lock_guard lock(m);
      --in_flight;
      cv.notify_one();
    });
  }
  const bool ok = s.done.wait_for(safety_timeout);
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return in_flight == 0; });  // every reply is in
  }
  const std::size_t rss_after = resident_bytes();
  if (!ok || add_failed) {
    std::printf("failed\n");
    return 1;
  }
  const double spawn_s = seconds(s.all_running - t0);
  const double mem = static_cast<double>(rss_after - rss_before) / static_cast<double>(n);
  if (memory_only) {
    // For heap profilers: end with every child idle, so the heap peak is the idle state.
    std::printf("spawn_s=%.9f mem_bytes=%.3f\n", spawn_s, mem);
    std::fflush(stdout);
    std::_Exit(0);
  }

  // Cost growth: the restart rate of one failing child next to n idle siblings.
  restart_counter c;
  c.first = scaled(1'000);
  c.last = c.first + scaled(20'000);
  sup.add({.name = "flaky",
           .task = failing_task(&c, fail_mode::value),
           .backoff = vigil::backoff::constant(0s)});
  const double sibling_rate = c.done.wait_for(safety_timeout) ? c.rate() : std::nan("");

  const auto t1 = steady::now();
  sup.shutdown();
  sup.wait();
  const double shutdown_s = seconds(steady::now() - t1);
  std::printf("spawn_s=%.9f mem_bytes=%.3f shutdown_s=%.9f sibling_restarts_per_s=%.3f\n", spawn_s,
              mem, shutdown_s, sibling_rate);
  return 0;
}

// Runs `--child spawn N` in a fresh process and parses its figures.
std::map<std::string, double> run_child(const std::string& args) {
  std::map<std::string, double> out;
  const std::string cmd = "'" + opts.self + "' --child " + args;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  std::string text;
  while (std::fgets(buf, sizeof buf, p)) text += buf;
  pclose(p);
  std::istringstream in(text);
  std::string field;
  while (in >> field) {
    const auto eq = field.find('=');
    if (eq == std::string::npos) continue;
    out[field.substr(0, eq)] = std::strtod(field.c_str() + eq + 1, nullptr);
  }
  return out;
}

void spawn_scenarios(std::uint64_t n, std::string_view suffix, bool with_shutdown) {
  const std::string count = std::to_string(n);
  note("spawn_" + std::string(suffix) + ": " + count +
       " idle children (each awaits ctx.stopped()) added with async_add(vector) in batches of "
       "1,024 (at "
       "most 4 in flight) to one running supervisor, runtime threads=2; each repetition in a fresh "
       "process; memory is the growth of /proc/self/statm resident size / " +
       count);
  std::vector<double> spawn, mem, shutdown, sibling;
  for (int r = 0; r < opts.reps; ++r) {
    auto f = run_child("spawn " + count);
    if (!f.contains("spawn_s")) {
      note("a spawn repetition failed");
      continue;
    }
    spawn.push_back(f["spawn_s"]);
    mem.push_back(f["mem_bytes"]);
    shutdown.push_back(f["shutdown_s"]);
    sibling.push_back(f["sibling_restarts_per_s"]);
  }
  const bool is_1m = suffix == "1m";
  line(is_1m ? "spawn_1m_time" : "spawn_100k_time", "vigil", median(spawn), "s");
  line(is_1m ? "mem_per_child_1m" : "mem_per_child", "vigil", median(mem), "bytes");
  if (with_shutdown) line("shutdown_100k_time", "vigil", median(shutdown), "s");
  note("cost growth: one failing child next to " + count + " idle siblings restarts at " +
       number(median(sibling)) + " restarts_per_s (threads=2); shutdown of " + count + " took " +
       number(median(shutdown)) + " s");
}

// ------------------------------------------------------------------ one_for_all

struct group_state {
  std::uint64_t children = 0;
  std::atomic<std::uint64_t> running{0};        // first attempts running
  std::atomic<std::uint64_t> restarted{0};      // attempts after the first
  std::unique_ptr<asio::steady_timer> trigger;  // child 0's first attempt waits on it
  steady::time_point all_restarted{};
  done_flag all_running;
  done_flag done;
};

asio::awaitable<vigil::outcome> group_attempt(group_state* s, std::uint64_t index,
                                              vigil::context ctx) {
  if (ctx.attempt() > 1) {
    if (s->restarted.fetch_add(1) + 1 == s->children) {
      s->all_restarted = steady::now();
      s->done.set();
    }
  } else {
    if (index == 0) {
      s->trigger = std::make_unique<asio::steady_timer>(ctx.executor(), steady::time_point::max());
    }
    if (s->running.fetch_add(1) + 1 == s->children) s->all_running.set();
  }
  if (index != 0 || ctx.attempt() != 1) {
    co_await ctx.stopped();  // parks without a timer; returns (no exception) on the stop
    co_return vigil::cancelled();
  }
  bool failed = false;
  try {
    co_await s->trigger->async_wait(asio::use_awaitable);
  } catch (const std::exception&) {
    failed = !ctx.stop_requested();  // the trigger fired; a stop is a cancellation
  }
  co_return failed ? vigil::failure("triggered") : vigil::cancelled();
}

void one_for_all_scenario() {
  if (!wanted("one_for_all_1000")) return;
  std::vector<double> v;
  for (int r = 0; r < opts.reps; ++r) {
    vigil::runtime rt({.threads = 2, .signals = vigil::signal_handling::none});
    auto o = never_trips("bench");
    o.strategy = vigil::one_for_all;
    std::optional<vigil::supervisor> sup;
    try {
      sup.emplace(rt, std::move(o));
    } catch (const vigil::error& e) {
      note(std::string("one_for_all_1000: not supported by the library yet: ") + e.what());
      break;
    }
    group_state s;
    s.children = 1000;
    for (std::uint64_t i = 0; i < s.children; ++i) {
      sup->add({.name = "c" + std::to_string(i),
                .task = [p = &s, i](vigil::context ctx) { return group_attempt(p, i, ctx); },
                .backoff = vigil::backoff::constant(0s)});
    }
    if (!s.all_running.wait_for(safety_timeout)) break;
    const auto t0 = steady::now();
    asio::post(s.trigger->get_executor(), [&s] { s.trigger->cancel(); });
    const bool ok = s.done.wait_for(10s);
    sup->shutdown();
    sup->wait();
    if (ok) v.push_back(std::chrono::duration<double, std::milli>(s.all_restarted - t0).count());
  }
  if (!v.empty()) {
    note(
        "one_for_all_1000: 1,000 idle children, runtime threads=2; from the trigger to the start "
        "of the 1,000th new attempt");
  }
  line("one_for_all_1000", "vigil", median(v), "ms");
}

// ------------------------------------------------------------------ hang detection

struct hang_state {
  std::size_t wanted = 0;
  steady::time_point beat{};
  steady::time_point detected{};
  std::vector<double> over_ms;
  done_flag done;
};

// Beats once, then hangs; the supervisor's stop request marks the detection.
asio::awaitable<vigil::outcome> hang_attempt(hang_state* s, vigil::context ctx) {
  if (s->over_ms.size() >= s->wanted) co_return vigil::success();
  ctx.heartbeat();
  s->beat = steady::now();
  s->detected = {};
  {
    std::stop_callback on_stop(ctx.stop_token(), [s] { s->detected = steady::now(); });
    try {
      co_await ctx.sleep(1h);
    } catch (const std::exception&) {
    }
  }
  if (s->detected != steady::time_point{}) {
    s->over_ms.push_back(
        std::chrono::duration<double, std::milli>(s->detected - s->beat - 100ms).count());
    if (s->over_ms.size() == s->wanted) s->done.set();
  }
  co_return vigil::failure("hung");
}

void hang_scenario() {
  if (!wanted("hang_detect_over_timeout")) return;
  note(
      "hang_detect_over_timeout: heartbeat_timeout=100ms, runtime threads=1; from the last "
      "heartbeat to the supervisor's stop request, minus 100 ms; median of 20");
  hang_state s;
  s.wanted = 20;
  vigil::runtime rt({.threads = 1, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, never_trips("bench")};
  sup.add({.name = "hanger",
           .task = [p = &s](vigil::context ctx) { return hang_attempt(p, std::move(ctx)); },
           .backoff = vigil::backoff::constant(0s),
           .heartbeat_timeout = 100ms});
  const bool ok = s.done.wait_for(safety_timeout);
  sup.shutdown();
  sup.wait();
  line("hang_detect_over_timeout", "vigil", ok ? median(s.over_ms) : std::nan(""), "ms");
}

// ------------------------------------------------------------------ events

// Events delivered per second to 4 subscribers of one crash-looping child, on a runtime of
// `threads` threads.
double event_rate(std::size_t threads, steady::duration window) {
  std::atomic<std::uint64_t> delivered{0};
  restart_counter c;
  c.first = 1;
  c.last = UINT64_MAX;  // never ends on its own
  vigil::runtime rt({.threads = threads, .signals = vigil::signal_handling::none});
  vigil::supervisor sup{rt, never_trips("bench")};
  std::vector<vigil::subscription> subs;
  for (int i = 0; i < 4; ++i) {
    subs.push_back(sup.subscribe([&delivered](const vigil::event& e) {
      if (e.kind != vigil::event_kind::subscriber_overflow) {
        delivered.fetch_add(1, std::memory_order_relaxed);
      }
    }));
  }
  sup.add({.name = "crasher",
           .task = failing_task(&c, fail_mode::value),
           .backoff = vigil::backoff::constant(0s)});
  std::this_thread::sleep_for(200ms);
  const std::uint64_t d0 = delivered.load();
  const auto t0 = steady::now();
  std::this_thread::sleep_for(window);
  const std::uint64_t d1 = delivered.load();
  const auto t1 = steady::now();
  sup.shutdown();
  sup.wait();
  subs.clear();
  return static_cast<double>(d1 - d0) / seconds(t1 - t0);
}

void event_scenario() {
  if (!wanted("event_throughput")) return;
  const auto window = std::chrono::duration_cast<steady::duration>(1s / opts.scale);
  note(
      "event_throughput: 4 subscribers (default queue 1024) of one crash-looping child, runtime "
      "threads=1 (as restart_serial); events delivered to all subscribers over " +
      number(seconds(window)) + " s after 0.2 s of warm-up");
  line("event_throughput", "vigil", median_of([&] { return event_rate(1, window); }),
       "events_per_s");
  note("event_throughput with threads=2: " +
       number(median_of([&] { return event_rate(2, window); })) + " events_per_s");
}

// ------------------------------------------------------------------ threads and processes

void thread_scenario() {
  if (!wanted("thread_restart")) return;
  const std::uint64_t n = scaled(20'000);
  note("thread_restart vigil: one vigil::thread child failing at once, zero back-off, " +
       std::to_string(n) + " restarts after 100 warm-up ones, 1 runtime thread");
  line("thread_restart", "vigil",
       measure("vigil",
               [&] {
                 restart_counter c;
                 c.first = 100;
                 c.last = 100 + n;
                 vigil::runtime rt({.threads = 1, .signals = vigil::signal_handling::none});
                 vigil::supervisor sup{rt, never_trips("bench")};
                 sup.add({.name = "t",
                          .task = vigil::thread([&c](vigil::context) {
                            return c.count() ? vigil::failure("boom") : vigil::success();
                          }),
                          .backoff = vigil::backoff::constant(0s)});
                 const bool ok = c.done.wait_for(safety_timeout);
                 sup.shutdown();
                 sup.wait();
                 return ok ? c.rate() : std::nan("");
               }),
       "restarts_per_s");
  note(
      "thread_restart jthread-bare: std::jthread create + join of a thread that returns at once, " +
      std::to_string(n) + " times");
  line("thread_restart", "jthread-bare", median_of([&] {
         std::atomic<std::uint64_t> runs{0};
         const auto t0 = steady::now();
         for (std::uint64_t i = 0; i < n; ++i) {
           std::jthread t([&runs] { runs.fetch_add(1, std::memory_order_relaxed); });
         }
         return static_cast<double>(n) / seconds(steady::now() - t0);
       }),
       "restarts_per_s");
}

void process_scenario() {
  if (!wanted("process_restart")) return;
  const std::uint64_t n = scaled(2'000);
  note(
      "process_restart vigil: one vigil::process(/bin/true) child, restart always, zero "
      "back-off, output discarded, " +
      std::to_string(n) +
      " exits counted by a subscriber; "
      "an instantly succeeding always-child is restarted no sooner than 1 ms after its last "
      "start (SEMANTICS §2), which bounds this figure near 1,000/s");
  line("process_restart", "vigil",
       measure(
           "vigil",
           [&] {
             std::atomic<std::uint64_t> exits{0};
             std::promise<void> all;
             steady::time_point t0{};
             vigil::runtime rt({.threads = 1, .signals = vigil::signal_handling::none});
             vigil::supervisor sup{rt, never_trips("bench")};
             auto sub = sup.subscribe(
                 [&](const vigil::event& e) {
                   if (e.kind != vigil::event_kind::attempt_succeeded) return;
                   const auto k = exits.fetch_add(1) + 1;
                   if (k == 1) t0 = steady::now();
                   if (k == n + 1) all.set_value();
                 },
                 {.queue = 1u << 20});
             sup.add(
                 {.name = "p",
                  .task = vigil::process({.argv = {"/bin/true"}, .output = vigil::output::discard}),
                  .restart = vigil::restart::always,
                  .backoff = vigil::backoff::constant(0s)});
             const bool ok = all.get_future().wait_for(safety_timeout) == std::future_status::ready;
             const double rate =
                 ok ? static_cast<double>(n) / seconds(steady::now() - t0) : std::nan("");
             sup.shutdown();
             sup.wait();
             return rate;
           }),
       "restarts_per_s");
  note("process_restart posix-bare: posix_spawn(/bin/true) + waitpid, " + std::to_string(n) +
       " times");
  line("process_restart", "posix-bare", median_of([&] {
         char arg0[] = "/bin/true";
         char* argv[] = {arg0, nullptr};
         const auto t0 = steady::now();
         for (std::uint64_t i = 0; i < n; ++i) {
           pid_t pid = 0;
           if (posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) {
             return std::nan("");
           }
           int status = 0;
           waitpid(pid, &status, 0);
         }
         return static_cast<double>(n) / seconds(steady::now() - t0);
       }),
       "restarts_per_s");
}

// ------------------------------------------------------------------ main

void usage() {
  std::fprintf(
      stderr,
      "usage: vigil_bench [--big] [--reps N] [--scale D] [--only s1,s2,...] [--system S]\n"
      "  --big      also spawn_1m_time and mem_per_child_1m (1,000,000 children)\n"
      "  --reps N   repetitions per figure, median reported (default 3)\n"
      "  --scale D  divide every count by D (quick or profiling runs; not comparable)\n"
      "  --only     restart_serial, restart_serial_stateful, restart_serial_throw,\n"
      "             restart_parallel, restart_latency, spawn_100k, spawn_1m, one_for_all_1000,\n"
      "             hang_detect_over_timeout, event_throughput, thread_restart,\n"
      "             process_restart\n"
      "  --system S only the figures of system S (vigil, asio-bare, ...; profiling)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  char self[4096];
  const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len > 0) opts.self.assign(self, static_cast<std::size_t>(len));
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--big") {
      opts.big = true;
    } else if (a == "--reps" && has_value) {
      opts.reps = std::max(1, std::atoi(args[++i].c_str()));
    } else if (a == "--scale" && has_value) {
      opts.scale = std::max(1.0, std::atof(args[++i].c_str()));
    } else if (a == "--system" && has_value) {
      opts.system = args[++i];
    } else if (a == "--only" && has_value) {
      std::istringstream in(args[++i]);
      for (std::string s; std::getline(in, s, ',');) opts.only.insert(s);
    } else if (a == "--child" && i + 2 < args.size() && args[i + 1] == "spawn") {
      const bool memory_only = i + 3 < args.size() && args[i + 3] == "memory-only";
      return child_spawn(std::strtoull(args[i + 2].c_str(), nullptr, 10), memory_only);
    } else {
      usage();
      return 2;
    }
  }

  note("vigil_bench: medians of " + std::to_string(opts.reps) + " repetitions" +
       (opts.scale > 1 ? ", counts divided by " + number(opts.scale) + " (not comparable)" : ""));
  restart_scenarios();
  latency_scenario();
  if (wanted("spawn_100k")) spawn_scenarios(scaled(100'000), "100k", true);
  if (opts.big && wanted("spawn_1m")) spawn_scenarios(scaled(1'000'000), "1m", false);
  one_for_all_scenario();
  hang_scenario();
  event_scenario();
  thread_scenario();
  process_scenario();
  return 0;
}
