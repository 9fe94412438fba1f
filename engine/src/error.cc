// The stable spellings of ErrorCode (error.h).
#include "flowd/engine/error.h"

#include <array>
#include <utility>

namespace flowd {
namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 9> kNames{{
    {ErrorCode::kInvalidDefinition, "INVALID_DEFINITION"},
    {ErrorCode::kInvalidInput, "INVALID_INPUT"},
    {ErrorCode::kMissingInput, "MISSING_INPUT"},
    {ErrorCode::kTimeout, "TIMEOUT"},
    {ErrorCode::kExternal, "EXTERNAL"},
    {ErrorCode::kNotFound, "NOT_FOUND"},
    {ErrorCode::kPermissionDenied, "PERMISSION_DENIED"},
    {ErrorCode::kCancelled, "CANCELLED"},
    {ErrorCode::kInternal, "INTERNAL"},
}};

}  // namespace

std::string_view to_string(ErrorCode code) {
  for (const auto& [c, name] : kNames) {
    if (c == code) return name;
  }
  return "INTERNAL";
}

std::optional<ErrorCode> parse_error_code(std::string_view text) {
  for (const auto& [c, name] : kNames) {
    if (name == text) return c;
  }
  return std::nullopt;
}

}  // namespace flowd
