// The event bus: bounded per-subscriber queues, overflow and failure reports.
#include "event_bus.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>

namespace vigil::detail {

namespace {

// Nodes kept for reuse after delivery: enough for a few full default queues, so a steady
// stream of events allocates nothing, while a burst does not pin its memory for good.
constexpr std::size_t max_free_nodes = 1024;
// Batches one delivery job takes before it hands over to a freshly posted one.
constexpr std::size_t max_batches_per_job = 64;

// Drops one queue's hold on `n`; true when it was the last, and the node is free.
bool release(event_node* n) noexcept {
  return n->refs.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

void delete_all(std::vector<event_node*>& nodes) noexcept {
  for (event_node* n : nodes) delete n;
  nodes.clear();
}

bool is_report(event_kind k) noexcept {
  return k == event_kind::subscriber_failed || k == event_kind::subscriber_overflow;
}

}  // namespace

subscriber_state::~subscriber_state() {
  for (event_node* n : queue) {
    if (release(n)) delete n;
  }
  for (event_node* n : batch) {
    if (release(n)) delete n;
  }
}

event_bus::event_bus(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {
  if (const auto* io = ex_.target<boost::asio::io_context::executor_type>()) io_ex_ = *io;
}

event_bus::~event_bus() {
  delete_all(free_);
}

event_node* event_bus::make_node(event&& ev) {
  event_node* n = nullptr;
  if (!free_.empty()) {
    n = free_.back();
    free_.pop_back();
    n->ev = std::move(ev);
  } else {
    n = new event_node{{0}, std::move(ev)};
  }
  return n;
}

void event_bus::recycle(std::vector<event_node*>& dead) {
  for (event_node* n : dead) {
    if (free_.size() < max_free_nodes) {
      free_.push_back(n);
    } else {
      delete n;
    }
  }
  dead.clear();
}

void event_bus::release_queue(subscriber_state& s) {
  for (event_node* n : s.queue) {
    if (release(n)) s.dead.push_back(n);
  }
  s.queue.clear();
  recycle(s.dead);
}

void event_bus::publish(event ev) {
  if (!has_subscribers()) return;
  bool post = false;
  {
    std::lock_guard lock(m_);
    if (subs_.empty()) return;
    ev.seq = ++seq_;
    ev.wall = std::chrono::system_clock::now();
    const bool report = is_report(ev.kind);
    event_node* node = make_node(std::move(ev));
    std::uint32_t refs = 0;
    bool needs_job = false;
    for (const auto& s : subs_) {
      if (!s->active.load(std::memory_order_relaxed)) continue;
      if (s->queue.size() >= s->capacity) {
        // Dropped for this subscriber only; reports never report themselves.
        if (!report) ++s->lost;
        continue;
      }
      s->queue.push_back(node);
      ++refs;
      if (s->lost != 0) {
        // The overflow episode ends: tell this subscriber how many it lost, after the event
        // that fits, so its seq numbers stay strictly increasing.
        event_node* r = make_node(event{});
        r->ev.kind = event_kind::subscriber_overflow;
        r->ev.seq = ++seq_;
        r->ev.at = node->ev.at;
        r->ev.wall = node->ev.wall;
        r->ev.path_ = node->ev.path_;
        r->ev.lost = s->lost;
        r->refs.store(1, std::memory_order_relaxed);
        s->lost = 0;
        s->queue.push_back(r);
      }
      // A busy subscriber's job takes the new events after its batch.
      if (!s->busy) needs_job = true;
    }
    // Set before any job can see the node: jobs take this lock to reach the queues.
    if (refs != 0) {
      node->refs.store(refs, std::memory_order_relaxed);
    } else if (free_.size() < max_free_nodes) {
      free_.push_back(node);  // every queue was full
    } else {
      delete node;
    }
    if (needs_job && !job_posted_) {
      job_posted_ = true;
      post = true;
    }
  }
  if (post) post_delivery();
}

void event_bus::post_delivery() {
  // One job for every subscriber with queued events, instead of one per subscriber and
  // batch: a restart's three events cost one post, not up to twelve.
  if (io_ex_) {
    boost::asio::post(*io_ex_, [self = shared_from_this()] { self->deliver_queued(); });
  } else {
    boost::asio::post(ex_, [self = shared_from_this()] { self->deliver_queued(); });
  }
}

void event_bus::deliver_queued() {
  std::unique_lock lock(m_);
  job_posted_ = false;  // from here on this job may block in a subscriber: publishers post anew
  // Round robin over the subscribers, one whole queue at a time, until a full turn finds none
  // with events that no other job is delivering to. After max_batches_per_job the job hands
  // over to a fresh one, so under a steady stream other work on the executor interleaves.
  std::size_t next = 0;
  std::size_t looked = 0;
  std::size_t batches = 0;
  bool repost = false;
  while (looked < subs_.size()) {
    if (next >= subs_.size()) next = 0;
    const std::size_t at = next++;
    ++looked;
    if (subs_[at]->busy || subs_[at]->queue.empty()) continue;
    if (batches == max_batches_per_job) {
      repost = !job_posted_;
      job_posted_ = true;
      break;
    }
    ++batches;
    std::shared_ptr<subscriber_state> s = subs_[at];
    s->busy = true;
    s->deliverer = std::this_thread::get_id();
    s->batch.swap(s->queue);
    // This batch may block in its handler, and so may every other job that is inside one
    // now: if other subscribers are waiting, make sure a job comes for them even if none of
    // those ever returns (it runs as soon as the executor has a free thread). Every job that
    // is not inside a handler is in this loop, which rescans after each batch, so only jobs
    // about to enter a handler need to do this. Often this job gets to them first and the
    // helper finds nothing to do; at most one job is ever waiting to start.
    bool helper = false;
    if (!job_posted_) {
      for (const auto& o : subs_) {
        if (!o->busy && !o->queue.empty()) {
          helper = true;
          job_posted_ = true;
          break;
        }
      }
    }
    lock.unlock();
    if (helper) post_delivery();
    deliver_batch(*s);
    lock.lock();
    s->busy = false;
    batch_done_.notify_all();
    recycle(s->dead);
    if (!s->active.load()) {
      // Unsubscribed while its batch was out: drop what is queued. The last reference may be
      // this one, and its handler's destructor must not run under the bus lock.
      release_queue(*s);
      lock.unlock();
      s.reset();
      lock.lock();
    }
    // Still listed (active under the lock): the list's reference outlives this one.
    s.reset();
    looked = 0;
  }
  lock.unlock();
  if (repost) post_delivery();
  // The flag is written under the lock released above: if notify_when_idle() set it later,
  // its own check sees this job's subscribers idle.
  if (idle_wanted_.load()) check_idle();
}

void event_bus::deliver_batch(subscriber_state& s) {
  for (event_node* n : s.batch) {
    const event& e = n->ev;
    if (s.active.load(std::memory_order_relaxed)) {
      const char* what = nullptr;
      std::string text;
      try {
        s.fn(e);
      } catch (const std::exception& x) {
        text = x.what();
        what = text.c_str();
      } catch (...) {
        what = "unknown exception";
      }
      if (what != nullptr && !is_report(e.kind)) report_failure(e, what);
    }
    if (release(n)) s.dead.push_back(n);
  }
  s.batch.clear();
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
  auto s = std::make_shared<subscriber_state>(std::move(fn), std::max<std::size_t>(1, opts.queue));
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
    std::unique_lock lock(m_);
    const auto it =
        std::find_if(subs_.begin(), subs_.end(), [s](const auto& p) { return p.get() == s; });
    if (it != subs_.end()) {
      // A job delivering to it drops the rest itself when its batch is done.
      if (!(*it)->busy) release_queue(**it);
      subs_.erase(it);  // the caller still holds a reference: no destructor runs here
    }
    // Once this returns the handler is not running and never runs again (the job skips the
    // rest of its batch: `active` is already false), so the handler's captures may go. From
    // inside the handler itself the current call just finishes as usual.
    batch_done_.wait(lock, [s] { return !s->busy || s->deliverer == std::this_thread::get_id(); });
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
    if (s->busy || !s->queue.empty()) return false;
  }
  return true;
}

void event_bus::notify_when_idle(std::function<void()> fn) {
  {
    std::lock_guard lock(m_);
    idle_fn_ = std::move(fn);
    idle_wanted_.store(static_cast<bool>(idle_fn_));
  }
  check_idle();
}

void event_bus::check_idle() {
  std::function<void()> fn;
  {
    std::lock_guard lock(m_);
    if (!idle_fn_) return;
    for (const auto& s : subs_) {
      if (s->busy || !s->queue.empty()) return;
    }
    fn = std::move(idle_fn_);
    idle_fn_ = nullptr;
    idle_wanted_.store(false);
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
