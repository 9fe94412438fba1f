// The Kafka trigger path end to end through the real Kafka protocol (embedded broker on
// loopback) and a real PostgreSQL: records produced by a separate producer (and by kcat) become
// executions that complete; duplicates start once; poison records are dead-lettered with their
// original bytes and never block their partition; injected broker errors, a consumer restart and
// two instances sharing the partitions lose nothing and start nothing twice (proved in SQL).
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>

#include "trigger_harness.h"

using namespace flowd;
using namespace std::chrono_literals;
using flowd::testing::Cluster;
using flowd::testing::Instance;

namespace {

// Polls `pred` up to `limit` (generous: CI runs this under ASan on two busy cores).
template <class F>
bool within(std::chrono::milliseconds limit, F pred) {
  return flowd::testing::eventually(pred, limit);
}

void produce_envelopes(Cluster& c, int from, int to, bool with_id, const std::string& prefix) {
  for (int i = from; i < to; ++i) {
    const std::string name = prefix + std::to_string(i);
    c.kafka.produce("flowd.triggers", c.envelope(name, with_id ? "id-" + name : ""), name);
  }
}

// SQL proof that every trigger started exactly one execution: `expected` executions, as many
// distinct dedupe keys, all completed.
void require_exactly_once(Cluster& c, std::int64_t expected) {
  REQUIRE(within(120s, [&] { return c.completed() >= expected; }));
  CHECK(c.executions() == expected);
  CHECK(c.distinct_keys() == expected);
  CHECK(c.completed() == expected);
  CHECK(c.count("SELECT count(*) FROM events WHERE type = 'ExecutionStarted'") == expected);
}

}  // namespace

TEST_CASE("Trigger records become completed executions, duplicates start once",
          "[integration][kafka][trigger]") {
  Cluster c;
  Instance node(c, "node-1", "g-e2e", /*max_in_flight=*/8);  // small: back-pressure pauses
  node.config.pause_after = std::chrono::milliseconds(0);    // at once, not after holding
  node.start();

  produce_envelopes(c, 0, 60, true, "a");
  // The same event ids again (other input): nothing new starts.
  for (int i = 0; i < 10; ++i) {
    c.kafka.produce("flowd.triggers", c.envelope("changed", "id-a" + std::to_string(i)));
  }
  // One record published by the kcat program, from another process.
  const std::string command = std::string(FLOWD_KCAT) + " -P -b " + c.kafka.bootstrap() +
                              " -t flowd.triggers -k kcat-key -H source=kcat 2>&1";
  FILE* kcat = ::popen(command.c_str(), "w");
  REQUIRE(kcat != nullptr);
  const std::string payload = c.envelope("from-kcat", "kcat-1") + "\n";
  CHECK(std::fwrite(payload.data(), 1, payload.size(), kcat) == payload.size());
  INFO("command: " << command);
  REQUIRE(::pclose(kcat) == 0);

  require_exactly_once(c, 61);
  REQUIRE(within(60s, [&] { return node.sink->stats().duplicates >= 10; }));
  const auto stats = node.sink->stats();
  CHECK(stats.started == 61);
  CHECK(stats.duplicates == 10);
  CHECK(stats.dead_lettered == 0);
  CHECK(node.consumer->stats().pauses > 0);  // 71 records through 8 slots
  CHECK(c.count("SELECT count(*) FROM executions WHERE dedupe_key = 'kcat-1'"
                " AND status = 'completed'") == 1);
  // The first input won; the duplicate's input was not used.
  CHECK(c.db.query("SELECT data->'input'->>'name' FROM events e JOIN executions x"
                   " ON e.stream_id = 'execution-' || x.id WHERE x.dedupe_key = 'id-a3'"
                   " AND e.type = 'ExecutionStarted'") == "a3");
  // Context and dedupe key are in ExecutionStarted.
  CHECK(c.db.query("SELECT data->'context'->'trigger'->>'topic' FROM events"
                   " WHERE type = 'ExecutionStarted' AND data->>'dedupeKey' = 'kcat-1'") ==
        "flowd.triggers");
  // Nothing left to replay: every offset was stored after its start was durable.
  REQUIRE(within(30s, [&] { return node.consumer->stats().lag == 0; }));
}

