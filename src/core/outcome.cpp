// Outcome names, descriptions and the mapping from exceptions.
#include "vigil/core/outcome.hpp"

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

outcome outcome_from_exception(std::exception_ptr e) {
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
