// flowd::http building blocks without sockets: routing, target decoding, error bodies, tokens and
// request ids.
#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <set>

#include "http/error.h"
#include "http/router.h"
#include "http/server.h"

using namespace flowd::http;

namespace {

Handler noop() {
  return [](Request, Responder) {};
}

std::vector<std::string> split_path(const std::string& path) {
  RawRequest raw{Verb::get, path, 11};
  auto r = Request::make(std::move(raw), "id", "peer");
  REQUIRE(r);
  return r->segments();
}

}  // namespace

TEST_CASE("The router picks the route whose literal comes first and extracts parameters",
          "[service][http][router]") {
  Router router;
  router.add(Verb::get, "/api/v1/executions", noop());
  router.add(Verb::post, "/api/v1/executions", noop());
  router.add(Verb::get, "/api/v1/executions/{id}", noop());
  router.add(Verb::get, "/api/v1/executions/stats", noop());
  router.add(Verb::get, "/api/v1/executions/{id}/events", noop());
  router.add(Verb::post, "/api/v1/executions/{id}/pause", noop());
  router.add(Verb::get, "/api/v1/workflows/{name}/versions/{version}", noop());
  router.add(Verb::get, "/", noop());

  struct Case {
    Verb method;
    std::string path;
    std::string pattern;  // "" = no handler
    Params params;
    std::set<Verb> allowed;
  };
  const std::vector<Case> cases = {
      {Verb::get, "/api/v1/executions", "/api/v1/executions", {}, {}},
      {Verb::post, "/api/v1/executions", "/api/v1/executions", {}, {}},
      {Verb::get, "/api/v1/executions/abc", "/api/v1/executions/{id}", {{"id", "abc"}}, {}},
      {Verb::get, "/api/v1/executions/stats", "/api/v1/executions/stats", {}, {}},
      {Verb::get,
       "/api/v1/executions/e-1/events",
       "/api/v1/executions/{id}/events",
       {{"id", "e-1"}},
       {}},
      {Verb::get,
       "/api/v1/workflows/order%20processing/versions/2",
       "/api/v1/workflows/{name}/versions/{version}",
       {{"name", "order processing"}, {"version", "2"}},
       {}},
      {Verb::get, "/api/v1/executions/a%2Fb", "/api/v1/executions/{id}", {{"id", "a/b"}}, {}},
      {Verb::get, "/api/v1/executions/", "/api/v1/executions", {}, {}},  // trailing slash
      {Verb::head, "/api/v1/executions/x", "/api/v1/executions/{id}", {{"id", "x"}}, {}},
      {Verb::get, "/", "/", {}, {}},
      {Verb::delete_, "/api/v1/executions", "", {}, {Verb::get, Verb::post, Verb::head}},
      {Verb::get, "/api/v1/executions/x/pause", "", {}, {Verb::post}},
      {Verb::get, "/api/v1/nothing", "", {}, {}},
      {Verb::get, "/api/v1/executions/x/events/more", "", {}, {}},
      {Verb::get, "/api/v1//events", "", {}, {}},  // an empty segment matches no parameter
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(beast_http::to_string(c.method) << " " << c.path) {
      auto match = router.match(c.method, split_path(c.path));
      if (c.pattern.empty()) {
        CHECK(match.handler == nullptr);
        CHECK(std::set<Verb>(match.allowed.begin(), match.allowed.end()) == c.allowed);
      } else {
        REQUIRE(match.handler != nullptr);
        CHECK(match.pattern == c.pattern);
        CHECK(match.params == c.params);
      }
    }
  }
}

TEST_CASE("Route groups prefix their patterns", "[service][http][router]") {
  Router router;
  RouteGroup api(router, std::string(kApiPrefix));
  api.add(Verb::get, "/workflows", noop());
  auto routes = router.routes();
  REQUIRE(routes.size() == 1);
  CHECK(routes[0].second == "/api/v1/workflows");
}

TEST_CASE("Bad route patterns and duplicate routes are programmer errors",
          "[service][http][router]") {
  Router router;
  router.add(Verb::get, "/a/{id}", noop());
  CHECK_THROWS_AS(router.add(Verb::get, "/a/{other}", noop()), std::invalid_argument);
  CHECK_NOTHROW(router.add(Verb::post, "/a/{other}", noop()));
  for (const char* bad :
       {"", "a/b", "/a//b", "/a/{", "/a/{}", "/a/{x}{y}", "/a/{x-y}", "/a/{x}/{x}", "/a/b{x}"}) {
    INFO(bad);
    CHECK_THROWS_AS(router.add(Verb::get, bad, noop()), std::invalid_argument);
  }
  CHECK_THROWS_AS(router.add(Verb::get, "/z", Handler{}), std::invalid_argument);
}

