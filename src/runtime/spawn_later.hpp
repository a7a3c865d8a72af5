// Internal: starting a coroutine (an attempt, a hook) from a fresh handler.
#pragma once

#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>

namespace vigil::detail {

// Starts `aw` on `ex` from a fresh handler. co_spawn itself runs the coroutine up to its first
// suspension at once when `ex` may run on this thread, which from pump() would be user code
// (a task body, a hook) running on the supervisor's strand and holding it up.
template <class T, class Handler>
void spawn_later(const boost::asio::any_io_executor& ex, boost::asio::awaitable<T> aw,
                 Handler&& handler) {
  boost::asio::post(ex, [ex, aw = std::move(aw), h = std::forward<Handler>(handler)]() mutable {
    boost::asio::co_spawn(ex, std::move(aw), std::move(h));
  });
}

}  // namespace vigil::detail
