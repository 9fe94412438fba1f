// The http step runner against a local Beast server, and its circuit breaker per target.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "flowd/engine/http_step.h"
#include "http_test_server.h"
#include "step_test_util.h"
#include "steps/http_runner.h"

namespace flowd {
namespace {

using namespace std::chrono_literals;
using testing::HttpTestServer;
using testing::make_call;
using testing::run_io;
using Steady = std::chrono::steady_clock;
namespace http = boost::beast::http;
namespace asio = boost::asio;

std::string header(const HttpTestServer::Request& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? "<absent>" : std::string(it->value());
}

// A server answering by path: /json, /text, /status/<n>, /big/<bytes>, /hold (never answers;
// `on_hold` runs instead), anything else echoes the request as JSON.
struct Fixture {
  asio::io_context io;
  std::function<void()> on_hold;
  std::vector<HttpTestServer::Responder> held;
  HttpTestServer server{
      io, [this](const HttpTestServer::Request& request, HttpTestServer::Responder respond) {
        std::string target(request.target());
        if (target == "/json") {
          respond(HttpTestServer::json(200, {{"ok", true}, {"n", 3}}));
        } else if (target == "/text") {
          respond(HttpTestServer::text(200, "plain words"));
        } else if (target.rfind("/status/", 0) == 0) {
          unsigned status = std::stoul(target.substr(8));
          bool bodiless = status < 200 || status == 204 || status == 304;
          respond(HttpTestServer::text(status,
                                       bodiless ? "" : "status body " + std::to_string(status)));
        } else if (target.rfind("/big/", 0) == 0) {
          respond(HttpTestServer::text(200, std::string(std::stoul(target.substr(5)), 'x')));
        } else if (target.rfind("/chunked/", 0) == 0) {
          auto response = HttpTestServer::text(200, std::string(std::stoul(target.substr(9)), 'y'));
          response.chunked(true);
          respond(std::move(response));
        } else if (target == "/hold") {
          held.push_back(respond);
          if (on_hold) on_hold();
        } else {
          Json echo{{"method", std::string(request.method_string())},
                    {"target", target},
                    {"body", request.body()}};
          respond(HttpTestServer::json(200, echo));
        }
      }};
  HttpOptions options;
  std::shared_ptr<StepRunner> runner;

  explicit Fixture(HttpOptions opts = {}) : options(std::move(opts)) {
    runner = make_http_runner(io, options);
  }

