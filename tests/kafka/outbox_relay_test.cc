// The outbox relay: committed execution events reach flowd.events in order per execution, with
// their id / version / position in headers; nothing uncommitted is published; a restart, a
// broker outage and a second relay on standby lose nothing and duplicate only what consumers
// can drop by event id.
#include <pqxx/pqxx>
#include <set>

#include "outbox_relay.h"
#include "trigger_harness.h"

using namespace flowd;
using namespace std::chrono_literals;
using flowd::testing::Cluster;
using flowd::testing::Instance;

namespace {

template <class F>
bool within(std::chrono::milliseconds limit, F pred) {
  return flowd::testing::eventually(pred, limit);
}

void start_greetings(Cluster& c, int from, int to) {
  for (int i = from; i < to; ++i) {
    flowd::testing::start_durable(*c.admin, *c.definitions[0],
                                  Json{{"name", "o" + std::to_string(i)}},
                                  "outbox-" + std::to_string(i));
  }
}

// The position of the last event in the relay's reading order, (tx_id, global_position): the
// checkpoint of a relay that caught up. Not max(global_position): with concurrent appenders a
// later transaction can hold lower positions, and a relay at the highest position may still have
// that transaction's events ahead of it.
std::int64_t max_position(Cluster& c) {
  return c.count(
      "SELECT coalesce((SELECT global_position FROM events "
      "ORDER BY tx_id DESC, global_position DESC LIMIT 1), 0)");
}

struct Relay {
  Relay(Cluster& c, std::shared_ptr<triggers::KafkaProducer> producer,
        std::chrono::milliseconds delivery_timeout = 20s) {
    service::OutboxRelayOptions options;
    options.url = c.db.url();
    options.lock_retry = 200ms;
    options.delivery_timeout = delivery_timeout;
    options.retry_backoff = 50ms;
    options.max_retry_backoff = 500ms;
    relay = std::make_unique<service::OutboxRelay>(
        *c.admin, std::make_shared<triggers::OutboxPublisher>(std::move(producer)), options);
    relay->start();
  }
  std::unique_ptr<service::OutboxRelay> relay;
};

// Checks what flowd.events holds against the events table: every committed event at least once
// (by flowd-event-id), nothing else, and each execution's events in version order on its
// partition. Returns the number of duplicate deliveries.
std::size_t check_topic(Cluster& c) {
  const auto total = static_cast<std::size_t>(c.count("SELECT count(*) FROM events"));
  std::vector<triggers::Record> records;
  REQUIRE(within(120s, [&] {
    records = c.kafka.read("flowd.events", total, 10s);
    return records.size() >= total;
  }));
  std::set<std::string> ids;
  std::map<std::string, std::int64_t> last_version;  // by execution (record key)
  for (const auto& r : records) {
    REQUIRE(r.key);
    const std::string* id = r.header("flowd-event-id");
    const std::string* version = r.header("flowd-event-version");
    REQUIRE(id != nullptr);
    REQUIRE(version != nullptr);
    REQUIRE(r.header("flowd-event-type") != nullptr);
    REQUIRE(r.header("flowd-event-position") != nullptr);
    const Json value = Json::parse(r.value);
    CHECK(value["executionId"] == *r.key);
    CHECK(value["eventId"] == *id);
    const std::int64_t v = std::stoll(*version);
    auto [it, first] = last_version.try_emplace(*r.key, v);
    if (first) {
      CHECK(v == 1);
    } else {
      // In order; a redelivered run starts again at or before where it was (at-least-once).
      CHECK((v == it->second + 1 || v <= it->second));
      it->second = v;
    }
    ids.insert(*id);
  }
  CHECK(ids.size() == total);
  CHECK(static_cast<std::int64_t>(ids.size()) ==
        c.count("SELECT count(*) FROM events"));  // nothing that is not in the table
  for (const auto& [execution, version] : last_version) {
    INFO(execution);
    CHECK(version ==
          c.count("SELECT version FROM streams WHERE stream_id = 'execution-" + execution + "'"));
  }
  return records.size() - ids.size();
}

}  // namespace

