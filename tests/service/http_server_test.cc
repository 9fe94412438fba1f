// flowd::http::Server over real loopback sockets: routing, errors, request ids, auth, body
// limits, asynchronous handlers, keep-alive, health, metrics, access log, graceful stop.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <sstream>

#include "http_test_support.h"

using namespace flowd::http;
using namespace flowd::http::testing;
using namespace std::chrono_literals;

namespace {

// A server with a few routes that show what handlers can do.
void demo_routes(Server& server) {
  auto api = server.api();
  api.add_sync(Verb::get, "/executions/{id}/events", [](const Request& req) -> Reply {
    auto limit = req.query_int("limit", 1, 1000);
    if (!limit) return tl::unexpected(limit.error());
    return Response::json({{"id", req.param("id")},
                           {"route", req.route()},
                           {"limit", limit->value_or(100)},
                           {"status", req.query_all("status")}});
  });
  api.add_sync(Verb::post, "/echo", [](const Request& req) -> Reply {
    auto body = req.json();
    if (!body) return tl::unexpected(body.error());
    return Response::json({{"got", *body}}, Status::created);
  });
  api.add_sync(Verb::post, "/raw", [](const Request& req) -> Reply {
    return Response::text(std::to_string(req.body().size()));
  });
  api.add_sync(Verb::delete_, "/things/{id}", [](const Request& req) -> Reply {
    if (req.param("id") == "missing")
      return tl::unexpected(ApiError::not_found("thing 'missing' not found"));
    if (req.param("id") == "busy")
      return tl::unexpected(ApiError::conflict("thing 'busy' is in use", "wait for it"));
    return Response::no_content();
  });
  api.add(Verb::get, "/dropped", [](Request, Responder) {});  // never answers
  api.add(Verb::get, "/throws",
          [](Request, Responder) -> void { throw std::runtime_error("boom"); });
  api.add_coro(Verb::get, "/coro/{n}", [](Request req) -> boost::asio::awaitable<Reply> {
    auto executor = co_await boost::asio::this_coro::executor;
    boost::asio::steady_timer timer(executor, 1ms);
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_return Response::json({{"n", std::stoi(std::string(req.param("n"))) * 2}});
  });
  api.add_coro(Verb::get, "/coro-throws", [](Request) -> boost::asio::awaitable<Reply> {
    throw std::runtime_error("coroutine boom");
    co_return Response{};
  });
}

void check_error(const ClientResponse& res, unsigned status, const std::string& code) {
  INFO(res);
  CHECK(res.result_int() == status);
  CHECK(res[bh::field::content_type] == "application/json");
  auto body = body_json(res);
  REQUIRE(body.contains("error"));
  const auto& e = body["error"];
  CHECK(e["code"] == code);
  CHECK(e["message"].is_string());
  CHECK_FALSE(e["message"].get<std::string>().empty());
  CHECK(e["hint"].is_string());
  CHECK_FALSE(e["hint"].get<std::string>().empty());
  CHECK(e["requestId"] == std::string(res["X-Request-Id"]));
}

}  // namespace

TEST_CASE("Routes under /api/v1 answer with path and query parameters", "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  auto res = client.get("/api/v1/executions/abc-1/events?limit=5&status=running&status=paused");
  REQUIRE(res.result_int() == 200);
  CHECK(res[bh::field::content_type] == "application/json");
  CHECK(res["X-Request-Id"].size() == 36);
  CHECK(body_json(res) == nlohmann::json{{"id", "abc-1"},
                                         {"route", "/api/v1/executions/{id}/events"},
                                         {"limit", 5},
                                         {"status", {"running", "paused"}}});

  auto created = client.request(bh::verb::post, "/api/v1/echo", R"({"x":[1,2]})",
                                {{"Content-Type", "application/json"}});
  CHECK(created.result_int() == 201);
  CHECK(body_json(created) == nlohmann::json{{"got", {{"x", {1, 2}}}}});

  auto no_content = client.request(bh::verb::delete_, "/api/v1/things/t1");
  CHECK(no_content.result_int() == 204);
  CHECK(no_content.body().empty());

  auto doubled = client.get("/api/v1/coro/21");
  REQUIRE(doubled.result_int() == 200);
  CHECK(body_json(doubled)["n"] == 42);
}