  // Runs the calls one after another on the io_context, then stops the server.
  std::vector<Result<Json>> run(std::vector<StepCall> calls) {
    std::vector<Result<Json>> out;
    run_io(
        io,
        [&]() -> asio::awaitable<void> {
          for (auto& call : calls) out.push_back(co_await runner->run(std::move(call)));
        },
        [this] { server.stop(); });
    return out;
  }
  Result<Json> run(StepCall call) {
    std::vector<StepCall> calls;
    calls.push_back(std::move(call));
    return run(std::move(calls)).at(0);
  }
  StepCall get(const std::string& path) {
    return make_call("http", Json{{"url", server.url(path)}});
  }
};

TEST_CASE("http GET of a JSON resource outputs status, headers and the parsed body",
          "[engine][steps][http]") {
  Fixture f;
  auto out = f.run(f.get("/json"));
  REQUIRE(out.has_value());
  CHECK((*out)["status"] == 200);
  CHECK((*out)["body"] == Json{{"ok", true}, {"n", 3}});
  CHECK((*out)["headers"]["content-type"] == "application/json");
  CHECK((*out)["headers"]["content-length"] ==
        std::to_string(Json{{"ok", true}, {"n", 3}}.dump().size()));
  REQUIRE(f.server.requests().size() == 1);
  CHECK(f.server.requests()[0].method() == http::verb::get);
  CHECK(f.server.requests()[0].target() == "/json");
}

TEST_CASE("http text response body stays a string", "[engine][steps][http]") {
  Fixture f;
  auto out = f.run(f.get("/text"));
  REQUIRE(out.has_value());
  CHECK((*out)["status"] == 200);
  CHECK((*out)["body"] == "plain words");
}

TEST_CASE("http sends method, headers, JSON body and the idempotency key",
          "[engine][steps][http]") {
  Fixture f;
  auto call = make_call("http", Json{{"method", "post"},
                                     {"url", f.server.url("/orders?id=7")},
                                     {"headers", {{"X-Trace", "abc"}, {"X-Count", 3}}},
                                     {"body", {{"orderId", 7}, {"items", {1, 2}}}}});
  call.idempotency_key = "exec-9/charge/2";
  auto out = f.run(std::move(call));
  REQUIRE(out.has_value());
  CHECK((*out)["body"]["method"] == "POST");
  CHECK((*out)["body"]["target"] == "/orders?id=7");
  REQUIRE(f.server.requests().size() == 1);
  const auto& request = f.server.requests()[0];
  CHECK(request.method() == http::verb::post);
  CHECK(Json::parse(request.body()) == Json{{"orderId", 7}, {"items", {1, 2}}});
  CHECK(header(request, "Content-Type") == "application/json");
  CHECK(header(request, "X-Trace") == "abc");
  CHECK(header(request, "X-Count") == "3");
  CHECK(header(request, "Idempotency-Key") == "exec-9/charge/2");
  CHECK(header(request, "Host") == "127.0.0.1:" + std::to_string(f.server.port()));
}

TEST_CASE("http sends a string body as is and keeps the caller's headers",
          "[engine][steps][http]") {
  Fixture f;
  auto call = make_call(
      "http", Json{{"method", "PUT"},
                   {"url", f.server.url("/raw")},
                   {"headers", {{"content-type", "text/csv"}, {"idempotency-key", "mine"}}},
                   {"body", "a,b\n1,2\n"}});
  auto out = f.run(std::move(call));
  REQUIRE(out.has_value());
  const auto& request = f.server.requests().at(0);
  CHECK(request.method() == http::verb::put);
  CHECK(request.body() == "a,b\n1,2\n");
  CHECK(header(request, "Content-Type") == "text/csv");
  CHECK(header(request, "Idempotency-Key") == "mine");
}

TEST_CASE("http maps response statuses to outputs and errors", "[engine][steps][http]") {
  struct Case {
    unsigned status;
    bool ok;
    bool retryable;
  };
  const std::vector<Case> cases = {
      {200, true, false},  {201, true, false},  {204, true, false},  {304, true, false},
      {400, false, false}, {401, false, false}, {403, false, false}, {404, false, false},
      {409, false, false}, {422, false, false}, {408, false, true},  {429, false, true},
      {500, false, true},  {502, false, true},  {503, false, true},
  };
  Fixture f;
  std::vector<StepCall> calls;
  for (const auto& c : cases) calls.push_back(f.get("/status/" + std::to_string(c.status)));
  auto out = f.run(std::move(calls));
  REQUIRE(out.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    INFO("status " << c.status);
    INFO((out[i] ? out[i]->dump() : out[i].error().message));
    REQUIRE(out[i].has_value() == c.ok);
    if (c.ok) {
      CHECK((*out[i])["status"] == c.status);
      continue;
    }
    CHECK(out[i].error().code == ErrorCode::kExternal);
    CHECK(out[i].error().retryable == c.retryable);
    // The message names the status and quotes the start of the body.
    CHECK_THAT(out[i].error().message, Catch::Contains("HTTP " + std::to_string(c.status)));
    CHECK_THAT(out[i].error().message, Catch::Contains("status body " + std::to_string(c.status)));
  }
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (cases[i].status == 204 || cases[i].status == 304) CHECK((*out[i])["body"] == "");
  }
}

TEST_CASE("http 404 is not retryable and 500 is", "[engine][steps][http]") {
  Fixture f;
  auto out = f.run({f.get("/status/404"), f.get("/status/500")});
  REQUIRE_FALSE(out[0].has_value());
  CHECK(out[0].error().code == ErrorCode::kExternal);
  CHECK_FALSE(out[0].error().retryable);
  CHECK_THAT(out[0].error().message, Catch::Contains("HTTP 404 Not Found"));
  REQUIRE_FALSE(out[1].has_value());
  CHECK(out[1].error().code == ErrorCode::kExternal);
  CHECK(out[1].error().retryable);
}

TEST_CASE("http stops promptly when its CancelSignal fires during a slow response",
          "[engine][steps][http]") {
  Fixture f;
  auto call = f.get("/hold");
  call.timeout = 60s;
  auto signal = call.cancel;
  f.on_hold = [&] { signal->cancel(); };  // the server has the request: now abandon the attempt
  auto start = Steady::now();
  auto out = f.run(std::move(call));
  CHECK(Steady::now() - start < 5s);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == ErrorCode::kCancelled);
  CHECK(f.held.size() == 1);
  f.held[0](HttpTestServer::text(200, "too late"));  // a late response goes nowhere
}

