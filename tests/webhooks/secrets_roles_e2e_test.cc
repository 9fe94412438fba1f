// Secrets and API roles on the real flowd binary.
//
// Secrets: a step sends secrets (one from FLOWD_SECRET_<NAME>, one from a file in secrets.dir) in
// http headers to a test server that echoes them back; a step fails with a secret in its error
// text, after which a compensation fails with the other secret in its error text, and the run is
// dead-lettered; a step names a secret nobody set. The called server sees the values; afterwards
// no table (events, executions, dead_letters, dead_letter_events, snapshots, ...), no record on
// flowd.events or flowd.dlq (value or headers), no log line and no API answer (the dead-letter
// API's too) contains them, and SecretAccessed names each access.
//
// Roles: every endpoint (the dead-letter ones too) with no token, a reader token and an operator
// token (table-driven), the actor of what each token caused (commands, and every dead-letter
// action: retry, retry from the failed step, bulk retry, discard, archive), which the execution's
// audit shows, and the legacy http.token as an operator.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <thread>

#include "flowd/engine/cron.h"
#include "flowd/engine/json.h"
#include "http_call.h"
#include "http_test_server.h"
#include "postgres_fixture.h"
#include "webhooks/signature.h"

using namespace flowd;
using namespace flowd::testing;
using boost::beast::http::verb;

namespace {

// Rows of `table` whose text contains `needle`.
std::string table_rows_containing(const PostgresDatabase& db, const std::string& table,
                                  const std::string& needle) {
  return db.query("SELECT count(*) FROM " + table + " t WHERE t::text LIKE '%" + needle + "%'");
}

// Rows of every table of the database whose text contains `needle` (dynamic SQL via
// query_to_xml, so no table is forgotten).
std::string rows_containing(const PostgresDatabase& db, const std::string& needle) {
  return db.query(
      "SELECT coalesce(sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM "
      "%I t WHERE t::text LIKE %L', tablename, '%" +
      needle +
      "%'), false, true, '')))[1]::text::int), 0) FROM pg_tables WHERE schemaname = "
      "'public'");
}

// An echo server on its own thread: answers every request with its Authorization and X-File
// headers in a JSON body.
struct EchoServer {
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{io.get_executor()};
  HttpTestServer server{io, [](const HttpTestServer::Request& req, HttpTestServer::Responder res) {
                          HttpTestServer::Response r{boost::beast::http::status::ok, 11};
                          r.set(boost::beast::http::field::content_type, "application/json");
                          r.body() = Json{{"auth", std::string(req["Authorization"])},
                                          {"file", std::string(req["X-File"])}}
                                         .dump();
                          r.prepare_payload();
                          res(std::move(r));
                        }};
  std::vector<std::string> seen;
  std::thread thread{[this] { io.run(); }};
  ~EchoServer() {
    boost::asio::post(io, [this] { server.stop(); });
    work.reset();
    thread.join();
  }
};

std::string wait_terminal(const PostgresDatabase& db, const std::string& id) {
  std::string status;
  eventually(
      [&] {
        status = db.query("SELECT status FROM executions WHERE id = '" + id + "' AND terminal");
        return !status.empty();
      },
      std::chrono::seconds(60));
  return status;
}

}  // namespace

