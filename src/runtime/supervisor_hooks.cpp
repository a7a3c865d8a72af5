// The supervisor's hooks (§11): setup, should_restart, on_failure and on_shutdown, each run off
// the supervisor's strand on the child's hook strand, their answers fed back to the machine.
#include <algorithm>
#include <atomic>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include "spawn_later.hpp"
#include "supervisor_impl.hpp"

namespace vigil::detail {

namespace asio = boost::asio;

void supervisor_impl::perform(core::run_setup& a) {
  const auto& h = slots_[a.id].hooks;
  if (!h || !h->setup) {
    machine_.on_setup_done(a.id, a.token, std::nullopt, clock_.now());
    return;
  }
  // §11: off the strand; a throw ends the child with setup_failed (the machine reports it).
  spawn_later(h->strand, invoke(h, h->setup),
              [self = shared_from_this(), id = a.id, token = a.token](std::exception_ptr e) {
                std::optional<core::outcome> failed;
                if (e) failed = core::outcome_from_exception(e);
                asio::post(self->strand_, [self, id, token, failed = std::move(failed)]() mutable {
                  self->machine_.on_setup_done(id, token, std::move(failed), self->clock_.now());
                  self->pump();
                });
              });
}

void supervisor_impl::perform(core::ask_should_restart& a) {
  const auto& h = slots_[a.id].hooks;
  if (!h || !h->should_restart) {
    machine_.on_should_restart(a.id, a.generation, true, clock_.now());
    return;
  }
  // A throwing should_restart is reported and the policy decides: supervision never stops
  // because of a hook.
  spawn_later(h->strand, invoke_bool(h, h->should_restart, a.last),
              [self = shared_from_this(), h, id = a.id, gen = a.generation](std::exception_ptr e,
                                                                            bool restart_it) {
                if (e) {
                  report_hook_failure(*h, "should_restart", e);
                  restart_it = true;
                }
                asio::post(self->strand_, [self, id, gen, restart_it] {
                  self->machine_.on_should_restart(id, gen, restart_it, self->clock_.now());
                  self->pump();
                });
              });
}

void supervisor_impl::after_exit(core::child_id id) {
  const auto& h = slots_[id].hooks;
  if (!h->on_failure) return;
  const auto& st = slots_[id].attempt;
  const core::child_info i = machine_.info(id, clock_.now());
  if (!i.last_outcome || i.last_outcome->is_success()) return;
  // A requested stop is not a failure; a task that cancelled itself unasked is (§2).
  if (i.last_outcome->kind == core::outcome_kind::cancelled && st->stop.stop_requested()) return;
  spawn_later(h->strand, invoke_outcome(h, h->on_failure, *i.last_outcome),
              [h](std::exception_ptr e) {
                if (e) report_hook_failure(*h, "on_failure", e);
              });
}

namespace {
struct shutdown_hook_job {
  asio::cancellation_signal hook_cancel;   // emitted on the child's hook strand
  asio::cancellation_signal timer_cancel;  // emitted on the supervisor's strand
  bool done = false;                       // on the supervisor's strand
  std::atomic<bool> timed_out{false};
};
}  // namespace

void supervisor_impl::perform(core::run_shutdown_hook& a) {
  // §11, §13.19, §13.28: the machine asks at the child's turn in the stop sequence, just
  // before its stop. The end waits for the hook at most `a.limit` (min(its shutdown timeout,
  // the remaining grace)), then cancels a coroutine hook and stops waiting for a plain one.
  const auto h = slots_[a.id].hooks;
  if (!h || !h->on_shutdown) return;
  ++hook_jobs_;
  auto job = std::make_shared<shutdown_hook_job>();
  const auto at = core::saturating_add(clock_.now(), a.limit);
  spawn_later(h->strand, invoke(h, h->on_shutdown),
              asio::bind_cancellation_slot(job->hook_cancel.slot(), [self = shared_from_this(), h,
                                                                     job](std::exception_ptr e) {
                if (e && !job->timed_out.load()) report_hook_failure(*h, "on_shutdown", e);
                asio::post(self->strand_, [self, job] {
                  if (job->done) return;
                  job->done = true;
                  job->timer_cancel.emit(asio::cancellation_type::all);
                  self->hook_job_done();
                });
              }));
  clock_.async_wait_until(
      strand_, at, job->timer_cancel.slot(),
      asio::bind_executor(strand_, [self = shared_from_this(), h,
                                    job](boost::system::error_code ec) {
        if (ec || job->done) return;
        job->done = true;
        job->timed_out.store(true);
        asio::post(h->strand, [job] { job->hook_cancel.emit(asio::cancellation_type::terminal); });
        self->hook_job_done();
      }));
}

void supervisor_impl::hook_job_done() {
  if (--hook_jobs_ == 0 && drain_ready_) complete_wait();
}

}  // namespace vigil::detail
