// testing::result: what a settled call of testing::virtual_runtime answered — an error code
// with its message, or a value — so that a missing answer can never pass for a default one.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <system_error>
#include <utility>

#include "vigil/runtime/types.hpp"

namespace vigil::testing {

/// The answer of a settled call: `code` (empty on success) and `message` (why it failed: the
/// supervisor's text naming the child or field, or why no reply came, with code errc::timeout),
/// and on success the value. value(), `*` and `->` throw vigil::error(code, message) when the
/// call failed, so `EXPECT_EQ(vr.status("w")->state, …)` fails loudly instead of reading a
/// default-constructed child_info. Converts to true on success; prints as "ok" or
/// "<error text>: <message>" (GoogleTest uses that in its failure messages).
template <class T = void>
class result {
 public:
  /// A success carrying `value`.
  result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  /// A failure; `code` must not be empty.
  result(std::error_code code, std::string message) : code(code), message(std::move(message)) {}

  /// Empty on success.
  std::error_code code;
  /// Why the call failed; empty on success.
  std::string message;

  /// True on success.
  bool ok() const noexcept { return !code && value_.has_value(); }
  /// True on success.
  explicit operator bool() const noexcept { return ok(); }
  /// The value; throws vigil::error(code, message) when the call failed.
  const T& value() const& {
    check();
    return *value_;
  }
  /// The value, moved out; throws vigil::error(code, message) when the call failed.
  T value() && {
    check();
    return std::move(*value_);
  }
  /// The value; throws vigil::error(code, message) when the call failed.
  const T& operator*() const& { return value(); }
  /// The value's members; throws vigil::error(code, message) when the call failed.
  const T* operator->() const { return &value(); }

 private:
  void check() const {
    if (!ok()) throw error(code ? code : make_error_code(errc::timeout), message);
  }
  std::optional<T> value_;
};

/// The answer of a settled command (add, stop, …): an error code and its message.
template <>
class result<void> {
 public:
  /// A success.
  result() = default;
  /// A failure (or a success when `code` is empty).
  result(std::error_code code, std::string message) : code(code), message(std::move(message)) {}

  /// Empty on success.
  std::error_code code;
  /// Why the call failed; empty on success.
  std::string message;

  /// True on success.
  bool ok() const noexcept { return !code; }
  /// True on success.
  explicit operator bool() const noexcept { return ok(); }
  /// Throws vigil::error(code, message) when the call failed.
  void value() const {
    if (code) throw error(code, message);
  }
};

/// Prints "ok", or "<code's text>: <message>".
template <class T>
std::ostream& operator<<(std::ostream& os, const result<T>& r) {
  if (r.ok()) return os << "ok";
  return os << r.code.message() << ": " << r.message;
}

}  // namespace vigil::testing