TEST_CASE("Poison records are dead-lettered with their original bytes and do not block",
          "[integration][kafka][trigger][dlq]") {
  Cluster c(1);  // one partition: a blocked record would hold back everything after it
  Instance node(c, "node-1", "g-poison");
  node.start();

  const std::string not_json("\xff\x00{not json", 11);
  const std::string unknown = R"({"workflow":"nope","input":{},"id":"p-unknown"})";
  const std::string invalid = R"({"workflow":"greet","input":{"name":42},"id":"p-invalid"})";
  const std::string no_weight =
      R"({"specversion":"1.0","id":"s-1","type":"shipment","source":"/wh","data":{"to":"Rome"}})";
  const std::string binary_header("\x01\x00\xfe", 3);

  c.kafka.produce("flowd.triggers", c.envelope("before", "ok-1"), "k1");
  c.kafka.produce("flowd.triggers", not_json, std::string("bin\x00key", 7),
                  {{"h-bin", binary_header}, {"h-null", std::nullopt}});
  c.kafka.produce("flowd.triggers", unknown);
  c.kafka.produce("flowd.triggers", invalid, "k-invalid");
  c.kafka.produce("shipments", no_weight, std::nullopt,
                  {{"content-type", "application/cloudevents+json"}});
  c.kafka.produce("shipments",
                  R"({"specversion":"1.0","id":"s-2","type":"shipment","source":"/wh",)"
                  R"("data":{"to":"Oslo","weight":12}})",
                  std::nullopt, {{"content-type", "application/cloudevents+json"}});
  c.kafka.produce("flowd.triggers", c.envelope("after", "ok-2"), "k2");

  // The good records after the poison ones run: nothing blocked.
  require_exactly_once(c, 3);
  const bool four = within(60s, [&] { return c.count("SELECT count(*) FROM dead_letters") == 4; });
  INFO("dead letters: " << c.db.query("SELECT string_agg(reason_code || ' ' || dedupe_key || ' "
                                      "' || reason_message, '; ') FROM dead_letters"));
  INFO("sink: records " << node.sink->stats().records << ", retries "
                        << node.sink->stats().retries);
  REQUIRE(four);

  auto letters = node.dead_letters->list({});
  REQUIRE(letters);
  std::map<std::string, dlq::DeadLetter> by_code;
  for (const auto& d : *letters) by_code[d.reason_code] = d;
  REQUIRE(by_code.size() == 4);
  for (const char* code : {"NOT_JSON", "UNKNOWN_WORKFLOW", "INVALID_INPUT", "FILTER_ERROR"}) {
    INFO(code);
    REQUIRE(by_code.count(code) == 1);
    const auto& d = by_code[code];
    CHECK(d.kind == dlq::DeadLetterKind::kTrigger);
    CHECK(d.status == dlq::DeadLetterStatus::kPending);
    CHECK_FALSE(d.reason_message.empty());
    REQUIRE(d.source);
    CHECK(d.source->consumer_group == "g-poison");
    CHECK(d.source->timestamp_ms > 0);
  }
  const auto& nj = by_code["NOT_JSON"];
  CHECK(nj.source->topic == "flowd.triggers");
  CHECK(nj.source->partition == 0);
  CHECK(nj.source->offset == 1);
  CHECK(nj.source->value == not_json);
  CHECK(nj.source->key == std::optional<std::string>(std::string("bin\x00key", 7)));
  REQUIRE(nj.source->headers.size() == 2);
  CHECK(nj.source->headers[0].name == "h-bin");
  CHECK(nj.source->headers[0].value == std::optional<std::string>(binary_header));
  CHECK(nj.source->headers[1].name == "h-null");
  CHECK_FALSE(nj.source->headers[1].value.has_value());
  CHECK(by_code["UNKNOWN_WORKFLOW"].source->value == unknown);
  CHECK_FALSE(by_code["UNKNOWN_WORKFLOW"].source->key.has_value());
  CHECK(by_code["INVALID_INPUT"].workflow == "greet");
  CHECK(by_code["INVALID_INPUT"].source->key == std::optional<std::string>("k-invalid"));
  CHECK(by_code["FILTER_ERROR"].workflow == "ship");
  CHECK(by_code["FILTER_ERROR"].source->topic == "shipments");
  CHECK(by_code["FILTER_ERROR"].source->value == no_weight);

  // The same four on flowd.dlq, original bytes plus the reason in headers.
  auto dlq_records = c.kafka.read("flowd.dlq", 4);
  REQUIRE(dlq_records.size() == 4);
  std::map<std::string, triggers::Record> dlq_by_code;
  for (const auto& r : dlq_records) {
    const std::string* code = r.header("flowd-dlq-reason-code");
    REQUIRE(code != nullptr);
    dlq_by_code[*code] = r;
  }
  REQUIRE(dlq_by_code.count("NOT_JSON") == 1);
  const auto& r = dlq_by_code["NOT_JSON"];
  CHECK(r.value == not_json);
  CHECK(r.key == std::optional<std::string>(std::string("bin\x00key", 7)));
  REQUIRE(r.header("h-bin"));
  CHECK(*r.header("h-bin") == binary_header);
  REQUIRE(r.header("flowd-dlq-original-offset"));
  CHECK(*r.header("flowd-dlq-original-offset") == "1");
  REQUIRE(within(30s, [&] {
    return c.count("SELECT count(*) FROM dead_letters WHERE published_at IS NOT NULL") == 4;
  }));

  // A second group reads everything again: the dead letters and starts dedupe (one row each).
  Instance replay(c, "node-2", "g-poison-replay");
  replay.start();
  REQUIRE(within(60s, [&] {
    return replay.consumer->stats().started + replay.consumer->stats().dead_lettered >= 7;
  }));
  CHECK(c.count("SELECT count(*) FROM dead_letters") == 4);
  CHECK(replay.sink->stats().dead_lettered == 4);
  CHECK(replay.sink->stats().duplicates == 3);  // ok-1, s-2 and ok-2
  CHECK(c.executions() == 3);
  auto counts = node.dead_letters->count_by_status(dlq::DeadLetterKind::kTrigger);
  REQUIRE(counts);
  CHECK((*counts)[dlq::DeadLetterStatus::kPending] == 4);
}

