// Internal: which io_contexts are run by exactly one thread (a one-thread vigil::runtime, a
// virtual_runtime). Supervisors on them use no strands.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

namespace vigil::detail {

/// Records (on) or forgets (off) that only one thread ever runs `io`. Thread-safe.
void declare_one_thread(const boost::asio::io_context& io, bool on);

/// Whether `ex` is the executor of an io_context declared one-thread: everything posted to it
/// runs on that thread, so a supervisor on it needs no strands. Thread-safe.
bool runs_on_one_thread(const boost::asio::any_io_executor& ex);

}  // namespace vigil::detail
