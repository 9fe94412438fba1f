#pragma once
// Error is what an expected failure is in flowd: a stable code users can match on, a message that
// says what and where, and whether trying again can help. Result<T> carries a value or an Error.
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace flowd {

enum class ErrorCode {
  kInvalidDefinition,
  kInvalidInput,
  kMissingInput,
  kTimeout,
  kExternal,
  kNotFound,
  kPermissionDenied,
  kCancelled,
  kInternal,
};

// "INVALID_DEFINITION", "TIMEOUT", ... — the spelling used in definitions, events and APIs.
std::string_view to_string(ErrorCode code);
std::optional<ErrorCode> parse_error_code(std::string_view text);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  bool retryable = false;

  static Error make(ErrorCode code, std::string message, bool retryable = false) {
    return Error{code, std::move(message), retryable};
  }
};

template <class T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(ErrorCode code, std::string message, bool retryable = false) {
  return tl::unexpected<Error>(Error{code, std::move(message), retryable});
}

}  // namespace flowd
