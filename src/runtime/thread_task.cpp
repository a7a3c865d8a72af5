// Thread tasks: each attempt runs a blocking function on its own std::jthread; its completion is
// posted back to the supervisor, which joins the thread before the core sees the outcome.
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <boost/asio/post.hpp>

#include "supervisor_impl.hpp"
#include "task_runners.hpp"

namespace vigil {

task make_thread_task(thread_task fn) {
  task t;
  if (fn) {
    t.kind_ = task_kind::thread;
    t.body_ = std::move(fn);
  }
  return t;
}

namespace detail {

namespace asio = boost::asio;

namespace {

std::atomic<std::size_t> live_threads{0};

struct thread_runner final : attempt_runner {
  std::mutex m;
  std::jthread th;  // guarded by m; joined by the supervisor, or detached by itself when orphaned

  // The supervisor has already requested the attempt's stop source, which is what
  // ctx.stop_token() observes: a thread can only be asked.
  void stop(attempt_state&) override {}

  void abandon(attempt_state& st) override {
    // A thread cannot be killed: it is left to finish on its own, never awaited again. Say so
    // where people look (the core has already emitted stop_timed_out and ended the attempt).
    std::lock_guard lock(st.shared->m);
    st.shared->status_text = "abandoned: attempt " + std::to_string(st.attempt) +
                             " ignored its stop; its thread still runs";
  }
};

core::outcome run_body(thread_task& fn, const std::shared_ptr<attempt_state>& st) {
  try {
    return fn(context(st));
  } catch (...) {
    return core::outcome_from_exception(std::current_exception());
  }
}

void thread_main(std::shared_ptr<thread_runner> r, std::shared_ptr<attempt_state> st,
                 thread_task fn) {
  core::outcome o = run_body(fn, st);
  // The user's callable (and what it captured) goes before the outcome is reported, so nothing
  // of the user's runs on this thread once the supervisor may have moved on.
  fn = nullptr;
  if (auto sup = st->sup.lock()) {
    // The join happens on the supervisor's executor, after this thread has nothing left to do
    // but return; the core sees the outcome only once the thread is gone.
    auto ex = sup->executor();
    asio::post(ex, [r = std::move(r), st = std::move(st), sup = std::move(sup),
                    o = std::move(o)]() mutable {
      {
        std::lock_guard lock(r->m);
        if (r->th.joinable()) r->th.join();
      }
      live_threads.fetch_sub(1, std::memory_order_acq_rel);
      sup->attempt_ended(st, std::move(o));
    });
    return;
  }
  // The supervisor is gone (an abandoned thread that finished late): nobody will join this
  // thread, so it releases itself.
  {
    std::lock_guard lock(r->m);
    if (r->th.joinable()) r->th.detach();
  }
  st.reset();
  r.reset();
  live_threads.fetch_sub(1, std::memory_order_acq_rel);
}

}  // namespace

void start_thread_attempt(const std::shared_ptr<attempt_state>& st, thread_task fn) {
  auto r = std::make_shared<thread_runner>();
  st->more->runner = r;
  // Held while the thread is created, so its end cannot touch `th` before it is assigned.
  std::lock_guard lock(r->m);
  live_threads.fetch_add(1, std::memory_order_acq_rel);
  try {
    r->th = std::jthread(thread_main, r, st, std::move(fn));
  } catch (...) {
    live_threads.fetch_sub(1, std::memory_order_acq_rel);
    if (auto sup = st->sup.lock()) {
      sup->attempt_ended(st, core::outcome_from_exception(std::current_exception()));
    }
  }
}

std::size_t live_task_threads() noexcept {
  return live_threads.load(std::memory_order_acquire);
}

}  // namespace detail
}  // namespace vigil