TEST_CASE("Secrets reach the called system and nothing that is stored, logged or answered",
          "[integration][secrets]") {
  PostgresDatabase db;
  auto dir = fresh_dir("secrets_e2e");
  const std::string env_secret = "env-s3cret-" + webhooks::sha256_hex(db.name()).substr(0, 16);
  const std::string file_secret = "file-s3cret-" + webhooks::sha256_hex(db.url()).substr(0, 16);
  std::filesystem::create_directories(dir / "secrets");
  write_file(dir / "secrets" / "FILE_TOKEN", file_secret + "\n");
  EchoServer echo;
  std::filesystem::create_directories(dir / "workflows");
  write_file(dir / "workflows" / "calls.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: secret-call, version: 1}
spec:
  steps:
    - id: call
      type: http
      with:
        url: ")" + echo.server.url("/echo") + R"("
        headers: {Authorization: "Bearer {{ secrets.API_TOKEN }}", X-File: "{{ secrets.FILE_TOKEN }}"}
)");
  write_file(dir / "workflows" / "fails.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: secret-fail, version: 1}
spec:
  steps:
    - id: reserve
      type: noop
      compensate: {type: fail, with: {code: EXTERNAL, message: "release refused {{ secrets.FILE_TOKEN }}"}}
    - {id: boom, dependsOn: [reserve], type: fail, with: {code: EXTERNAL, message: "upstream refused {{ secrets.API_TOKEN }}"}}
)");
  write_file(dir / "workflows" / "missing.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: secret-missing, version: 1}
spec:
  steps:
    - {id: call, type: http, with: {url: "http://127.0.0.1:9/", headers: {X-Key: "{{ secrets.NOT_SET }}"}}}
)");
  FlowdProcess flowd({"--database", db.url(), "--workflows", (dir / "workflows").string()},
                     {{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                      {"FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").string()},
                      {"FLOWD_ENGINE_INSTANCE_ID", "secrets-test"},
                      {"FLOWD_SECRET_API_TOKEN", env_secret},
                      {"FLOWD_SECRETS_DIR", (dir / "secrets").string()},
                      {"FLOWD_LOG_LEVEL", "debug"}},
                     (dir / "flowd.log").string());
  REQUIRE(flowd.wait_running());
  const auto port = api_port(flowd);
  auto start = [&](const std::string& workflow) {
    auto r = http_call(port, verb::post, "/api/v1/executions",
                       Json{{"workflow", workflow}, {"input", Json::object()}}.dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
    return r.json()["id"].get<std::string>();
  };
  const std::string call = start("secret-call");
  const std::string failed = start("secret-fail");
  const std::string missing = start("secret-missing");
  CHECK(wait_terminal(db, call) == "completed");
  CHECK(wait_terminal(db, failed) == "failed");
  CHECK(wait_terminal(db, missing) == "failed");

  // The called system got the real values; the step's output has them masked.
  REQUIRE(echo.server.requests().size() >= 1);
  CHECK(std::string(echo.server.requests()[0]["Authorization"]) == "Bearer " + env_secret);
  CHECK(std::string(echo.server.requests()[0]["X-File"]) == file_secret);
  CHECK(db.query("SELECT count(*) FROM events WHERE stream_id = 'execution-" + call +
                 "' AND type = 'StepCompleted' AND (data->'output')::text LIKE '%Bearer ***%'") ==
        "1");
  CHECK(db.query("SELECT data->'error'->>'message' FROM events WHERE stream_id = 'execution-" +
                 failed + "' AND type = 'ExecutionFailed'") == "upstream refused ***");
  auto missing_error = db.query("SELECT error::text FROM executions WHERE id = '" + missing + "'");
  CHECK(missing_error.find("PERMISSION_DENIED") != std::string::npos);
  CHECK(missing_error.find("NOT_SET") != std::string::npos);

  // The compensation failed with the other secret in its error: masked like the step's.
  CHECK(db.query("SELECT data->'error'->>'message' FROM events WHERE stream_id = 'execution-" +
                 failed + "' AND type = 'CompensationFailed'") == "release refused ***");
  CHECK(db.query("SELECT string_agg(data->>'name', ',' ORDER BY stream_version) FROM events "
                 "WHERE stream_id = 'execution-" +
                 failed + "' AND type = 'SecretAccessed'") == "API_TOKEN,FILE_TOKEN");

  // The failed runs are dead-lettered (and published to flowd.dlq) with the masked texts.
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT count(*) FROM dead_letters WHERE execution_id IN ('" + failed +
                        "', '" + missing + "') AND published_at IS NOT NULL") == "2";
      },
      std::chrono::seconds(60)));
  const std::string letter =
      db.query("SELECT id FROM dead_letters WHERE execution_id = '" + failed + "'");
  CHECK(db.query("SELECT reason_code || ': ' || reason_message || ' @ ' || failed_step FROM "
                 "dead_letters WHERE id = " +
                 letter) == "EXTERNAL: upstream refused *** @ boom");
  CHECK(db.query("SELECT last_error->>'message' FROM dead_letters WHERE id = " + letter) ==
        "upstream refused ***");
  for (const char* table : {"dead_letters", "dead_letter_events", "dead_letter_retries"}) {
    INFO(table);
    CHECK(table_rows_containing(db, table, env_secret) == "0");
    CHECK(table_rows_containing(db, table, file_secret) == "0");
  }
  CHECK(table_rows_containing(db, "dead_letters", "upstream refused ***") == "1");

  // Each resolution is audited by name.
  CHECK(db.query("SELECT string_agg(data->>'name', ',' ORDER BY data->>'name') FROM events WHERE "
                 "stream_id = 'execution-" +
                 call + "' AND type = 'SecretAccessed'") == "API_TOKEN,FILE_TOKEN");
  CHECK(db.query("SELECT step FROM events WHERE stream_id = 'execution-" + call +
                 "' AND type = 'SecretAccessed' LIMIT 1") == "call");

  // Stored: nowhere, in any table.
  CHECK(rows_containing(db, env_secret) == "0");
  CHECK(rows_containing(db, file_secret) == "0");
  CHECK(rows_containing(db, "secrets.API_TOKEN") != "0");  // the scan works: templates are there

  // Answered: nowhere in what the API gives back.
  for (const auto& id : {call, failed, missing}) {
    for (const std::string& path :
         {"/api/v1/executions/" + id, "/api/v1/executions/" + id + "/events",
          "/api/v1/executions/" + id + "/audit", "/api/v1/executions/" + id + "/replay"}) {
      auto r = http_call(port, path.ends_with("replay") ? verb::post : verb::get, path);
      INFO(path << ": " << r.body);
      CHECK(r.status == 200);
      CHECK(r.body.find(env_secret) == std::string::npos);
      CHECK(r.body.find(file_secret) == std::string::npos);
    }
  }
  for (const std::string& path : {std::string("/api/v1/dlq"), "/api/v1/dlq/" + letter}) {
    auto r = http_call(port, verb::get, path);
    INFO(path << ": " << r.body);
    CHECK(r.status == 200);
    CHECK(r.body.find("upstream refused ***") != std::string::npos);
    CHECK(r.body.find(env_secret) == std::string::npos);
    CHECK(r.body.find(file_secret) == std::string::npos);
  }
  auto audit = http_call(port, verb::get, "/api/v1/executions/" + call + "/audit").json();
  CHECK(audit["secretsAccessed"].size() == 2);
  CHECK(audit["steps"][0]["secrets"].dump().find("API_TOKEN") != std::string::npos);

  // Published: nowhere on the outbox topic (once the relay has sent the last execution's end).
  std::string brokers = read_file(dir / "broker");
  while (!brokers.empty() && std::isspace(static_cast<unsigned char>(brokers.back())))
    brokers.pop_back();
  std::string topic;
  REQUIRE(eventually(
      [&] {
        topic = run(std::string(FLOWD_KCAT) + " -C -q -e -o beginning -b " + brokers +
                    " -t flowd.events 2>/dev/null")
                    .second;
        return topic.find(missing) != std::string::npos && topic.find(call) != std::string::npos &&
               topic.find(failed) != std::string::npos &&
               topic.find("upstream refused ***") != std::string::npos;
      },
      std::chrono::seconds(60)));
  CHECK(topic.find(env_secret) == std::string::npos);
  CHECK(topic.find(file_secret) == std::string::npos);
  // Nor on flowd.dlq: the letters' values and their headers (kafka_dlt-exception-message, ...).
  std::string dlq_topic;
  REQUIRE(eventually(
      [&] {
        dlq_topic = run(std::string(FLOWD_KCAT) + " -C -q -e -o beginning -b " + brokers +
                        " -t flowd.dlq -f '%h|%k|%s\\n' 2>/dev/null")
                        .second;
        return dlq_topic.find(failed) != std::string::npos &&
               dlq_topic.find(missing) != std::string::npos;
      },
      std::chrono::seconds(60)));
  INFO(dlq_topic);
  CHECK(dlq_topic.find("kafka_dlt-exception-message=upstream refused ***") != std::string::npos);
  CHECK(dlq_topic.find(env_secret) == std::string::npos);
  CHECK(dlq_topic.find(file_secret) == std::string::npos);

  // Logged: nowhere (debug level, so every line flowd writes).
  CHECK(flowd.stop(SIGTERM) == 0);
  auto log = read_file(dir / "flowd.log");
  CHECK(log.find(env_secret) == std::string::npos);
  CHECK(log.find(file_secret) == std::string::npos);
}

