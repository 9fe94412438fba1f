#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "route_helpers.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace flowd::api::detail {

tl::unexpected<ApiError> invalid(std::string message, std::string hint) {
  return tl::unexpected(ApiError::invalid_input(std::move(message), std::move(hint)));
}

std::string actor_of(const http::Request& req) {
  if (req.principal().authenticated) return req.principal().name;
  std::string actor(req.header("X-Flowd-Actor"));
  if (actor.empty() || actor.size() > 200) return "api";
  return actor;
}

tl::expected<Json, ApiError> body_of(const http::Request& req) {
  if (req.body().empty()) return Json::object();
  auto body = req.json();
  if (!body) return tl::unexpected(body.error());
  if (!body->is_object()) return invalid("the body must be a JSON object");
  return body;
}

tl::expected<void, ApiError> only(const Json& body,
                                  std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return invalid("unknown field '" + key + "'", "allowed fields: " + list);
    }
  return {};
}

tl::expected<std::string, ApiError> text(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string()) return invalid(std::string(name) + " must be a string");
  return it->get<std::string>();
}

tl::expected<bool, ApiError> flag(const Json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) return invalid(std::string(name) + " must be a boolean");
  return it->get<bool>();
}

std::optional<std::string> query(const http::Request& req, std::string_view name) {
  auto v = req.query(name);
  if (v && v->empty()) return std::nullopt;
  return v;
}

void add_pooled(http::RouteGroup& api, const std::shared_ptr<WorkerPool>& pool, http::Verb verb,
                std::string_view pattern, std::string operation, Call call) {
  std::weak_ptr<WorkerPool> weak = pool;
  api.add(verb, pattern, [weak, operation, call](http::Request req, http::Responder res) {
    auto p = weak.lock();
    auto job = [operation, call, req = std::move(req), res]() mutable {
      ApiResult result;
      try {
        result = call(req);
      } catch (const std::exception& e) {
        spdlog::error("api {}: {}", operation, e.what());
        result = tl::unexpected(ApiError::internal("the operation failed unexpectedly"));
      }
      if (!result) return res.fail(std::move(result.error()));
      auto response = http::Response::json(result->body, static_cast<http::Status>(result->status));
      if (!result->location.empty()) response.header("Location", result->location);
      res.send(std::move(response));
    };
    if (!p || !p->post(std::move(job)))
      res.fail(ApiError::unavailable("the API is busy or stopping", "try again shortly"));
  });
}

}  // namespace flowd::api::detail
