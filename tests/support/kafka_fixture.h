#pragma once
// KafkaFixture: one embedded broker (librdkafka's mock cluster on loopback) per test, with client
// settings that keep consumer-group joins fast (small session.timeout.ms), plus helpers to
// produce records and read a topic back without a consumer group.
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "flowd/triggers/consumer.h"
#include "flowd/triggers/embedded_broker.h"
#include "flowd/triggers/producer.h"

namespace flowd::testing {

using namespace std::chrono_literals;

class KafkaFixture {
 public:
  // `topics` are created with `partitions` partitions, besides flowd.triggers/.dlq/.events.
  explicit KafkaFixture(std::vector<std::string> topics = {}, int partitions = 3, int brokers = 1);
  ~KafkaFixture();

  triggers::EmbeddedBroker& broker() { return *broker_; }
  const std::string& bootstrap() const { return broker_->bootstrap(); }

  // Brokers plus test timings (session.timeout.ms 3000, heartbeat 500, short fetch waits).
  triggers::KafkaSettings settings() const;
  triggers::ConsumerConfig consumer_config(const std::string& group,
                                           std::vector<std::string> topics = {}) const;
  triggers::ProducerConfig producer_config() const;
  std::shared_ptr<triggers::KafkaProducer> producer();

  // Produces one record and waits for its delivery (REQUIREs success).
  triggers::Delivery produce(const std::string& topic, const std::string& value,
                             std::optional<std::string> key = std::nullopt,
                             triggers::Headers headers = {},
                             std::optional<std::int32_t> partition = std::nullopt);

  // Reads `count` records of `topic` from the beginning of every partition (no group), waiting
  // up to `timeout`; returns what it got (sorted by partition, offset).
  std::vector<triggers::Record> read(const std::string& topic, std::size_t count,
                                     std::chrono::milliseconds timeout = 20s);

  // The offsets `group` has committed for partitions 0..partitions-1 of `topic` (the next offset
  // a new member reads; RD_KAFKA_OFFSET_INVALID, -1001, where nothing was committed).
  std::vector<std::int64_t> committed(const std::string& group, const std::string& topic,
                                      int partitions);

 private:
  std::unique_ptr<triggers::EmbeddedBroker> broker_;
  std::shared_ptr<triggers::KafkaProducer> producer_;
};

// Waits on a condition variable for `pred` (called under `lock`), up to `timeout`.
template <class Pred>
bool wait_until(std::condition_variable& cv, std::unique_lock<std::mutex>& lock,
                std::chrono::milliseconds timeout, Pred pred) {
  return cv.wait_for(lock, timeout, pred);
}

// Polls `pred` (for state that has no condition variable, like consumer stats) every few
// milliseconds until true or `timeout`. Synchronisation by observation, not a fixed sleep.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 20s);

}  // namespace flowd::testing
