// Final results of several children: run(children), wait_all(names), wait_any(names).
#include <future>
#include <mutex>

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

#include "supervisor_impl.hpp"

namespace vigil {

namespace asio = boost::asio;

namespace detail {

namespace {

void require(const std::shared_ptr<supervisor_impl>& impl, const char* what) {
  if (!impl) throw error(errc::supervisor_gone, std::string(what) + ": empty handle");
}

// Collects n final results; completes its reply once, with the first error or all results.
struct gather {
  std::mutex m;
  asio::any_io_executor ex;
  std::optional<results_reply> reply;  // guarded by m; emptied when completed
  std::vector<final_result> results;
  std::size_t pending = 0;

  void complete(std::unique_lock<std::mutex>& lock, std::error_code ec) {
    if (!reply) return;
    results_reply r(std::move(*reply));
    reply.reset();
    auto out = ec ? std::vector<final_result>{} : std::move(results);
    lock.unlock();
    asio::post(ex, asio::append(std::move(r), ec, std::move(out)));
  }
  void arrived(std::size_t i, std::error_code ec, final_result f) {
    std::unique_lock lock(m);
    if (ec) {
      complete(lock, ec);
      return;
    }
    results[i] = std::move(f);
    if (--pending == 0) complete(lock, {});
  }
};

std::shared_ptr<gather> make_gather(const std::shared_ptr<supervisor_impl>& impl, std::size_t n,
                                    results_reply r) {
  auto g = std::make_shared<gather>();
  g->ex = impl->executor();
  g->reply.emplace(std::move(r));
  g->results.resize(n);
  g->pending = n;
  return g;
}

}  // namespace

void send_run(const std::shared_ptr<supervisor_impl>& impl, std::vector<child_spec> children,
              results_reply r) {
  require(impl, "run");
  const std::size_t n = children.size();
  auto g = make_gather(impl, n, std::move(r));
  if (n == 0) {
    std::unique_lock lock(g->m);
    g->complete(lock, {});
    return;
  }
  std::vector<final_reply> watch;
  watch.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    watch.emplace_back(
        [g, i](std::error_code ec, final_result f) { g->arrived(i, ec, std::move(f)); });
  }
  impl->add_all(std::move(children), command_reply([g](std::error_code ec, std::string) {
                  if (!ec) return;
                  std::unique_lock lock(g->m);
                  g->complete(lock, ec);
                }),
                std::move(watch));
}

void send_wait_all(const std::shared_ptr<supervisor_impl>& impl, std::vector<std::string> names,
                   results_reply r) {
  require(impl, "wait_all");
  auto g = make_gather(impl, names.size(), std::move(r));
  if (names.empty()) {
    std::unique_lock lock(g->m);
    g->complete(lock, {});
    return;
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    impl->outcome(std::move(names[i]), final_reply([g, i](std::error_code ec, final_result f) {
                    g->arrived(i, ec, std::move(f));
                  }));
  }
}

void send_wait_any(const std::shared_ptr<supervisor_impl>& impl, std::vector<std::string> names,
                   any_reply r) {
  require(impl, "wait_any");
  struct first {
    std::mutex m;
    std::optional<any_reply> reply;
  };
  auto f = std::make_shared<first>();
  f->reply.emplace(std::move(r));
  auto ex = impl->executor();
  if (names.empty()) {
    asio::post(ex, asio::append(std::move(*f->reply), make_error_code(errc::invalid_argument),
                                std::string{}, final_result{}));
    return;
  }
  for (auto& name : names) {
    std::string copy = name;
    impl->outcome(std::move(name), final_reply([f, ex, copy = std::move(copy)](
                                                   std::error_code ec, final_result res) mutable {
                    std::unique_lock lock(f->m);
                    if (!f->reply) return;
                    any_reply r(std::move(*f->reply));
                    f->reply.reset();
                    lock.unlock();
                    asio::post(ex, asio::append(std::move(r), ec, std::move(copy), std::move(res)));
                  }));
  }
}

}  // namespace detail

namespace {

template <class T>
T block(
    const std::shared_ptr<detail::supervisor_impl>& impl, const char* what,
    const std::function<void(std::shared_ptr<std::promise<std::pair<std::error_code, T>>>)>& send) {
  if (!impl) throw error(errc::supervisor_gone, std::string(what) + ": empty handle");
  if (impl->running_in_executor_thread()) {
    throw error(errc::would_deadlock, std::string(what) +
                                          ": blocking call from a thread running the "
                                          "supervisor's executor; use the async_ form");
  }
  auto p = std::make_shared<std::promise<std::pair<std::error_code, T>>>();
  auto fut = p->get_future();
  send(p);
  std::pair<std::error_code, T> v;
  try {
    v = fut.get();
  } catch (const std::future_error&) {
    throw error(errc::supervisor_gone, std::string(what) + ": the supervisor is gone");
  }
  if (v.first) throw error(v.first, std::string(what) + ": " + v.first.message());
  return std::move(v.second);
}

}  // namespace

std::vector<final_result> handle::run(std::vector<child_spec> children) const {
  using T = std::vector<final_result>;
  return block<T>(impl_, "run", [&](auto p) {
    detail::send_run(impl_, std::move(children), [p](std::error_code ec, T v) {
      p->set_value({ec, std::move(v)});
    });
  });
}

std::vector<final_result> handle::wait_all(std::vector<std::string> names) const {
  using T = std::vector<final_result>;
  return block<T>(impl_, "wait_all", [&](auto p) {
    detail::send_wait_all(impl_, std::move(names), [p](std::error_code ec, T v) {
      p->set_value({ec, std::move(v)});
    });
  });
}

std::pair<std::string, final_result> handle::wait_any(std::vector<std::string> names) const {
  using T = std::pair<std::string, final_result>;
  return block<T>(impl_, "wait_any", [&](auto p) {
    detail::send_wait_any(impl_, std::move(names),
                          [p](std::error_code ec, std::string n, final_result f) {
                            p->set_value({ec, T{std::move(n), std::move(f)}});
                          });
  });
}

}  // namespace vigil
