// The embedded broker (address file, standalone mode, kcat as an outside client) and the
// producers: the outbox relay publisher and delivery failures.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <string>
#include <thread>

#include "flowd/triggers/consumer.h"
#include "flowd/triggers/embedded_broker.h"
#include "flowd/triggers/producer.h"
#include "kafka_fixture.h"
#include "test_sink.h"
#include "workflows.h"

namespace flowd::testing {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("flowd-" + name + "-" + std::to_string(::getpid()) + ".addr"))
      .string();
}

TEST_CASE("The embedded broker writes its address where clients find it, and removes it",
          "[integration][kafka][broker]") {
  const std::string path = temp_path("broker");
  std::string bootstrap;
  {
    triggers::EmbeddedBrokerOptions options;
    options.address_file = path;
    options.topics.push_back("extra.topic");
    auto broker = triggers::EmbeddedBroker::start(options);
    REQUIRE(broker);
    bootstrap = (*broker)->bootstrap();
    CHECK(bootstrap.rfind("127.0.0.1:", 0) == 0);
    auto read = triggers::read_address_file(path);
    REQUIRE(read);
    CHECK(*read == bootstrap);
    CHECK((*broker)->create_topic("extra.topic", 2));  // exists already: fine
    CHECK((*broker)->create_topic("new.topic", 2));
  }
  CHECK_FALSE(fs::exists(path));
  auto missing = triggers::read_address_file(path);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == ErrorCode::kNotFound);

  triggers::EmbeddedBrokerOptions bad;
  bad.partitions = 0;
  CHECK_FALSE(triggers::EmbeddedBroker::start(bad));
  bad = {};
  bad.address_file = "/nonexistent-dir/x/addr";
  CHECK_FALSE(triggers::EmbeddedBroker::start(bad));
}

