#include "http/error.h"

#include <array>

namespace flowd::http {
namespace {

struct CodeInfo {
  std::string_view code;
  unsigned status;
  std::string_view hint;
};

constexpr std::array kCodes = {
    CodeInfo{codes::kInvalidInput, 400, "fix the request as the message says and send it again"},
    CodeInfo{codes::kMissingInput, 400, "supply the missing input and send the request again"},
    CodeInfo{codes::kUnauthorized, 401,
             "send the header 'Authorization: Bearer <token>' with the token the server was "
             "started with (http.token / FLOWD_HTTP_TOKEN)"},
    CodeInfo{codes::kPermissionDenied, 403, "this operation is not allowed for this caller"},
    CodeInfo{codes::kNotFound, 404,
             "check the name or id; the list endpoints show what exists (GET /api/v1/workflows, "
             "GET /api/v1/executions)"},
    CodeInfo{codes::kMethodNotAllowed, 405,
             "use one of the methods listed in the Allow header; schemas/openapi.yaml describes "
             "every endpoint"},
    CodeInfo{codes::kConflict, 409,
             "the resource is not in a state that allows this; fetch it again and retry if it "
             "still applies"},
    CodeInfo{codes::kCancelled, 409, "the operation was cancelled; start it again if needed"},
    CodeInfo{codes::kPayloadTooLarge, 413,
             "send a smaller body, or raise http.maxBodyBytes (FLOWD_HTTP_MAX_BODY_BYTES)"},
    CodeInfo{codes::kUnsupportedMediaType, 415,
             "send the body as JSON with 'Content-Type: application/json'"},
    CodeInfo{codes::kInvalidDefinition, 422,
             "fix the problems listed in details (flowctl validate FILE shows the same)"},
    CodeInfo{codes::kTooManyRequests, 429, "slow down and retry after a short wait"},
    CodeInfo{codes::kHeadersTooLarge, 431, "send fewer or smaller headers"},
    CodeInfo{codes::kInternal, 500,
             "retry later; if it persists, report the requestId so the server logs can be found"},
    CodeInfo{codes::kExternal, 502, "a system flowd depends on failed; retry later"},
    CodeInfo{codes::kUnavailable, 503,
             "the server is starting, stopping or missing a dependency; retry shortly (GET "
             "/readyz tells why)"},
    CodeInfo{codes::kTimeout, 504, "the operation took too long; retry, perhaps with less work"},
};

const CodeInfo* find(std::string_view code) {
  for (const auto& info : kCodes)
    if (info.code == code) return &info;
  return nullptr;
}

}  // namespace

unsigned status_for_code(std::string_view code) {
  const auto* info = find(code);
  return info ? info->status : 500;
}

std::string_view default_hint(std::string_view code) {
  const auto* info = find(code);
  return info ? info->hint : find(codes::kInternal)->hint;
}

ApiError ApiError::make(std::string_view code, std::string message, std::string hint) {
  ApiError e;
  e.code = std::string(code);
  e.message = std::move(message);
  e.hint = std::move(hint);
  return e;
}

ApiError ApiError::invalid_input(std::string message, std::string hint) {
  return make(codes::kInvalidInput, std::move(message), std::move(hint));
}
ApiError ApiError::not_found(std::string message, std::string hint) {
  return make(codes::kNotFound, std::move(message), std::move(hint));
}
ApiError ApiError::conflict(std::string message, std::string hint) {
  return make(codes::kConflict, std::move(message), std::move(hint));
}
ApiError ApiError::unauthorized(std::string message, std::string hint) {
  return make(codes::kUnauthorized, std::move(message), std::move(hint));
}
ApiError ApiError::unavailable(std::string message, std::string hint) {
  return make(codes::kUnavailable, std::move(message), std::move(hint));
}
ApiError ApiError::internal(std::string message, std::string hint) {
  return make(codes::kInternal, std::move(message), std::move(hint));
}

nlohmann::json error_body(const ApiError& error, std::string_view request_id) {
  nlohmann::json body = {
      {"code", error.code},
      {"message", error.message},
      {"requestId", request_id},
      {"hint", error.hint.empty() ? std::string(default_hint(error.code)) : error.hint},
  };
  if (!error.details.is_null()) body["details"] = error.details;
  return {{"error", body}};
}

}  // namespace flowd::http