TEST_CASE("Failures are JSON errors with a stable code, the request id and a hint",
          "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  struct Case {
    bh::verb method;
    std::string target;
    std::string body;
    std::string content_type;
    unsigned status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {bh::verb::get, "/api/v1/nowhere", "", "", 404, "NOT_FOUND"},
      {bh::verb::get, "/nowhere", "", "", 404, "NOT_FOUND"},
      {bh::verb::delete_, "/api/v1/things/missing", "", "", 404, "NOT_FOUND"},
      {bh::verb::delete_, "/api/v1/things/busy", "", "", 409, "CONFLICT"},
      {bh::verb::put, "/api/v1/executions/x/events", "", "", 405, "METHOD_NOT_ALLOWED"},
      {bh::verb::post, "/healthz", "", "", 405, "METHOD_NOT_ALLOWED"},
      {bh::verb::get, "/api/v1/executions/x/events?limit=0", "", "", 400, "INVALID_INPUT"},
      {bh::verb::get, "/api/v1/executions/x/events?limit=abc", "", "", 400, "INVALID_INPUT"},
      {bh::verb::get, "/api/v1/executions/%zz/events", "", "", 400, "INVALID_INPUT"},
      {bh::verb::post, "/api/v1/echo", "{bad json", "application/json", 400, "INVALID_INPUT"},
      {bh::verb::post, "/api/v1/echo", "", "application/json", 400, "INVALID_INPUT"},
      {bh::verb::post, "/api/v1/echo", "{}", "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"},
      {bh::verb::get, "/api/v1/dropped", "", "", 500, "INTERNAL"},
      {bh::verb::get, "/api/v1/throws", "", "", 500, "INTERNAL"},
      {bh::verb::get, "/api/v1/coro-throws", "", "", 500, "INTERNAL"},
  };
  for (const auto& c : cases) {
    DYNAMIC_SECTION(bh::to_string(c.method) << " " << c.target) {
      std::vector<std::pair<std::string, std::string>> headers;
      if (!c.content_type.empty()) headers.emplace_back("Content-Type", c.content_type);
      auto res = client.request(c.method, c.target, c.body, headers);
      check_error(res, c.status, c.code);
      if (c.status == 405) CHECK_FALSE(res[bh::field::allow].empty());
    }
  }
  // The server does not leak exception text to clients.
  auto thrown = client.get("/api/v1/throws");
  CHECK(body_json(thrown)["error"]["message"].get<std::string>().find("boom") == std::string::npos);
  auto not_allowed = client.request(bh::verb::put, "/api/v1/executions/x/events");
  CHECK(not_allowed[bh::field::allow] == "GET, HEAD");
}

TEST_CASE("X-Request-Id is echoed when well-formed and generated otherwise",
          "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  auto echoed = client.get("/api/v1/nowhere", {{"X-Request-Id", "trace-42.a:b"}});
  CHECK(echoed["X-Request-Id"] == "trace-42.a:b");
  CHECK(body_json(echoed)["error"]["requestId"] == "trace-42.a:b");

  auto replaced = client.get("/healthz", {{"X-Request-Id", "bad id with spaces"}});
  CHECK(replaced["X-Request-Id"] != "bad id with spaces");
  CHECK(replaced["X-Request-Id"].size() == 36);

  auto a = client.get("/healthz");
  auto b = client.get("/healthz");
  CHECK(a["X-Request-Id"] != b["X-Request-Id"]);
}