TEST_CASE("http on an already cancelled signal sends nothing", "[engine][steps][http]") {
  Fixture f;
  auto call = f.get("/json");
  call.cancel->cancel();
  auto out = f.run(std::move(call));
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == ErrorCode::kCancelled);
  CHECK(f.server.requests().empty());
}

TEST_CASE("http tolerates a cancel after the call finished", "[engine][steps][http]") {
  Fixture f;
  auto call = f.get("/json");
  auto signal = call.cancel;
  auto out = f.run(std::move(call));
  REQUIRE(out.has_value());
  signal->cancel();
  CHECK(signal->cancelled());
}

TEST_CASE("http times out with TIMEOUT, retryable, capped by the step timeout",
          "[engine][steps][http]") {
  Fixture f;
  auto own = make_call("http", Json{{"url", f.server.url("/hold")}, {"timeout", "100ms"}});
  auto capped = make_call("http", Json{{"url", f.server.url("/hold")}, {"timeout", "1h"}});
  capped.timeout = 100ms;
  auto start = Steady::now();
  auto out = f.run({std::move(own), std::move(capped)});
  CHECK(Steady::now() - start < 10s);
  for (const auto& r : out) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::kTimeout);
    CHECK(r.error().retryable);
    CHECK_THAT(r.error().message, Catch::Contains("timed out after 100ms"));
  }
  CHECK(f.held.size() == 2);
}

TEST_CASE("http connection refused is EXTERNAL and retryable", "[engine][steps][http]") {
  Fixture f;
  auto port = HttpTestServer::unused_port(f.io);
  auto out =
      f.run(make_call("http", Json{{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}}));
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == ErrorCode::kExternal);
  CHECK(out.error().retryable);
  CHECK_THAT(out.error().message, Catch::Contains("connect failed"));
}

TEST_CASE("http refuses a response body over the cap, not retryable", "[engine][steps][http]") {
  HttpOptions options;
  options.max_body_bytes = 1024;
  Fixture f(options);
  auto out = f.run(
      {f.get("/big/1024"), f.get("/big/1025"), f.get("/chunked/1024"), f.get("/chunked/5000")});
  for (std::size_t ok : {0, 2}) {
    REQUIRE(out[ok].has_value());
    CHECK((*out[ok])["body"].get<std::string>().size() == 1024);
  }
  for (std::size_t over : {1, 3}) {
    INFO("call " << over);
    INFO((out[over] ? out[over]->dump().substr(0, 200) : out[over].error().message));
    REQUIRE_FALSE(out[over].has_value());
    CHECK(out[over].error().code == ErrorCode::kExternal);
    CHECK_FALSE(out[over].error().retryable);
    CHECK_THAT(out[over].error().message, Catch::Contains("exceeds the 1024 bytes limit"));
  }
}

