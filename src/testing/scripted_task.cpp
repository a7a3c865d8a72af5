// scripted_task: each attempt is a coroutine parked on a one-shot wake-up; the test's commands,
// stop requests and timers wake it, and it decides again what to do.
#include "vigil/testing/scripted_task.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <stop_token>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vigil::testing {

namespace asio = boost::asio;

namespace {

// One attempt: what the test asked of it and what happened to it. Shared by the attempt's
// coroutine frame and the scripted_state, with a mutex of its own, so the frame never touches
// the scripted_state (which may be gone while an abandoned attempt is still parked).
struct attempt_record {
  std::mutex m;
  attempt_plan plan;                // guarded by m
  time_point started{};             // guarded by m
  std::optional<context> ctx;       // guarded by m; while it runs
  bool running = false;             // guarded by m
  bool hung = false;                // guarded by m
  bool saw_stop = false;            // guarded by m
  time_point stop_at{};             // guarded by m
  bool end_due = false;             // guarded by m; the plan's `after` has passed
  bool slow_stop_due = false;       // guarded by m
  bool slow_timer_armed = false;    // guarded by m
  std::optional<outcome> command;   // guarded by m; the test's end()
  std::exception_ptr to_throw;      // guarded by m
  std::optional<outcome> returned;  // guarded by m
  // The parked frame's wake-up, or `dirty` when a wake-up came while it was not parked.
  bool dirty = false;                                          // guarded by m
  std::optional<asio::any_completion_handler<void()>> parked;  // guarded by m
  asio::any_io_executor parked_on;                             // guarded by m
  // Emitted by the frame only (where the timers are armed) when the attempt returns.
  asio::cancellation_signal end_timer;
  asio::cancellation_signal stop_timer;
};

// Wakes the attempt; `lock` holds r.m and is released before the handler is posted.
void wake(attempt_record& r, std::unique_lock<std::mutex>& lock) {
  if (!r.parked) {
    r.dirty = true;
    return;
  }
  // Move-constructed, never move-assigned: any_completion_handler's move assignment recurses
  // in Asio 1.26.
  asio::any_completion_handler<void()> h(std::move(*r.parked));
  r.parked.reset();
  const auto ex = r.parked_on;
  lock.unlock();
  asio::post(ex, std::move(h));
}

// Suspends the frame until the next wake-up (at once if one came since the last).
// The initiation captures only a raw pointer: see context::sleep (GCC 12 destroys a
// non-trivial capture of an initiation run through use_awaitable twice).
asio::awaitable<void> park(attempt_record* r) {
  return asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
      [r](auto h) {
        std::unique_lock lock(r->m);
        const asio::any_io_executor ex = asio::get_associated_executor(h);
        if (r->dirty) {
          r->dirty = false;
          lock.unlock();
          asio::post(ex, std::move(h));
          return;
        }
        // Erased without its cancellation slot (see clock.hpp: erasing a handler that carries
        // one misbehaves in Asio 1.26); the attempt never reacts to Asio cancellation anyway.
        r->parked.emplace([h = std::move(h)]() mutable { std::move(h)(); });
        r->parked_on = ex;
      },
      asio::use_awaitable);
}

// Sets r.*flag and wakes the attempt at `at` on `clk`, unless `sig` cancels the wait first.
void arm(vigil::clock& clk, const asio::any_io_executor& ex, time_point at,
         asio::cancellation_signal& sig, const std::shared_ptr<attempt_record>& r,
         bool attempt_record::*flag) {
  clk.async_wait_until(ex, at, sig.slot(), [r, flag](boost::system::error_code ec) {
    if (ec) return;
    std::unique_lock lock(r->m);
    (*r).*flag = true;
    wake(*r, lock);
  });
}

struct step {
  enum { wait, finish, raise } what = wait;
  outcome result;
  std::exception_ptr error;
};

