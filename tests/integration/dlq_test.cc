// The dead-letter queue end to end: the real flowd binary on its embedded broker and a real
// PostgreSQL, driven with the real flowctl (HTTP API) and kcat. Failing executions and poison
// records are dead-lettered (with compensation first), listed, shown, retried (same input, patched
// input, from the failed step, onto a new version, two at once), discarded, archived and retried
// in bulk (dry run first); a kcat consumer of flowd.dlq sees Spring Kafka's headers; flowd killed
// in the middle of compensating finishes it after a restart, each compensation once.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "flowd/dlq/dead_letter_projector.h"
#include "flowd/engine/secrets.h"
#include "flowd/eventstore/event_store.h"
#include "flowd_process.h"
#include "postgres_fixture.h"

using namespace flowd;
using flowd::testing::eventually;
using flowd::testing::FlowdProcess;
using flowd::testing::run;
using flowd::testing::shell_quote;

namespace {

namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

// charge: reserve (compensated: release), then pay, which fails unless input.ok is true.
const char* kChargeV1 = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: charge, version: 1}
spec:
  input: {type: object, required: [orderId]}
  steps:
    - id: reserve
      type: transform
      with: {sku: "{{ input.orderId }}"}
      compensate: {type: log, with: {message: "release {{ self.output.sku }}"}}
    - id: pay
      dependsOn: [reserve]
      switch:
        value: "{{ input.ok }}"
        cases:
          - {match: true, type: transform, with: {paid: true}}
        default: {type: fail, with: {code: EXTERNAL, message: "card declined"}}
)";

// Version 2 pays whatever the input says.
const char* kChargeV2 = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: charge, version: 2}
spec:
  input: {type: object, required: [orderId]}
  steps:
    - {id: reserve, type: transform, with: {sku: "{{ input.orderId }}"}}
    - {id: pay, dependsOn: [reserve], type: transform, with: {paid: true}}
)";

const char* kQuiet = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: quiet, version: 1}
spec:
  deadLetter: {enabled: false}
  steps:
    - {id: boom, type: fail, with: {code: EXTERNAL}}
)";

class Cluster {
 public:
  Cluster(flowd::testing::PostgresDatabase& db, const fs::path& dir, const std::string& instance)
      : db_(db), dir_(dir), instance_(instance) {}

  void start() {
    const std::string address_file = (dir_ / "broker").string();
    flowd_ = std::make_unique<FlowdProcess>(
        std::vector<std::string>{"--database", db_.url(), "--workflows", (dir_ / "wf").string()},
        std::map<std::string, std::string>{{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                                           {"FLOWD_KAFKA_BOOTSTRAP_FILE", address_file},
                                           {"FLOWD_ENGINE_INSTANCE_ID", instance_}},
        (dir_ / ("flowd-" + std::to_string(++starts_) + ".log")).string());
    REQUIRE(flowd_->wait_running());
    REQUIRE(std::getline(std::ifstream(address_file), brokers_));
    auto listening = Json::parse(flowd_->find_line("HTTP API listening"));
    const std::string api = listening.at("url").get<std::string>();
    server_ = api.substr(0, api.size() - std::string("/api/v1").size());
  }
  FlowdProcess& flowd() { return *flowd_; }
  void kill() {
    flowd_->stop(SIGKILL);
    flowd_.reset();
  }

  // flowctl against this flowd's HTTP API.
  std::pair<int, std::string> flowctl(const std::string& args) {
    return run("FLOWD_ACTOR=tester " + std::string(FLOWD_BIN_DIR) + "/flowctl " + args +
               " --server " + server_ + " 2>&1");
  }
  Json flowctl_json(const std::string& args) {
    auto [status, out] = flowctl(args + " -o json");
    INFO(args << "\n" << out);
    REQUIRE(status == 0);
    return Json::parse(out);
  }
  std::string start(const std::string& workflow, const Json& input) {
    auto started =
        flowctl_json("executions start " + workflow + " --input " + shell_quote(input.dump()));
    return started.at("id").get<std::string>();
  }
  void produce(const std::string& topic, const std::string& value) {
    fs::path file = dir_ / "record.txt";
    write_file(file, value);
    auto [status, out] = run(std::string(FLOWD_KCAT) + " -P -b " + brokers_ + " -t " + topic + " " +
                             file.string() + " 2>&1");
    INFO(out);
    REQUIRE(status == 0);
  }
  const std::string& brokers() const { return brokers_; }

 private:
  flowd::testing::PostgresDatabase& db_;
  fs::path dir_;
  std::string instance_;
  std::unique_ptr<FlowdProcess> flowd_;
  std::string brokers_, server_;
  int starts_ = 0;
};

std::string letter_of(flowd::testing::PostgresDatabase& db, const std::string& execution) {
  std::string id;
  REQUIRE(eventually(
      [&] {
        id = db.query("SELECT id FROM dead_letters WHERE execution_id = '" + execution + "'");
        return !id.empty();
      },
      std::chrono::seconds(30)));
  return id;
}

bool state_is(flowd::testing::PostgresDatabase& db, const std::string& id,
              const std::string& state) {
  return eventually(
      [&] { return db.query("SELECT status FROM dead_letters WHERE id = " + id) == state; },
      std::chrono::seconds(30));
}

}  // namespace

