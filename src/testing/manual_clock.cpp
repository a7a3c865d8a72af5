// The manual clock.
#include "vigil/testing/manual_clock.hpp"

#include <vector>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>

namespace vigil::testing {

namespace asio = boost::asio;

struct manual_clock::waiter {
  core::time_point at;
  asio::any_io_executor ex;
  asio::any_completion_handler<void(boost::system::error_code)> handler;
};

manual_clock::manual_clock(core::time_point start) : now_(start.time_since_epoch().count()) {}

manual_clock::~manual_clock() = default;

core::time_point manual_clock::now() const noexcept {
  return core::time_point(core::duration(now_.load(std::memory_order_acquire)));
}

void manual_clock::async_wait_until(
    const asio::any_io_executor& ex, core::time_point at, asio::cancellation_slot slot,
    asio::any_completion_handler<void(boost::system::error_code)> handler) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(m_);
    id = next_id_++;
    order_.emplace(at, id);
    waiters_.emplace(id, waiter{at, ex, std::move(handler)});
  }
  if (slot.is_connected()) {
    slot.assign([this, id](asio::cancellation_type) { cancel(id); });
  }
  if (at <= now()) fire_due(now());
}

void manual_clock::cancel(std::uint64_t id) {
  std::optional<waiter> w;
  {
    std::lock_guard lock(m_);
    auto it = waiters_.find(id);
    if (it == waiters_.end()) return;
    w.emplace(std::move(it->second));
    waiters_.erase(it);
    for (auto o = order_.lower_bound(w->at); o != order_.end() && o->first == w->at; ++o) {
      if (o->second == id) {
        order_.erase(o);
        break;
      }
    }
  }
  asio::post(w->ex, asio::append(std::move(w->handler),
                                 boost::system::error_code(asio::error::operation_aborted)));
}

void manual_clock::fire_due(core::time_point t) {
  std::vector<waiter> due;
  {
    std::lock_guard lock(m_);
    while (!order_.empty() && order_.begin()->first <= t) {
      auto it = waiters_.find(order_.begin()->second);
      order_.erase(order_.begin());
      if (it == waiters_.end()) continue;
      due.push_back(std::move(it->second));
      waiters_.erase(it);
    }
  }
  for (auto& w : due) {
    asio::post(w.ex, asio::append(std::move(w.handler), boost::system::error_code()));
  }
}

void manual_clock::advance(core::duration d) {
  const core::time_point target = now() + d;
  for (;;) {
    const auto next = next_wakeup();
    if (!next || *next > target) break;
    if (*next > now()) now_.store(next->time_since_epoch().count(), std::memory_order_release);
    fire_due(now());
  }
  now_.store(target.time_since_epoch().count(), std::memory_order_release);
  fire_due(target);
}

void manual_clock::settle(asio::io_context& io) {
  io.restart();
  while (io.poll() != 0) io.restart();
}

void manual_clock::run_for(asio::io_context& io, core::duration d) {
  const core::time_point target = now() + d;
  settle(io);
  for (;;) {
    const auto next = next_wakeup();
    if (!next || *next > target) break;
    if (*next > now()) now_.store(next->time_since_epoch().count(), std::memory_order_release);
    fire_due(now());
    settle(io);
  }
  now_.store(target.time_since_epoch().count(), std::memory_order_release);
  fire_due(target);
  settle(io);
}

std::optional<core::time_point> manual_clock::next_wakeup() const {
  std::lock_guard lock(m_);
  if (order_.empty()) return std::nullopt;
  return order_.begin()->first;
}

std::size_t manual_clock::pending_waits() const {
  std::lock_guard lock(m_);
  return waiters_.size();
}

}  // namespace vigil::testing