// What the attempt does now. Called by the frame with r.m held.
step decide(attempt_record& r, vigil::clock& clk, const asio::any_io_executor& ex,
            const std::shared_ptr<attempt_record>& self) {
  if (r.hung) return {};
  if (r.to_throw) return {step::raise, {}, r.to_throw};
  if (r.command) return {step::finish, *r.command, nullptr};
  if (r.plan.end && (r.end_due || r.plan.after <= duration::zero())) {
    return {step::finish, *r.plan.end, nullptr};
  }
  if (!r.saw_stop) return {};
  switch (r.plan.on_stop) {
    case stop_response::obey:
      return {step::finish, vigil::cancelled("stop requested"), nullptr};
    case stop_response::ignore:
      return {};
    case stop_response::slowly:
      if (r.slow_stop_due || r.plan.stop_delay <= duration::zero()) {
        return {step::finish, vigil::cancelled("stopped slowly"), nullptr};
      }
      if (!r.slow_timer_armed) {
        r.slow_timer_armed = true;
        arm(clk, ex, r.stop_at + r.plan.stop_delay, r.stop_timer, self,
            &attempt_record::slow_stop_due);
      }
      return {};
  }
  return {};
}

asio::awaitable<outcome> run_attempt(std::shared_ptr<attempt_record> r, vigil::clock* clk) {
  // A stop is also an Asio cancellation of this coroutine; the attempt answers it through the
  // stop token instead, so later awaits (a slow stop) must not throw.
  co_await asio::this_coro::throw_if_cancelled(false);
  const asio::any_io_executor ex = co_await asio::this_coro::executor;
  std::stop_token token;
  {
    std::lock_guard lock(r->m);
    token = r->ctx->stop_token();
    if (r->plan.end && r->plan.after > duration::zero()) {
      arm(*clk, ex, r->started + r->plan.after, r->end_timer, r, &attempt_record::end_due);
    }
  }
  std::stop_callback on_stop(token, [p = r.get(), clk] {
    std::unique_lock lock(p->m);
    if (p->saw_stop) return;
    p->saw_stop = true;
    p->stop_at = clk->now();
    wake(*p, lock);
  });
  for (;;) {
    step s;
    {
      std::lock_guard lock(r->m);
      s = decide(*r, *clk, ex, r);
      if (s.what != step::wait) {
        r->running = false;
        r->returned = s.what == step::raise ? core::outcome_from_exception(s.error) : s.result;
        r->ctx.reset();
      }
    }
    if (s.what == step::wait) {
      co_await park(r.get());
      continue;
    }
    r->end_timer.emit(asio::cancellation_type::all);
    r->stop_timer.emit(asio::cancellation_type::all);
    if (s.what == step::raise) std::rethrow_exception(s.error);
    co_return s.result;
  }
}

}  // namespace

struct scripted_state {
  explicit scripted_state(vigil::clock& c, attempt_plan d) : clk(&c), default_plan(std::move(d)) {}
  ~scripted_state() {
    // Parked attempts nobody can wake any more (abandoned ones): destroy their frames, which
    // hold their records (no cycle left behind).
    std::vector<asio::any_completion_handler<void()>> frames;
    for (auto& r : attempts) {
      std::lock_guard lock(r->m);
      if (r->parked) {
        frames.emplace_back(std::move(*r->parked));
        r->parked.reset();
      }
    }
  }

  // The latest attempt, which must be running; throws std::logic_error naming `what`.
  std::shared_ptr<attempt_record> latest_running(const char* what) {
    std::lock_guard lock(m);
    if (!attempts.empty()) {
      auto& r = attempts.back();
      std::lock_guard rl(r->m);
      if (r->running && !r->hung) return r;
    }
    throw std::logic_error(std::string("scripted_task::") + what + ": attempt " +
                           std::to_string(attempts.size()) + " is not running (or hangs)");
  }
  std::shared_ptr<attempt_record> find(std::uint32_t n) const {
    std::lock_guard lock(m);
    if (n == 0 || n > attempts.size()) return nullptr;
    return attempts[n - 1];
  }

  vigil::clock* clk;
  mutable std::mutex m;
  mutable std::condition_variable began;                  // attempts grew
  attempt_plan default_plan;                              // guarded by m
  std::deque<attempt_plan> plans;                         // guarded by m
  std::vector<std::shared_ptr<attempt_record>> attempts;  // guarded by m
};

scripted_task::scripted_task(vigil::clock& clk, attempt_plan default_plan)
    : state_(std::make_shared<scripted_state>(clk, std::move(default_plan))) {}

