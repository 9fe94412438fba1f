#include "kafka_fixture.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <thread>
#include <tuple>

namespace flowd::testing {

KafkaFixture::KafkaFixture(std::vector<std::string> topics, int partitions, int brokers) {
  triggers::EmbeddedBrokerOptions options;
  options.brokers = brokers;
  options.partitions = partitions;
  for (auto& t : topics) options.topics.push_back(std::move(t));
  auto broker = triggers::EmbeddedBroker::start(std::move(options));
  INFO((broker ? "" : broker.error().message));
  REQUIRE(broker);
  broker_ = std::move(*broker);
}

KafkaFixture::~KafkaFixture() {
  producer_.reset();  // flush before the cluster goes
  broker_.reset();
}

triggers::KafkaSettings KafkaFixture::settings() const {
  triggers::KafkaSettings s;
  s.brokers = bootstrap();
  return s;
}

triggers::ConsumerConfig KafkaFixture::consumer_config(const std::string& group,
                                                       std::vector<std::string> topics) const {
  triggers::ConsumerConfig c;
  c.kafka = settings();
  c.kafka.properties = triggers::EmbeddedBroker::consumer_properties();
  c.kafka.properties["session.timeout.ms"] = "3000";
  c.kafka.properties["heartbeat.interval.ms"] = "500";
  c.group_id = group;
  c.topics = std::move(topics);
  c.revoke_timeout = 5s;
  c.retry_backoff = 20ms;
  c.max_retry_backoff = 200ms;
  return c;
}

triggers::ProducerConfig KafkaFixture::producer_config() const {
  triggers::ProducerConfig c;
  c.kafka = settings();
  c.delivery_timeout = 20s;
  c.linger = 1ms;
  return c;
}

std::shared_ptr<triggers::KafkaProducer> KafkaFixture::producer() {
  if (!producer_) {
    auto p = triggers::KafkaProducer::create(producer_config());
    REQUIRE(p);
    producer_ = *p;
  }
  return producer_;
}

triggers::Delivery KafkaFixture::produce(const std::string& topic, const std::string& value,
                                         std::optional<std::string> key, triggers::Headers headers,
                                         std::optional<std::int32_t> partition) {
  triggers::OutgoingRecord r;
  r.topic = topic;
  r.partition = partition;
  r.key = std::move(key);
  r.value = value;
  r.headers = std::move(headers);
  auto d = producer()->send_and_wait(std::move(r), 20s);
  INFO((d ? "" : d.error().message));
  REQUIRE(d);
  return *d;
}

namespace {

triggers::Record copy(const rd_kafka_message_t* m) {
  triggers::Record r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      triggers::Header h{name, std::nullopt};
      if (value != nullptr) h.value.emplace(static_cast<const char*>(value), size);
      r.headers.push_back(std::move(h));
    }
  }
  return r;
}

}  // namespace

std::vector<triggers::Record> KafkaFixture::read(const std::string& topic, std::size_t count,
                                                 std::chrono::milliseconds timeout) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  REQUIRE(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap().c_str(), errstr,
                            sizeof errstr) == RD_KAFKA_CONF_OK);
  for (const auto& [name, value] : std::map<std::string, std::string>{
           {"fetch.wait.max.ms", "10"},
           {"group.id", "flowd-test-reader"},  // assign() wants one; nothing is committed
           {"enable.auto.commit", "false"},
           {"client.id", "flowd-test-reader"}}) {
    REQUIRE(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
            RD_KAFKA_CONF_OK);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  REQUIRE(rk != nullptr);
  struct Destroy {
    rd_kafka_t* rk;
    ~Destroy() {
      rd_kafka_consumer_close(rk);
      rd_kafka_destroy(rk);
    }
  } destroy{rk};
  const rd_kafka_metadata_t* metadata = nullptr;
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  REQUIRE(rd_kafka_metadata(rk, 0, rkt, &metadata, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  int partitions = 0;
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    if (topic == metadata->topics[i].topic) partitions = metadata->topics[i].partition_cnt;
  }
  rd_kafka_metadata_destroy(metadata);
  rd_kafka_topic_destroy(rkt);
  REQUIRE(partitions > 0);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  REQUIRE(rd_kafka_assign(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(list);
  std::vector<triggers::Record> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) out.push_back(copy(m));
    rd_kafka_message_destroy(m);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.partition, a.offset) < std::tie(b.partition, b.offset);
  });
  return out;
}

std::vector<std::int64_t> KafkaFixture::committed(const std::string& group,
                                                  const std::string& topic, int partitions) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // A member of `group` that never subscribes: it only asks the coordinator (OffsetFetch).
  for (const auto& [name, value] :
       std::map<std::string, std::string>{{"bootstrap.servers", bootstrap()},
                                          {"group.id", group},
                                          {"enable.auto.commit", "false"}}) {
    REQUIRE(rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) ==
            RD_KAFKA_CONF_OK);
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  REQUIRE(rk != nullptr);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  const auto err = rd_kafka_committed(rk, list, 10000);
  std::vector<std::int64_t> out;
  for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].offset);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
  return out;
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace flowd::testing
