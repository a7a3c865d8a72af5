// The attempt context.
#include "vigil/runtime/context.hpp"

#include <mutex>
#include <utility>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "supervisor_impl.hpp"

namespace vigil {

namespace asio = boost::asio;

context::context(std::shared_ptr<detail::attempt_state> state) noexcept
    : state_(std::move(state)) {}

std::string_view context::name() const noexcept {
  return state_->name;
}
const std::string& context::path() const noexcept {
  return *state_->path;
}
std::uint32_t context::attempt() const noexcept {
  return state_->attempt;
}
std::uint32_t context::failure_streak() const noexcept {
  return state_->failure_streak;
}
std::stop_token context::stop_token() const noexcept {
  return state_->stop.get_token();
}
bool context::stop_requested() const noexcept {
  return state_->stop.stop_requested();
}

void context::heartbeat() const noexcept {
  state_->last_beat.store(state_->clk->now().time_since_epoch().count(), std::memory_order_relaxed);
}

void context::ready() const {
  if (state_->ready_sent.exchange(true)) return;
  if (auto sup = state_->sup.lock()) sup->attempt_ready(state_);
}

void context::status(std::string text) const {
  std::lock_guard lock(state_->shared->m);
  // An abandoned attempt that still runs must not overwrite its successor's status.
  if (state_->shared->current_generation != state_->generation) return;
  state_->shared->status_text = std::move(text);
}

namespace {

// An idle wait parked on the attempt's cancellation slot: no timer, no per-wait allocation
// beyond the node. The service owns every parked node so that an io_context destroyed with
// attempts still parked destroys their handlers (and with them the coroutine frames), as it
// would destroy a pending timer's; without it the frame, its context and the attempt state
// would keep one another alive.
struct parked_op {
  parked_op* prev = nullptr;
  parked_op* next = nullptr;
  virtual void complete(boost::system::error_code ec) = 0;  // posts the handler, frees this
  virtual void destroy() = 0;                               // frees this and the handler
 protected:
  ~parked_op() = default;
};

class park_service : public asio::execution_context::service {
 public:
  static inline asio::execution_context::id id;
  explicit park_service(asio::execution_context& c) : service(c) {}

  void add(parked_op* op) {
    std::lock_guard lock(m_);
    op->next = head_;
    if (head_) head_->prev = op;
    head_ = op;
  }
  void remove(parked_op* op) {
    std::lock_guard lock(m_);
    if (op->prev) op->prev->next = op->next;
    if (op->next) op->next->prev = op->prev;
    if (head_ == op) head_ = op->next;
    op->prev = op->next = nullptr;
  }

 private:
  void shutdown() override {
    parked_op* all = nullptr;
    {
      std::lock_guard lock(m_);
      all = std::exchange(head_, nullptr);
    }
    while (all) {
      parked_op* next = all->next;
      all->destroy();
      all = next;
    }
  }
  std::mutex m_;
  parked_op* head_ = nullptr;
};

template <class Handler>
struct parked final : parked_op {
  Handler handler;
  park_service* svc;
  parked(Handler h, park_service* s) : handler(std::move(h)), svc(s) {}
  void complete(boost::system::error_code ec) override {
    svc->remove(this);
    Handler h = std::move(handler);
    delete this;
    // Posted, never called from inside the slot's emit: resuming the coroutine clears the slot
    // and destroys the slot handler that is running this.
    asio::post(asio::append(std::move(h), ec));
  }
  void destroy() override { delete this; }
};

// What sits in the cancellation slot: completes the parked wait once. A stop completes
// `stopped()` normally and `sleep()` with operation_aborted; any other cancellation completes
// both with operation_aborted.
struct park_canceller {
  parked_op* op;
  detail::attempt_state* st;
  bool stop_is_success;
  void operator()(asio::cancellation_type) {
    if (parked_op* p = std::exchange(op, nullptr)) {
      const bool ok = stop_is_success && st->stop.stop_requested();
      p->complete(ok ? boost::system::error_code{} : asio::error::operation_aborted);
    }
  }
};

// Waits until `at` on the attempt's clock, or until a stop (or other cancellation of the
// awaiting coroutine). Never arms a timer for an endless wait whose coroutine has a
// cancellation slot: it parks there.
template <class Handler>
void wait_or_park(detail::attempt_state* st, core::time_point at, bool stop_is_success,
                  Handler handler) {
  auto slot = asio::get_associated_cancellation_slot(handler);
  if (st->stop.stop_requested()) {
    const boost::system::error_code ec =
        stop_is_success ? boost::system::error_code{} : asio::error::operation_aborted;
    asio::post(st->executor, asio::append(std::move(handler), ec));
    return;
  }
  if (at == core::time_point::max() && slot.is_connected()) {
    auto& svc =
        asio::use_service<park_service>(asio::query(st->executor, asio::execution::context));
    auto* op = new parked<Handler>(std::move(handler), &svc);
    svc.add(op);
    slot.template emplace<park_canceller>(park_canceller{op, st, stop_is_success});
    return;
  }
  // Pass the coroutine's slot explicitly and erase a slot-free handler (see clock.hpp).
  st->clk->async_wait_until(
      st->executor, at, slot,
      [st, stop_is_success, h = std::move(handler)](boost::system::error_code ec) mutable {
        if (ec && stop_is_success && st->stop.stop_requested()) ec = {};
        std::move(h)(ec);
      });
}

// Waits until the attempt is asked to stop, then ends the stop's cancellation of the awaiting
// coroutine stack (see wind_down()), so that the tidy-up after it can co_await. A coroutine of
// its own (one more frame per call) because the reset must follow the wait.
asio::awaitable<void> stopped_then_wind_down(detail::attempt_state* st) {
  // The initiation captures only trivially destructible values: GCC 12 destroys a shared_ptr
  // captured there twice when async_initiate runs through use_awaitable. The state stays alive
  // because the caller's context (in the awaiting frame) owns it. Named first: GCC 12
  // mishandles temporaries built inside a co_await expression.
  auto wait = asio::async_initiate<const asio::use_awaitable_t<>&, void(boost::system::error_code)>(
      [st](auto handler) { wait_or_park(st, core::time_point::max(), true, std::move(handler)); },
      asio::use_awaitable);
  co_await std::move(wait);
  co_await asio::this_coro::reset_cancellation_state(
      detail::wind_down_filter{st->stop.stop_requested()});
}

}  // namespace

// Not a coroutine: it returns the awaitable of one asynchronous operation, so a wait costs one
// small frame. The initiation captures only trivially destructible values (see above).
asio::awaitable<void> context::sleep(duration d) const {
  detail::attempt_state* st = state_.get();
  const core::time_point at =
      d == infinity ? core::time_point::max() : core::saturating_add(st->clk->now(), d);
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(boost::system::error_code)>(
      [st, at](auto handler) { wait_or_park(st, at, false, std::move(handler)); },
      asio::use_awaitable);
}

asio::awaitable<void> context::stopped() const {
  return stopped_then_wind_down(state_.get());
}

// A stop requests the stop source at once and emits the coroutine's cancellation later, on the
// attempt's strand: a wind-down between the two must not be cancelled by that late signal,
// hence the filter (the supervisor's stop is the only signal on this slot, and it comes once).
asio::this_coro::reset_cancellation_state_1_t<detail::wind_down_filter> context::wind_down()
    const noexcept {
  return asio::this_coro::reset_cancellation_state(
      detail::wind_down_filter{state_->stop.stop_requested()});
}

asio::any_io_executor context::executor() const noexcept {
  return state_->executor;
}

}  // namespace vigil
