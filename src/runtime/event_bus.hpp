// Internal: the event bus of one supervisor tree. Publishing never blocks and never runs user
// code; delivery jobs on the executor drain the subscribers' bounded queues, one batch of one
// subscriber at a time, so blocked subscribers, however many, hold up neither the publisher
// nor the others while the executor has a free thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "vigil/runtime/subscription.hpp"

namespace vigil::detail {

class event_bus;

/// One published event, shared by every subscriber queue holding it. `refs` counts those
/// queues; the last one to let go returns the node to its bus for reuse (or deletes it).
struct event_node {
  std::atomic<std::uint32_t> refs{0};
  event ev;
};

struct subscriber_state {
  event_handler fn;
  std::size_t capacity = 1024;
  std::weak_ptr<event_bus> bus;
  std::atomic<bool> active{true};
  // Guarded by the bus's lock.
  std::vector<event_node*> queue;
  bool busy = false;          // a delivery job is delivering a batch to it (at most one at a time)
  std::thread::id deliverer;  // the thread of that job: unsubscribe() from it does not wait
  std::uint64_t lost = 0;     // dropped in the current overflow episode
  // Touched only by the job that set `busy`: the batch being delivered (its storage is swapped
  // with `queue`, so steady state allocates nothing) and the nodes it let go of.
  std::vector<event_node*> batch;
  std::vector<event_node*> dead;

  subscriber_state(event_handler f, std::size_t cap) : fn(std::move(f)), capacity(cap) {}
  ~subscriber_state();
  subscriber_state(const subscriber_state&) = delete;
  subscriber_state& operator=(const subscriber_state&) = delete;
};

/// Thread-safe. seq is assigned under the bus lock, so every subscriber sees strictly
/// increasing seq numbers.
class event_bus : public std::enable_shared_from_this<event_bus> {
 public:
  explicit event_bus(boost::asio::any_io_executor ex);
  ~event_bus();
  event_bus(const event_bus&) = delete;
  event_bus& operator=(const event_bus&) = delete;

  /// Whether anyone listens; when not, the supervisor does not even build events.
  bool has_subscribers() const noexcept { return any_.load(std::memory_order_relaxed); }

  /// Stamps seq and wall time and queues the event for every subscriber.
  void publish(event ev);

  std::shared_ptr<subscriber_state> subscribe(event_handler fn, subscriber_options opts);
  void unsubscribe(const subscriber_state* s);

  /// True when no subscriber has queued or in-flight events.
  bool idle();
  /// Calls `fn` (from a delivery job or at once) when the bus becomes idle.
  void notify_when_idle(std::function<void()> fn);

  /// Adds a listener for subscriber-count changes (called without bus locks held); every
  /// supervisor of a tree listens to the tree's one bus.
  void add_listener(std::function<void(bool)> fn);

 private:
  void deliver_queued();
  void post_delivery();
  void deliver_batch(subscriber_state& s);
  void release_queue(subscriber_state& s);       // under m_
  event_node* make_node(event&& ev);             // under m_
  void recycle(std::vector<event_node*>& dead);  // under m_; leaves the excess in `dead`
  void report_failure(const event& failed_on, const char* what);
  void check_idle();

  boost::asio::any_io_executor ex_;
  // The concrete executor when ex_ is an io_context's: posting through it skips the
  // type-erased executor's property queries.
  std::optional<boost::asio::io_context::executor_type> io_ex_;
  std::mutex m_;
  std::vector<std::shared_ptr<subscriber_state>> subs_;
  std::uint64_t seq_ = 0;
  std::atomic<bool> any_{false};
  std::function<void()> idle_fn_;
  std::atomic<bool> idle_wanted_{false};  // idle_fn_ is set; written under m_
  std::vector<std::function<void(bool)>> listeners_;
  std::vector<event_node*> free_;       // delivered nodes kept for reuse, a bounded number
  std::condition_variable batch_done_;  // a subscriber's busy flag cleared (for unsubscribe)
  // A delivery job is posted and has not started yet. Once started, a job may be stuck in a
  // blocked subscriber, so new events for other subscribers post a new job, and so does a job
  // entering a handler while other subscribers wait.
  bool job_posted_ = false;
};

}  // namespace vigil::detail
