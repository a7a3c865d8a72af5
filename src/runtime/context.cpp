// The attempt context.
#include "vigil/runtime/context.hpp"

#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
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

asio::awaitable<void> context::sleep(duration d) const {
  if (state_->stop.stop_requested()) {
    throw boost::system::system_error(asio::error::operation_aborted, "vigil: stop requested");
  }
  // The initiation captures only trivially destructible values: GCC 12 destroys a
  // shared_ptr captured here twice when async_initiate runs through use_awaitable. The state
  // stays alive because the caller's context (in the awaiting frame) owns it.
  detail::attempt_state* st = state_.get();
  const core::time_point at = core::saturating_add(st->clk->now(), d);
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(boost::system::error_code)>(
      [st, at](auto handler) {
        // Pass the coroutine's slot explicitly and erase a slot-free handler (see clock.hpp).
        auto slot = asio::get_associated_cancellation_slot(handler);
        st->clk->async_wait_until(
            st->executor, at, slot,
            [h = std::move(handler)](boost::system::error_code ec) mutable { std::move(h)(ec); });
      },
      asio::use_awaitable);
}

asio::any_io_executor context::executor() const noexcept {
  return state_->executor;
}

}  // namespace vigil
