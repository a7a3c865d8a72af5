// The supervisor's one timer (re-armed at the machine's next deadline) and its end: draining
// the subscribers, waiting for hooks and reapings, and answering wait().
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "supervisor_impl.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

// ---------------------------------------------------------------- the one timer

void supervisor_impl::arm_timer() {
  const auto next = machine_.next_deadline();
  if (next == armed_) return;
  // A later deadline keeps the armed wait: it fires first, finds nothing due and re-arms. A
  // stream of ever-later deadlines (each child of a shutdown gets its own stop timeout) then
  // costs no cancel and new wait per step.
  if (next && armed_ && *next > *armed_) return;
  cancel_timer();
  armed_ = next;
  if (!next) return;
  auto sig = std::make_shared<asio::cancellation_signal>();
  timer_cancel_ = sig;
  clock_.async_wait_until(
      strand_, *next, sig->slot(),
      asio::bind_executor(strand_, [self = shared_from_this(), sig](boost::system::error_code ec) {
        if (!ec) self->on_timer(sig);
      }));
}

void supervisor_impl::cancel_timer() {
  if (timer_cancel_) {
    timer_cancel_->emit(asio::cancellation_type::all);
    timer_cancel_.reset();
  }
  armed_.reset();
}

void supervisor_impl::on_timer(const std::shared_ptr<asio::cancellation_signal>& sig) {
  if (sig != timer_cancel_) return;  // superseded by a re-arm
  timer_cancel_.reset();
  armed_.reset();
  machine_.on_deadline(clock_.now());
  pump();
}

// ---------------------------------------------------------------- the end

void supervisor_impl::finish_after_drain() {
  if (draining_) return;
  draining_ = true;
  // §13.18: subscribers get one shared deadline to drain; a blocked one is not awaited past it.
  auto sig = std::make_shared<asio::cancellation_signal>();
  timer_cancel_ = sig;
  clock_.async_wait_until(
      strand_, core::saturating_add(clock_.now(), opts_.subscriber_drain), sig->slot(),
      asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->complete_wait();
      }));
  bus_->notify_when_idle([self = shared_from_this()] {
    asio::post(self->strand_, [self] { self->complete_wait(); });
  });
}

void supervisor_impl::complete_wait() {
  if (drained_) return;
  if (hook_jobs_ > 0) {
    drain_ready_ = true;  // hook_job_done() completes the wait once the hooks are done
    return;
  }
  drained_ = true;
  cancel_timer();
  bus_->notify_when_idle(nullptr);
  for (auto& w : waiters_) reply(std::move(w), std::error_code{}, *machine_.result());
  waiters_.clear();
}

}  // namespace vigil::detail