TEST_CASE("http rejects bad input as INVALID_INPUT, not retryable", "[engine][steps][http]") {
  struct Case {
    Json with;
    const char* says;
  };
  const std::vector<Case> cases = {
      {Json(nullptr), "with.url"},
      {Json{{"method", "GET"}}, "with.url"},
      {Json{{"url", 42}}, "with.url"},
      {Json{{"url", "https://example.com/"}}, "https not supported yet"},
      {Json{{"url", "ftp://example.com/"}}, "unsupported scheme"},
      {Json{{"url", "example.com/path"}}, "expected http://"},
      {Json{{"url", "http://"}}, "missing host"},
      {Json{{"url", "http://:80/"}}, "missing host"},
      {Json{{"url", "http://host:0/"}}, "port"},
      {Json{{"url", "http://host:65536/"}}, "port"},
      {Json{{"url", "http://host:/"}}, "port"},
      {Json{{"url", "http://host:8o/"}}, "port"},
      {Json{{"url", "http://a b/"}}, "spaces"},
      {Json{{"url", "http://host/a b"}}, "spaces"},
      {Json{{"url", "http://user:pw@host/"}}, "credentials"},
      {Json{{"url", "http://[::1/"}}, "IPv6"},
      {Json{{"url", "http://::1/"}}, "brackets"},
      {Json{{"url", "http://ho$t/"}}, "malformed host"},
      {Json{{"url", "http://host/"}, {"method", "BREW"}}, "unknown HTTP method"},
      {Json{{"url", "http://host/"}, {"method", 1}}, "with.method"},
      {Json{{"url", "http://host/"}, {"headers", "x"}}, "with.headers"},
      {Json{{"url", "http://host/"}, {"headers", {{"X-A", {{"o", 1}}}}}}, "header 'X-A'"},
      {Json{{"url", "http://host/"}, {"headers", {{"X-A", "a\r\nX-B: b"}}}}, "line break"},
      {Json{{"url", "http://host/"}, {"headers", {{"Bad Name", "v"}}}}, "not a valid HTTP token"},
      {Json{{"url", "http://host/"}, {"timeout", "soon"}}, "with.timeout"},
      {Json{{"url", "http://host/"}, {"timeout", "0ms"}}, "with.timeout"},
  };
  Fixture f;
  std::vector<StepCall> calls;
  for (const auto& c : cases) calls.push_back(make_call("http", c.with));
  auto out = f.run(std::move(calls));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    INFO(cases[i].with.dump());
    REQUIRE_FALSE(out[i].has_value());
    CHECK(out[i].error().code == ErrorCode::kInvalidInput);
    CHECK_FALSE(out[i].error().retryable);
    CHECK_THAT(out[i].error().message, Catch::Contains(cases[i].says));
  }
  CHECK(f.server.requests().empty());
}

TEST_CASE("parse_http_url splits well-formed URLs", "[engine][steps][http]") {
  struct Case {
    const char* url;
    const char* host;
    const char* port;
    const char* target;
    const char* origin;
    const char* host_header;
  };
  const std::vector<Case> cases = {
      {"http://example.com", "example.com", "80", "/", "http://example.com:80", "example.com"},
      {"HTTP://Example.COM/A/b", "example.com", "80", "/A/b", "http://example.com:80",
       "example.com"},
      {"http://127.0.0.1:8080/orders/7?x=1&y=2#frag", "127.0.0.1", "8080", "/orders/7?x=1&y=2",
       "http://127.0.0.1:8080", "127.0.0.1:8080"},
      {"http://host?q=1", "host", "80", "/?q=1", "http://host:80", "host"},
      {"http://[::1]:9000/x", "::1", "9000", "/x", "http://[::1]:9000", "[::1]:9000"},
      {"http://my_host-1.local:080/", "my_host-1.local", "80", "/", "http://my_host-1.local:80",
       "my_host-1.local"},
  };
  for (const auto& c : cases) {
    INFO(c.url);
    auto url = steps::parse_http_url(c.url);
    REQUIRE(url.has_value());
    CHECK(url->host == c.host);
    CHECK(url->port == c.port);
    CHECK(url->target == c.target);
    CHECK(url->origin() == c.origin);
    CHECK(url->host_header() == c.host_header);
  }
  CHECK(steps::parse_http_url("http://h:81/p?secret=1")->for_messages() == "http://h:81/p");
}

TEST_CASE("http JSON content type with a malformed body keeps the text", "[engine][steps][http]") {
  asio::io_context io;
  HttpTestServer server(io, [](const HttpTestServer::Request&, HttpTestServer::Responder r) {
    auto response = HttpTestServer::text(200, "{not json", "application/problem+json");
    response.set("X-Multi", "a");
    response.insert("X-Multi", "b");
    r(std::move(response));
  });
  auto runner = make_http_runner(io);
  auto call = make_call("http", Json{{"url", server.url("/")}});
  Result<Json> out;
  run_io(
      io, [&]() -> asio::awaitable<void> { out = co_await runner->run(std::move(call)); },
      [&] { server.stop(); });
  REQUIRE(out.has_value());
  CHECK((*out)["body"] == "{not json");
  CHECK((*out)["headers"]["x-multi"] == "a, b");
}

// ---- circuit breaker through the runner, with a fake clock ----

