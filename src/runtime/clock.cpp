// The real steady clock.
#include "vigil/runtime/clock.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/consign.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vigil {

namespace {

class steady_clock_source final : public clock {
 public:
  core::time_point now() const noexcept override {
    return core::time_point(std::chrono::steady_clock::now().time_since_epoch());
  }

  void async_wait_until(
      const boost::asio::any_io_executor& ex, core::time_point at,
      boost::asio::cancellation_slot slot,
      boost::asio::any_completion_handler<void(boost::system::error_code)> handler) override {
    auto timer = std::make_shared<boost::asio::steady_timer>(
        ex, std::chrono::steady_clock::time_point(at.time_since_epoch()));
    // consign keeps the timer alive while the wait is pending.
    timer->async_wait(
        boost::asio::bind_cancellation_slot(slot, boost::asio::consign(std::move(handler), timer)));
  }
};

}  // namespace

clock& clock::steady() noexcept {
  static steady_clock_source instance;
  return instance;
}

}  // namespace vigil