TEST_CASE("With a token every endpoint but health needs the bearer token",
          "[service][http][server][auth]") {
  ServerOptions options;
  options.token = "s3cret-token";
  TestServer ts(options, demo_routes);
  struct Case {
    std::string target;
    std::string authorization;  // "" = none
    unsigned status;
  };
  const std::vector<Case> cases = {
      {"/healthz", "", 200},
      {"/readyz", "", 200},
      {"/api/v1/executions/x/events", "", 401},
      {"/api/v1/executions/x/events", "Bearer wrong", 401},
      {"/api/v1/executions/x/events", "Bearer s3cret-token-and-more", 401},
      {"/api/v1/executions/x/events", "Bearer s3cret-toke", 401},
      {"/api/v1/executions/x/events", "Basic czNjcmV0LXRva2Vu", 401},
      {"/api/v1/executions/x/events", "s3cret-token", 401},
      {"/api/v1/executions/x/events", "Bearer s3cret-token", 200},
      {"/api/v1/executions/x/events", "bearer  s3cret-token", 200},
      {"/metrics", "", 401},
      {"/metrics", "Bearer s3cret-token", 200},
      {"/api/v1/unknown", "", 401},  // routes are not revealed without the token
      {"/api/v1/unknown", "Bearer s3cret-token", 404},
  };
  TestClient client(ts.port());
  for (const auto& c : cases) {
    DYNAMIC_SECTION(c.target << " with '" << c.authorization << "'") {
      std::vector<std::pair<std::string, std::string>> headers;
      if (!c.authorization.empty()) headers.emplace_back("Authorization", c.authorization);
      auto res = client.get(c.target, headers);
      CHECK(res.result_int() == c.status);
      if (c.status == 401) {
        check_error(res, 401, "UNAUTHORIZED");
        CHECK(std::string(res[bh::field::www_authenticate]).rfind("Bearer", 0) == 0);
      }
    }
  }
}

TEST_CASE("Without a token no endpoint asks for one", "[service][http][server][auth]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  CHECK(client.get("/api/v1/executions/x/events").result_int() == 200);
  CHECK(client.get("/metrics").result_int() == 200);
  // A token sent anyway is ignored.
  CHECK(client.get("/api/v1/executions/x/events", {{"Authorization", "Bearer x"}}).result_int() ==
        200);
}

TEST_CASE("Bodies over the limit get 413 and the connection is closed", "[service][http][server]") {
  ServerOptions options;
  options.max_body_bytes = 100;
  TestServer ts(options, demo_routes);
  {
    TestClient client(ts.port());
    auto ok = client.request(bh::verb::post, "/api/v1/raw", std::string(100, 'x'));
    CHECK(ok.result_int() == 200);
    CHECK(ok.body() == "100");
    auto big = client.request(bh::verb::post, "/api/v1/raw", std::string(101, 'x'));
    check_error(big, 413, "PAYLOAD_TOO_LARGE");
    CHECK_FALSE(big.keep_alive());
    CHECK(client.closed_by_server());
  }
  {
    // A chunked body is counted as it arrives.
    TestClient client(ts.port());
    std::string chunked =
        "POST /api/v1/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3c\r\n" +
        std::string(60, 'a') + "\r\n3c\r\n" + std::string(60, 'b') + "\r\n0\r\n\r\n";
    client.write_raw(chunked);
    check_error(client.read_response(), 413, "PAYLOAD_TOO_LARGE");
  }
  {
    // A large declared body is refused before it is sent (Expect: 100-continue).
    TestClient client(ts.port());
    client.write_raw(
        "POST /api/v1/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
        "Expect: 100-continue\r\n\r\n");
    check_error(client.read_response(), 413, "PAYLOAD_TOO_LARGE");
  }
}

TEST_CASE("Expect: 100-continue is answered before the body is read", "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  client.write_raw(
      "POST /api/v1/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
      "Expect: 100-continue\r\n\r\n");
  auto interim = client.read_response();
  CHECK(interim.result_int() == 100);
  client.write_raw("abcd");
  auto res = client.read_response();
  CHECK(res.result_int() == 200);
  CHECK(res.body() == "4");
}

TEST_CASE("A malformed request gets 400 and the connection is closed", "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  client.write_raw("GET /healthz HTTP/1.1\r\nHost x\r\n\r\n");  // header without a colon
  auto res = client.read_response();
  check_error(res, 400, "INVALID_INPUT");
  CHECK(client.closed_by_server());
}