vigil::task scripted_task::task() const {
  // A plain function returning the coroutine: a throw here is the factory throwing. It holds
  // the state weakly: every attempt's frame owns a copy of this callable (§13.27), and a strong
  // reference there would keep the state, its records and their parked frames alive in a cycle
  // (~scripted_state destroys the frames nobody can wake any more).
  return [w = std::weak_ptr<scripted_state>(state_)](context ctx) -> asio::awaitable<outcome> {
    const auto s = w.lock();
    if (!s) throw std::logic_error("vigil::testing::scripted_task: the scripted_task is gone");
    auto r = std::make_shared<attempt_record>();
    {
      std::lock_guard lock(s->m);
      if (s->plans.empty()) {
        r->plan = s->default_plan;
      } else {
        r->plan = std::move(s->plans.front());
        s->plans.pop_front();
      }
      r->started = s->clk->now();
      r->running = !r->plan.factory_throws;
      if (r->running) r->ctx.emplace(std::move(ctx));
      s->attempts.push_back(r);
    }
    s->began.notify_all();
    if (r->plan.factory_throws) throw std::runtime_error(*r->plan.factory_throws);
    return run_attempt(std::move(r), s->clk);
  };
}

void scripted_task::plan_next(attempt_plan p) {
  std::lock_guard lock(state_->m);
  state_->plans.push_back(std::move(p));
}

void scripted_task::throw_from_factory_next(std::string what) {
  plan_next({.factory_throws = std::move(what)});
}

void scripted_task::end(vigil::outcome o) {
  auto r = state_->latest_running("end");
  std::unique_lock lock(r->m);
  r->command.emplace(std::move(o));
  wake(*r, lock);
}

void scripted_task::throw_exception(std::exception_ptr e) {
  auto r = state_->latest_running("throw_exception");
  std::unique_lock lock(r->m);
  r->to_throw = std::move(e);
  wake(*r, lock);
}

void scripted_task::hang() {
  auto r = state_->latest_running("hang");
  std::lock_guard lock(r->m);
  r->hung = true;
}

void scripted_task::ignore_stop() {
  auto r = state_->latest_running("ignore_stop");
  std::lock_guard lock(r->m);
  r->plan.on_stop = stop_response::ignore;
}

void scripted_task::stop_slowly(duration d) {
  auto r = state_->latest_running("stop_slowly");
  std::unique_lock lock(r->m);
  r->plan.on_stop = stop_response::slowly;
  r->plan.stop_delay = d;
  // Seen already: the delay counts from now.
  if (r->saw_stop) r->stop_at = state_->clk->now();
  wake(*r, lock);
}

namespace {
// The running attempt's context, copied out so that it is used outside every lock.
std::optional<context> context_of(attempt_record& r) {
  std::lock_guard lock(r.m);
  return r.ctx;
}
}  // namespace

void scripted_task::heartbeat() {
  if (auto ctx = context_of(*state_->latest_running("heartbeat"))) ctx->heartbeat();
}

void scripted_task::ready() {
  if (auto ctx = context_of(*state_->latest_running("ready"))) ctx->ready();
}

std::uint32_t scripted_task::attempts() const {
  std::lock_guard lock(state_->m);
  return static_cast<std::uint32_t>(state_->attempts.size());
}

bool scripted_task::running(std::uint32_t n) const {
  const auto r = state_->find(n);
  if (!r) return false;
  std::lock_guard lock(r->m);
  return r->running;
}

bool scripted_task::saw_stop(std::uint32_t n) const {
  const auto r = state_->find(n);
  if (!r) return false;
  std::lock_guard lock(r->m);
  return r->saw_stop;
}

std::optional<vigil::outcome> scripted_task::returned(std::uint32_t n) const {
  const auto r = state_->find(n);
  if (!r) return std::nullopt;
  std::lock_guard lock(r->m);
  return r->returned;
}

bool scripted_task::wait_for_attempts(std::uint32_t n, std::chrono::milliseconds bound) const {
  std::unique_lock lock(state_->m);
  return state_->began.wait_for(lock, bound, [&] { return state_->attempts.size() >= n; });
}

}  // namespace vigil::testing
