// The blocking forms of the handle's calls, and the supervisor object.
#include "vigil/runtime/handle.hpp"

#include <future>

#include "supervisor_impl.hpp"
#include "vigil/runtime/runtime.hpp"
#include "vigil/runtime/supervisor.hpp"

namespace vigil {

namespace detail {

std::string command_failure(std::string_view call, std::string_view name, std::error_code ec,
                            std::string message) {
  if (!message.empty()) return message;
  std::string text(call);
  if (!name.empty()) text += "('" + std::string(name) + "')";
  return text + ": " + ec.message();
}

}  // namespace detail

namespace detail {

namespace asio = boost::asio;

namespace {
void require(const std::shared_ptr<supervisor_impl>& impl) {
  if (!impl) throw error(errc::supervisor_gone, "empty vigil::handle");
}
}  // namespace

void send_add(const std::shared_ptr<supervisor_impl>& impl, child_spec spec, command_reply r,
              until u, std::string into) {
  require(impl);
  impl->add(std::move(into), std::move(spec), u, std::move(r));
}

void send_add_all(const std::shared_ptr<supervisor_impl>& impl, std::vector<child_spec> specs,
                  command_reply r) {
  require(impl);
  impl->add_all(std::move(specs), std::move(r), {});
}

void send_command(const std::shared_ptr<supervisor_impl>& impl, command c, std::string name,
                  command_reply r, until u) {
  require(impl);
  impl->command(c, std::move(name), std::move(r), u);
}

void send_spec(const std::shared_ptr<supervisor_impl>& impl, std::string name, spec_reply r) {
  require(impl);
  impl->spec(std::move(name), std::move(r));
}

void send_status(const std::shared_ptr<supervisor_impl>& impl, std::string name, info_reply r) {
  require(impl);
  impl->status(std::move(name), std::move(r));
}

void send_children(const std::shared_ptr<supervisor_impl>& impl, list_reply r) {
  require(impl);
  impl->children(std::move(r));
}

void send_tree(const std::shared_ptr<supervisor_impl>& impl, list_reply r) {
  require(impl);
  auto ex = impl->executor();
  auto shared = std::make_shared<list_reply>(std::move(r));
  impl->tree([ex, shared](std::vector<core::child_info> all) {
    asio::post(ex, asio::append(std::move(*shared), std::error_code{}, std::move(all)));
  });
}

void send_outcome(const std::shared_ptr<supervisor_impl>& impl, std::string name, final_reply r) {
  require(impl);
  impl->outcome(std::move(name), std::move(r));
}

void send_wait(const std::shared_ptr<supervisor_impl>& impl, wait_reply r) {
  require(impl);
  impl->wait(std::move(r));
}

asio::any_io_executor executor_of(const std::shared_ptr<supervisor_impl>& impl) {
  return impl->executor();
}

}  // namespace detail

namespace {

void check_blocking(const std::shared_ptr<detail::supervisor_impl>& impl, const char* what) {
  if (!impl) throw error(errc::supervisor_gone, std::string(what) + ": empty handle");
  if (impl->running_in_executor_thread()) {
    throw error(errc::would_deadlock,
                std::string(what) +
                    ": blocking call from a thread running the supervisor's executor; use the "
                    "async_ form");
  }
}

// Blocks on a reply; a reply destroyed uncalled (the executor went away) is supervisor_gone.
template <class T>
T get(std::future<T>& f, const char* what) {
  try {
    return f.get();
  } catch (const std::future_error&) {
    throw error(errc::supervisor_gone, std::string(what) + ": the supervisor is gone");
  }
}

template <class Send>
void blocking_command(const std::shared_ptr<detail::supervisor_impl>& impl, const char* what,
                      std::string_view name, Send send) {
  check_blocking(impl, what);
  auto p = std::make_shared<std::promise<std::pair<std::error_code, std::string>>>();
  auto f = p->get_future();
  send([p](std::error_code ec, std::string m) { p->set_value({ec, std::move(m)}); });
  auto [ec, msg] = get(f, what);
  if (ec) throw error(ec, detail::command_failure(what, name, ec, std::move(msg)));
}

template <class T, class Send>
T blocking_query(const std::shared_ptr<detail::supervisor_impl>& impl, const char* what,
                 std::string_view name, Send send) {
  check_blocking(impl, what);
  auto p = std::make_shared<std::promise<std::pair<std::error_code, T>>>();
  auto f = p->get_future();
  send([p](std::error_code ec, T v) { p->set_value({ec, std::move(v)}); });
  auto [ec, v] = get(f, what);
  if (ec) {
    throw error(ec, std::string(what) + (name.empty() ? "" : "('" + std::string(name) + "')") +
                        ": " + ec.message());
  }
  return std::move(v);
}

}  // namespace

void handle::add(child_spec spec, until u) const {
  const std::string name = spec.name;
  blocking_command(impl_, "add", name, [&](detail::command_reply r) {
    detail::send_add(impl_, std::move(spec), std::move(r), u);
  });
}

void handle::add_to(std::string_view subtree, child_spec spec, until u) const {
  const std::string name = std::string(subtree) + "/" + spec.name;
  blocking_command(impl_, "add_to", name, [&](detail::command_reply r) {
    detail::send_add(impl_, std::move(spec), std::move(r), u, std::string(subtree));
  });
}

void handle::start(std::string_view name, until u) const {
  blocking_command(impl_, "start", name, [&](detail::command_reply r) {
    detail::send_command(impl_, detail::command::start, std::string(name), std::move(r), u);
  });
}

void handle::add(std::vector<child_spec> children) const {
  blocking_command(impl_, "add", "", [&](detail::command_reply r) {
    detail::send_add_all(impl_, std::move(children), std::move(r));
  });
}

#define VIGIL_BLOCKING_COMMAND(fn, cmd)                                  \
  void handle::fn(std::string_view name) const {                         \
    blocking_command(impl_, #fn, name, [&](detail::command_reply r) {    \
      detail::send_command(impl_, cmd, std::string(name), std::move(r)); \
    });                                                                  \
  }
