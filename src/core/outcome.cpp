// Outcome names, descriptions and the mapping from exceptions.
#include "vigil/core/outcome.hpp"

#include <cstring>
#include <typeinfo>

namespace vigil::core {

std::string_view to_string(outcome_kind k) noexcept {
  switch (k) {
    case outcome_kind::success:
      return "success";
    case outcome_kind::failure:
      return "failure";
    case outcome_kind::fatal:
      return "fatal";
    case outcome_kind::timeout:
      return "timeout";
    case outcome_kind::unresponsive:
      return "unresponsive";
    case outcome_kind::cancelled:
      return "cancelled";
    case outcome_kind::exited:
      return "exited";
    case outcome_kind::signalled:
      return "signalled";
  }
  return "unknown";
}

namespace {
// The exception object held by `e` as a T, found without rethrowing it (a rethrow costs one more
// unwinding per failed attempt). libstdc++ keeps the thrown object's address as the only member
// of exception_ptr and exposes the object's type; type_info::__do_catch is what a handler
// `catch (const T&)` itself uses to match that type and adjust the address to the T base.
// Elsewhere, or for an object that does not match: nullptr.
template <class T>
const T* peek(const std::exception_ptr& e) noexcept {
#if defined(__GLIBCXX__) && defined(__cpp_rtti)
  static_assert(sizeof(std::exception_ptr) == sizeof(void*));
  const std::type_info* thrown = e.__cxa_exception_type();
  if (thrown == nullptr) return nullptr;
  void* object = nullptr;
  std::memcpy(&object, &e, sizeof object);
  if (object != nullptr && typeid(T).__do_catch(thrown, &object, 1)) {
    return static_cast<const T*>(object);
  }
#else
  (void)e;
#endif
  return nullptr;
}
}  // namespace

outcome outcome_from_exception(std::exception_ptr e) {
#if defined(__GLIBCXX__) && defined(__cpp_rtti)
  if (e) {
    if (const auto* x = peek<fatal_error>(e)) return {outcome_kind::fatal, 0, x->what(), e};
    if (const auto* x = peek<std::exception>(e)) return {outcome_kind::failure, 0, x->what(), e};
    return {outcome_kind::failure, 0, "unknown exception", e};
  }
#endif
  try {
    std::rethrow_exception(e);
  } catch (const fatal_error& x) {
    return {outcome_kind::fatal, 0, x.what(), e};
  } catch (const std::exception& x) {
    return {outcome_kind::failure, 0, x.what(), e};
  } catch (...) {
    return {outcome_kind::failure, 0, "unknown exception", e};
  }
}

std::string describe(const outcome& o) {
  std::string s(to_string(o.kind));
  if (o.kind == outcome_kind::exited || o.kind == outcome_kind::signalled) {
    s += '(' + std::to_string(o.code) + ')';
  }
  if (!o.reason.empty()) {
    s += ": ";
    s += o.reason;
  }
  return s;
}

}  // namespace vigil::core