TEST_CASE("The outbox relay publishes committed events in order per execution",
          "[integration][kafka][outbox]") {
  Cluster c;
  Instance node(c, "node-1", "g-outbox");
  node.runner->start();
  start_greetings(c, 0, 10);
  REQUIRE(within(120s, [&] { return c.completed() == 10; }));

  {
    Relay relay(c, c.kafka.producer());
    REQUIRE(within(
        60s, [&] { return relay.relay->stats().checkpoint.global_position == max_position(c); }));
    CHECK(relay.relay->stats().active);
    CHECK(check_topic(c) == 0);
    CHECK(c.count("SELECT published FROM relay_checkpoints WHERE name = 'flowd.events'") ==
          c.count("SELECT count(*) FROM events"));
  }

  // Restart: the next relay continues from the checkpoint.
  start_greetings(c, 10, 15);
  REQUIRE(within(120s, [&] { return c.completed() == 15; }));
  Relay again(c, c.kafka.producer());
  REQUIRE(within(
      60s, [&] { return again.relay->stats().checkpoint.global_position == max_position(c); }));
  CHECK(check_topic(c) == 0);
}

TEST_CASE("The outbox relay never publishes an uncommitted event", "[integration][kafka][outbox]") {
  Cluster c;
  Instance node(c, "node-1", "g-outbox-tx");
  node.runner->start();
  Relay relay(c, c.kafka.producer());
  start_greetings(c, 0, 3);
  REQUIRE(within(120s, [&] {
    return relay.relay->stats().checkpoint.global_position == max_position(c) && c.completed() == 3;
  }));

  {
    // A writer's transaction stays open: its event, and everything committed after it, wait.
    pqxx::connection conn(c.db.url());
    pqxx::work tx(conn);
    tx.exec(
        "INSERT INTO events (stream_id, stream_version, type, occurred_at, data)"
        " VALUES ('execution-ghost', 1, 'ExecutionStarted', now(), '{}')");
    const auto ghost = tx.exec("SELECT max(global_position) FROM events")[0][0].as<std::int64_t>();
    start_greetings(c, 3, 6);
    REQUIRE(within(120s, [&] { return c.completed() == 6; }));
    std::this_thread::sleep_for(300ms);  // relay polls every 20 ms: give it the chance to err
    CHECK(relay.relay->stats().checkpoint.global_position < ghost);
    tx.abort();
  }
  REQUIRE(within(
      60s, [&] { return relay.relay->stats().checkpoint.global_position == max_position(c); }));
  CHECK(check_topic(c) == 0);  // the ghost is not in the table, so not on the topic either
}

TEST_CASE("A standby relay takes over; a broker outage delays but loses nothing",
          "[integration][kafka][outbox][faults]") {
  Cluster c;
  Instance node(c, "node-1", "g-outbox-standby");
  node.runner->start();
  start_greetings(c, 0, 5);
  REQUIRE(within(120s, [&] { return c.completed() == 5; }));

  auto first = std::make_unique<Relay>(c, c.kafka.producer());
  REQUIRE(within(60s, [&] { return first->relay->stats().active; }));
  Relay standby(c, c.kafka.producer());
  REQUIRE(within(
      60s, [&] { return first->relay->stats().checkpoint.global_position == max_position(c); }));
  CHECK_FALSE(standby.relay->stats().active);
  CHECK(standby.relay->stats().published == 0);

  // Produce requests fail for a while: the checkpoint waits, the retries deliver.
  using triggers::KafkaApi;
  namespace ke = triggers::kafka_error;
  c.kafka.broker().push_request_errors(
      KafkaApi::kProduce, {ke::kNotEnoughReplicas, ke::kTransport, ke::kNotLeaderForPartition,
                           ke::kRequestTimedOut, ke::kTransport});
  start_greetings(c, 5, 10);
  REQUIRE(within(120s, [&] { return c.completed() == 10; }));
  REQUIRE(within(
      60s, [&] { return first->relay->stats().checkpoint.global_position == max_position(c); }));

  // The active relay goes: the standby takes the lock and continues from the checkpoint.
  first.reset();
  REQUIRE(within(60s, [&] { return standby.relay->stats().active; }));
  start_greetings(c, 10, 12);
  REQUIRE(within(120s, [&] { return c.completed() == 12; }));
  REQUIRE(within(
      60s, [&] { return standby.relay->stats().checkpoint.global_position == max_position(c); }));
  check_topic(c);  // duplicates allowed (at-least-once), but none missing and in order
}
