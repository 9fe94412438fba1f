// The flowd service as users run it: the real binary on its embedded Kafka broker with a real
// PostgreSQL; trigger records published by kcat become durable executions, a poison record is
// dead-lettered, a duplicate starts nothing, the HTTP API answers, SIGTERM stops it cleanly; bad
// configuration stops it before anything starts.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "flowd_process.h"
#include "postgres_fixture.h"

using namespace flowd;
using flowd::testing::eventually;
using flowd::testing::FlowdProcess;
using flowd::testing::run;

namespace {

namespace fs = std::filesystem;

// A fresh folder under the test's working directory.
fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Runs a shell command; returns its exit status and stdout.
void kcat_produce(const std::string& brokers, const std::string& topic, const std::string& value) {
  fs::path file = fs::current_path() / ("kcat_" + topic + ".json");
  write_file(file, value);  // kcat sends a file as one record, bytes as they are
  auto [status, out] = run(std::string(FLOWD_KCAT) + " -P -b " + brokers + " -t " + topic + " " +
                           file.string() + " 2>&1");
  INFO(out);
  REQUIRE(status == 0);
}

const char* kGreet = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: greet, version: 1}
spec:
  input: {type: object, required: [name], properties: {name: {type: string}}}
  steps:
    - {id: hello, type: transform, with: {greeting: "hello {{ input.name }}"}}
    - {id: done, type: noop, dependsOn: [hello]}
  output: {greeting: "{{ steps.hello.output.greeting }}"}
  triggers:
    - kafka: {topic: greetings, filter: "{{ event.type }} == 'greet'", input: "{{ event.data }}"}
)";

}  // namespace

TEST_CASE("flowd runs triggers from its embedded broker durably and stops cleanly on SIGTERM",
          "[integration][service][kafka]") {
  flowd::testing::PostgresDatabase db;
  fs::path dir = fresh_dir("service_test_run");
  write_file(dir / "greet.yaml", kGreet);
  const std::string address_file = (dir / "broker").string();
  FlowdProcess flowd({"--database", db.url(), "--workflows", dir.string()},
                     {{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                      {"FLOWD_KAFKA_BOOTSTRAP_FILE", address_file},
                      {"FLOWD_ENGINE_INSTANCE_ID", "service-test"}},
                     (dir / "flowd.log").string());
  REQUIRE(flowd.wait_running());
  std::string brokers;
  REQUIRE(std::getline(std::ifstream(address_file), brokers));
  auto listening = Json::parse(flowd.find_line("HTTP API listening"));
  const std::string api = listening.at("url").get<std::string>();
  const std::string base = api.substr(0, api.size() - std::string("/api/v1").size());

  // An envelope naming the workflow, the same one again (its id is the dedupe key), a CloudEvent
  // on the bound topic, one the filter ignores, and a record that is not JSON.
  const std::string envelope = R"({"workflow":"greet","id":"env-1","input":{"name":"kcat"}})";
  kcat_produce(brokers, "flowd.triggers", envelope);
  kcat_produce(brokers, "flowd.triggers", envelope);
  kcat_produce(
      brokers, "greetings",
      R"({"specversion":"1.0","id":"ce-1","type":"greet","source":"/t","data":{"name":"ce"}})");
  kcat_produce(
      brokers, "greetings",
      R"({"specversion":"1.0","id":"ce-2","type":"other","source":"/t","data":{"name":"x"}})");
  kcat_produce(brokers, "flowd.triggers", "not json {");

  REQUIRE(eventually(
      [&] { return db.query("SELECT count(*) FROM executions WHERE status = 'completed'") == "2"; },
      std::chrono::seconds(60)));
  REQUIRE(eventually([&] { return db.query("SELECT count(*) FROM dead_letters") == "1"; },
                     std::chrono::seconds(60)));
  CHECK(db.query("SELECT count(*) FROM executions") == "2");
  CHECK(db.query("SELECT string_agg(output->>'greeting', ',' ORDER BY output->>'greeting') FROM "
                 "(SELECT (SELECT data->'output' FROM events e WHERE e.stream_id = 'execution-' "
                 "|| x.id AND e.type = 'ExecutionCompleted') AS output FROM executions x) o") ==
        "hello ce,hello kcat");
  CHECK(db.query("SELECT convert_from(record_value, 'UTF8') FROM dead_letters") == "not json {");

  auto [ready, ready_body] = run("curl -fs " + base + "/readyz");
  CHECK(ready == 0);
  auto [metrics_status, metrics] = run("curl -fs " + base + "/metrics");
  CHECK(metrics_status == 0);
  CHECK(
      metrics.find("flowd_executions_finished_total{workflow=\"greet\",status=\"completed\"} 2") !=
      std::string::npos);

  CHECK(flowd.stop(SIGTERM) == 0);
  CHECK_FALSE(flowd.find_line("\"stopped\"").empty());
  CHECK_FALSE(fs::exists(address_file));  // the embedded broker removed its address
}

TEST_CASE("flowd refuses a bad configuration with one message per problem and starts nothing",
          "[integration][service]") {
  fs::path dir = fresh_dir("service_test_config");
  write_file(dir / "flowd.yaml", "http:\n  listen: nowhere\nengine:\n  maxInFlight: -3\n");
  FlowdProcess flowd({"--config", (dir / "flowd.yaml").string()}, {{"FLOWD_KAFKA_BROKERZ", "x"}},
                     (dir / "flowd.log").string());
  CHECK(flowd.wait_exit() == 2);
  std::ifstream in(dir / "flowd.log");
  std::string log((std::istreambuf_iterator<char>(in)), {});
  INFO(log);
  CHECK(log.find("flowd.yaml:2:11") != std::string::npos);
  CHECK(log.find("http.listen") != std::string::npos);
  CHECK(log.find("engine.maxInFlight") != std::string::npos);
  CHECK(log.find("FLOWD_KAFKA_BROKERZ") != std::string::npos);
  CHECK(log.find("flowd running") == std::string::npos);
}