TEST_CASE("API roles: no token, reader and operator on every endpoint", "[integration][roles]") {
  PostgresDatabase db;
  auto dir = fresh_dir("roles_e2e");
  std::filesystem::create_directories(dir / "workflows");
  write_file(dir / "workflows" / "wait.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: slow, version: 1}
spec:
  steps:
    - {id: nap, type: sleep, with: {duration: 1h}}
)");
  // Failing workflows: their runs are the dead letters the table's /dlq endpoints act on.
  write_file(dir / "workflows" / "boom.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: boom, version: 1}
spec:
  steps:
    - {id: prepare, type: noop}
    - {id: explode, dependsOn: [prepare], type: fail, with: {code: EXTERNAL, message: "no"}}
)");
  write_file(dir / "workflows" / "boom2.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: boom2, version: 1}
spec:
  steps:
    - {id: explode, type: fail, with: {code: EXTERNAL, message: "no"}}
)");
  const std::string reader = "reader-token-1", op = "operator-token-1", legacy = "legacy-token-1";
  FlowdProcess flowd({"--database", db.url(), "--workflows", (dir / "workflows").string()},
                     {{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                      {"FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").string()},
                      {"FLOWD_ENGINE_INSTANCE_ID", "roles-test"},
                      {"FLOWD_HTTP_TOKEN", legacy},
                      {"FLOWD_HTTP_TOKENS", "ci:reader:" + webhooks::sha256_hex(reader) +
                                                ",ops:operator:" + webhooks::sha256_hex(op)}},
                     (dir / "flowd.log").string());
  REQUIRE(flowd.wait_running());
  const auto port = api_port(flowd);
  auto as = [](const std::string& token) {
    return std::vector<std::pair<std::string, std::string>>{{"Authorization", "Bearer " + token}};
  };
  auto started = http_call(port, verb::post, "/api/v1/executions",
                           Json{{"workflow", "slow"}, {"input", Json::object()}}.dump(), as(op));
  REQUIRE(started.status == 201);
  const std::string id = started.json()["id"].get<std::string>();
  const std::string x = "/api/v1/executions/" + id;
  const std::string def =
      R"({"apiVersion":"flowd/v1","kind":"Workflow","metadata":{"name":"r","version":1},)"
      R"("spec":{"steps":[{"id":"a","type":"noop"}]}})";
  // Five dead letters: retried, retried from the failed step, discarded, archived, bulk-retried.
  std::vector<std::string> failed, letters;
  for (const char* workflow : {"boom", "boom", "boom", "boom", "boom2"}) {
    auto r = http_call(port, verb::post, "/api/v1/executions",
                       Json{{"workflow", workflow}, {"input", Json::object()}}.dump(), as(op));
    REQUIRE(r.status == 201);
    failed.push_back(r.json()["id"].get<std::string>());
  }
  for (const auto& f : failed) {
    std::string letter;
    REQUIRE(eventually(
        [&] {
          letter = db.query("SELECT id FROM dead_letters WHERE execution_id = '" + f + "'");
          return !letter.empty();
        },
        std::chrono::seconds(60)));
    letters.push_back(letter);
  }
  const std::string dlq = "/api/v1/dlq/";
  // A schedule for the /schedules endpoints (hourly: it fires nothing during the test).
  const std::string hourly = R"({"workflow":"slow","schedule":"@hourly"})";
  REQUIRE(http_call(port, verb::post, "/api/v1/schedules",
                    R"({"name":"roles-s","workflow":"slow","schedule":"@hourly"})", as(op))
              .status == 201);
  const std::string sched = "/api/v1/schedules/roles-s";
  const auto past = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now()) -
                    std::chrono::hours(3);
  const std::string backfill =
      Json{{"from", format_utc(SysSeconds(past))}, {"to", format_utc(SysSeconds(past))}}.dump();

  struct Endpoint {
    verb method;
    std::string path;
    std::string body;
    bool reader;  // a reader may call it
  } endpoints[] = {
      {verb::get, "/api/v1/workflows", "", true},
      {verb::get, "/api/v1/workflows/slow", "", true},
      {verb::get, "/api/v1/workflows/slow/versions/1", "", true},
      {verb::post, "/api/v1/workflows/validate", def, true},
      {verb::get, "/api/v1/executions", "", true},
      {verb::get, x, "", true},
      {verb::get, x + "/events", "", true},
      {verb::get, x + "/audit", "", true},
      {verb::post, x + "/replay", "", true},
      {verb::get, "/api/v1/webhooks", "", true},
      {verb::get, "/metrics", "", true},
      {verb::get, "/api/v1/dlq", "", true},
      {verb::get, "/api/v1/dlq?workflow=boom&state=pending", "", true},
      {verb::get, "/api/v1/dlq/stats", "", true},
      {verb::get, dlq + letters[0], "", true},
      {verb::get, "/api/v1/dlq/batches/roles-bulk", "", true},
      {verb::get, "/api/v1/schedules", "", true},
      {verb::get, sched, "", true},
      {verb::get, sched + "/next?n=3", "", true},
      {verb::get, sched + "/ticks", "", true},
      {verb::post, "/api/v1/workflows", def, false},
      {verb::post, "/api/v1/executions", R"({"workflow":"slow"})", false},
      {verb::post, x + "/pause", R"({"reason":"by ops"})", false},
      {verb::post, x + "/resume", "", false},
      {verb::post, x + "/rerun", "", false},
      {verb::post, "/api/v1/admin/retention", R"({"olderThan":"3650d","dryRun":true})", false},
      {verb::post, x + "/cancel", R"({"reason":"done testing"})", false},
      {verb::post, "/api/v1/dlq/retry", R"({"workflow":"boom","dryRun":true})", false},
      {verb::post, dlq + letters[0] + "/retry", R"({"reason":"retry by ops"})", false},
      {verb::post, dlq + letters[1] + "/retry", R"({"fromFailedStep":true})", false},
      {verb::post, dlq + letters[2] + "/discard", R"({"reason":"duplicate"})", false},
      {verb::post, dlq + letters[3] + "/archive", R"({"reason":"kept"})", false},
      {verb::post, "/api/v1/dlq/retry", R"({"workflow":"boom2","batch":"roles-bulk"})", false},
      {verb::post, "/api/v1/schedules", R"({"name":"roles-t","workflow":"slow","schedule":"@daily"})",
       false},
      {verb::put, sched, hourly, false},
      {verb::post, sched + "/pause", R"({"note":"by ops"})", false},
      {verb::post, sched + "/unpause", "", false},
      {verb::post, sched + "/backfill", backfill, false},
      {verb::delete_, "/api/v1/schedules/roles-t", "", false},
  };
  for (const auto& e : endpoints) {
    INFO(std::string(boost::beast::http::to_string(e.method)) << " " << e.path);
    auto none = http_call(port, e.method, e.path, e.body);
    CHECK(none.status == 401);
    auto bad = http_call(port, e.method, e.path, e.body, as("not-a-token"));
    CHECK(bad.status == 401);
    auto r = http_call(port, e.method, e.path, e.body, as(reader));
    INFO("reader: " << r.body);
    if (e.reader) {
      CHECK(r.status / 100 == 2);
    } else {
      CHECK(r.status == 403);
      CHECK(r.json()["error"].value("code", "") == "PERMISSION_DENIED");
      CHECK(r.json()["error"].value("message", "").find("operator") != std::string::npos);
    }
    auto o = http_call(port, e.method, e.path, e.body, as(op));
    INFO("operator: " << o.body);
    CHECK(o.status / 100 == 2);
  }
  // whoami tells the console what the caller may do: a reader sees no actions.
  auto who_reader = http_call(port, verb::get, "/api/v1/whoami", {}, as(reader)).json();
  CHECK(who_reader == Json{{"name", "ci"}, {"role", "reader"}, {"canAct", false}});
  auto who_operator = http_call(port, verb::get, "/api/v1/whoami", {}, as(op)).json();
  CHECK(who_operator["role"] == "operator");
  CHECK(who_operator["canAct"] == true);

  // The legacy single token is an operator named "token".
  auto legacy_start =
      http_call(port, verb::post, "/api/v1/executions",
                Json{{"workflow", "slow"}, {"input", Json::object()}}.dump(), as(legacy));
  CHECK(legacy_start.status == 201);

  // Actors: the start and the commands carry the token's name.
  CHECK(db.query("SELECT metadata->>'actor' FROM events WHERE stream_id = 'execution-" + id +
                 "' AND stream_version = 1") == "ops");
  CHECK(db.query("SELECT string_agg(DISTINCT actor, ',') FROM execution_commands WHERE "
                 "execution_id = '" +
                 id + "'") == "ops");
  CHECK(wait_terminal(db, id) == "cancelled");
  auto audit = http_call(port, verb::get, x + "/audit", {}, as(reader)).json();
  CHECK(audit["startedBy"].value("actor", "") == "ops");
  CHECK(audit["commands"].size() == 3);
  CHECK(audit["commands"][0].value("reason", "") == "by ops");
  CHECK(audit["lineage"]["retries"].size() == 1);  // the rerun
  CHECK(audit.value("outcome", Json::object()).value("status", "") == "cancelled");
  CHECK(audit["actors"].dump().find("flowd:roles-test") != std::string::npos);
  if (auto legacy_id = legacy_start.json().value("id", ""); !legacy_id.empty())
    CHECK(db.query("SELECT metadata->>'actor' FROM events WHERE stream_id = 'execution-" +
                   legacy_id + "' AND stream_version = 1") == "token");

  // Schedule changes and a backfill's tick carry their actors: the token's name, the tick.
  CHECK(db.query("SELECT string_agg(DISTINCT actor, ',') FROM schedule_events WHERE schedule = "
                 "'roles-s' AND type <> 'TickFired'") == "ops");
  CHECK(db.query("SELECT metadata->>'actor' FROM events v JOIN executions e ON v.stream_id = "
                 "'execution-' || e.id AND v.stream_version = 1 WHERE e.dedupe_key LIKE "
                 "'cron:roles-s@%'") == "cron:roles-s@" + format_time(TimePoint(past)));

  // Dead-letter actions carry the operator token's name, whatever X-Flowd-Actor says.
  auto spoofed = as(op);
  spoofed.emplace_back("X-Flowd-Actor", "mallory");
  CHECK(http_call(port, verb::post, dlq + letters[2] + "/archive", R"({"reason":"spoof"})", spoofed)
            .status == 200);
  CHECK(db.query("SELECT string_agg(DISTINCT actor, ',') FROM dead_letter_events WHERE type NOT "
                 "IN ('Created', 'FailedAgain', 'Resolved')") == "ops");
  CHECK(db.query("SELECT string_agg(DISTINCT requested_by, ',') FROM dead_letter_retries") ==
        "ops");
  CHECK(db.query("SELECT count(*) FROM dead_letter_retries") == "3");
  auto action = [&](const std::string& letter, const std::string& type) {
    return db.query(
        "SELECT actor || ':' || coalesce(reason, '') || ':' || coalesce(data->>'mode', "
        "'') || ':' || coalesce(data->>'batch', '') FROM dead_letter_events WHERE "
        "dead_letter_id = " +
        letter + " AND type = '" + type + "' ORDER BY position LIMIT 1");
  };
  CHECK(action(letters[0], "RetryRequested") == "ops:retry by ops:same-input:");
  CHECK(action(letters[1], "RetryRequested") == "ops::from-failed-step:");
  CHECK(action(letters[2], "Discarded") == "ops:duplicate::");
  CHECK(action(letters[3], "Archived") == "ops:kept::");
  CHECK(action(letters[4], "RetryRequested") == "ops::same-input:roles-bulk");
  // The retry executions were started by the operator too, linked to the failed run.
  const std::string retry0 =
      db.query("SELECT execution_id FROM dead_letter_retries WHERE dead_letter_id = " + letters[0]);
  REQUIRE_FALSE(retry0.empty());
  CHECK(db.query("SELECT metadata->>'actor' FROM events WHERE stream_id = 'execution-" + retry0 +
                 "' AND stream_version = 1") == "ops");
  CHECK(db.query("SELECT retry_of FROM executions WHERE id = '" + retry0 + "'") == failed[0]);

  // The failed run's audit shows its dead letter's retries and actions, and the retry in its
  // lineage; the retry's audit shows what it retries.
  auto failed_audit =
      http_call(port, verb::get, "/api/v1/executions/" + failed[0] + "/audit", {}, as(reader))
          .json();
  INFO(failed_audit.dump());
  REQUIRE(failed_audit["deadLetters"].size() == 1);
  const Json& letter_audit = failed_audit["deadLetters"][0];
  CHECK(letter_audit["id"].get<std::int64_t>() == std::stoll(letters[0]));
  CHECK(letter_audit["relation"] == "failed");
  REQUIRE(letter_audit["retries"].size() == 1);
  CHECK(letter_audit["retries"][0]["requestedBy"] == "ops");
  CHECK(letter_audit["retries"][0]["executionId"] == retry0);
  bool retry_action = false;
  for (const auto& a : letter_audit["actions"])
    retry_action = retry_action || (a["type"] == "RetryRequested" && a["actor"] == "ops" &&
                                    a.value("reason", "") == "retry by ops");
  CHECK(retry_action);
  CHECK(failed_audit["lineage"]["retries"] == Json::array({retry0}));
  auto retry_audit =
      http_call(port, verb::get, "/api/v1/executions/" + retry0 + "/audit", {}, as(reader)).json();
  INFO(retry_audit.dump());
  CHECK(retry_audit["lineage"]["retryOf"] == failed[0]);
  CHECK(retry_audit["startedBy"].value("actor", "") == "ops");
  REQUIRE(retry_audit["deadLetters"].size() == 1);
  CHECK(retry_audit["deadLetters"][0]["relation"] == "retry");
  CHECK(retry_audit["deadLetters"][0]["retryNumber"] == 1);
  auto discarded_audit =
      http_call(port, verb::get, "/api/v1/executions/" + failed[2] + "/audit", {}, as(reader))
          .json();
  REQUIRE(discarded_audit["deadLetters"].size() == 1);
  CHECK(discarded_audit["deadLetters"][0]["state"] == "archived");
  CHECK(discarded_audit["deadLetters"][0]["actions"].dump().find("duplicate") != std::string::npos);

  // flowctl executions audit: the dead letter's section.
  {
    auto [code, table] =
        run(std::string(FLOWD_BIN_DIR) + "/flowctl executions audit " + failed[0] +
            " --server http://127.0.0.1:" + std::to_string(port) + " --token " + reader + " 2>&1");
    INFO(table);
    CHECK(code == 0);
    CHECK(table.find("DEAD LETTERS") != std::string::npos);
    CHECK(table.find("RetryRequested") != std::string::npos);
    CHECK(table.find("by ops") != std::string::npos);
    CHECK(table.find("retry by ops") != std::string::npos);
  }

  // flowctl executions audit: the readable table.
  auto [code, table] =
      run(std::string(FLOWD_BIN_DIR) + "/flowctl executions audit " + id +
          " --server http://127.0.0.1:" + std::to_string(port) + " --token " + reader + " 2>&1");
  INFO(table);
  CHECK(code == 0);
  CHECK(table.find("started") != std::string::npos);
  CHECK(table.find("by ops") != std::string::npos);
  CHECK(table.find("COMMANDS") != std::string::npos);
  CHECK(flowd.stop(SIGTERM) == 0);
}
