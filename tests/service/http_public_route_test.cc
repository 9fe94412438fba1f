// Public routes (Router::add_public_sync, the web console's files) answer without the bearer
// token; every other route still needs it; and successful reads are debug access-log lines when
// ServerOptions::quiet_reads is set.
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "http_test_support.h"

namespace flowd::http::testing {

TEST_CASE("A public route needs no token; the others still do", "[service][http][server]") {
  ServerOptions options;
  options.token = "s3cret";
  TestServer ts(options, [](Server& server) {
    server.router().add_public_sync(Verb::get, "/", [](const Request&) -> Reply {
      return Response::text("<html>console</html>", Status::ok, "text/html");
    });
    server.api().add_sync(Verb::get, "/data", [](const Request&) -> Reply {
      return Response::json({{"x", 1}});
    });
  });
  TestClient client(ts.port());
  CHECK(client.get("/").result_int() == 200);
  CHECK(client.get("/api/v1/data").result_int() == 401);
  CHECK(client.get("/api/v1/data", {{"Authorization", "Bearer s3cret"}}).result_int() == 200);
  CHECK(client.get("/elsewhere").result_int() == 401);  // unknown paths still answer 401 first
}

TEST_CASE("quiet_reads logs successful reads at debug, the rest at info",
          "[service][http][server]") {
  auto out = std::make_shared<std::ostringstream>();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out);
  sink->set_pattern("%v");
  ServerOptions options;
  options.access_log = std::make_shared<spdlog::logger>("quiet-test", sink);
  options.access_log->set_level(spdlog::level::info);
  options.quiet_reads = true;
  TestServer ts(options, [](Server& server) {
    server.api().add_sync(Verb::get, "/data", [](const Request&) -> Reply {
      return Response::json({{"x", 1}});
    });
    server.api().add_sync(Verb::post, "/data", [](const Request&) -> Reply {
      return Response::json({{"x", 2}});
    });
  });
  {
    TestClient client(ts.port());
    client.get("/api/v1/data", {{"X-Request-Id", "read"}});
    client.request(boost::beast::http::verb::post, "/api/v1/data", "{}",
                   {{"X-Request-Id", "write"}, {"Content-Type", "application/json"}});
    client.get("/api/v1/missing", {{"X-Request-Id", "miss"}});
  }
  REQUIRE(ts.stop(std::chrono::seconds(1)));
  const std::string log = out->str();
  INFO(log);
  CHECK(log.find("\"read\"") == std::string::npos);
  CHECK(log.find("\"write\"") != std::string::npos);
  CHECK(log.find("\"miss\"") != std::string::npos);
}

}  // namespace flowd::http::testing
