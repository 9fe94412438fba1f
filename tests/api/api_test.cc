// flowd's /api/v1 over loopback: a real http::Server with the routes, a real PostgreSQL and a
// DurableRunner running what the API starts.
#include <catch2/catch.hpp>
#include <set>

#include "api_fixture.h"

namespace flowd::api::testing {
namespace {

namespace bh = boost::beast::http;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kGreet = R"(
apiVersion: flowd/v1
kind: Workflow
metadata: {name: greet, version: 1, description: Says hello}
spec:
  input:
    type: object
    required: [name]
    properties: {name: {type: string}}
  steps:
    - id: hello
      type: transform
      with: {greeting: "hello {{ input.name }}"}
  output: {greeting: "{{ steps.hello.output.greeting }}"}
)";

constexpr const char* kSlow = R"({
  "apiVersion": "flowd/v1", "kind": "Workflow", "metadata": {"name": "slow", "version": 1},
  "spec": {"steps": [{"id": "wait", "type": "sleep", "with": {"duration": "1h"}},
                     {"id": "after", "type": "noop", "dependsOn": ["wait"]}]}
})";

struct Answer {
  unsigned status;
  Json body;
  ClientResponse raw;
};

Answer call(ApiFixture& f, bh::verb method, const std::string& target, std::string body = {},
            Headers headers = {}) {
  TestClient client(f.port());
  if (!body.empty() && headers.empty()) headers.push_back({"Content-Type", "application/json"});
  auto res = client.request(method, target, std::move(body), std::move(headers));
  return Answer{res.result_int(), body_json(res), res};
}
Answer get(ApiFixture& f, const std::string& target, Headers headers = {}) {
  return call(f, bh::verb::get, target, {}, std::move(headers));
}
Answer post(ApiFixture& f, const std::string& target, const Json& body) {
  return call(f, bh::verb::post, target, body.dump());
}

void require_error(const Answer& a, unsigned status, const std::string& code) {
  INFO(a.raw.body());
  REQUIRE(a.status == status);
  REQUIRE(a.body["error"]["code"] == code);
  REQUIRE_FALSE(a.body["error"]["message"].get<std::string>().empty());
  REQUIRE_FALSE(a.body["error"]["hint"].get<std::string>().empty());
  REQUIRE(a.body["error"]["requestId"] == std::string(a.raw["X-Request-Id"]));
}

void apply(ApiFixture& f, const std::string& text, const char* type) {
  auto a = call(f, bh::verb::post, "/api/v1/workflows", text, {{"Content-Type", type}});
  INFO(a.raw.body());
  REQUIRE((a.status == 201 || a.status == 200));
}

std::string start(ApiFixture& f, const Json& body) {
  auto a = post(f, "/api/v1/executions", body);
  INFO(a.raw.body());
  REQUIRE(a.status == 201);
  return a.body["id"];
}

std::string status_of(ApiFixture& f, const std::string& id) {
  auto a = get(f, "/api/v1/executions/" + id);
  return a.status == 200 ? a.body.value("status", "") : "";
}

bool reaches(ApiFixture& f, const std::string& id, const std::string& status) {
  return eventually([&] { return status_of(f, id) == status; });
}

}  // namespace