VIGIL_BLOCKING_COMMAND(stop, detail::command::stop)
VIGIL_BLOCKING_COMMAND(restart, detail::command::restart)
VIGIL_BLOCKING_COMMAND(remove, detail::command::remove)
VIGIL_BLOCKING_COMMAND(pause, detail::command::pause)
VIGIL_BLOCKING_COMMAND(resume, detail::command::resume)
#undef VIGIL_BLOCKING_COMMAND

effective_spec handle::spec(std::string_view name) const {
  return blocking_query<effective_spec>(impl_, "spec", name, [&](detail::spec_reply r) {
    detail::send_spec(impl_, std::string(name), std::move(r));
  });
}

child_info handle::status(std::string_view name) const {
  return blocking_query<child_info>(impl_, "status", name, [&](detail::info_reply r) {
    detail::send_status(impl_, std::string(name), std::move(r));
  });
}

std::vector<child_info> handle::children() const {
  return blocking_query<std::vector<child_info>>(impl_, "children", {}, [&](detail::list_reply r) {
    detail::send_children(impl_, std::move(r));
  });
}

std::vector<child_info> handle::tree() const {
  return blocking_query<std::vector<child_info>>(
      impl_, "tree", {}, [&](detail::list_reply r) { detail::send_tree(impl_, std::move(r)); });
}

final_result handle::outcome(std::string_view name) const {
  return blocking_query<final_result>(impl_, "outcome", name, [&](detail::final_reply r) {
    detail::send_outcome(impl_, std::string(name), std::move(r));
  });
}

subscription handle::subscribe(event_handler fn, subscriber_options options) const {
  if (!impl_) throw error(errc::supervisor_gone, "subscribe: empty handle");
  return impl_->subscribe(std::move(fn), options);
}

void handle::shutdown() const {
  if (impl_) impl_->shutdown();
}

supervisor_result handle::wait() const {
  return blocking_query<supervisor_result>(
      impl_, "wait", {}, [&](detail::wait_reply r) { detail::send_wait(impl_, std::move(r)); });
}

std::optional<supervisor_result> handle::wait_for(duration d) const {
  check_blocking(impl_, "wait_for");
  auto p = std::make_shared<std::promise<supervisor_result>>();
  auto f = p->get_future();
  detail::send_wait(impl_, [p](std::error_code, supervisor_result r) { p->set_value(r); });
  if (f.wait_for(d) != std::future_status::ready) return std::nullopt;
  return get(f, "wait_for");
}

const std::string& handle::path() const {
  static const std::string none;
  return impl_ ? impl_->path() : none;
}

boost::asio::any_io_executor handle::get_executor() const {
  return impl_ ? impl_->executor() : boost::asio::any_io_executor();
}

// ---------------------------------------------------------------- supervisor

namespace {
std::shared_ptr<detail::owner_token> make_owner(std::shared_ptr<detail::supervisor_impl> impl) {
  auto o = std::make_shared<detail::owner_token>();
  o->impl = std::move(impl);
  return o;
}
}  // namespace

supervisor::supervisor(boost::asio::any_io_executor ex, supervisor_options options,
                       vigil::clock& clk)
    : handle(std::make_shared<detail::supervisor_impl>(std::move(ex), std::move(options), clk),
             nullptr) {
  owner_ = make_owner(impl_);
  impl_->listen();
}

supervisor::~supervisor() = default;

}  // namespace vigil