TEST_CASE("flowd broker mode serves until stopped", "[integration][kafka][broker]") {
  const std::string path = temp_path("standalone");
  triggers::EmbeddedBrokerOptions options;
  options.address_file = path;
  std::stop_source stop;
  std::promise<std::string> ready;
  auto result = std::async(std::launch::async, [&] {
    return triggers::run_embedded_broker(options, stop.get_token(),
                                         [&](const std::string& b) { ready.set_value(b); });
  });
  auto ready_future = ready.get_future();
  REQUIRE(ready_future.wait_for(20s) == std::future_status::ready);
  const std::string bootstrap = ready_future.get();
  CHECK(triggers::read_address_file(path).value_or("") == bootstrap);

  // A client of the standalone broker: produce and read back.
  {
    triggers::ProducerConfig config;
    config.kafka.brokers = bootstrap;
    auto producer = triggers::KafkaProducer::create(config);
    REQUIRE(producer);
    triggers::OutgoingRecord r{"flowd.triggers", 0, "k", "hello", {}};
    auto d = (*producer)->send_and_wait(r, 20s);
    INFO((d ? "" : d.error().message));
    REQUIRE(d);
    CHECK(d->offset == 0);
  }
  CHECK(result.wait_for(0ms) == std::future_status::timeout);  // still serving
  stop.request_stop();
  REQUIRE(result.wait_for(20s) == std::future_status::ready);
  CHECK(result.get());
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("A record published by the kcat program reaches the consumer",
          "[integration][kafka][kcat]") {
  KafkaFixture kafka({}, 1);
  RecordingSink sink;
  auto config = kafka.consumer_config("g-kcat", {"flowd.triggers"});
  auto consumer = triggers::TriggerConsumer::create(config, envelope_router(), sink);
  REQUIRE(consumer);
  REQUIRE((*consumer)->start());

  const std::string command = std::string(FLOWD_KCAT) + " -P -b " + kafka.bootstrap() +
                              " -t flowd.triggers -k kcat-key -H source=kcat 2>&1";
  FILE* kcat = ::popen(command.c_str(), "w");
  REQUIRE(kcat != nullptr);
  const std::string payload = R"({"workflow":"invoice","input":{"via":"kcat"},"id":"kcat-1"})"
                              "\n";
  CHECK(std::fwrite(payload.data(), 1, payload.size(), kcat) == payload.size());
  const int status = ::pclose(kcat);
  INFO("command: " << command);
  REQUIRE(status == 0);

  REQUIRE(sink.wait_count(1));
  const auto s = sink.all().front();
  CHECK(s.record->key == std::optional<std::string>("kcat-key"));
  REQUIRE(s.record->header("source"));
  CHECK(*s.record->header("source") == "kcat");
  REQUIRE(s.decoded.starts.size() == 1);
  CHECK(s.decoded.starts[0].workflow == "invoice");
  CHECK(s.decoded.starts[0].dedupe_key == "kcat-1");
  CHECK(s.decoded.starts[0].input == Json{{"via", "kcat"}});
}

TEST_CASE("The outbox publisher reports every delivery, in order per execution",
          "[integration][kafka][outbox]") {
  KafkaFixture kafka({}, 3);
  triggers::OutboxPublisher outbox(kafka.producer());
  std::vector<triggers::OutboxMessage> batch;
  for (int i = 0; i < 12; ++i) {
    const std::string execution = "exec-" + std::to_string(i % 3);
    batch.push_back({100 + i,
                     execution,
                     "StepCompleted",
                     Json{{"execution", execution}, {"seq", i}}.dump(),
                     {}});
  }
  const auto reports = outbox.publish_and_wait(batch, 20s);
  REQUIRE(reports.size() == 12);
  std::map<std::string, std::int32_t> partition_of;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    CHECK(reports[i].id == 100 + static_cast<std::int64_t>(i));
    INFO((reports[i].delivery ? "" : reports[i].delivery.error().message));
    REQUIRE(reports[i].delivery);
    CHECK(reports[i].delivery->topic == "flowd.events");
    const auto [it, fresh] =
        partition_of.emplace(batch[i].execution_id, reports[i].delivery->partition);
    CHECK(it->second == reports[i].delivery->partition);  // one execution, one partition
  }
  const auto records = kafka.read("flowd.events", 12);
  REQUIRE(records.size() == 12);
  std::map<std::string, std::vector<int>> seq_by_execution;
  for (const auto& r : records) {
    REQUIRE(r.key);
    CHECK(*r.header("flowd-event-type") == "StepCompleted");
    seq_by_execution[*r.key].push_back(Json::parse(r.value)["seq"].get<int>());
  }
  CHECK(seq_by_execution["exec-0"] == std::vector<int>{0, 3, 6, 9});
  CHECK(seq_by_execution["exec-1"] == std::vector<int>{1, 4, 7, 10});
  CHECK(seq_by_execution["exec-2"] == std::vector<int>{2, 5, 8, 11});

  // The callback form: one report per message.
  std::promise<void> all_reported;
  std::mutex mutex;
  std::vector<std::int64_t> ids;
  outbox.publish(
      {{7, "exec-9", "ExecutionStarted", "{}", {}}, {8, "exec-9", "ExecutionCompleted", "{}", {}}},
      [&](triggers::OutboxReport report) {
        CHECK(report.delivery);
        std::lock_guard lock(mutex);
        ids.push_back(report.id);
        if (ids.size() == 2) all_reported.set_value();
      });
  REQUIRE(all_reported.get_future().wait_for(20s) == std::future_status::ready);
  std::lock_guard lock(mutex);
  CHECK(ids == std::vector<std::int64_t>{7, 8});
}

TEST_CASE("A record the broker does not take is reported as failed, not published",
          "[integration][kafka][outbox]") {
  KafkaFixture kafka({}, 1);
  auto config = kafka.producer_config();
  config.delivery_timeout = 1500ms;
  auto producer = triggers::KafkaProducer::create(config);
  REQUIRE(producer);
  triggers::OutboxPublisher outbox(*producer);
  // Every produce request fails for longer than the delivery timeout.
  std::vector<int> errors(200, triggers::kafka_error::kNotEnoughReplicas);
  kafka.broker().push_request_errors(triggers::KafkaApi::kProduce, errors);
  const auto reports = outbox.publish_and_wait({{1, "exec-1", "X", "{}", {}}}, 20s);
  REQUIRE(reports.size() == 1);
  REQUIRE_FALSE(reports[0].delivery);
  CHECK(reports[0].delivery.error().code == ErrorCode::kExternal);
  CHECK(reports[0].delivery.error().retryable);
  kafka.broker().clear_request_errors(triggers::KafkaApi::kProduce);
}

}  // namespace
}  // namespace flowd::testing
