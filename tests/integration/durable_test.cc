// Durable executions end to end on a real PostgreSQL: the DurableRunner claims what was started
// through the store, writes every event through the event store, applies commands, and a second
// runner resumes what the first left behind.
#include <thread>

#include "durable_runner.h"
#include "durable_support.h"
#include "flowd/eventstore/commands.h"
#include "postgres_fixture.h"

using namespace flowd;
using flowd::testing::apply_yaml;
using flowd::testing::eventually;
using flowd::testing::start_durable;

namespace {

const char* kThreeSteps = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: durable-three, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {n: "{{ input.n }}"}}
    - {id: b, type: transform, dependsOn: [a], with: {m: "{{ steps.a.output.n }}"}}
    - {id: c, type: noop, dependsOn: [b]}
  output: {m: "{{ steps.b.output.m }}"}
)";

struct Node {
  explicit Node(const std::string& url, const std::string& owner,
                std::chrono::milliseconds lease = std::chrono::seconds(10)) {
    eventstore::StoreOptions options;
    options.url = url;
    options.owner = owner;
    options.lease_ttl = lease;
    auto s = eventstore::EventStore::open(options);
    REQUIRE(s);
    store = std::move(*s);
    auto c = eventstore::CommandQueue::open(url);
    REQUIRE(c);
    commands = std::move(*c);
    service::DurableRunnerOptions runner_options;
    runner_options.owner = owner;
    runner_options.lease_ttl = lease;
    runner_options.poll_interval = std::chrono::milliseconds(20);
    runner_options.snapshot_every = 5;
    runner = std::make_unique<service::DurableRunner>(*store, *commands, runner_options);
  }
  std::unique_ptr<eventstore::EventStore> store;
  std::unique_ptr<eventstore::CommandQueue> commands;
  std::unique_ptr<service::DurableRunner> runner;
};

ExecutionStatus status_of(eventstore::EventStore& store, const std::string& id) {
  auto record = store.get_execution(id);
  REQUIRE(record);
  REQUIRE(*record);
  return (*record)->status;
}

}  // namespace

TEST_CASE("A started execution is claimed, run durably and can be replayed",
          "[integration][durable]") {
  flowd::testing::PostgresDatabase db;
  Node node(db.url(), "node-1");
  auto def = apply_yaml(*node.store, kThreeSteps);
  node.runner->start();
  auto started = start_durable(*node.store, *def, Json{{"n", 7}}, "order-7");
  REQUIRE_FALSE(started.duplicate);
  REQUIRE(eventually(
      [&] { return status_of(*node.store, started.execution_id) == ExecutionStatus::kCompleted; }));

  // Exactly-once start: the same dedupe key returns the first execution.
  auto again = start_durable(*node.store, *def, Json{{"n", 8}}, "order-7");
  CHECK(again.duplicate);
  CHECK(again.execution_id == started.execution_id);

  auto events = node.store->read_stream(started.execution_id);
  REQUIRE(events);
  std::vector<Event> plain;
  for (const auto& e : *events) plain.push_back(e.event);
  auto replayed = fold(started.execution_id, plain);
  CHECK(replayed.status == ExecutionStatus::kCompleted);
  CHECK(replayed.output == Json{{"m", 7}});
  auto loaded = node.store->load_state(started.execution_id);  // from a snapshot + tail
  REQUIRE(loaded);
  CHECK(loaded->to_json().dump() == replayed.to_json().dump());
  CHECK(db.query("SELECT count(*) FROM snapshots") != "0");
  node.runner->stop(std::chrono::seconds(5));
}

TEST_CASE("Pause, resume and cancel reach the engine through the command queue, audited",
          "[integration][durable]") {
  flowd::testing::PostgresDatabase db;
  Node node(db.url(), "node-1");
  auto def = apply_yaml(*node.store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: slow, version: 1}
spec:
  steps:
    - {id: a, type: sleep, with: {duration: 300ms}}
    - {id: b, type: sleep, dependsOn: [a], with: {duration: 300ms}}
    - {id: c, type: sleep, dependsOn: [b], with: {duration: 10s}}
)");
  node.runner->start();
  auto run = start_durable(*node.store, *def, Json::object());
  REQUIRE(eventually(
      [&] { return status_of(*node.store, run.execution_id) == ExecutionStatus::kRunning; }));
  REQUIRE(node.commands->enqueue(run.execution_id, "pause", Json{{"reason", "maint"}}, "tester"));
  REQUIRE(eventually(
      [&] { return status_of(*node.store, run.execution_id) == ExecutionStatus::kPaused; }));
  REQUIRE(node.commands->enqueue(run.execution_id, "resume", Json::object(), "tester"));
  REQUIRE(eventually(
      [&] { return status_of(*node.store, run.execution_id) == ExecutionStatus::kRunning; }));
  REQUIRE(node.commands->enqueue(run.execution_id, "cancel", Json::object(), "tester"));
  REQUIRE(eventually(
      [&] { return status_of(*node.store, run.execution_id) == ExecutionStatus::kCancelled; }));
  CHECK(db.query("SELECT count(*) FROM execution_commands WHERE processed_at IS NULL") == "0");
  CHECK(db.query("SELECT string_agg(type, ',' ORDER BY stream_version) FROM events WHERE type "
                 "LIKE 'Execution%' AND type <> 'ExecutionStarted'") ==
        "ExecutionPaused,ExecutionResumed,ExecutionCancelled");
  node.runner->stop(std::chrono::seconds(5));
}

