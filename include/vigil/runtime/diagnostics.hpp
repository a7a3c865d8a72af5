// vigil::diagnostics: the text that explains why an asynchronous command failed (the message a
// blocking call puts in vigil::error::what()), after Boost.MySQL's diagnostics.
#pragma once

#include <string>
#include <utility>

namespace vigil {

namespace detail {
struct diagnostics_access;
}

/// The explanation of a failed command, for the asynchronous forms of the handle, which
/// complete with an error code only: pass one before the token
/// (`h.async_add(spec, diag, token)`) and read `diag.message()` in the handler, e.g.
/// "child 'x': shutdown must not be negative". The call clears it; it is filled just before
/// the handler runs, on the handler's executor: the supervisor's message, or "<call>('<name>'):
/// <error text>" when the supervisor gave none. Empty after a success.
///
/// Lifetime: the object must outlive the operation (until its handler has run). Not
/// thread-safe: one operation at a time per object, and read it only after the handler ran.
class diagnostics {
 public:
  /// An empty message.
  diagnostics() = default;

  /// The explanation of the last failure; empty after a success or clear().
  const std::string& message() const noexcept { return message_; }
  /// Empties the message.
  void clear() noexcept { message_.clear(); }

 private:
  friend struct detail::diagnostics_access;
  std::string message_;
};

namespace detail {
/// Internal: how the handle fills a diagnostics object.
struct diagnostics_access {
  static void set(diagnostics& d, std::string message) { d.message_ = std::move(message); }
};
}  // namespace detail

}  // namespace vigil
