#pragma once
// ApiError is what the HTTP API answers when a request cannot be served: a stable code clients
// match on, a message that says what and where, and a hint that says what to do about it. It is
// rendered as {"error": {"code", "message", "requestId", "hint", "details"?}} with the HTTP status
// the code maps to (status_for_code). Engine error codes (INVALID_DEFINITION, TIMEOUT, ...) map
// too, so a flowd::Error can be turned into an ApiError by its code name.
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace flowd::http {

// The stable codes of the API (the engine's own codes are accepted as well).
namespace codes {
inline constexpr std::string_view kInvalidInput = "INVALID_INPUT";                   // 400
inline constexpr std::string_view kMissingInput = "MISSING_INPUT";                   // 400
inline constexpr std::string_view kUnauthorized = "UNAUTHORIZED";                    // 401
inline constexpr std::string_view kPermissionDenied = "PERMISSION_DENIED";           // 403
inline constexpr std::string_view kNotFound = "NOT_FOUND";                           // 404
inline constexpr std::string_view kMethodNotAllowed = "METHOD_NOT_ALLOWED";          // 405
inline constexpr std::string_view kConflict = "CONFLICT";                            // 409
inline constexpr std::string_view kCancelled = "CANCELLED";                          // 409
inline constexpr std::string_view kPayloadTooLarge = "PAYLOAD_TOO_LARGE";            // 413
inline constexpr std::string_view kUnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE";  // 415
inline constexpr std::string_view kInvalidDefinition = "INVALID_DEFINITION";         // 422
inline constexpr std::string_view kTooManyRequests = "TOO_MANY_REQUESTS";            // 429
inline constexpr std::string_view kHeadersTooLarge = "HEADERS_TOO_LARGE";            // 431
inline constexpr std::string_view kInternal = "INTERNAL";                            // 500
inline constexpr std::string_view kExternal = "EXTERNAL";                            // 502
inline constexpr std::string_view kUnavailable = "UNAVAILABLE";                      // 503
inline constexpr std::string_view kTimeout = "TIMEOUT";                              // 504
}  // namespace codes

// The HTTP status for a code; 500 for codes it does not know.
unsigned status_for_code(std::string_view code);
// A generic hint for a code, used when an error carries none.
std::string_view default_hint(std::string_view code);

struct ApiError {
  std::string code = std::string(codes::kInternal);
  std::string message;
  std::string hint;                  // empty: default_hint(code)
  nlohmann::json details = nullptr;  // optional structured detail (e.g. a list of problems)

  unsigned status() const { return status_for_code(code); }

  static ApiError make(std::string_view code, std::string message, std::string hint = {});
  static ApiError invalid_input(std::string message, std::string hint = {});
  static ApiError not_found(std::string message, std::string hint = {});
  static ApiError conflict(std::string message, std::string hint = {});
  static ApiError unauthorized(std::string message, std::string hint = {});
  static ApiError unavailable(std::string message, std::string hint = {});
  static ApiError internal(std::string message, std::string hint = {});

  ApiError& with_details(nlohmann::json d) {
    details = std::move(d);
    return *this;
  }
};

// {"error": {"code", "message", "requestId", "hint", "details"?}}
nlohmann::json error_body(const ApiError& error, std::string_view request_id);

}  // namespace flowd::http
