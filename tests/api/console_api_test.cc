// The API calls the web console needs beyond the list: counts by status, the `until` and
// `dedupeKey` filters of the list, and whoami.
#include <catch2/catch.hpp>

#include "api_fixture.h"

namespace flowd::api::testing {
namespace {

constexpr const char* kQuick = R"({
  "apiVersion": "flowd/v1", "kind": "Workflow", "metadata": {"name": "quick", "version": 1},
  "spec": {"steps": [{"id": "a", "type": "noop"}]}
})";
constexpr const char* kHold = R"({
  "apiVersion": "flowd/v1", "kind": "Workflow", "metadata": {"name": "hold", "version": 1},
  "spec": {"steps": [{"id": "wait", "type": "sleep", "with": {"duration": "1h"}}]}
})";

Json call(ApiFixture& f, boost::beast::http::verb method, const std::string& target,
          const std::string& body = {}, unsigned want = 200) {
  TestClient client(f.port());
  std::vector<std::pair<std::string, std::string>> headers;
  if (!body.empty()) headers.push_back({"Content-Type", "application/json"});
  auto res = client.request(method, target, body, headers);
  INFO(target << ": " << res.body());
  REQUIRE(res.result_int() == want);
  return body_json(res);
}
Json get(ApiFixture& f, const std::string& target, unsigned want = 200) {
  return call(f, boost::beast::http::verb::get, target, {}, want);
}
std::string start(ApiFixture& f, const std::string& workflow, const std::string& key = {}) {
  Json body{{"workflow", workflow}};
  if (!key.empty()) body["dedupeKey"] = key;
  return call(f, boost::beast::http::verb::post, "/api/v1/executions", body.dump(), 201)["id"];
}

}  // namespace

TEST_CASE("Executions counts, until and dedupeKey filters, whoami", "[api][integration][console]") {
  ApiFixture f;
  call(f, boost::beast::http::verb::post, "/api/v1/workflows", kQuick, 201);
  call(f, boost::beast::http::verb::post, "/api/v1/workflows", kHold, 201);
  std::vector<std::string> quick;
  for (int i = 0; i < 3; ++i) quick.push_back(start(f, "quick", "key-" + std::to_string(i)));
  std::string held = start(f, "hold");
  for (const auto& id : quick)
    REQUIRE(
        eventually([&] { return get(f, "/api/v1/executions/" + id)["status"] == "completed"; }));
  REQUIRE(eventually([&] { return get(f, "/api/v1/executions/" + held)["status"] == "running"; }));

  SECTION("counts by status, every status present") {
    Json all = get(f, "/api/v1/executions/counts");
    CHECK(all["total"] == 4);
    CHECK(all["counts"]["completed"] == 3);
    CHECK(all["counts"]["running"] == 1);
    CHECK(all["counts"]["failed"] == 0);
    CHECK(all["counts"].size() == 8);
    Json only_hold = get(f, "/api/v1/executions/counts?workflow=hold");
    CHECK(only_hold["total"] == 1);
    CHECK(get(f, "/api/v1/executions/counts?since=2200-01-01T00:00:00Z")["total"] == 0);
    CHECK(get(f, "/api/v1/executions/counts?until=2000-01-01T00:00:00Z")["total"] == 0);
    get(f, "/api/v1/executions/counts?since=yesterday", 400);
  }
  SECTION("until: started before") {
    CHECK(get(f, "/api/v1/executions?until=2000-01-01T00:00:00Z")["items"].empty());
    CHECK(get(f, "/api/v1/executions?until=2200-01-01T00:00:00Z")["items"].size() == 4);
    get(f, "/api/v1/executions?until=soon", 400);
  }
  SECTION("dedupeKey: the one execution started with it, if the other filters match") {
    Json page = get(f, "/api/v1/executions?dedupeKey=key-1");
    REQUIRE(page["items"].size() == 1);
    CHECK(page["items"][0]["id"] == quick[1]);
    CHECK(page["items"][0]["dedupeKey"] == "key-1");
    CHECK(get(f, "/api/v1/executions?dedupeKey=key-1&workflow=hold")["items"].empty());
    CHECK(get(f, "/api/v1/executions?dedupeKey=key-1&status=running")["items"].empty());
    CHECK(get(f, "/api/v1/executions?dedupeKey=nope")["items"].empty());
  }
  SECTION("whoami: the single token may act") {
    Json who = get(f, "/api/v1/whoami");
    CHECK(who["canAct"] == true);
    CHECK(who["role"] == "operator");
  }
}

}  // namespace flowd::api::testing
