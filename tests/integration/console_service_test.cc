// flowd's HTTP listener as the console and people reading its log see it: the console's files at
// / without the token (they hold no data) while /api/v1 still needs it; with log.format text the
// HTTP request lines are text like every other line, and successful reads are debug lines.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "flowd_process.h"
#include "postgres_fixture.h"

using flowd::testing::eventually;
using flowd::testing::FlowdProcess;
using flowd::testing::run;

namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines_of(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("flowd serves the console at / without the token and logs HTTP requests as text",
          "[integration][service][console]") {
  flowd::testing::PostgresDatabase db;
  fs::path dir = fs::current_path() / "console_service_test";
  fs::remove_all(dir);
  fs::create_directories(dir);
  FlowdProcess flowd({"--database", db.url()},
                     {{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                      {"FLOWD_HTTP_TOKEN", "console-secret"},
                      {"FLOWD_LOG_FORMAT", "text"},
                      {"FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").string()},
                      {"FLOWD_ENGINE_INSTANCE_ID", "console-service-test"}},
                     (dir / "flowd.log").string());
  REQUIRE(eventually([&] { return !flowd.find_line("flowd running").empty() || flowd.exited(); },
                     std::chrono::seconds(60)));
  REQUIRE_FALSE(flowd.exited());
  // "<time> info HTTP API listening url=http://127.0.0.1:PORT/api/v1"
  const std::string listening = flowd.find_line("HTTP API listening");
  const auto at = listening.find("url=");
  REQUIRE(at != std::string::npos);
  std::string api = listening.substr(at + 4);
  api = api.substr(0, api.find(' '));
  const std::string base = api.substr(0, api.size() - std::string("/api/v1").size());

  auto [page_status, page] = run("curl -fs " + base + "/");
  CHECK(page_status == 0);
  CHECK(page.find("/console/app.js") != std::string::npos);
  auto [script_status, script] =
      run("curl -fs -o /dev/null -w '%{content_type}' " + base + "/console/app.js");
  CHECK(script_status == 0);
  CHECK(script.find("text/javascript") == 0);
  auto [lib_status, lib] = run("curl -fs " + base + "/console/lib/hooks.js");
  CHECK(lib_status == 0);
  CHECK(lib.find("from\"./preact.js\"") != std::string::npos);  // no bare import left
  auto [missing, ignored] = run("curl -fs " + base + "/console/nothing.js");
  CHECK(missing != 0);

  auto [anonymous, body] = run("curl -s -o /dev/null -w '%{http_code}' " + base + "/api/v1/whoami");
  CHECK(body == "401");
  auto [who_status, who] =
      run("curl -fs -H 'Authorization: Bearer console-secret' " + base + "/api/v1/whoami");
  CHECK(who_status == 0);
  CHECK(who.find("\"canAct\":true") != std::string::npos);
  auto [validate_status, validated] =
      run("curl -fs -X POST -H 'Authorization: Bearer console-secret' "
          "-H 'Content-Type: application/json' -d '{}' " +
          base + "/api/v1/workflows/validate");
  CHECK(validate_status == 0);

  REQUIRE(eventually([&] { return !flowd.find_line("path=/api/v1/workflows/validate").empty(); },
                     std::chrono::seconds(10)));
  CHECK(flowd.stop(SIGTERM) == 0);
  int http_lines = 0;
  for (const auto& line : lines_of(flowd.log_path())) {
    INFO(line);
    CHECK(line.rfind("{", 0) != 0);  // no JSON line in a text log
    if (line.find(" http request ") == std::string::npos) continue;
    ++http_lines;
    // Successful reads (the page, scripts, whoami) are debug lines, not shown at level info.
    const bool read = line.find("method=GET") != std::string::npos;
    const bool refused = line.find("status=4") != std::string::npos;
    CHECK((!read || refused));
  }
  CHECK(http_lines >= 2);  // the POST, and the 401 / 404 answers
  CHECK_FALSE(
      flowd.find_line(" info http request method=POST path=/api/v1/workflows/validate").empty());
}