TEST_CASE("Workflows: apply, unchanged, new version, get, list, validate", "[api][integration]") {
  ApiFixture f;
  auto a =
      call(f, bh::verb::post, "/api/v1/workflows", kGreet, {{"Content-Type", "application/yaml"}});
  INFO(a.raw.body());
  REQUIRE(a.status == 201);
  CHECK(a.body["name"] == "greet");
  CHECK(a.body["version"] == 1);
  CHECK(std::string(a.raw["Location"]) == "/api/v1/workflows/greet/versions/1");

  auto again =
      call(f, bh::verb::post, "/api/v1/workflows", kGreet, {{"Content-Type", "application/yaml"}});
  CHECK(again.status == 200);
  CHECK(again.body["version"] == 1);
  CHECK(again.body["created"] == false);

  std::string changed = std::string(kGreet) + "  timeout: 5m\n";
  changed.replace(changed.find("version: 1"), 10, "version: 2");
  auto v2 =
      call(f, bh::verb::post, "/api/v1/workflows", changed, {{"Content-Type", "application/yaml"}});
  CHECK(v2.status == 201);
  CHECK(v2.body["version"] == 2);
  apply(f, kSlow, "application/json");

  auto latest = get(f, "/api/v1/workflows/greet");
  REQUIRE(latest.status == 200);
  CHECK(latest.body["version"] == 2);
  CHECK(latest.body["description"] == "Says hello");
  REQUIRE(latest.body["versions"].size() == 2);
  CHECK(latest.body["versions"][0]["version"] == 2);
  CHECK(latest.body["definition"]["metadata"]["name"] == "greet");

  auto v1 = get(f, "/api/v1/workflows/greet/versions/1");
  REQUIRE(v1.status == 200);
  CHECK(v1.body["version"] == 1);
  require_error(get(f, "/api/v1/workflows/greet/versions/9"), 404, "NOT_FOUND");
  require_error(get(f, "/api/v1/workflows/greet/versions/x"), 400, "INVALID_INPUT");
  require_error(get(f, "/api/v1/workflows/nope"), 404, "NOT_FOUND");

  auto list = get(f, "/api/v1/workflows");
  REQUIRE(list.status == 200);
  REQUIRE(list.body["items"].size() == 2);
  CHECK(list.body["items"][0]["name"] == "greet");
  CHECK(list.body["items"][0]["latestVersion"] == 2);
  CHECK(list.body["items"][0]["versions"] == 2);
  CHECK(list.body["items"][1]["name"] == "slow");
  auto page = get(f, "/api/v1/workflows?limit=1");
  REQUIRE(page.body["items"].size() == 1);
  REQUIRE(page.body.contains("nextPageToken"));
  auto page2 = get(
      f, "/api/v1/workflows?limit=1&pageToken=" + page.body["nextPageToken"].get<std::string>());
  REQUIRE(page2.body["items"].size() == 1);
  CHECK(page2.body["items"][0]["name"] == "slow");
  CHECK_FALSE(page2.body.contains("nextPageToken"));
  auto prefix = get(f, "/api/v1/workflows?name=sl");
  REQUIRE(prefix.body["items"].size() == 1);

  auto valid = call(f, bh::verb::post, "/api/v1/workflows/validate", kGreet,
                    {{"Content-Type", "application/yaml"}});
  REQUIRE(valid.status == 200);
  CHECK(valid.body["valid"] == true);
  CHECK(valid.body["name"] == "greet");
  std::string bad =
      "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: bad, version: 1}\nspec:\n"
      "  steps:\n    - {id: a, type: teleport}\n    - {id: b, type: noop, "
      "dependsOn: [ghost]}\n";
  auto invalid = call(f, bh::verb::post, "/api/v1/workflows/validate", bad,
                      {{"Content-Type", "application/yaml"}});
  REQUIRE(invalid.status == 200);
  CHECK(invalid.body["valid"] == false);
  REQUIRE(invalid.body["problems"].size() >= 2);
  CHECK(invalid.body["problems"][0]["line"] == 6);
  // Nothing was stored by validate; apply refuses with every problem.
  require_error(get(f, "/api/v1/workflows/bad"), 404, "NOT_FOUND");
  auto refused =
      call(f, bh::verb::post, "/api/v1/workflows", bad, {{"Content-Type", "application/yaml"}});
  require_error(refused, 422, "INVALID_DEFINITION");
  CHECK(refused.body["error"]["details"]["problems"].size() >= 2);

  // A fixed version with other content is a conflict.
  Json doc = Json::parse(kSlow);
  doc["metadata"]["version"] = 1;
  doc["spec"]["timeout"] = "5m";
  require_error(post(f, "/api/v1/workflows", doc), 409, "CONFLICT");
}