TEST_CASE("Broker errors injected mid-stream lose no trigger and start none twice",
          "[integration][kafka][trigger][faults]") {
  Cluster c;
  Instance node(c, "node-1", "g-faults");
  node.start();
  produce_envelopes(c, 0, 20, false, "f");  // no ids: dedupe by topic/partition/offset
  REQUIRE(within(120s, [&] { return c.completed() >= 5; }));

  using triggers::KafkaApi;
  namespace ke = triggers::kafka_error;
  c.kafka.broker().push_request_errors(
      KafkaApi::kFetch, {ke::kTransport, ke::kNotLeaderForPartition, ke::kTransport});
  c.kafka.broker().push_request_errors(KafkaApi::kOffsetCommit,
                                       {ke::kRequestTimedOut, ke::kCoordinatorNotAvailable});
  c.kafka.broker().push_request_errors(KafkaApi::kHeartbeat, {ke::kTransport});
  produce_envelopes(c, 20, 40, false, "f");

  // The broker goes down for a while; records produced meanwhile wait in the producer.
  REQUIRE(c.kafka.broker().set_broker_down(1));
  std::this_thread::sleep_for(1s);  // the outage itself (not a synchronisation)
  REQUIRE(c.kafka.broker().set_broker_up(1));
  produce_envelopes(c, 40, 60, false, "f");

  require_exactly_once(c, 60);
  REQUIRE(within(60s, [&] { return node.consumer->stats().lag == 0; }));
  CHECK(node.sink->stats().dead_lettered == 0);
}

TEST_CASE("A consumer restarted mid-stream resumes from stored offsets without double starts",
          "[integration][kafka][trigger][restart]") {
  Cluster c;
  Instance node(c, "node-1", "g-restart");
  node.start();
  produce_envelopes(c, 0, 30, false, "r");
  REQUIRE(within(120s, [&] { return node.sink->stats().started >= 10; }));

  // Restart the consumer and sink while records may still be in flight.
  node.consumer->stop();
  node.consumer.reset();
  node.sink->stop();
  node.sink = std::make_unique<service::StoreTriggerSink>(*node.trigger_store, *node.dead_letters,
                                                          node.dlq_publisher);
  node.sink->start();
  produce_envelopes(c, 30, 60, false, "r");
  node.start_consumer();

  require_exactly_once(c, 60);
  REQUIRE(within(60s, [&] { return node.consumer->stats().lag == 0; }));
  // Whatever the second consumer received again was a duplicate, not a new execution.
  CHECK(node.sink->stats().started + node.sink->stats().duplicates >= 30);
}

TEST_CASE("Two instances in one group share the partitions and start every trigger once",
          "[integration][kafka][trigger][group]") {
  Cluster c(4);
  Instance a(c, "node-a", "g-shared");
  Instance b(c, "node-b", "g-shared");
  a.start();
  b.start();
  REQUIRE(within(60s, [&] {
    return a.consumer->stats().assigned_partitions > 0 &&
           b.consumer->stats().assigned_partitions > 0;
  }));
  for (int i = 0; i < 80; ++i) {
    const std::string name = "s" + std::to_string(i);
    c.kafka.produce("flowd.triggers", c.envelope(name, i % 2 == 0 ? "id-" + name : ""), name);
  }
  REQUIRE(within(120s, [&] { return c.executions() >= 40; }));
  // One instance leaves mid-stream: its partitions move to the other (cooperative rebalance).
  b.stop();
  for (int i = 80; i < 120; ++i) {
    const std::string name = "s" + std::to_string(i);
    c.kafka.produce("flowd.triggers", c.envelope(name, i % 2 == 0 ? "id-" + name : ""), name);
  }
  require_exactly_once(c, 120);
  CHECK(a.sink->stats().started > 0);
  CHECK(b.sink->stats().started > 0);
  CHECK(a.sink->stats().started + b.sink->stats().started == 120);
  REQUIRE(within(60s, [&] { return a.consumer->stats().lag == 0; }));
}

