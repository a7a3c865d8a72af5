// vigil's error category.
#include "vigil/core/error.hpp"

namespace vigil::core {
namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "vigil"; }
  std::string message(int v) const override {
    switch (static_cast<errc>(v)) {
      case errc::already_exists:
        return "a child with that name already exists";
      case errc::already_running:
        return "already running";
      case errc::not_found:
        return "no such child";
      case errc::invalid_argument:
        return "invalid argument";
      case errc::shutting_down:
        return "the supervisor is shutting down";
      case errc::dependency_cycle:
        return "dependency cycle";
      case errc::unknown_dependency:
        return "unknown dependency";
      case errc::queue_full:
        return "queue full";
      case errc::too_many_children:
        return "too many children";
      case errc::timeout:
        return "timed out";
      case errc::would_deadlock:
        return "blocking call from a thread running the supervisor's executor";
      case errc::supervisor_gone:
        return "the supervisor is gone";
      case errc::start_failed:
        return "the child failed to start";
    }
    return "unknown vigil error";
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

}  // namespace vigil::core
