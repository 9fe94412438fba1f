#pragma once
// Producing to Kafka: one idempotent producer (KafkaProducer) and what flowd publishes with it —
// dead letters to `flowd.dlq`, execution events from the outbox to `flowd.events`, and trigger
// envelopes (`flowctl trigger`).
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/engine/json.h"
#include "flowd/triggers/decode.h"
#include "flowd/triggers/record.h"

namespace flowd::triggers {

struct OutgoingRecord {
  std::string topic;
  std::optional<std::int32_t> partition;  // empty: by key (librdkafka's consistent_random)
  std::optional<std::string> key;
  std::string value;
  Headers headers;
};

// Where a record was written.
struct Delivery {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = -1;
};

// Called once per record, on the producer's delivery thread: keep it short.
using DeliveryCallback = std::function<void(Result<Delivery>)>;

struct ProducerConfig {
  KafkaSettings kafka;
  std::string client_id = "flowd";
  bool idempotent = true;           // enable.idempotence: no duplicates, per-partition order
  Millis delivery_timeout{30'000};  // message.timeout.ms: give up (and report) after this
  Millis linger{2};                 // linger.ms: batching delay
};

// KafkaProducer is one librdkafka producer and the thread that serves its delivery reports.
// Lifecycle: create() connects lazily (no broker contact yet); the destructor flushes for up to
// `delivery_timeout`, then fails what is left (callbacks run with EXTERNAL errors) and joins the
// thread. send() is safe from any thread and never blocks.
class KafkaProducer {
 public:
  static Result<std::shared_ptr<KafkaProducer>> create(ProducerConfig config);
  virtual ~KafkaProducer() = default;

  // Queues the record. On success `done` runs later with the delivery (or EXTERNAL, retryable,
  // when the broker did not take it in time). On failure (queue full: retryable; unknown topic
  // or partition, too large: not) `done` is not called.
  virtual Result<void> send(OutgoingRecord record, DeliveryCallback done) = 0;
  // send() and wait for the delivery report.
  virtual Result<Delivery> send_and_wait(OutgoingRecord record, Millis timeout) = 0;
  // Waits until every queued record is delivered or failed.
  virtual Result<void> flush(Millis timeout) = 0;
};

// ---- dead letters ----------------------------------------------------------------------------

// The dead letter of `original`: its key, value and headers unchanged, plus headers
// flowd-dlq-original-topic, -partition, -offset, -timestamp, flowd-dlq-reason-code,
// flowd-dlq-reason-message and, when set, flowd-dlq-workflow.
OutgoingRecord make_dead_letter(const Record& original, std::string_view reason_code,
                                std::string_view reason_message, std::string_view workflow = {},
                                std::string topic = std::string(kDlqTopic));
OutgoingRecord make_dead_letter(const Record& original, const PoisonReason& reason,
                                std::string topic = std::string(kDlqTopic));

// Spring Kafka's dead-letter headers (DeadLetterPublishingRecoverer), so that tools written for
// them read flowd's: kafka_dlt-original-topic (text), -partition (4-byte big-endian int),
// -offset and -timestamp (8-byte big-endian long, as Spring writes them), -timestamp-type,
// -consumer-group, kafka_dlt-exception-fqcn (our error code) and -message. make_dead_letter adds
// them too (beside the flowd-dlq-* text headers).
void add_spring_dlt_headers(Headers& headers, std::string_view topic,
                            std::optional<std::int32_t> partition,
                            std::optional<std::int64_t> offset, std::int64_t timestamp_ms,
                            std::string_view error_code, std::string_view message,
                            std::string_view consumer_group = {});

// DlqPublisher publishes dead letters through a shared producer. Thread-safe.
class DlqPublisher {
 public:
  explicit DlqPublisher(std::shared_ptr<KafkaProducer> producer,
                        std::string topic = std::string(kDlqTopic))
      : producer_(std::move(producer)), topic_(std::move(topic)) {}

  Result<void> publish(const Record& original, const PoisonReason& reason, DeliveryCallback done);
  Result<void> publish(const Record& original, std::string_view reason_code,
                       std::string_view reason_message, DeliveryCallback done);
  const std::string& topic() const { return topic_; }

 private:
  std::shared_ptr<KafkaProducer> producer_;
  std::string topic_;
};

// ---- outbox relay ----------------------------------------------------------------------------

// One row of the transactional outbox: an execution event to publish.
struct OutboxMessage {
  std::int64_t id = 0;       // the outbox row, echoed in the report
  std::string execution_id;  // the record key: one execution's events stay in order
  std::string event_type;    // header flowd-event-type
  std::string value;         // the event as JSON text
  Headers headers;           // more headers (traceparent, ...)
};

struct OutboxReport {
  std::int64_t id = 0;
  Result<Delivery> delivery;
};

// OutboxPublisher relays outbox rows to `flowd.events`: a row may be marked published only when
// its report succeeded. With the idempotent producer, a batch is delivered in order per
// execution and without duplicates from retries. Thread-safe.
class OutboxPublisher {
 public:
  explicit OutboxPublisher(std::shared_ptr<KafkaProducer> producer,
                           std::string topic = std::string(kEventsTopic))
      : producer_(std::move(producer)), topic_(std::move(topic)) {}

  // Publishes each message; `report` runs once per message (on the delivery thread, or at once
  // on this thread when the message could not be queued).
  void publish(std::vector<OutboxMessage> batch, std::function<void(OutboxReport)> report);
  // The same, waiting: one report per message, in the order given. Messages not reported within
  // `timeout` report TIMEOUT (retryable; publish them again: the consumer side dedupes by id).
  std::vector<OutboxReport> publish_and_wait(std::vector<OutboxMessage> batch, Millis timeout);
  const std::string& topic() const { return topic_; }

 private:
  std::shared_ptr<KafkaProducer> producer_;
  std::string topic_;
};

OutgoingRecord make_event_record(const OutboxMessage& message,
                                 std::string topic = std::string(kEventsTopic));

// ---- trigger envelopes (flowctl trigger) -----------------------------------------------------

struct TriggerEnvelope {
  std::string workflow;
  std::optional<int> version;
  Json input = Json::object();
  std::string id;          // empty: none (the dedupe key becomes topic/partition/offset)
  Json context = nullptr;  // an object, or null for none
};

Json to_json(const TriggerEnvelope& envelope);
// The record: value = the envelope JSON, key = the id (none without), content-type header.
OutgoingRecord make_trigger_record(const TriggerEnvelope& envelope,
                                   std::string topic = std::string(kTriggerTopic));
// Connects, publishes one envelope and waits for the broker to take it.
Result<Delivery> publish_trigger(const ProducerConfig& config, const TriggerEnvelope& envelope,
                                 std::string topic = std::string(kTriggerTopic),
                                 Millis timeout = Millis{10'000});

}  // namespace flowd::triggers
