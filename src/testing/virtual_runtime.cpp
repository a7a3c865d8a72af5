// virtual_runtime: a supervisor driven in virtual time.
#include "vigil/testing/virtual_runtime.hpp"

#include "../runtime/one_thread.hpp"

namespace vigil::testing {

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

std::error_code virtual_runtime::add(child_spec spec) {
  std::optional<std::error_code> r;
  sup->async_add(std::move(spec), [&r](std::error_code ec) { r = ec; });
  settle();
  return r.value_or(make_error_code(errc::timeout));
}

}  // namespace vigil::testing
