// virtual_runtime: a supervisor driven in virtual time, and the settled forms of its calls.
#include "vigil/testing/virtual_runtime.hpp"

#include <algorithm>
#include <chrono>
#include <memory>

#include "../runtime/one_thread.hpp"

namespace vigil::testing {

namespace {

// "<call>('<name>')" or "<call>" for messages.
std::string call_text(const char* call, std::string_view name) {
  std::string s(call);
  if (!name.empty()) s += "('" + std::string(name) + "')";
  return s;
}

// The reply of one call. Shared with its handler, which may run after the settled call gave
// up (a reply that comes later writes here, not into a dead stack frame).
template <class T>
struct reply_slot {
  std::optional<std::error_code> ec;
  std::optional<T> value;
  vigil::diagnostics diag;
};

}  // namespace

virtual_runtime::virtual_runtime(bool one_thread) {
  detail::declare_one_thread(io, one_thread);
}

virtual_runtime::~virtual_runtime() {
  // The recorder and the supervisor go before the io_context and the clock they use.
  events.reset();
  sup.reset();
  settle();
  detail::declare_one_thread(io, false);
}

vigil::supervisor& virtual_runtime::start(supervisor_options options) {
  if (!options.seed) options.seed = 42;
  sup.emplace(io.get_executor(), std::move(options), clock);
  events.emplace(*sup);
  settle();
  return *sup;
}

void virtual_runtime::settle() {
  manual_clock::settle(io);
}

void virtual_runtime::run_for(duration d) {
  clock.run_for(io, d);
}

bool virtual_runtime::run_until(const std::function<bool()>& done, duration limit) {
  const time_point deadline = clock.now() + limit;
  settle();
  while (!done()) {
    const auto next = clock.next_wakeup();
    if (!next) return false;  // nothing pending: nothing can change any more
    if (*next > deadline) {
      clock.run_for(io, deadline - clock.now());
      return done();
    }
    clock.advance(std::max(duration::zero(), *next - clock.now()));
    settle();
  }
  return true;
}

std::string virtual_runtime::no_reply(const char* call, std::string_view name,
                                      duration limit) const {
  const std::string who = call_text(call, name);
  if (!clock.next_wakeup()) {
    return who + ": no reply, and nothing is left to run that could produce one";
  }
  return who + ": no reply within " +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(limit).count()) +
         " ms of virtual time";
}

template <class Send>
result<> virtual_runtime::command(const char* call, std::string_view name, Send send) {
  if (!sup) return {make_error_code(errc::supervisor_gone), "virtual_runtime: start() first"};
  auto slot = std::make_shared<reply_slot<bool>>();
  send(slot->diag, [slot](std::error_code ec) { slot->ec = ec; });
  if (!run_until([&] { return slot->ec.has_value(); }, reply_limit)) {
    return {make_error_code(errc::timeout), no_reply(call, name, reply_limit)};
  }
  return {*slot->ec, slot->diag.message()};
}

template <class T, class Send>
result<T> virtual_runtime::query(const char* call, std::string_view name, duration limit,
                                 Send send) {
  if (!sup) return {make_error_code(errc::supervisor_gone), "virtual_runtime: start() first"};
  auto slot = std::make_shared<reply_slot<T>>();
  send([slot](std::error_code ec, T v) {
    slot->ec = ec;
    slot->value.emplace(std::move(v));
  });
  if (!run_until([&] { return slot->ec.has_value(); }, limit)) {
    return {make_error_code(errc::timeout), no_reply(call, name, limit)};
  }
  if (*slot->ec) return {*slot->ec, call_text(call, name) + ": " + slot->ec->message()};
  return std::move(*slot->value);
}

result<> virtual_runtime::add(child_spec spec) {
  const std::string name = spec.name;
  return command("add", name, [&](vigil::diagnostics& d, auto h) {
    sup->async_add(std::move(spec), d, std::move(h));
  });
}

result<> virtual_runtime::add(std::vector<child_spec> children) {
  return command("add", {}, [&](vigil::diagnostics& d, auto h) {
    sup->async_add(std::move(children), d, std::move(h));
  });
}

#define VIGIL_SETTLED_COMMAND(fn)                                  \
  result<> virtual_runtime::fn(std::string_view name) {            \
    return command(#fn, name, [&](vigil::diagnostics& d, auto h) { \
      sup->async_##fn(name, d, std::move(h));                      \
    });                                                            \
  }
VIGIL_SETTLED_COMMAND(stop)
VIGIL_SETTLED_COMMAND(start)
VIGIL_SETTLED_COMMAND(restart)
VIGIL_SETTLED_COMMAND(remove)
VIGIL_SETTLED_COMMAND(pause)
VIGIL_SETTLED_COMMAND(resume)
#undef VIGIL_SETTLED_COMMAND

result<child_info> virtual_runtime::status(std::string_view name) {
  return query<child_info>("status", name, reply_limit,
                           [&](auto h) { sup->async_status(name, std::move(h)); });
}

result<std::vector<child_info>> virtual_runtime::children() {
  return query<std::vector<child_info>>("children", {}, reply_limit,
                                        [&](auto h) { sup->async_children(std::move(h)); });
}

result<std::vector<child_info>> virtual_runtime::tree() {
  return query<std::vector<child_info>>("tree", {}, reply_limit,
                                        [&](auto h) { sup->async_tree(std::move(h)); });
}

result<final_result> virtual_runtime::outcome(std::string_view name,
                                              std::optional<duration> limit) {
  return query<final_result>("outcome", name, limit.value_or(reply_limit),
                             [&](auto h) { sup->async_outcome(name, std::move(h)); });
}

result<supervisor_result> virtual_runtime::wait(std::optional<duration> limit) {
  return query<supervisor_result>("wait", {}, limit.value_or(reply_limit),
                                  [&](auto h) { sup->async_wait(std::move(h)); });
}

result<supervisor_result> virtual_runtime::shutdown(std::optional<duration> limit) {
  if (sup) sup->shutdown();
  return wait(limit);
}

}  // namespace vigil::testing