TEST_CASE("Bad requests get JSON errors with a stable code", "[api][integration]") {
  ApiFixture f;
  apply(f, kGreet, "application/yaml");
  require_error(call(f, bh::verb::post, "/api/v1/executions", "{not json"), 400, "INVALID_INPUT");
  require_error(call(f, bh::verb::post, "/api/v1/workflows", "[1,2]"), 400, "INVALID_INPUT");
  require_error(post(f, "/api/v1/executions", Json{{"input", {{"name", "x"}}}}), 400,
                "MISSING_INPUT");
  require_error(post(f, "/api/v1/executions", Json{{"workflow", "greet"}, {"colour", "red"}}), 400,
                "INVALID_INPUT");
  require_error(post(f, "/api/v1/executions", Json{{"workflow", "greet"}, {"version", "one"}}), 400,
                "INVALID_INPUT");
  auto unknown = post(f, "/api/v1/executions", Json{{"workflow", "nope"}});
  require_error(unknown, 404, "NOT_FOUND");
  CHECK(unknown.body["error"]["hint"].get<std::string>().find("apply") != std::string::npos);
  require_error(post(f, "/api/v1/executions", Json{{"workflow", "greet"}, {"version", 7}}), 404,
                "NOT_FOUND");

  auto invalid = post(f, "/api/v1/executions", Json{{"workflow", "greet"}, {"input", {{"n", 1}}}});
  require_error(invalid, 400, "INVALID_INPUT");
  REQUIRE(invalid.body["error"]["details"]["problems"].is_array());
  CHECK(invalid.body["error"]["details"]["problems"][0].get<std::string>().find("name") !=
        std::string::npos);

  const std::string ghost = "/api/v1/executions/00000000-0000-4000-8000-000000000000";
  require_error(get(f, ghost), 404, "NOT_FOUND");
  require_error(get(f, ghost + "/events"), 404, "NOT_FOUND");
  require_error(get(f, ghost + "/events/stream"), 404, "NOT_FOUND");
  require_error(post(f, ghost + "/pause", Json::object()), 404, "NOT_FOUND");
  require_error(post(f, ghost + "/replay", Json::object()), 404, "NOT_FOUND");
  require_error(post(f, ghost + "/rerun", Json::object()), 404, "NOT_FOUND");
  require_error(get(f, "/api/v1/executions?status=sleeping"), 400, "INVALID_INPUT");
  require_error(get(f, "/api/v1/executions?since=yesterday"), 400, "INVALID_INPUT");
  require_error(get(f, "/api/v1/executions?limit=0"), 400, "INVALID_INPUT");
  require_error(post(f, "/api/v1/admin/retention", Json{{"olderThan", "soon"}}), 400,
                "INVALID_INPUT");
  require_error(call(f, bh::verb::delete_, "/api/v1/executions"), 405, "METHOD_NOT_ALLOWED");
}