TEST_CASE("Handlers may answer later from another thread", "[service][http][server]") {
  Mailbox<Responder> held;
  TestServer ts({}, [&](Server& server) {
    server.api().add(Verb::get, "/slow/{id}", [&](Request req, Responder res) {
      CHECK(res.pending());
      held.put(res);
      (void)req;
    });
  });
  auto reply = std::async(std::launch::async, [&] {
    TestClient client(ts.port());
    return client.get("/api/v1/slow/7", {{"X-Request-Id", "slow-7"}});
  });
  auto responder = held.take();
  REQUIRE(responder);
  CHECK(responder->request_id() == "slow-7");
  // Answer from this (non-io) thread, as a store completion would.
  std::thread([r = *responder]() mutable {
    r.send(Response::json({{"done", true}}, Status::accepted));
    r.send(Response::json({{"second", true}}));  // ignored: the first answer wins
  }).join();
  CHECK_FALSE(responder->pending());
  REQUIRE(reply.wait_for(10s) == std::future_status::ready);
  auto res = reply.get();
  CHECK(res.result_int() == 202);
  CHECK(body_json(res) == nlohmann::json{{"done", true}});
  CHECK(res["X-Request-Id"] == "slow-7");
}

TEST_CASE("Keep-alive serves several requests on one connection", "[service][http][server]") {
  TestServer ts({}, demo_routes);
  TestClient client(ts.port());
  for (int i = 0; i < 5; ++i) {
    auto res = client.get("/api/v1/executions/e" + std::to_string(i) + "/events");
    REQUIRE(res.result_int() == 200);
    CHECK(res.keep_alive());
    CHECK(body_json(res)["id"] == "e" + std::to_string(i));
  }
  CHECK(ts.server().connections() == 1);
  auto head = client.head("/api/v1/executions/h/events");
  CHECK(head.result_int() == 200);
  CHECK(head.body().empty());
  CHECK(std::stoul(std::string(head[bh::field::content_length])) > 0);
  CHECK(client.get("/healthz").result_int() == 200);  // still in step after HEAD
}

TEST_CASE("/healthz is always 200; /readyz follows the readiness check",
          "[service][http][server]") {
  std::atomic<bool> ready{false};
  TestServer ts({}, [&](Server& server) {
    server.set_readiness([&] {
      Readiness r;
      r.ready = ready.load();
      if (!r.ready) r.reasons = {"database: not connected", "kafka: joining group"};
      return r;
    });
  });
  TestClient client(ts.port());
  auto health = client.get("/healthz");
  CHECK(health.result_int() == 200);
  CHECK(body_json(health) == nlohmann::json{{"status", "ok"}});
  auto not_ready = client.get("/readyz");
  CHECK(not_ready.result_int() == 503);
  CHECK(body_json(not_ready) ==
        nlohmann::json{{"status", "unavailable"},
                       {"reasons", {"database: not connected", "kafka: joining group"}}});
  ready = true;
  auto is_ready = client.get("/readyz");
  CHECK(is_ready.result_int() == 200);
  CHECK(body_json(is_ready) == nlohmann::json{{"status", "ready"}});
}

TEST_CASE("/metrics exposes request counts by route pattern, plus registered metrics",
          "[service][http][server][metrics]") {
  auto registry = std::make_shared<MetricsRegistry>();
  registry->counter("flowd_executions_started_total", "Executions started", {"workflow"})
      .with({"order \"processing\""})
      .inc();
  TestServer ts({}, demo_routes, registry);
  TestClient client(ts.port());
  client.get("/api/v1/executions/a/events");
  client.get("/api/v1/executions/b/events");
  client.get("/api/v1/nowhere");
  auto res = client.get("/metrics");
  REQUIRE(res.result_int() == 200);
  CHECK(res[bh::field::content_type] == "text/plain; version=0.0.4; charset=utf-8");
  const auto& text = res.body();
  INFO(text);
  CHECK(text.find("flowd_http_requests_total{method=\"GET\",route=\"/api/v1/executions/{id}/"
                  "events\",status=\"200\"} 2\n") != std::string::npos);
  CHECK(text.find("flowd_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"} "
                  "1\n") != std::string::npos);
  CHECK(text.find("flowd_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/"
                  "executions/{id}/events\"} 2\n") != std::string::npos);
  CHECK(text.find("flowd_http_requests_in_flight 1\n") != std::string::npos);  // this one
  CHECK(text.find("flowd_executions_started_total{workflow=\"order \\\"processing\\\"\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("Every request writes one JSON access log line", "[service][http][server]") {
  auto out = std::make_shared<std::ostringstream>();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
  sink->set_pattern("%v");
  ServerOptions options;
  options.access_log = std::make_shared<spdlog::logger>("access-test", sink);
  TestServer ts(options, demo_routes);
  {
    TestClient client(ts.port());
    client.get("/api/v1/executions/x/events?limit=3", {{"X-Request-Id", "log-1"}});
    client.get("/api/v1/nowhere", {{"X-Request-Id", "log-2"}});
  }
  REQUIRE(ts.stop(1s));  // every line is written once the server has stopped
  std::istringstream lines(out->str());
  std::vector<nlohmann::json> records;
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE_FALSE(j.is_discarded());
    records.push_back(j);
  }
  REQUIRE(records.size() == 2);
  CHECK(records[0]["method"] == "GET");
  CHECK(records[0]["path"] == "/api/v1/executions/x/events");
  CHECK(records[0]["route"] == "/api/v1/executions/{id}/events");
  CHECK(records[0]["status"] == 200);
  CHECK(records[0]["requestId"] == "log-1");
  CHECK(records[0]["durationMs"].is_number());
  CHECK(records[0]["durationMs"].get<double>() >= 0);
  CHECK(records[0]["ts"].is_string());
  CHECK(records[0]["msg"] == "http request");
  CHECK(records[1]["status"] == 404);
  CHECK(records[1]["requestId"] == "log-2");
}