// Hidden (run with its tag): how many records per second the path turns into durable
// ExecutionStarted events, and the produce → ExecutionStarted latency, on this machine.
TEST_CASE("Trigger path throughput", "[.][throughput][kafka]") {
  Cluster c(4);
  const int n = 5'000;
  // Produce the backlog first (batched by the producer), then start the consumer on it.
  auto producer = c.kafka.producer();
  std::atomic<int> delivered{0};
  for (int i = 0; i < n; ++i) {
    triggers::OutgoingRecord r;
    r.topic = "flowd.triggers";
    r.key = "t" + std::to_string(i);
    r.value = c.envelope("t" + std::to_string(i), "tp-" + std::to_string(i));
    REQUIRE(producer->send(std::move(r), [&](Result<triggers::Delivery> d) {
      if (d) delivered.fetch_add(1);
    }));
  }
  REQUIRE(producer->flush(60s));
  REQUIRE(delivered.load() == n);

  Instance node(c, "node-1", "g-throughput", 4'096);
  node.sink->start();  // no runner: measure the start path alone
  const auto begin = std::chrono::steady_clock::now();
  node.start_consumer();
  REQUIRE(within(120s, [&] { return node.sink->stats().started > 0; }));
  const auto first = std::chrono::steady_clock::now();  // the group join is behind us
  const auto first_count = node.sink->stats().started;
  REQUIRE(
      within(300s, [&] { return node.sink->stats().started >= static_cast<std::uint64_t>(n); }));
  const auto end = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end - first).count();
  WARN("backlog of " << n << " records: first start after "
                     << std::chrono::duration<double>(first - begin).count()
                     << " s (group join), then " << (n - first_count) / seconds
                     << " durable starts/s; appender transactions "
                     << node.trigger_store->appender_stats().batches);
  // Latency, one record at a time: produce (acked) → durable ExecutionStarted seen by the sink.
  std::vector<double> latencies;
  for (int i = 0; i < 500; ++i) {
    const auto sent = std::chrono::steady_clock::now();
    c.kafka.produce("flowd.triggers", c.envelope("l", "lat-" + std::to_string(i)));
    const auto target = static_cast<std::uint64_t>(n + i + 1);
    const auto deadline = sent + 30s;
    while (node.sink->stats().started < target && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(200us);
    }
    REQUIRE(node.sink->stats().started >= target);
    latencies.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
  }
  std::sort(latencies.begin(), latencies.end());
  WARN("produce -> ExecutionStarted (sequential, incl. produce ack): p50 "
       << latencies[latencies.size() / 2] << " ms, p99 " << latencies[latencies.size() * 99 / 100]
       << " ms");
}

TEST_CASE("A dead letter whose flowd.dlq publish fails keeps its row and is published later",
          "[integration][kafka][trigger][dlq][faults]") {
  Cluster c(1);
  Instance node(c, "node-1", "g-dlq-retry");
  // A producer that gives up quickly, and a sink that sweeps often.
  auto config = c.kafka.producer_config();
  config.delivery_timeout = 1s;
  config.idempotent = false;
  auto producer = triggers::KafkaProducer::create(config);
  REQUIRE(producer);
  node.dlq_publisher = std::make_shared<triggers::DlqPublisher>(*producer);
  service::TriggerSinkOptions options;
  options.consumer_group = "g-dlq-retry";
  options.republish_after = 0ms;
  options.republish_interval = 200ms;
  node.sink = std::make_unique<service::StoreTriggerSink>(*node.trigger_store, *node.dead_letters,
                                                          node.dlq_publisher, options);

  c.kafka.broker().set_topic_error("flowd.dlq", triggers::kafka_error::kLeaderNotAvailable);
  node.start();
  c.kafka.produce("flowd.triggers", "not json", "k");
  c.kafka.produce("flowd.triggers", c.envelope("after", "after-1"));
  // The row is durable and the partition moved on, although flowd.dlq refuses the record.
  require_exactly_once(c, 1);
  REQUIRE(within(60s, [&] { return node.sink->stats().dlq_publish_failures > 0; }));
  CHECK(c.count("SELECT count(*) FROM dead_letters WHERE published_at IS NULL") == 1);

  c.kafka.broker().set_topic_error("flowd.dlq", 0);
  REQUIRE(within(60s, [&] {
    return c.count("SELECT count(*) FROM dead_letters WHERE published_at IS NOT NULL") == 1;
  }));
  auto records = c.kafka.read("flowd.dlq", 1);
  REQUIRE(records.size() >= 1);
  CHECK(records[0].value == "not json");
  CHECK(c.count("SELECT count(*) FROM dead_letters") == 1);
  node.stop();
}
