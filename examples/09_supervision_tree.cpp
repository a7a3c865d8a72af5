// A three-level supervision tree: rest_for_one with depends_on, a nested pool, escalation.
#include <atomic>
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

std::atomic<int> db_starts{0};

// The database: ready after a short warm-up; its first run crashes once it has been serving.
asio::awaitable<vigil::outcome> database(vigil::context ctx) {
  const int n = ++db_starts;
  co_await ctx.sleep(20ms);
  ctx.ready();
  if (n == 1) {
    co_await ctx.sleep(50ms);
    co_return vigil::failure("lost its disk");
  }
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

asio::awaitable<vigil::outcome> serve(vigil::context ctx) {
  co_await ctx.sleep(24h);
  co_return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor root{rt, {.name = "app"}};
  std::atomic<int> api_starts{0}, conn_starts{0};
  auto log = root.subscribe([&](const vigil::event& e) {
    if (e.kind != vigil::event_kind::attempt_starting) return;
    std::cout << "start " << e.path() << " #" << e.attempt << "\n";
    if (e.path() == "app/backend/api") ++api_starts;
    if (e.path() == "app/backend/pool/conn-1") ++conn_starts;
  });

  // Level 3: a pool of connections, one_for_all among themselves.
  vigil::subtree pool{
      .options = {.strategy = vigil::one_for_all},
      .children = {{.name = "conn-1", .task = serve}, {.name = "conn-2", .task = serve}}};
  // Level 2: the backend. rest_for_one: when db fails, everything started after it (pool,
  // api) restarts too; api also depends on db and waits until db is ready.
  vigil::subtree backend{.options = {.strategy = vigil::rest_for_one},
                         .children = {{.name = "db",
                                       .task = database,
                                       .backoff = vigil::backoff::constant(10ms),
                                       .wait_ready = true},
                                      {.name = "pool", .task = pool},
                                      {.name = "api", .task = serve, .depends_on = {"db"}}}};
  // Level 1: the application root.
  root.add({.name = "backend", .task = backend});
  root.add({.name = "metrics", .task = serve});

  // Wait until the database has been restarted and everything after it is up again.
  for (int i = 0; i < 500 && (db_starts < 2 || api_starts < 2 || conn_starts < 2); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  root.shutdown();
  const auto r = root.wait();
  std::cout << "db started " << db_starts << "x, api " << api_starts << "x, conn-1 " << conn_starts
            << "x; metrics restarted " << root.status("metrics").attempt - 1 << "x; root ended "
            << vigil::to_string(r.reason) << "\n";
  return vigil::exit_code(r);
}
