// Internal: how a handle's calls reach the supervisor (the replies its strand sends back and the
// send_* functions, defined in src/runtime/handle.cpp). Not part of the API; included by
// handle.hpp only for its templates.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/bind_executor.hpp>

#include "vigil/runtime/child_spec.hpp"
#include "vigil/runtime/diagnostics.hpp"
#include "vigil/runtime/types.hpp"
#include "vigil/runtime/until.hpp"

namespace vigil {
namespace detail {
class supervisor_impl;
struct owner_token;

/// Internal: the replies the supervisor's strand sends back.
using command_reply = boost::asio::any_completion_handler<void(std::error_code, std::string)>;
using info_reply = boost::asio::any_completion_handler<void(std::error_code, child_info)>;
using list_reply =
    boost::asio::any_completion_handler<void(std::error_code, std::vector<child_info>)>;
using final_reply = boost::asio::any_completion_handler<void(std::error_code, final_result)>;
using wait_reply = boost::asio::any_completion_handler<void(std::error_code, supervisor_result)>;
using spec_reply = boost::asio::any_completion_handler<void(std::error_code, effective_spec)>;

/// Internal: the commands a handle sends.
enum class command : std::uint8_t { stop, start, restart, remove, pause, resume };

void send_add(const std::shared_ptr<supervisor_impl>& impl, child_spec spec, command_reply reply,
              until u = until::scheduled, std::string into = {});
void send_add_all(const std::shared_ptr<supervisor_impl>& impl, std::vector<child_spec> specs,
                  command_reply reply);
void send_command(const std::shared_ptr<supervisor_impl>& impl, command c, std::string name,
                  command_reply reply, until u = until::scheduled);
void send_spec(const std::shared_ptr<supervisor_impl>& impl, std::string name, spec_reply r);
void send_status(const std::shared_ptr<supervisor_impl>& impl, std::string name, info_reply r);
void send_children(const std::shared_ptr<supervisor_impl>& impl, list_reply r);
void send_tree(const std::shared_ptr<supervisor_impl>& impl, list_reply r);
void send_outcome(const std::shared_ptr<supervisor_impl>& impl, std::string name, final_reply r);
void send_wait(const std::shared_ptr<supervisor_impl>& impl, wait_reply r);
boost::asio::any_io_executor executor_of(const std::shared_ptr<supervisor_impl>& impl);

/// Internal: final results of several children (results.cpp).
using results_reply =
    boost::asio::any_completion_handler<void(std::error_code, std::vector<final_result>)>;
using any_reply =
    boost::asio::any_completion_handler<void(std::error_code, std::string, final_result)>;
void send_run(const std::shared_ptr<supervisor_impl>& impl, std::vector<child_spec> children,
              results_reply r);
void send_wait_all(const std::shared_ptr<supervisor_impl>& impl, std::vector<std::string> names,
                   results_reply r);
void send_wait_any(const std::shared_ptr<supervisor_impl>& impl, std::vector<std::string> names,
                   any_reply r);

/// Internal: adapts a user handler of signature void(error_code) to a command_reply,
/// keeping the handler's associated executor.
template <class Handler>
command_reply error_only(Handler h, const boost::asio::any_io_executor& fallback) {
  auto ex = boost::asio::get_associated_executor(h, fallback);
  return boost::asio::bind_executor(
      ex, [h = std::move(h)](std::error_code ec, std::string) mutable { std::move(h)(ec); });
}

/// Internal: the text of a failed command, shared by vigil::error::what() and diagnostics:
/// the supervisor's `message`, or "<call>('<name>'): <ec.message()>" when it is empty.
std::string command_failure(std::string_view call, std::string_view name, std::error_code ec,
                            std::string message);

/// Internal: like error_only, and fills `d` (on the handler's executor, just before the
/// handler runs) with the failure's text, or empties it on success.
template <class Handler>
command_reply with_diagnostics(Handler h, const boost::asio::any_io_executor& fallback,
                               diagnostics& d, const char* call, std::string name) {
  auto ex = boost::asio::get_associated_executor(h, fallback);
  return boost::asio::bind_executor(ex, [h = std::move(h), d = &d, call, name = std::move(name)](
                                            std::error_code ec, std::string m) mutable {
    diagnostics_access::set(*d, ec ? command_failure(call, name, ec, std::move(m)) : std::string());
    std::move(h)(ec);
  });
}
}  // namespace detail

}  // namespace vigil