TEST_CASE("Query strings decode percent-escapes and plus signs", "[service][http]") {
  struct Case {
    std::string query;
    std::optional<Params> expected;
  };
  const std::vector<Case> cases = {
      {"", Params{}},
      {"a=1", Params{{"a", "1"}}},
      {"a=1&b=x%20y&a=2", Params{{"a", "1"}, {"b", "x y"}, {"a", "2"}}},
      {"q=a+b", Params{{"q", "a b"}}},
      {"flag", Params{{"flag", ""}}},
      {"a=&&b=%3D", Params{{"a", ""}, {"b", "="}}},
      {"k%C3%A9=v", Params{{"k\xC3\xA9", "v"}}},
      {"a=%zz", std::nullopt},
      {"a=%4", std::nullopt},
      {"a=%", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.query);
    CHECK(parse_query(c.query) == c.expected);
  }
}

TEST_CASE("Requests expose path, query and typed query parameters", "[service][http]") {
  RawRequest raw{Verb::get, "/api/v1/executions/?status=running&limit=20&limit=5&bad=x", 11};
  raw.set("X-Custom", "v");
  auto r = Request::make(std::move(raw), "rid", "1.2.3.4:5");
  REQUIRE(r);
  CHECK(r->path() == "/api/v1/executions");
  CHECK(r->query("status") == std::optional<std::string>("running"));
  CHECK(r->query_all("limit") == std::vector<std::string>{"20", "5"});
  CHECK_FALSE(r->query("missing"));
  CHECK(r->query_int("limit", 1, 100).value() == std::optional<std::int64_t>(20));
  CHECK(r->query_int("missing", 1, 100).value() == std::nullopt);
  CHECK(r->query_int("bad", 1, 100).error().code == "INVALID_INPUT");
  CHECK(r->query_int("limit", 1, 10).error().message ==
        "query parameter 'limit' is out of range: 20");
  CHECK(r->header("x-custom") == "v");
  CHECK(r->header("absent").empty());
  CHECK(r->request_id() == "rid");

  RawRequest bad{Verb::get, "/a/%zz", 11};
  auto e = Request::make(std::move(bad), "rid", "");
  REQUIRE_FALSE(e);
  CHECK(e.error().code == "INVALID_INPUT");
}

TEST_CASE("JSON bodies are checked for media type, emptiness and syntax", "[service][http]") {
  struct Case {
    std::string content_type;
    std::string body;
    std::string code;  // "" = parses
  };
  const std::vector<Case> cases = {
      {"application/json", R"({"a":1})", ""},
      {"application/json; charset=utf-8", "[1]", ""},
      {"application/merge-patch+json", "{}", ""},
      {"", "{}", ""},
      {"text/plain", "{}", "UNSUPPORTED_MEDIA_TYPE"},
      {"application/json", "", "INVALID_INPUT"},
      {"application/json", "{\"a\":", "INVALID_INPUT"},
  };
  for (const auto& c : cases) {
    INFO(c.content_type << " / " << c.body);
    RawRequest raw{Verb::post, "/x", 11};
    if (!c.content_type.empty()) raw.set("Content-Type", c.content_type);
    raw.body() = c.body;
    auto r = Request::make(std::move(raw), "rid", "");
    REQUIRE(r);
    auto json = r->json();
    if (c.code.empty()) {
      CHECK(json.has_value());
    } else {
      REQUIRE_FALSE(json.has_value());
      CHECK(json.error().code == c.code);
    }
  }
}