TEST_CASE("Failed executions and poison records go through the dead-letter tooling",
          "[integration][dlq][kafka]") {
  flowd::testing::PostgresDatabase db;
  fs::path dir = fresh_dir("dlq_test_tooling");
  fs::create_directories(dir / "wf");
  write_file(dir / "wf" / "charge.yaml", kChargeV1);
  write_file(dir / "wf" / "quiet.yaml", kQuiet);
  Cluster c(db, dir, "dlq-test");
  c.start();

  const std::string e1 = c.start("charge", {{"orderId", "o1"}, {"ok", false}});
  const std::string e2 = c.start("charge", {{"orderId", "o2"}, {"ok", false}});
  const std::string e3 = c.start("charge", {{"orderId", "o3"}, {"ok", false}});
  const std::string quiet = c.start("quiet", Json::object());
  c.produce("flowd.triggers", "not json {");
  const std::string l1 = letter_of(db, e1), l2 = letter_of(db, e2), l3 = letter_of(db, e3);
  REQUIRE(eventually(
      [&] { return db.query("SELECT count(*) FROM dead_letters WHERE kind = 'trigger'") == "1"; },
      std::chrono::seconds(30)));
  REQUIRE(eventually([&] {
    return db.query("SELECT status FROM executions WHERE id = '" + quiet + "'") == "failed";
  }));
  // The projector is past quiet's failure once its checkpoint reached the last event in its
  // reading order, (tx_id, global_position) — not max(global_position): with two appender lanes
  // a later transaction can hold lower positions, and that wait could never end (a flake of one
  // run in five under ctest --parallel 2).
  REQUIRE(eventually([&] {
    return db.query(
               "SELECT (c.tx_id, c.global_position) >= (SELECT e.tx_id, e.global_position FROM "
               "events e ORDER BY e.tx_id DESC, e.global_position DESC LIMIT 1) FROM "
               "relay_checkpoints c WHERE c.name = 'flowd.dlq-projector'") == "t";
  }));
  CHECK(db.query("SELECT count(*) FROM dead_letters WHERE workflow = 'quiet'") == "0");

  // list, with filters; show: failure, failed step, compensation in the timeline, audit.
  auto all = c.flowctl_json("dlq list");
  CHECK(all["items"].size() == 4);
  auto executions = c.flowctl_json("dlq list --kind execution --error-code EXTERNAL --limit 2");
  CHECK(executions["items"].size() == 2);
  CHECK(executions.contains("nextPageToken"));
  auto page2 =
      c.flowctl_json("dlq list --kind execution --error-code EXTERNAL --limit 2 --page-token " +
                     executions["nextPageToken"].get<std::string>());
  CHECK(page2["items"].size() == 1);
  auto shown = c.flowctl_json("dlq show " + l1);
  CHECK(shown["deadLetter"]["state"] == "pending");
  CHECK(shown["deadLetter"]["workflow"] == "charge");
  CHECK(shown["deadLetter"]["failedStep"] == "pay");
  CHECK(shown["deadLetter"]["errorCode"] == "EXTERNAL");
  CHECK(shown["deadLetter"]["input"] == Json{{"orderId", "o1"}, {"ok", false}});
  CHECK(shown["failedStep"]["error"]["message"] == "card declined");
  std::vector<std::string> tail;
  for (const auto& e : shown["timeline"]) tail.push_back(e["type"].get<std::string>());
  REQUIRE(tail.size() >= 3);
  CHECK(
      std::vector<std::string>(tail.end() - 3, tail.end()) ==
      std::vector<std::string>{"CompensationStarted", "CompensationCompleted", "ExecutionFailed"});
  CHECK(shown["audit"][0]["type"] == "Created");
  auto [table_status, table] = c.flowctl("dlq show " + l1);
  CHECK(table_status == 0);
  CHECK(table.find("card declined") != std::string::npos);

  // retry with the same input: fails again, back to the same letter as its next attempt.
  auto r1 = c.flowctl_json("dlq retry " + l1);
  CHECK(r1["retryNumber"] == 1);
  CHECK(r1["mode"] == "same-input");
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT status || ' ' || attempts FROM dead_letters WHERE id = " + l1) ==
               "pending 2";
      },
      std::chrono::seconds(30)));
  CHECK(db.query("SELECT count(*) FROM dead_letters") == "4");
  // retry with a patched input: completes, resolves it.
  auto r2 = c.flowctl_json("dlq retry " + l1 + " --patch '{\"ok\": true}' --reason 'card fixed'");
  CHECK(r2["retryNumber"] == 2);
  CHECK(r2["input"] == Json{{"orderId", "o1"}, {"ok", true}});
  REQUIRE(state_is(db, l1, "resolved"));
  CHECK(db.query("SELECT retry_of FROM executions WHERE id = '" +
                 r2["executionId"].get<std::string>() + "'") == e1);

  // from the failed step: reserve's output is carried over (reused), not run again.
  auto r3 = c.flowctl_json("dlq retry " + l2 +
                           " --from-failed-step --input '{\"orderId\": \"o2\", \"ok\": true}'");
  CHECK(r3["reusedSteps"] == 1);
  REQUIRE(state_is(db, l2, "resolved"));
  const std::string x3 = r3["executionId"].get<std::string>();
  CHECK(db.query("SELECT data->>'reused' FROM events WHERE stream_id = 'execution-" + x3 +
                 "' AND type = 'StepCompleted' AND step = 'reserve'") == "true");
  CHECK(db.query("SELECT count(*) FROM events WHERE stream_id = 'execution-" + x3 +
                 "' AND type = 'StepStarted' AND step = 'reserve'") == "0");

  // onto a new definition version.
  write_file(dir / "charge-v2.yaml", kChargeV2);
  auto [applied, applied_out] = c.flowctl("workflows apply " + (dir / "charge-v2.yaml").string());
  INFO(applied_out);
  REQUIRE(applied == 0);
  auto r4 = c.flowctl_json("dlq retry " + l3 + " --version 2");
  CHECK(r4["workflowVersion"] == 2);
  REQUIRE(state_is(db, l3, "resolved"));

  // two retries of one letter at once start one execution.
  const std::string e5 = c.start("charge@1", {{"orderId", "o5"}, {"ok", false}});
  const std::string l5 = letter_of(db, e5);
  {
    std::thread a([&] { c.flowctl("dlq retry " + l5 + " --patch '{\"ok\": true}'"); });
    std::thread b([&] { c.flowctl("dlq retry " + l5 + " --patch '{\"ok\": true}'"); });
    a.join();
    b.join();
  }
  REQUIRE(state_is(db, l5, "resolved"));
  CHECK(db.query("SELECT count(*) FROM dead_letter_retries WHERE dead_letter_id = " + l5) == "1");
  CHECK(db.query("SELECT count(*) FROM executions WHERE dedupe_key LIKE 'dlq:" + l5 + ":%'") ==
        "1");

  // the poison record: decoding again fails; a corrected value starts it.
  const std::string lt = db.query("SELECT id FROM dead_letters WHERE kind = 'trigger'");
  auto [again, again_out] = c.flowctl("dlq retry " + lt);
  CHECK(again == 2);
  CHECK(again_out.find("still cannot start") != std::string::npos);
  auto rt = c.flowctl_json(
      "dlq retry " + lt +
      " --input '{\"workflow\": \"charge\", \"input\": {\"orderId\": \"t1\", \"ok\": true}}'");
  CHECK(rt["workflow"] == "charge");
  REQUIRE(state_is(db, lt, "resolved"));

  // discard needs a reason; archive; both audited with the actor.
  const std::string e6 = c.start("charge@1", {{"orderId", "o6"}, {"ok", false}});
  const std::string e7 = c.start("charge@1", {{"orderId", "o7"}, {"ok", false}});
  const std::string l6 = letter_of(db, e6), l7 = letter_of(db, e7);
  auto [no_reason, no_reason_out] = c.flowctl("dlq discard " + l6);
  CHECK(no_reason != 0);
  CHECK(c.flowctl_json("dlq discard " + l6 + " --reason 'duplicate order'")["state"] ==
        "discarded");
  CHECK(c.flowctl_json("dlq archive " + l7)["state"] == "archived");
  CHECK(db.query("SELECT actor || ':' || reason FROM dead_letter_events WHERE dead_letter_id = " +
                 l6 + " AND type = 'Discarded'") == "flowctl:tester:duplicate order");
  auto [retry_discarded, rd_out] = c.flowctl("dlq retry " + l6);
  CHECK(retry_discarded == 2);

  // bulk: a dry run retries nothing; the real run retries every match and watches outcomes.
  std::vector<std::string> bulk;
  for (int i = 0; i < 4; ++i)
    bulk.push_back(c.start("charge@1", {{"orderId", "b" + std::to_string(i)}, {"ok", false}}));
  for (const auto& e : bulk) letter_of(db, e);
  const std::string retries_before = db.query("SELECT count(*) FROM dead_letter_retries");
  auto dry = c.flowctl_json("dlq retry --workflow charge --error-code EXTERNAL --dry-run");
  CHECK(dry["matched"] == 4);
  CHECK(dry["retried"] == 0);
  CHECK(db.query("SELECT count(*) FROM dead_letter_retries") == retries_before);
  auto done = c.flowctl_json(
      "dlq retry --workflow charge --error-code EXTERNAL --patch '{\"ok\": true}' --rate 50/s "
      "--wait 60");
  CHECK(done["retried"] == 4);
  CHECK(done["outcomes"]["completed"] == 4);
  CHECK(db.query("SELECT count(*) FROM dead_letters WHERE status = 'pending'") == "0");
  auto stats = c.flowctl_json("dlq stats");
  CHECK(stats["byState"]["resolved"].get<int>() >= 8);
  CHECK(stats["retries"]["completed"].get<int>() >= 8);

  // flowd.dlq carries Spring Kafka's headers: a kcat consumer sees them.
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT count(*) FROM dead_letters WHERE published_at IS NULL") == "0";
      },
      std::chrono::seconds(30)));
  auto [consumed, records] = run(std::string(FLOWD_KCAT) + " -C -b " + c.brokers() +
                                 " -t flowd.dlq -o beginning -e -q -f '%h|%k\\n' 2>&1");
  INFO(records);
  CHECK(consumed == 0);
  CHECK(records.find("kafka_dlt-exception-fqcn=EXTERNAL") != std::string::npos);
  CHECK(records.find("kafka_dlt-exception-message=card declined") != std::string::npos);
  CHECK(records.find("kafka_dlt-exception-fqcn=NOT_JSON") != std::string::npos);
  CHECK(records.find("kafka_dlt-original-topic=flowd.triggers") != std::string::npos);
  CHECK(records.find("flowd-dlq-execution=" + e1) != std::string::npos);
  CHECK(c.flowd().stop(SIGTERM) == 0);
}

