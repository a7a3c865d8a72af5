// The event bus: bounded per-subscriber queues, overflow and failure reports.
#include "event_bus.hpp"

#include <boost/asio/post.hpp>

namespace vigil::detail {

void event_bus::publish(event ev) {
  if (!has_subscribers()) return;
  std::unique_lock lock(m_);
  if (subs_.empty()) return;
  ev.seq = ++seq_;
  ev.wall = std::chrono::system_clock::now();
  const bool is_report =
      ev.kind == event_kind::subscriber_failed || ev.kind == event_kind::subscriber_overflow;
  auto shared = std::make_shared<const event>(std::move(ev));
  for (const auto& s : subs_) {
    if (!s->active.load(std::memory_order_relaxed)) continue;
    std::lock_guard sl(s->m);
    if (s->queue.size() >= s->capacity) {
      // Dropped for this subscriber only; reports never report themselves.
      if (!is_report) ++s->lost;
      continue;
    }
    s->queue.push_back(shared);
    if (s->lost != 0) {
      // The overflow episode ends: tell this subscriber how many it lost, after the event that
      // fits, so its seq numbers stay strictly increasing.
      event report;
      report.kind = event_kind::subscriber_overflow;
      report.seq = ++seq_;
      report.at = shared->at;
      report.wall = shared->wall;
      report.path_ = shared->path_;
      report.lost = s->lost;
      s->lost = 0;
      s->queue.push_back(std::make_shared<const event>(std::move(report)));
    }
    if (!s->scheduled) {
      s->scheduled = true;
      boost::asio::post(s->strand, [s] { drain(s); });
    }
  }
}

void event_bus::drain(const std::shared_ptr<subscriber_state>& s) {
  std::deque<std::shared_ptr<const event>> batch;
  for (;;) {
    {
      std::lock_guard sl(s->m);
      if (s->queue.empty() || !s->active.load()) {
        s->queue.clear();
        s->scheduled = false;
        break;
      }
      batch.swap(s->queue);
    }
    for (const auto& e : batch) {
      if (!s->active.load(std::memory_order_relaxed)) break;
      const char* what = nullptr;
      std::string text;
      try {
        s->fn(*e);
      } catch (const std::exception& x) {
        text = x.what();
        what = text.c_str();
      } catch (...) {
        what = "unknown exception";
      }
      if (what != nullptr && e->kind != event_kind::subscriber_failed &&
          e->kind != event_kind::subscriber_overflow) {
        if (auto bus = s->bus.lock()) bus->report_failure(*e, what);
      }
    }
    batch.clear();
  }
  if (auto bus = s->bus.lock()) bus->check_idle();
}

void event_bus::report_failure(const event& failed_on, const char* what) {
  event e;
  e.kind = event_kind::subscriber_failed;
  e.at = failed_on.at;
  e.path_ = failed_on.path_;
  e.reason = std::string("subscriber threw on ") + std::string(to_string(failed_on.kind)) + " #" +
             std::to_string(failed_on.seq) + ": " + what;
  publish(std::move(e));
}

std::shared_ptr<subscriber_state> event_bus::subscribe(event_handler fn, subscriber_options opts) {
  auto s = std::make_shared<subscriber_state>(std::move(fn), std::max<std::size_t>(1, opts.queue),
                                              boost::asio::make_strand(ex_));
  s->bus = weak_from_this();
  std::vector<std::function<void(bool)>> listeners;
  {
    std::lock_guard lock(m_);
    subs_.push_back(s);
    any_.store(true);
    listeners = listeners_;
  }
  for (auto& l : listeners) l(true);
  return s;
}

void event_bus::unsubscribe(const subscriber_state* s) {
  std::vector<std::function<void(bool)>> listeners;
  bool any = false;
  {
    std::lock_guard lock(m_);
    std::erase_if(subs_, [s](const auto& p) { return p.get() == s; });
    any = !subs_.empty();
    any_.store(any);
    listeners = listeners_;
  }
  for (auto& l : listeners) l(any);
  check_idle();
}

bool event_bus::idle() {
  std::lock_guard lock(m_);
  for (const auto& s : subs_) {
    std::lock_guard sl(s->m);
    if (s->scheduled || !s->queue.empty()) return false;
  }
  return true;
}

void event_bus::notify_when_idle(std::function<void()> fn) {
  {
    std::lock_guard lock(m_);
    idle_fn_ = std::move(fn);
  }
  check_idle();
}

void event_bus::check_idle() {
  std::function<void()> fn;
  {
    std::lock_guard lock(m_);
    if (!idle_fn_) return;
    for (const auto& s : subs_) {
      std::lock_guard sl(s->m);
      if (s->scheduled || !s->queue.empty()) return;
    }
    fn = std::move(idle_fn_);
    idle_fn_ = nullptr;
  }
  fn();
}

void event_bus::add_listener(std::function<void(bool)> fn) {
  std::lock_guard lock(m_);
  listeners_.push_back(std::move(fn));
}

}  // namespace vigil::detail

namespace vigil {

subscription::subscription(std::shared_ptr<detail::subscriber_state> s) noexcept
    : state_(std::move(s)) {}

subscription& subscription::operator=(subscription&& o) noexcept {
  if (this != &o) {
    unsubscribe();
    state_ = std::move(o.state_);
  }
  return *this;
}

subscription::~subscription() {
  unsubscribe();
}

void subscription::unsubscribe() noexcept {
  if (!state_) return;
  state_->active.store(false);
  if (auto bus = state_->bus.lock()) bus->unsubscribe(state_.get());
  state_.reset();
}

bool subscription::active() const noexcept {
  return state_ && state_->active.load();
}

}  // namespace vigil