TEST_CASE("A second instance resumes what a stopped one left running, without re-running steps",
          "[integration][durable][resume]") {
  flowd::testing::PostgresDatabase db;
  auto lease = std::chrono::milliseconds(500);
  auto first = std::make_unique<Node>(db.url(), "node-1", lease);
  auto def = apply_yaml(*first->store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: long, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {x: 1}}
    - {id: b, type: sleep, dependsOn: [a], with: {duration: 1500ms}}
    - {id: c, type: transform, dependsOn: [b], with: {y: "{{ steps.a.output.x }}"}}
)");
  first->runner->start();
  auto run = start_durable(*first->store, *def, Json::object());
  REQUIRE(eventually([&] {
    return db.query("SELECT count(*) FROM events WHERE type = 'StepStarted' AND step = 'b'") == "1";
  }));
  first->runner->stop(std::chrono::milliseconds(0));  // walks away with b in flight
  first.reset();

  Node second(db.url(), "node-2", lease);
  second.runner->start();
  REQUIRE(eventually(
      [&] { return status_of(*second.store, run.execution_id) == ExecutionStatus::kCompleted; }));
  CHECK(db.query("SELECT count(*) FROM events WHERE type = 'StepStarted' AND step = 'a'") == "1");
  CHECK(db.query("SELECT max(attempt) FROM events WHERE type = 'StepStarted' AND step = 'b'") ==
        "2");
  auto state = second.store->load_state(run.execution_id);
  REQUIRE(state);
  CHECK(state->output == Json{{"a", {{"x", 1}}}, {"b", {{"sleptMs", 1500}}}, {"c", {{"y", 1}}}});
  second.runner->stop(std::chrono::seconds(5));
}

TEST_CASE("A resumed parent adopts its sub-workflow execution instead of starting it again",
          "[integration][durable][resume][subworkflow]") {
  flowd::testing::PostgresDatabase db;
  auto lease = std::chrono::milliseconds(500);
  auto first = std::make_unique<Node>(db.url(), "node-1", lease);
  apply_yaml(*first->store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: slow-child, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {x: 1}}
    - {id: b, type: sleep, dependsOn: [a], with: {duration: 1500ms}}
  output: {x: "{{ steps.a.output.x }}"}
)");
  auto parent = apply_yaml(*first->store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: parent, version: 1}
spec:
  steps:
    - {id: call, type: workflow, with: {ref: slow-child@1}}
  output: "{{ steps.call.output }}"
)");
  first->runner->start();
  auto run = start_durable(*first->store, *parent, Json::object());
  const std::string child = run.execution_id + ".call.1";
  REQUIRE(eventually([&] {
    return db.query(
               "SELECT count(*) FROM events WHERE type = 'StepStarted' AND step = 'b' AND "
               "stream_id = 'execution-" +
               child + "'") == "1";
  }));
  first->runner->stop(std::chrono::milliseconds(0));  // walks away with the child in flight
  first.reset();

  Node second(db.url(), "node-2", lease);
  second.runner->start();
  REQUIRE(eventually(
      [&] { return status_of(*second.store, run.execution_id) == ExecutionStatus::kCompleted; }));
  CHECK(status_of(*second.store, child) == ExecutionStatus::kCompleted);
  // One child, its step a run once, b retried as attempt 2; the parent's step as attempt 2.
  CHECK(db.query("SELECT count(*) FROM executions") == "2");
  CHECK(db.query("SELECT count(*) FROM events WHERE type = 'StepStarted' AND step = 'a'") == "1");
  CHECK(db.query("SELECT max(attempt) FROM events WHERE type = 'StepStarted' AND step = 'b'") ==
        "2");
  CHECK(db.query("SELECT owner FROM executions WHERE id = '" + child + "'") == "node-2");
  auto state = second.store->load_state(run.execution_id);
  REQUIRE(state);
  CHECK(state->output == Json{{"x", 1}});
  CHECK(state->steps.at("call").attempts == 2);
  second.runner->stop(std::chrono::seconds(5));
}

TEST_CASE("A sub-workflow execution whose parent ended without it is cancelled, not run",
          "[integration][durable][subworkflow]") {
  flowd::testing::PostgresDatabase db;
  Node node(db.url(), "node-1", std::chrono::milliseconds(500));
  auto child_definition = apply_yaml(*node.store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: orphan-child, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {x: 1}}
)");
  auto parent_definition = apply_yaml(*node.store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: orphan-parent, version: 1}
spec:
  steps:
    - {id: call, type: workflow, with: {ref: orphan-child@1}}
)");
  // What an instance that died between the parent's end and its child's leaves behind.
  auto parent = start_durable(*node.store, *parent_definition, Json::object());
  Event parent_cancelled =
      Event::make(EventType::kExecutionCancelled, {}, 0, {{"reason", "operator"}});
  REQUIRE(node.store->append_sync(AppendRequest{parent.execution_id, 1, {parent_cancelled}}));
  StartOptions options;
  options.execution_id = parent.execution_id + ".call.1";
  options.parent_execution = parent.execution_id;
  options.parent_step = "call";
  Event child_started = started_event(*child_definition, options);
  REQUIRE(
      node.store->start_execution_sync(AppendRequest{options.execution_id, 0, {child_started}}));

  node.runner->start();
  REQUIRE(eventually(
      [&] { return status_of(*node.store, options.execution_id) == ExecutionStatus::kCancelled; }));
  const std::string stream = "'execution-" + options.execution_id + "'";
  CHECK(db.query("SELECT data->>'reason' FROM events WHERE type = 'ExecutionCancelled' AND "
                 "stream_id = " +
                 stream) == "its parent execution ended before it did");
  CHECK(db.query("SELECT count(*) FROM events WHERE type = 'StepStarted' AND stream_id = " +
                 stream) == "0");
  CHECK(status_of(*node.store, parent.execution_id) == ExecutionStatus::kCancelled);
  node.runner->stop(std::chrono::seconds(5));
}