TEST_CASE("flowd killed while compensating finishes after a restart, each compensation once",
          "[integration][dlq][compensation][slow]") {
  flowd::testing::PostgresDatabase db;
  fs::path dir = fresh_dir("dlq_test_crash");
  fs::create_directories(dir / "wf");
  write_file(dir / "wf" / "saga.yaml", R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: saga, version: 1}
spec:
  steps:
    - id: first
      type: noop
      compensate: {type: log, with: {message: "undo first"}}
    - id: second
      dependsOn: [first]
      type: noop
      compensate: {type: sleep, with: {duration: 20s}, timeout: 60s}
    - {id: boom, dependsOn: [second], type: fail, with: {code: EXTERNAL, message: "boom"}}
)");
  Cluster c(db, dir, "dlq-crash");
  c.start();
  const std::string id = c.start("saga", Json::object());
  const std::string stream = "'execution-" + id + "'";
  // The sleeping compensation of `second` has started: kill flowd in the middle of it.
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT count(*) FROM events WHERE stream_id = " + stream +
                        " AND type = 'CompensationStarted' AND step = 'second'") == "1";
      },
      std::chrono::seconds(30)));
  c.kill();
  CHECK(db.query("SELECT status FROM executions WHERE id = '" + id + "'") == "running");
  CHECK(db.query("SELECT count(*) FROM dead_letters") == "0");
  c.start();
  REQUIRE(eventually(
      [&] { return db.query("SELECT status FROM executions WHERE id = '" + id + "'") == "failed"; },
      std::chrono::seconds(90)));
  // second's interrupted compensation ran again (attempt 2), then first's, once; order kept.
  CHECK(db.query("SELECT string_agg(type || ':' || step || ':' || attempt, ',' ORDER BY "
                 "stream_version) FROM events WHERE stream_id = " +
                 stream + " AND type LIKE 'Compensation%'") ==
        "CompensationStarted:second:1,CompensationStarted:second:2,CompensationCompleted:second:2,"
        "CompensationStarted:first:1,CompensationCompleted:first:1");
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT count(*) FROM dead_letters WHERE execution_id = '" + id + "'") ==
               "1";
      },
      std::chrono::seconds(30)));
  CHECK(c.flowd().stop(SIGTERM) == 0);
}

