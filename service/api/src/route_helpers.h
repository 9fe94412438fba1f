#pragma once
// What the routes of the dead-letter and schedule APIs share: reading bodies and query parameters
// with clear errors, the actor of an action, and registering a handler that runs on a worker pool
// (a store call blocks; the server's io thread must not). Private to service/api.
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "flowd/api/operations.h"
#include "http/router.h"
#include "worker_pool.h"

namespace flowd::api::detail {

using Call = std::function<ApiResult(const http::Request&)>;

tl::unexpected<ApiError> invalid(std::string message, std::string hint = {});

// Who acts, for the audit trail: the API token's name, as for execution commands (routes.cc).
// Only a server without tokens (every caller anonymous) takes the X-Flowd-Actor header flowctl
// sends, else "api"; with tokens the header is ignored, so no caller can act under another name.
std::string actor_of(const http::Request& req);

// The body as a JSON object ({} when empty).
tl::expected<Json, ApiError> body_of(const http::Request& req);
// Refuses fields not in `allowed`, naming the allowed ones.
tl::expected<void, ApiError> only(const Json& body,
                                  std::initializer_list<std::string_view> allowed);
// A string field ("" when absent or null), a boolean field (false when absent or null).
tl::expected<std::string, ApiError> text(const Json& body, const char* name);
tl::expected<bool, ApiError> flag(const Json& body, const char* name);
// A query parameter; an empty one counts as absent.
std::optional<std::string> query(const http::Request& req, std::string_view name);

// Registers `call` under `pattern`, run on `pool` (503 when it is full or stopped; an exception
// is logged and answered 500).
void add_pooled(http::RouteGroup& api, const std::shared_ptr<WorkerPool>& pool, http::Verb verb,
                std::string_view pattern, std::string operation, Call call);

}  // namespace flowd::api::detail