struct BreakerFixture : Fixture {
  static HttpOptions breaker_options(Steady::time_point* now) {
    HttpOptions options;
    options.breaker = CircuitBreakerOptions{2, Millis(10'000)};
    options.now = [now] { return *now; };
    return options;
  }
  Steady::time_point now = Steady::time_point{} + 1h;
  BreakerFixture() : Fixture(breaker_options(&now)) {}

  const steps::CircuitBreaker* breaker() const {
    return static_cast<steps::HttpRunner&>(*runner).breakers().find("http://127.0.0.1:" +
                                                                    std::to_string(server.port()));
  }
};

TEST_CASE("http circuit opens after consecutive retryable failures and fails fast",
          "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/503")));
        out.push_back(co_await f.runner->run(f.get("/status/500")));  // opens
        out.push_back(co_await f.runner->run(f.get("/json")));        // fails fast
        f.now += 9s;
        out.push_back(co_await f.runner->run(f.get("/json")));  // still open
      },
      [&] { f.server.stop(); });
  CHECK(f.server.requests().size() == 2);
  for (int i : {2, 3}) {
    REQUIRE_FALSE(out[i].has_value());
    CHECK(out[i].error().code == ErrorCode::kExternal);
    CHECK(out[i].error().retryable);
    CHECK_THAT(out[i].error().message, Catch::Contains("circuit open for http://127.0.0.1:" +
                                                       std::to_string(f.server.port())));
  }
  CHECK_THAT(out[3].error().message, Catch::Contains("next trial in 1s"));
  REQUIRE(f.breaker() != nullptr);
  CHECK(f.breaker()->state() == steps::CircuitBreaker::State::kOpen);
}

TEST_CASE("http half-open trial success closes the circuit", "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        f.now += 10s;
        out.push_back(co_await f.runner->run(f.get("/json")));  // the trial
        out.push_back(co_await f.runner->run(f.get("/json")));  // closed again
      },
      [&] { f.server.stop(); });
  CHECK(f.server.requests().size() == 4);
  CHECK(out[2].has_value());
  CHECK(out[3].has_value());
  CHECK(f.breaker()->state() == steps::CircuitBreaker::State::kClosed);
}

TEST_CASE("http half-open trial failure re-opens the circuit", "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        f.now += 10s;
        out.push_back(co_await f.runner->run(f.get("/status/502")));  // the trial fails
        out.push_back(co_await f.runner->run(f.get("/json")));        // open again
      },
      [&] { f.server.stop(); });
  CHECK(f.server.requests().size() == 3);
  REQUIRE_FALSE(out[3].has_value());
  CHECK_THAT(out[3].error().message, Catch::Contains("circuit open"));
  CHECK(f.breaker()->state() == steps::CircuitBreaker::State::kOpen);
}

TEST_CASE("http 4xx responses do not open the circuit", "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        for (int i = 0; i < 4; ++i) out.push_back(co_await f.runner->run(f.get("/status/404")));
        out.push_back(co_await f.runner->run(f.get("/status/500")));  // count restarted at 404
      },
      [&] { f.server.stop(); });
  CHECK(f.server.requests().size() == 6);
  CHECK(f.breaker()->state() == steps::CircuitBreaker::State::kClosed);
  CHECK(f.breaker()->consecutive_failures() == 1);
}

TEST_CASE("http connect failures count against the target only", "[engine][steps][http][breaker]") {
  BreakerFixture f;
  auto port = HttpTestServer::unused_port(f.io);
  auto refused = [&] {
    return make_call("http", Json{{"url", "http://127.0.0.1:" + std::to_string(port) + "/"}});
  };
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(refused()));
        out.push_back(co_await f.runner->run(refused()));
        out.push_back(co_await f.runner->run(refused()));       // fails fast
        out.push_back(co_await f.runner->run(f.get("/json")));  // another target is fine
      },
      [&] { f.server.stop(); });
  CHECK_THAT(out[1].error().message, Catch::Contains("connect failed"));
  CHECK_THAT(out[2].error().message, Catch::Contains("circuit open"));
  CHECK(out[3].has_value());
}