TEST_CASE("Error codes map to stable HTTP statuses and the error body has every field",
          "[service][http]") {
  const std::vector<std::pair<std::string_view, unsigned>> cases = {
      {codes::kInvalidInput, 400},
      {codes::kMissingInput, 400},
      {codes::kUnauthorized, 401},
      {codes::kPermissionDenied, 403},
      {codes::kNotFound, 404},
      {codes::kMethodNotAllowed, 405},
      {codes::kConflict, 409},
      {codes::kPayloadTooLarge, 413},
      {codes::kUnsupportedMediaType, 415},
      {codes::kInvalidDefinition, 422},
      {codes::kInternal, 500},
      {codes::kExternal, 502},
      {codes::kUnavailable, 503},
      {codes::kTimeout, 504},
      {"SOMETHING_NEW", 500},
  };
  for (auto [code, status] : cases) {
    INFO(code);
    CHECK(status_for_code(code) == status);
    CHECK_FALSE(default_hint(code).empty());
  }
  auto body = error_body(ApiError::not_found("execution x not found"), "rid-1");
  CHECK(body == nlohmann::json{{"error",
                                {{"code", "NOT_FOUND"},
                                 {"message", "execution x not found"},
                                 {"requestId", "rid-1"},
                                 {"hint", std::string(default_hint("NOT_FOUND"))}}}});
  auto with_details = error_body(
      ApiError::make(codes::kInvalidDefinition, "2 problems", "fix them").with_details({"a", "b"}),
      "r");
  CHECK(with_details["error"]["hint"] == "fix them");
  CHECK(with_details["error"]["details"] == nlohmann::json{"a", "b"});
}

TEST_CASE("Secrets compare equal only when identical", "[service][http][auth]") {
  CHECK(constant_time_equals("s3cret", "s3cret"));
  CHECK(constant_time_equals("", ""));
  CHECK_FALSE(constant_time_equals("s3cret", "s3creT"));
  CHECK_FALSE(constant_time_equals("s3cret", "s3cret2"));
  CHECK_FALSE(constant_time_equals("s3cret", ""));
  CHECK_FALSE(constant_time_equals("a", "b"));
  std::string with_nul("ab\0", 3);
  CHECK_FALSE(constant_time_equals("ab", with_nul));
}

TEST_CASE("Request ids are kept when well-formed and generated otherwise", "[service][http]") {
  CHECK(valid_request_id("abc-123_x.y:z/w+q=@"));
  CHECK_FALSE(valid_request_id(""));
  CHECK_FALSE(valid_request_id("has space"));
  CHECK_FALSE(valid_request_id("quote\""));
  CHECK_FALSE(valid_request_id(std::string(129, 'a')));
  std::set<std::string> ids;
  for (int i = 0; i < 100; ++i) {
    auto id = new_request_id();
    CHECK(id.size() == 36);
    CHECK(id[14] == '4');
    CHECK(valid_request_id(id));
    ids.insert(id);
  }
  CHECK(ids.size() == 100);
}

TEST_CASE("The OpenAPI document lists exactly the server's error codes", "[service][http]") {
  auto doc = YAML::LoadFile(std::string(FLOWD_SOURCE_DIR) + "/schemas/openapi.yaml");
  REQUIRE(doc["openapi"].as<std::string>().rfind("3.0", 0) == 0);
  std::set<std::string> documented;
  for (const auto& code : doc["components"]["schemas"]["ErrorCode"]["enum"])
    documented.insert(code.as<std::string>());
  const std::set<std::string> served = {
      std::string(codes::kInvalidInput),      std::string(codes::kMissingInput),
      std::string(codes::kUnauthorized),      std::string(codes::kPermissionDenied),
      std::string(codes::kNotFound),          std::string(codes::kMethodNotAllowed),
      std::string(codes::kConflict),          std::string(codes::kCancelled),
      std::string(codes::kPayloadTooLarge),   std::string(codes::kUnsupportedMediaType),
      std::string(codes::kInvalidDefinition), std::string(codes::kTooManyRequests),
      std::string(codes::kHeadersTooLarge),   std::string(codes::kInternal),
      std::string(codes::kExternal),          std::string(codes::kUnavailable),
      std::string(codes::kTimeout),
  };
  CHECK(documented == served);
  // The error schema names the four fields every error has.
  std::set<std::string> required;
  for (const auto& f :
       doc["components"]["schemas"]["ErrorResponse"]["properties"]["error"]["required"])
    required.insert(f.as<std::string>());
  CHECK(required == std::set<std::string>{"code", "message", "requestId", "hint"});
  // Health stays open when a token is set.
  for (const char* path : {"/healthz", "/readyz"}) {
    INFO(path);
    auto security = doc["paths"][path]["get"]["security"];
    REQUIRE(security.IsSequence());
    CHECK(security.size() == 0);
  }
}