TEST_CASE("Executions: start, dedupe, get, events, replay, rerun", "[api][integration]") {
  ApiFixture f;
  apply(f, kGreet, "application/yaml");
  auto started =
      post(f, "/api/v1/executions",
           Json{{"workflow", "greet"}, {"input", {{"name", "ada"}}}, {"dedupeKey", "k1"}});
  REQUIRE(started.status == 201);
  std::string id = started.body["id"];
  CHECK(started.body["duplicate"] == false);
  CHECK(started.body["workflowVersion"] == 1);
  CHECK(std::string(started.raw["Location"]) == "/api/v1/executions/" + id);
  auto dup = post(f, "/api/v1/executions",
                  Json{{"workflow", "greet"}, {"input", {{"name", "ada"}}}, {"dedupeKey", "k1"}});
  REQUIRE(dup.status == 200);
  CHECK(dup.body["duplicate"] == true);
  CHECK(dup.body["id"] == id);

  REQUIRE(reaches(f, id, "completed"));
  auto execution = get(f, "/api/v1/executions/" + id);
  CHECK(execution.body["output"]["greeting"] == "hello ada");
  CHECK(execution.body["steps"]["hello"]["status"] == "succeeded");
  CHECK(execution.body["dedupeKey"] == "k1");
  std::int64_t events = execution.body["version"];
  REQUIRE(events >= 4);

  auto as_of = get(f, "/api/v1/executions/" + id + "?asOf=1");
  REQUIRE(as_of.status == 200);
  CHECK(as_of.body["version"] == 1);
  CHECK(as_of.body["status"] == "running");
  require_error(get(f, "/api/v1/executions/" + id + "?asOf=999"), 400, "INVALID_INPUT");

  auto page = get(f, "/api/v1/executions/" + id + "/events?limit=2");
  REQUIRE(page.status == 200);
  REQUIRE(page.body["items"].size() == 2);
  CHECK(page.body["items"][0]["type"] == "ExecutionStarted");
  CHECK(page.body["items"][0]["version"] == 1);
  CHECK(page.body["items"][0]["metadata"]["actor"] == "api");
  CHECK(page.body["items"][0]["position"].is_number_integer());
  CHECK(page.body["nextAfter"] == 2);
  auto rest = get(f, "/api/v1/executions/" + id + "/events?after=2&limit=1000");
  CHECK(rest.body["items"].size() == static_cast<std::size_t>(events - 2));
  CHECK_FALSE(rest.body.contains("nextAfter"));
  CHECK(rest.body["items"].back()["type"] == "ExecutionCompleted");

  auto replay = post(f, "/api/v1/executions/" + id + "/replay", Json::object());
  REQUIRE(replay.status == 200);
  CHECK(replay.body["eventsApplied"] == events);
  CHECK(replay.body["state"]["status"] == "completed");
  CHECK(replay.body["timeline"].size() == static_cast<std::size_t>(events));
  auto upto = post(f, "/api/v1/executions/" + id + "/replay", Json{{"upto", 1}});
  CHECK(upto.body["eventsApplied"] == 1);
  CHECK(upto.body["state"]["status"] == "running");
  require_error(post(f, "/api/v1/executions/" + id + "/replay", Json{{"upto", 999}}), 400,
                "INVALID_INPUT");

  auto rerun = post(f, "/api/v1/executions/" + id + "/rerun", Json::object());
  REQUIRE(rerun.status == 201);
  std::string second = rerun.body["id"];
  CHECK(second != id);
  CHECK(rerun.body["retryOf"] == id);
  REQUIRE(reaches(f, second, "completed"));
  CHECK(get(f, "/api/v1/executions/" + second).body["retryOf"] == id);
  auto with_input =
      post(f, "/api/v1/executions/" + id + "/rerun", Json{{"input", {{"name", "grace"}}}});
  REQUIRE(with_input.status == 201);
  std::string third = with_input.body["id"];
  REQUIRE(reaches(f, third, "completed"));
  CHECK(get(f, "/api/v1/executions/" + third).body["output"]["greeting"] == "hello grace");
  require_error(post(f, "/api/v1/executions/" + id + "/rerun", Json{{"input", {{"x", 1}}}}), 400,
                "INVALID_INPUT");
  // A completed execution takes no commands.
  require_error(post(f, "/api/v1/executions/" + id + "/cancel", Json::object()), 409, "CONFLICT");

  auto retention = post(f, "/api/v1/admin/retention", Json{{"olderThan", "1d"}, {"dryRun", true}});
  REQUIRE(retention.status == 200);
  CHECK(retention.body["dryRun"] == true);
  CHECK(retention.body["executions"] == 0);
}