TEST_CASE("The projector masks secret values in a dead letter's error, message and input",
          "[integration][dlq][secrets]") {
  // The engine masks what it appends; here a value reaches the log unmasked (appended directly),
  // and the projector, which knows the value, still keeps it out of the dead letter.
  flowd::testing::PostgresDatabase db;
  const std::string secret = "projector-s3cret-value";
  eventstore::StoreOptions options;
  options.url = db.url();
  auto store = eventstore::EventStore::open(options);
  REQUIRE(store);
  const std::string id = "masked-1";
  Event started = Event::make(
      EventType::kExecutionStarted, "", 0,
      Json{{"workflow", "w"}, {"version", 1}, {"input", {{"token", secret}, {"n", 1}}}});
  REQUIRE((*store)->start_execution_sync(AppendRequest{id, 0, {started}}, Json::object()));
  Event failed = Event::make(
      EventType::kExecutionFailed, "", 0,
      Json{{"error", {{"code", "EXTERNAL"}, {"message", "refused " + secret}}}, {"step", "call"}});
  REQUIRE((*store)->append_sync(AppendRequest{id, 1, {failed}}));

  auto masker = std::make_shared<SecretMasker>();
  masker->remember(secret);
  dlq::DeadLetterProjectorOptions projector_options;
  projector_options.url = db.url();
  projector_options.masker = masker;
  auto projector = dlq::DeadLetterProjector::open(projector_options);
  REQUIRE(projector);
  REQUIRE(eventually([&] {
    if (!(*projector)->run_once()) return false;
    return db.query("SELECT count(*) FROM dead_letters WHERE execution_id = '" + id + "'") == "1";
  }));
  CHECK(db.query("SELECT reason_message FROM dead_letters WHERE execution_id = '" + id + "'") ==
        "refused ***");
  CHECK(db.query("SELECT last_error->>'message' FROM dead_letters WHERE execution_id = '" + id +
                 "'") == "refused ***");
  CHECK(db.query(
            "SELECT (input->>'token') || (input->>'n') FROM dead_letters WHERE execution_id = '" +
            id + "'") == "***1");
  CHECK(db.query("SELECT count(*) FROM dead_letters t WHERE t::text LIKE '%" + secret + "%'") ==
        "0");
  CHECK(db.query("SELECT count(*) FROM dead_letter_events t WHERE t::text LIKE '%" + secret +
                 "%'") == "0");
}
