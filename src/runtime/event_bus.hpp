// Internal: the event bus of one supervisor tree. Publishing never blocks and never runs user
// code; each subscriber drains its own bounded queue on its own strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>

#include "vigil/runtime/subscription.hpp"

namespace vigil::detail {

class event_bus;

struct subscriber_state {
  event_handler fn;
  std::size_t capacity = 1024;
  boost::asio::strand<boost::asio::any_io_executor> strand;
  std::weak_ptr<event_bus> bus;
  std::atomic<bool> active{true};
  // Guarded by m.
  std::mutex m;
  std::deque<std::shared_ptr<const event>> queue;
  bool scheduled = false;  // a drain job is posted or running
  std::uint64_t lost = 0;  // dropped in the current overflow episode

  subscriber_state(event_handler f, std::size_t cap,
                   boost::asio::strand<boost::asio::any_io_executor> s)
      : fn(std::move(f)), capacity(cap), strand(std::move(s)) {}
};

/// Thread-safe. seq is assigned under the bus lock, so every subscriber sees strictly
/// increasing seq numbers.
class event_bus : public std::enable_shared_from_this<event_bus> {
 public:
  explicit event_bus(boost::asio::any_io_executor ex) : ex_(std::move(ex)) {}

  /// Whether anyone listens; when not, the supervisor does not even build events.
  bool has_subscribers() const noexcept { return any_.load(std::memory_order_relaxed); }

  /// Stamps seq and wall time and queues the event for every subscriber.
  void publish(event ev);

  std::shared_ptr<subscriber_state> subscribe(event_handler fn, subscriber_options opts);
  void unsubscribe(const subscriber_state* s);

  /// True when no subscriber has queued or in-flight events.
  bool idle();
  /// Calls `fn` (from a subscriber's strand or at once) when the bus becomes idle.
  void notify_when_idle(std::function<void()> fn);

  /// Adds a listener for subscriber-count changes (called without bus locks held); every
  /// supervisor of a tree listens to the tree's one bus.
  void add_listener(std::function<void(bool)> fn);

 private:
  static void drain(const std::shared_ptr<subscriber_state>& s);
  void report_failure(const event& failed_on, const char* what);
  void check_idle();

  boost::asio::any_io_executor ex_;
  std::mutex m_;
  std::vector<std::shared_ptr<subscriber_state>> subs_;
  std::uint64_t seq_ = 0;
  std::atomic<bool> any_{false};
  std::function<void()> idle_fn_;
  std::vector<std::function<void(bool)>> listeners_;
};

}  // namespace vigil::detail