TEST_CASE("Stop lets in-flight requests finish, closes idle connections and refuses new ones",
          "[service][http][server][stop]") {
  Mailbox<Responder> held;
  TestServer ts({}, [&](Server& server) {
    demo_routes(server);
    server.api().add(Verb::get, "/hold", [&](Request, Responder res) { held.put(res); });
  });
  TestClient idle(ts.port());
  REQUIRE(idle.get("/healthz").result_int() == 200);
  auto in_flight = std::async(std::launch::async, [&] {
    TestClient client(ts.port());
    return client.get("/api/v1/hold");
  });
  auto responder = held.take();
  REQUIRE(responder);

  auto stopped = ts.stop_async(30s);
  CHECK(idle.closed_by_server());  // the idle keep-alive connection is closed at once
  boost::asio::io_context io;
  tcp::socket late(io);
  boost::system::error_code ec;
  late.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), ts.port()), ec);
  CHECK(ec == boost::asio::error::connection_refused);
  CHECK(stopped.wait_for(0s) == std::future_status::timeout);  // still answering one

  responder->send(Response::json({{"finished", true}}));
  REQUIRE(in_flight.wait_for(10s) == std::future_status::ready);
  auto res = in_flight.get();
  CHECK(res.result_int() == 200);
  CHECK_FALSE(res.keep_alive());  // answered with Connection: close while stopping
  CHECK(stopped.wait_for(10s) == std::future_status::ready);
  CHECK(ts.server().connections() == 0);
}

TEST_CASE("Stop closes connections still busy when the grace period ends",
          "[service][http][server][stop]") {
  Mailbox<Responder> held;
  TestServer ts({}, [&](Server& server) {
    server.api().add(Verb::get, "/hold", [&](Request, Responder res) { held.put(res); });
  });
  TestClient client(ts.port());
  bh::request<bh::empty_body> req{bh::verb::get, "/api/v1/hold", 11};
  bh::write(client.socket(), req);
  auto responder = held.take();
  REQUIRE(responder);
  CHECK(ts.stop(50ms));
  CHECK(client.closed_by_server());
  responder->send(Response::json({{"late", true}}));  // dropped, harmlessly
  CHECK(ts.server().connections() == 0);
}

TEST_CASE("Binding an address in use reports the address and the reason",
          "[service][http][server]") {
  TestServer first;
  boost::asio::io_context io;
  ServerOptions options;
  options.host = "127.0.0.1";
  options.port = first.port();
  Server second(io, options);
  auto bound = second.start();
  REQUIRE_FALSE(bound);
  CHECK_THAT(bound.error(), Catch::Contains("127.0.0.1:" + std::to_string(first.port())));
  ServerOptions bad_host;
  bad_host.host = "not-an-ip";
  Server third(io, bad_host);
  CHECK_FALSE(third.start());
}
