#pragma once
// Request and Response are the values handlers see and return. A Request is one parsed HTTP
// request with its decoded path, query and path parameters, body and request id; it is a plain
// movable value that a handler may keep past its return (to answer later from a completion).
// Response is what a handler sends back; the server adds X-Request-Id, Content-Length and
// Connection.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

#include "http/auth.h"
#include "http/error.h"

namespace flowd::http {

namespace beast_http = boost::beast::http;
using Verb = beast_http::verb;
using Status = beast_http::status;
using RawRequest = beast_http::request<beast_http::string_body>;
using Params = std::vector<std::pair<std::string, std::string>>;

// Beast 1.74 hands out boost::string_view.
inline std::string_view to_std(boost::beast::string_view s) {
  return {s.data(), s.size()};
}

class Request {
 public:
  Request() = default;
  // Splits and decodes the target; INVALID_INPUT when the path or query is not valid
  // percent-encoding.
  static tl::expected<Request, ApiError> make(RawRequest raw, std::string request_id,
                                              std::string remote);

  Verb method() const { return raw_.method(); }
  std::string_view method_string() const { return to_std(raw_.method_string()); }
  std::string_view target() const { return to_std(raw_.target()); }
  // The decoded path without the query ("/api/v1/executions/abc"), one trailing slash dropped.
  const std::string& path() const { return path_; }
  // The decoded path segments.
  const std::vector<std::string>& segments() const { return segments_; }
  // The route pattern that matched ("/api/v1/executions/{id}"); empty before routing.
  const std::string& route() const { return route_; }

  // A path parameter of the route ({id}); empty when the route has none of that name.
  std::string_view param(std::string_view name) const;
  const Params& params() const { return params_; }

  // The first value of a query parameter, decoded; nullopt when absent (`?a` gives "").
  std::optional<std::string> query(std::string_view name) const;
  std::vector<std::string> query_all(std::string_view name) const;
  const Params& query_params() const { return query_; }
  // An integer query parameter in [min, max]: nullopt when absent, INVALID_INPUT when it is not
  // an integer or out of range.
  tl::expected<std::optional<std::int64_t>, ApiError> query_int(std::string_view name,
                                                                std::int64_t min,
                                                                std::int64_t max) const;

  // A header's value, "" when absent (names are case-insensitive).
  std::string_view header(std::string_view name) const;
  const std::string& body() const { return raw_.body(); }
  // The body as JSON: UNSUPPORTED_MEDIA_TYPE when Content-Type is set and not JSON,
  // INVALID_INPUT when empty or malformed (with the byte offset).
  tl::expected<nlohmann::json, ApiError> json() const;

  // X-Request-Id as received (when well-formed) or generated; echoed in the response.
  const std::string& request_id() const { return request_id_; }
  // "ip:port" of the peer.
  const std::string& remote() const { return remote_; }
  const RawRequest& raw() const { return raw_; }

  // Who sent it (set by the server after authentication): the token's name and role.
  const Principal& principal() const { return principal_; }
  void set_principal(Principal principal) { principal_ = std::move(principal); }

  // Set by the router.
  void set_route(std::string route, Params params) {
    route_ = std::move(route);
    params_ = std::move(params);
  }

 private:
  RawRequest raw_;
  std::string path_;
  std::vector<std::string> segments_;
  std::string route_;
  Params params_;
  Params query_;
  std::string request_id_;
  std::string remote_;
  Principal principal_;
};

struct Response {
  Status status = Status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers

  static Response json(const nlohmann::json& body, Status status = Status::ok);
  static Response text(std::string body, Status status = Status::ok,
                       std::string content_type = "text/plain; charset=utf-8");
  static Response no_content();
  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
};

// The JSON error response for `error` (status from its code).
Response error_response(const ApiError& error, std::string_view request_id);

// Percent-decoding of one path segment (`plus_is_space` for query strings); nullopt when a '%'
// is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// "a=1&b=x%20y&a=2" -> {{a,1},{b,x y},{a,2}}; nullopt on bad percent-encoding.
std::optional<Params> parse_query(std::string_view query);

}  // namespace flowd::http