TEST_CASE("http trial abandoned by cancel lets the next call try",
          "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        f.now += 10s;
        auto trial = f.get("/hold");
        f.on_hold = [signal = trial.cancel] { signal->cancel(); };
        out.push_back(co_await f.runner->run(std::move(trial)));  // cancelled: says nothing
        out.push_back(co_await f.runner->run(f.get("/json")));    // a new trial, succeeds
      },
      [&] { f.server.stop(); });
  REQUIRE_FALSE(out[2].has_value());
  CHECK(out[2].error().code == ErrorCode::kCancelled);
  CHECK(out[3].has_value());
  CHECK(f.breaker()->state() == steps::CircuitBreaker::State::kClosed);
}

TEST_CASE("http cancel at the attempt deadline counts as a failure of the target",
          "[engine][steps][http][breaker]") {
  BreakerFixture f;
  std::vector<Result<Json>> out;
  run_io(
      f.io,
      [&]() -> asio::awaitable<void> {
        out.push_back(co_await f.runner->run(f.get("/status/500")));
        auto slow = f.get("/hold");
        slow.timeout = 2s;
        // The executor's attempt timeout: the deadline has come when the signal fires.
        f.on_hold = [&f, signal = slow.cancel] {
          f.now += 2s;
          signal->cancel();
        };
        out.push_back(co_await f.runner->run(std::move(slow)));
        out.push_back(co_await f.runner->run(f.get("/json")));  // now open
      },
      [&] { f.server.stop(); });
  REQUIRE_FALSE(out[1].has_value());
  CHECK(out[1].error().code == ErrorCode::kCancelled);
  REQUIRE_FALSE(out[2].has_value());
  CHECK_THAT(out[2].error().message, Catch::Contains("circuit open"));
  CHECK(f.server.requests().size() == 2);
}

TEST_CASE("http HEAD reads the status and headers without a body", "[engine][steps][http]") {
  Fixture f;
  auto out = f.run(make_call("http", Json{{"method", "HEAD"}, {"url", f.server.url("/json")}}));
  REQUIRE(out.has_value());
  CHECK((*out)["status"] == 200);
  CHECK((*out)["headers"]["content-type"] == "application/json");
  CHECK((*out)["body"].is_null());
  CHECK(f.server.requests().at(0).method() == http::verb::head);
}

TEST_CASE("http bytes that are not UTF-8 become replacement characters", "[engine][steps][http]") {
  asio::io_context io;
  HttpTestServer server(
      io, [](const HttpTestServer::Request& request, HttpTestServer::Responder r) {
        // Latin-1 text, a lone continuation byte, a truncated 3-byte sequence, and a euro sign (3
        // bytes) placed across the 256-byte excerpt boundary.
        std::string body = "caf\xe9 \x80 \xe2\x82";
        if (request.target() == "/500") body = std::string(255, 'a') + "\xe2\x82\xac tail";
        auto response = HttpTestServer::text(request.target() == "/500" ? 500 : 200, body);
        response.set("X-Name", "M\xfcller");
        r(std::move(response));
      });
  auto runner = make_http_runner(io);
  auto ok_call = make_call("http", Json{{"url", server.url("/")}});
  auto error_call = make_call("http", Json{{"url", server.url("/500")}});
  Result<Json> ok;
  Result<Json> error;
  run_io(
      io,
      [&]() -> asio::awaitable<void> {
        ok = co_await runner->run(std::move(ok_call));
        error = co_await runner->run(std::move(error_call));
      },
      [&] { server.stop(); });
  REQUIRE(ok.has_value());
  CHECK_NOTHROW(ok->dump());  // strict serialization, as the event log does it
  CHECK((*ok)["body"] == "caf\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd");
  CHECK((*ok)["headers"]["x-name"] == "M\xef\xbf\xbdller");
  REQUIRE_FALSE(error.has_value());
  CHECK_NOTHROW(Json(error.error().message).dump());
  CHECK_THAT(error.error().message, Catch::EndsWith(std::string(255, 'a') + "..."));
}

TEST_CASE("http output keeps valid UTF-8 text unchanged", "[engine][steps][http]") {
  Fixture f;
  auto call = make_call("http", Json{{"method", "POST"},
                                     {"url", f.server.url("/echo")},
                                     {"body", "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80"}});
  auto out = f.run(std::move(call));
  REQUIRE(out.has_value());
  CHECK((*out)["body"]["body"] == "gr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x98\x80");
}

}  // namespace
}  // namespace flowd
