// vigil::runtime: an io_context, its worker threads and optional signal handling.
#include "vigil/runtime/runtime.hpp"

#include <algorithm>
#include <csignal>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/signal_set.hpp>

#include "supervisor_impl.hpp"
#include "vigil/runtime/supervisor.hpp"

namespace vigil {

namespace asio = boost::asio;

namespace detail {
namespace {
std::mutex one_thread_m;
std::vector<const asio::io_context*> one_thread_contexts;  // guarded by one_thread_m
}  // namespace

void declare_one_thread(const asio::io_context& io, bool on) {
  std::lock_guard lock(one_thread_m);
  std::erase(one_thread_contexts, &io);
  if (on) one_thread_contexts.push_back(&io);
}

bool runs_on_one_thread(const asio::any_io_executor& ex) {
  const auto* e = ex.target<asio::io_context::executor_type>();
  if (e == nullptr) return false;
  std::lock_guard lock(one_thread_m);
  return std::find(one_thread_contexts.begin(), one_thread_contexts.end(), &e->context()) !=
         one_thread_contexts.end();
}
}  // namespace detail

struct runtime::impl {
  // One thread: the io_context is told so (it then queues posts from its own thread without a
  // lock) and supervisors on it need no strands.
  explicit impl(std::size_t threads) : io(threads == 1 ? 1 : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT) {}
  runtime_options options;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::vector<std::jthread> threads;
  std::mutex m;
  std::vector<std::weak_ptr<detail::supervisor_impl>> supervisors;  // guarded by m
  // Serialises run()'s signal_set construction: two first signal_sets of one io_context built
  // at once race in Asio's use_service, and the losing signal_set_service, destroyed at once,
  // takes the signal pipe out of the reactor the winner shares, so signals are never read.
  std::mutex signals_m;
};

namespace {
std::size_t thread_count(const runtime_options& o) {
  return o.threads != 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency());
}
}  // namespace

runtime::runtime(runtime_options options) : impl_(std::make_unique<impl>(thread_count(options))) {
  impl_->options = options;
  const std::size_t n = thread_count(options);
  if (n == 1) detail::declare_one_thread(impl_->io, true);
  impl_->threads.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    impl_->threads.emplace_back([this] { impl_->io.run(); });
  }
}

runtime::~runtime() {
  std::vector<std::shared_ptr<detail::supervisor_impl>> alive;
  {
    std::lock_guard lock(impl_->m);
    for (auto& w : impl_->supervisors) {
      if (auto s = w.lock()) alive.push_back(std::move(s));
    }
  }
  // Shut every supervisor down and wait for each; each is bounded by its own grace.
  for (auto& s : alive) s->shutdown();
  for (auto& s : alive) {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    detail::send_wait(s, [p](std::error_code, supervisor_result) { p->set_value(); });
    try {
      f.get();
    } catch (const std::future_error&) {
    }
  }
  alive.clear();
  impl_->work.reset();
  impl_->io.stop();
  impl_->threads.clear();  // joins
  detail::declare_one_thread(impl_->io, false);
}

asio::any_io_executor runtime::get_executor() noexcept {
  return impl_->io.get_executor();
}

std::size_t runtime::threads() const noexcept {
  return impl_->threads.size();
}

int exit_code(const supervisor_result& r) noexcept {
  if (r.grace_exceeded) return 2;
  return r.ok() ? 0 : 1;
}

// Overlapping calls join (§13.15): each waits for the supervisor's one cached result. Each has
// its own signal_set for as long as it waits (built one at a time, see impl::signals_m); Asio
// delivers a signal to every set registered for it, so one signal calls shutdown() once per
// waiting call, which is idempotent, and the process handler stays installed until the last
// call has removed its set.
int runtime::run(const handle& sup) {
  std::optional<asio::signal_set> signals;
  if (impl_->options.signals == signal_handling::on_run) {
    try {
      std::lock_guard lock(impl_->signals_m);
      signals.emplace(impl_->io, SIGINT, SIGTERM);
    } catch (const boost::system::system_error& e) {
      throw error(errc::invalid_argument,
                  std::string("cannot install SIGINT/SIGTERM handling: ") + e.what());
    }
    signals->async_wait([h = sup](boost::system::error_code ec, int) {
      if (!ec) h.shutdown();
    });
  }
  const supervisor_result r = sup.wait();
  if (signals) signals->cancel();
  return exit_code(r);
}

supervisor::supervisor(runtime& rt, supervisor_options options)
    : supervisor(rt.get_executor(), std::move(options)) {
  std::lock_guard lock(rt.impl_->m);
  std::erase_if(rt.impl_->supervisors, [](const auto& w) { return w.expired(); });
  rt.impl_->supervisors.push_back(impl_);
}

}  // namespace vigil