TEST_CASE("Executions list: filters and pagination", "[api][integration]") {
  ApiFixture f;
  apply(f, kGreet, "application/yaml");
  apply(f, kSlow, "application/json");
  std::set<std::string> greets;
  for (int i = 0; i < 5; ++i)
    greets.insert(start(f, Json{{"workflow", "greet"}, {"input", {{"name", std::to_string(i)}}}}));
  std::string slow = start(f, Json{{"workflow", "slow"}});
  for (const auto& id : greets) REQUIRE(reaches(f, id, "completed"));

  std::set<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    auto page = get(f, "/api/v1/executions?workflow=greet&limit=2" +
                           (token.empty() ? "" : "&pageToken=" + token));
    REQUIRE(page.status == 200);
    REQUIRE(page.body["items"].size() <= 2);
    for (const auto& e : page.body["items"]) {
      CHECK(e["workflow"] == "greet");
      seen.insert(e["id"].get<std::string>());
    }
    token = page.body.value("nextPageToken", "");
    ++pages;
  } while (!token.empty() && pages < 10);
  CHECK(seen == greets);
  CHECK(pages == 3);

  auto completed = get(f, "/api/v1/executions?status=completed&limit=500");
  CHECK(completed.body["items"].size() == 5);
  auto running = get(f, "/api/v1/executions?workflow=slow");
  REQUIRE(running.body["items"].size() == 1);
  CHECK(running.body["items"][0]["id"] == slow);
  CHECK(get(f, "/api/v1/executions?since=1h").body["items"].size() == 6);
  CHECK(get(f, "/api/v1/executions?since=2200-01-01T00:00:00Z").body["items"].empty());
}

TEST_CASE("Pause, resume and cancel go through the owning runner", "[api][integration]") {
  ApiFixture f;
  apply(f, kSlow, "application/json");
  std::string id = start(f, Json{{"workflow", "slow"}});
  REQUIRE(reaches(f, id, "running"));
  auto paused = post(f, "/api/v1/executions/" + id + "/pause", Json{{"reason", "maintenance"}});
  REQUIRE(paused.status == 202);
  CHECK(paused.body["command"] == "pause");
  CHECK(paused.body["commandId"].is_number_integer());
  // A pause lets the running step (a 1h sleep) finish first: the command is queued, not yet seen.
  require_error(post(f, "/api/v1/executions/" + id + "/pause", Json{{"reason", 5}}), 400,
                "INVALID_INPUT");
  require_error(post(f, "/api/v1/executions/" + id + "/pause", Json{{"input", 5}}), 400,
                "INVALID_INPUT");
  REQUIRE(post(f, "/api/v1/executions/" + id + "/resume", Json::object()).status == 202);
  REQUIRE(post(f, "/api/v1/executions/" + id + "/cancel", Json{{"reason", "done"}}).status == 202);
  REQUIRE(eventually([&] {
    auto s = status_of(f, id);
    return s == "cancelled" || s == "failed";
  }));
  require_error(post(f, "/api/v1/executions/" + id + "/resume", Json::object()), 409, "CONFLICT");
}

