// vigil's demo: a small supervised system run for a few seconds, with its event log and a final
// summary. Usage: vigil_demo [--seconds N]   (default 10; Ctrl-C ends it early, gracefully)
#include <charconv>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// Healthy: a short job that always succeeds; restart::always with an interval makes it periodic.
asio::awaitable<vigil::outcome> collect_metrics(vigil::context ctx) {
  co_await ctx.sleep(50ms);
  ctx.status("run " + std::to_string(ctx.attempt()));
  co_return vigil::success();
}

// Flaky: each call to the "upstream" fails about 30% of the time; failures back off with jitter.
asio::awaitable<vigil::outcome> call_upstream(vigil::context ctx) {
  thread_local std::mt19937 rng{std::random_device{}()};
  co_await ctx.sleep(100ms);
  if (std::bernoulli_distribution{0.3}(rng)) co_return vigil::failure("HTTP 503 from upstream");
  co_return vigil::success();
}

// Hanging: reports liveness twice, then blocks forever; the heartbeat watchdog notices.
asio::awaitable<vigil::outcome> import_batch(vigil::context ctx) {
  for (int i = 0; i < 2; ++i) {
    ctx.heartbeat();
    co_await ctx.sleep(200ms);
  }
  co_await ctx.sleep(1h);  // stuck (a deadlock, a lost reply): no more heartbeats
  co_return vigil::success();
}

// Crashing: throws after a short while; the exception becomes a failure outcome.
asio::awaitable<void> parse_feed(vigil::context ctx) {
  co_await ctx.sleep(400ms);
  throw std::runtime_error("unexpected token at byte 1337");
}

int parse_seconds(int argc, char** argv) {
  int seconds = 10;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      const std::string_view v = argv[++i];
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
      if (ec == std::errc{} && end == v.data() + v.size() && seconds > 0) continue;
    }
    std::cerr << "usage: vigil_demo [--seconds N]   (N > 0, default 10)\n";
    std::exit(2);
  }
  return seconds;
}

void print_banner(int seconds) {
  std::cout << "vigil demo: four supervised workers for " << seconds << " s (Ctrl-C ends early).\n"
            << "  metrics   healthy, runs every second            (restart::always, interval)\n"
            << "  upstream  fails ~30% of calls                   (exponential back-off, full "
               "jitter)\n"
            << "  importer  hangs after two heartbeats            (heartbeat watchdog: "
               "unresponsive)\n"
            << "  parser    crashes by throwing an exception      (restarted with back-off)\n"
            << "Each line below is one event: time, kind, child path, details.\n\n";
}

void print_summary(const vigil::handle& sup, const vigil::supervisor_result& result, int code) {
  std::cout << "\nsummary\n"
            << std::left << std::setw(10) << "name" << std::setw(12) << "state" << std::setw(10)
            << "attempts" << std::setw(10) << "restarts"
            << "last outcome\n";
  for (const auto& c : sup.children()) {
    const std::string last = c.last_outcome ? vigil::describe(*c.last_outcome) : "-";
    std::cout << std::setw(10) << c.name << std::setw(12) << vigil::to_string(c.state)
              << std::setw(10) << c.attempt << std::setw(10)
              << c.restarts_automatic + c.restarts_manual << last << "\n";
  }
  std::cout << "exit reason: " << vigil::to_string(result.reason) << " (exit code " << code
            << ")\n";
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = parse_seconds(argc, argv);
  print_banner(seconds);

  vigil::runtime rt{{.threads = 2}};
  vigil::supervisor sup{
      rt, {.name = "demo", .intensity = {.max_restarts = 100, .period = 10s}, .grace = 5s}};
  auto log = sup.subscribe(vigil::observe::log_to(std::cout));

  sup.add({.name = "metrics",
           .task = collect_metrics,
           .restart = vigil::restart::always,
           .interval = 1s});
  sup.add({.name = "upstream",
           .task = call_upstream,
           .restart = vigil::restart::always,
           .backoff = vigil::backoff::exponential(200ms, 3s).with_jitter(vigil::jitter::full),
           .interval = 700ms});
  sup.add({.name = "importer",
           .task = import_batch,
           .backoff = vigil::backoff::exponential(500ms, 4s),
           .heartbeat_timeout = 800ms});
  sup.add(
      {.name = "parser", .task = parse_feed, .backoff = vigil::backoff::exponential(250ms, 4s)});

  // After `seconds`, ask for a graceful shutdown; run() also turns Ctrl-C into one.
  asio::steady_timer deadline{rt.get_executor(), std::chrono::seconds(seconds)};
  deadline.async_wait([h = sup.get_handle()](boost::system::error_code ec) {
    if (!ec) h.shutdown();
  });
  const int code = rt.run(sup);  // returns once every child stopped and the log drained
  deadline.cancel();

  print_summary(sup, sup.wait(), code);
  return code;
}
