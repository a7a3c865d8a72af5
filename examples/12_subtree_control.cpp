// Control inside a subtree by path: add a worker to a running pool, restart one, read its
// effective policy, and fail fast when a child cannot start (add … until::running).
#include <iostream>

#include <vigil/vigil.hpp>

using namespace std::chrono_literals;
namespace asio = boost::asio;

asio::awaitable<vigil::outcome> worker(vigil::context ctx) {
  co_await ctx.stopped();  // idle until stopped
  co_return vigil::success();
}

int main() {
  vigil::runtime rt;
  vigil::supervisor app{rt, {.name = "app"}};

  // A pool of two workers, nested under "pool". until::running: add returns once it runs.
  vigil::subtree pool{
      .children = {{.name = "w-1", .task = worker}, {.name = "w-2", .task = worker}}};
  app.add({.name = "pool", .task = pool}, vigil::until::running);

  // Grow the running pool by one, addressed by path; wait until the new worker runs.
  app.add_to("pool", {.name = "w-3", .task = worker}, vigil::until::running);
  std::cout << "pool/w-3 is " << vigil::to_string(app.status("pool/w-3").state) << "\n";

  // Restart one worker inside the subtree; the pool itself keeps running.
  app.restart("pool/w-2");
  std::cout << "pool/w-2 attempt " << app.status("pool/w-2").attempt << ", pool attempt "
            << app.status("pool").attempt << "\n";

  // The effective policy the supervisor applies (every default resolved).
  const vigil::effective_spec s = app.spec("pool");
  std::cout << "pool shutdown timeout: "
            << (s.policy.shutdown == vigil::infinity ? "infinity" : "finite") << "\n";

  // Fail fast: a program that cannot be spawned makes add(…, until::running) throw.
  try {
    app.add({.name = "ghost",
             .task = vigil::process({.argv = {"/nonexistent/ghost"}}),
             .restart = vigil::restart::never},
            vigil::until::running);
  } catch (const vigil::error& e) {
    std::cout << "ghost: " << e.code().message() << "\n";
  }

  // Restarting the pool brings back its declared workers only: w-3 was added at run time.
  app.restart("pool");
  std::size_t workers = 0;
  for (int i = 0; i < 100 && workers < 2; ++i) {  // its new attempt adds them asynchronously
    std::this_thread::sleep_for(10ms);
    workers = 0;
    for (const auto& c : app.tree()) workers += c.path.starts_with("app/pool/") ? 1 : 0;
  }
  std::cout << "after the pool restarted: " << workers << " workers\n";

  app.shutdown();
  return vigil::exit_code(app.wait());
}