TEST_CASE("The event stream sends stored events, then live ones until the end",
          "[api][integration][sse]") {
  ApiFixture f;
  apply(f, kSlow, "application/json");
  std::string id = start(f, Json{{"workflow", "slow"}});
  REQUIRE(reaches(f, id, "running"));

  SseReader reader(f.port(), "/api/v1/executions/" + id + "/events/stream");
  REQUIRE(reader.header().result_int() == 200);
  auto first = reader.next_event();
  REQUIRE(first);
  CHECK(first->find("id: 1\nevent: ExecutionStarted\ndata: {") == 0);
  REQUIRE(eventually([&] { return f.routes().live_streams() == 1; }));

  // The terminal event can only come after the stream is open: it follows the cancel.
  REQUIRE(post(f, "/api/v1/executions/" + id + "/cancel", Json::object()).status == 202);
  std::vector<std::string> frames;
  while (auto frame = reader.next_event()) frames.push_back(*frame);
  REQUIRE(frames.size() >= 2);
  // The engine ends a cancelled sleeping step's execution as cancelled or failed.
  CHECK(frames[frames.size() - 2].find("event: Execution") != std::string::npos);
  CHECK(frames.back().rfind("event: end\ndata: {\"status\":", 0) == 0);
  CHECK(reader.ended_cleanly());
  // Versions come in order without gaps.
  std::int64_t expect = 1;
  for (const auto& frame : frames) {
    if (frame.rfind("id: ", 0) != 0) continue;
    CHECK(std::stoll(frame.substr(4)) == ++expect);
  }
  REQUIRE(eventually([&] { return f.routes().live_streams() == 0; }));

  // Reconnecting with Last-Event-ID gets only what came after, then the end at once.
  auto all = get(f, "/api/v1/executions/" + id + "/events?limit=1000");
  std::int64_t last = all.body["items"].back()["version"];
  SseReader again(f.port(), "/api/v1/executions/" + id + "/events/stream",
                  {{"Last-Event-ID", std::to_string(last - 1)}});
  auto one = again.next_event();
  REQUIRE(one);
  CHECK(one->find("id: " + std::to_string(last) + "\n") == 0);
  auto end = again.next_event();
  REQUIRE(end);
  CHECK(end->find("event: end") == 0);
  CHECK_FALSE(again.next_event());
  require_error(get(f, "/api/v1/executions/" + id + "/events/stream?after=999"), 400,
                "INVALID_INPUT");
}

TEST_CASE("A client leaving the stream ends its subscription", "[api][integration][sse]") {
  ApiFixture f;
  apply(f, kSlow, "application/json");
  std::string id = start(f, Json{{"workflow", "slow"}});
  {
    SseReader reader(f.port(), "/api/v1/executions/" + id + "/events/stream");
    REQUIRE(reader.next_event());
    REQUIRE(eventually([&] { return f.routes().live_streams() == 1; }));
    reader.disconnect();
  }
  // The server notices at its next write (a heartbeat, every 500 ms here).
  REQUIRE(eventually([&] { return f.routes().live_streams() == 0; }));
}

TEST_CASE("Bearer token: every endpoint but health needs it", "[api][integration]") {
  ApiFixture f("s3cret");
  require_error(get(f, "/api/v1/workflows"), 401, "UNAUTHORIZED");
  require_error(get(f, "/api/v1/workflows", {{"Authorization", "Bearer wrong"}}), 401,
                "UNAUTHORIZED");
  require_error(get(f, "/metrics"), 401, "UNAUTHORIZED");
  CHECK(get(f, "/api/v1/workflows", {{"Authorization", "Bearer s3cret"}}).status == 200);
  CHECK(get(f, "/healthz").status == 200);
  CHECK(get(f, "/readyz").status == 200);
}

TEST_CASE("Metrics count API operations", "[api][integration]") {
  ApiFixture f;
  apply(f, kGreet, "application/yaml");
  start(f, Json{{"workflow", "greet"}, {"input", {{"name", "x"}}}});
  get(f, "/api/v1/workflows/nope");
  auto metrics = get(f, "/metrics");
  REQUIRE(metrics.status == 200);
  const std::string& text = metrics.raw.body();
  CHECK(text.find("flowd_api_operations_total{operation=\"startExecution\",code=\"OK\"} 1") !=
        std::string::npos);
  CHECK(text.find("flowd_api_operations_total{operation=\"getWorkflow\",code=\"NOT_FOUND\"} 1") !=
        std::string::npos);
  CHECK(text.find("flowd_api_executions_started_total{workflow=\"greet\"} 1") != std::string::npos);
  CHECK(text.find("flowd_api_worker_queue_depth") != std::string::npos);
}

}  // namespace flowd::api::testing
