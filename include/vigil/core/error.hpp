// vigil's error codes, their std::error_category, and the exception thrown by blocking calls.
#pragma once

#include <string>
#include <system_error>

namespace vigil::core {

/// Every error a vigil call can report. Zero is never used.
enum class errc {
  already_exists = 1,  ///< a child with that name is still listed
  already_running,     ///< the child (or run()) is already running
  not_found,           ///< no child with that name
  invalid_argument,    ///< a spec or option is invalid; the message names the field
  shutting_down,       ///< the supervisor is shutting down or has ended
  dependency_cycle,    ///< depends_on would form a cycle
  unknown_dependency,  ///< depends_on names a child that is not listed
  queue_full,          ///< a bounded queue is full
  too_many_children,   ///< max_children reached
  timeout,             ///< a wait's deadline passed (the operation itself goes on)
  would_deadlock,      ///< a blocking call was made from a thread running the supervisor's executor
  supervisor_gone,     ///< the supervisor was destroyed before the operation completed
  start_failed,        ///< the child's first attempt ended (or the child did) before it ran
};

/// The category of vigil's error codes; its name is "vigil".
const std::error_category& error_category() noexcept;

/// Makes a std::error_code of vigil's category (found by ADL).
std::error_code make_error_code(errc e) noexcept;

/// Thrown by blocking calls and by invalid configuration; code() is a vigil errc.
class error : public std::system_error {
 public:
  error(errc e, const std::string& what) : std::system_error(make_error_code(e), what) {}
  error(std::error_code ec, const std::string& what) : std::system_error(ec, what) {}
};

}  // namespace vigil::core

template <>
struct std::is_error_code_enum<vigil::core::errc> : std::true_type {};
