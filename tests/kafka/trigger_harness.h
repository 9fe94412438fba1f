#pragma once
// The Kafka trigger path as flowd wires it, for the end-to-end tests: an embedded broker and a
// fresh PostgreSQL database shared by one or more Instances, each a flowd instance's parts
// (TriggerConsumer → StoreTriggerSink → event store, DurableRunner, dead-letter store, DLQ
// producer). Records come from the fixture's separate producer (or kcat).
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "durable_runner.h"
#include "durable_support.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/eventstore/commands.h"
#include "flowd/triggers/consumer.h"
#include "kafka_fixture.h"
#include "postgres_fixture.h"
#include "trigger_sink.h"

namespace flowd::testing {

// greet@1 takes envelopes on flowd.triggers; ship@1 is bound to `shipments` (CloudEvents or plain
// JSON) with a filter that fails to evaluate when data.weight is missing.
inline const char* kGreetYaml = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: greet, version: 1}
spec:
  input:
    type: object
    required: [name]
    properties: {name: {type: string}}
  steps:
    - {id: hello, type: transform, with: {greeting: "hello {{ input.name }}"}}
  output: {greeting: "{{ steps.hello.output.greeting }}"}
)";

inline const char* kShipYaml = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: ship, version: 1}
spec:
  input:
    type: object
    required: [to]
    properties: {to: {type: string}}
  steps:
    - {id: label, type: transform, with: {to: "{{ input.to }}"}}
  triggers:
    - kafka: {topic: shipments, filter: "{{ event.data.weight }} > 10", input: "{{ event.data }}"}
)";

struct Cluster {
  explicit Cluster(int partitions = 3) : kafka({"shipments"}, partitions) {
    eventstore::StoreOptions options;
    options.url = db.url();
    auto s = eventstore::EventStore::open(options);
    INFO((s ? "" : s.error().message));
    REQUIRE(s);
    admin = std::move(*s);
    definitions = {apply_yaml(*admin, kGreetYaml), apply_yaml(*admin, kShipYaml)};
    auto r = triggers::TriggerRouter::build(definitions);
    REQUIRE(r);
    router = *r;
  }

  std::int64_t count(const std::string& sql) const { return std::stoll(db.query(sql)); }
  std::int64_t executions() const { return count("SELECT count(*) FROM executions"); }
  std::int64_t completed() const {
    return count("SELECT count(*) FROM executions WHERE status = 'completed'");
  }
  // Every dedupe key used by exactly one execution (the unique constraint says so; this says the
  // test's keys are all there).
  std::int64_t distinct_keys() const {
    return count("SELECT count(DISTINCT dedupe_key) FROM executions");
  }

  std::string envelope(const std::string& name, const std::string& id = {}) const {
    Json e{{"workflow", "greet"}, {"input", {{"name", name}}}};
    if (!id.empty()) e["id"] = id;
    return e.dump();
  }

  PostgresDatabase db;
  KafkaFixture kafka;
  std::unique_ptr<eventstore::EventStore> admin;
  std::vector<std::shared_ptr<const Definition>> definitions;
  std::shared_ptr<const triggers::TriggerRouter> router;
};

// One flowd instance's Kafka path and runner. Start order: sink, runner, consumer; stop order:
// consumer, sink, runner, stores (as the daemon does).
struct Instance {
  Instance(Cluster& cluster, const std::string& name, const std::string& group,
           std::size_t max_in_flight = 1024)
      : name(name) {
    eventstore::StoreOptions trigger_options;
    trigger_options.url = cluster.db.url();  // no owner: started executions are unowned
    auto ts = eventstore::EventStore::open(trigger_options);
    REQUIRE(ts);
    trigger_store = std::move(*ts);

    eventstore::StoreOptions run_options;
    run_options.url = cluster.db.url();
    run_options.owner = name;
    run_options.lease_ttl = std::chrono::seconds(10);
    auto rs = eventstore::EventStore::open(run_options);
    REQUIRE(rs);
    run_store = std::move(*rs);
    auto c = eventstore::CommandQueue::open(cluster.db.url());
    REQUIRE(c);
    commands = std::move(*c);
    service::DurableRunnerOptions runner_options;
    runner_options.owner = name;
    runner_options.lease_ttl = std::chrono::seconds(10);
    runner_options.poll_interval = std::chrono::milliseconds(20);
    runner = std::make_unique<service::DurableRunner>(*run_store, *commands, runner_options);

    auto d = dlq::DeadLetterStore::open({cluster.db.url(), 2});
    INFO((d ? "" : d.error().message));
    REQUIRE(d);
    dead_letters = std::move(*d);
    dlq_publisher = std::make_shared<triggers::DlqPublisher>(cluster.kafka.producer());
    service::TriggerSinkOptions sink_options;
    sink_options.consumer_group = group;
    sink = std::make_unique<service::StoreTriggerSink>(*trigger_store, *dead_letters, dlq_publisher,
                                                       sink_options);
    config = cluster.kafka.consumer_config(group, {"flowd.triggers"});
    config.client_id = name;
    config.max_in_flight = max_in_flight;
    router = cluster.router;
  }

  ~Instance() { stop(); }

  void start() {
    sink->start();
    runner->start();
    start_consumer();
  }
  void start_consumer() {
    auto c = triggers::TriggerConsumer::create(config, router, *sink);
    INFO((c ? "" : c.error().message));
    REQUIRE(c);
    consumer = std::move(*c);
    REQUIRE(consumer->start());
  }
  void stop() {
    if (consumer) consumer->stop();
    consumer.reset();
    if (sink) sink->stop();
    if (runner) runner->stop(std::chrono::seconds(10));
    runner.reset();
  }

  std::string name;
  std::unique_ptr<eventstore::EventStore> trigger_store;
  std::unique_ptr<eventstore::EventStore> run_store;
  std::unique_ptr<eventstore::CommandQueue> commands;
  std::unique_ptr<service::DurableRunner> runner;
  std::unique_ptr<dlq::DeadLetterStore> dead_letters;
  std::shared_ptr<triggers::DlqPublisher> dlq_publisher;
  std::unique_ptr<service::StoreTriggerSink> sink;
  triggers::ConsumerConfig config;
  std::shared_ptr<const triggers::TriggerRouter> router;
  std::unique_ptr<triggers::TriggerConsumer> consumer;
};

}  // namespace flowd::testing
