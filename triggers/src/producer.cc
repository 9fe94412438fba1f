// KafkaProducer and the records flowd publishes with it (producer.h).
#include "flowd/triggers/producer.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "rdkafka_util.h"

namespace flowd::triggers {

namespace {

class KafkaProducerImpl final : public KafkaProducer {
 public:
  explicit KafkaProducerImpl(ProducerConfig config) : config_(std::move(config)) {}

  ~KafkaProducerImpl() override {
    if (rk_ == nullptr) return;
    stop_.store(true);
    if (poller_.joinable()) poller_.join();
    // Deliver what can be delivered, then fail the rest: every callback runs before we go.
    if (rd_kafka_flush(rk_, static_cast<int>(config_.delivery_timeout.count())) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka producer: {} record(s) not delivered at shutdown",
                   rd_kafka_outq_len(rk_));
      rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_flush(rk_, 1000);
      rd_kafka_poll(rk_, 0);
    }
    rd_kafka_destroy(rk_);
  }

  Result<void> init() {
    std::map<std::string, std::string> forced;
    if (config_.idempotent) forced["enable.idempotence"] = "true";
    auto conf =
        rdk::make_conf(config_.kafka,
                       {{"client.id", config_.client_id},
                        {"message.timeout.ms", std::to_string(config_.delivery_timeout.count())},
                        {"linger.ms", std::to_string(config_.linger.count())}},
                       forced);
    if (!conf) return tl::unexpected(conf.error());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), &KafkaProducerImpl::delivered);
    rd_kafka_conf_set_error_cb(conf->get(), &KafkaProducerImpl::error_cb);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
    if (rk == nullptr) {
      return fail(ErrorCode::kInvalidInput, std::string("kafka producer: ") + errstr);
    }
    (void)conf->release();
    rk_ = rk;
    poller_ = std::thread([this] {
      while (!stop_.load()) rd_kafka_poll(rk_, 100);
    });
    return {};
  }

  Result<void> send(OutgoingRecord record, DeliveryCallback done) override {
    auto* callback = new DeliveryCallback(std::move(done));
    rd_kafka_headers_t* headers = rdk::to_headers(record.headers);
    // The macros cast their arguments without parentheses: pass plain variables.
    const char* topic = record.topic.c_str();
    const std::int32_t partition = record.partition.value_or(RD_KAFKA_PARTITION_UA);
    void* key = record.key ? record.key->data() : nullptr;
    const std::size_t key_size = record.key ? record.key->size() : 0;
    void* value = record.value.data();
    const std::size_t value_size = record.value.size();
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key, key_size),
                          RD_KAFKA_V_VALUE(value, value_size), RD_KAFKA_V_HEADERS(headers),
                          RD_KAFKA_V_OPAQUE(callback), RD_KAFKA_V_END);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_destroy(headers);
      delete callback;
      return tl::unexpected(rdk::to_error(err, "kafka producer: " + record.topic));
    }
    return {};
  }

  Result<Delivery> send_and_wait(OutgoingRecord record, Millis timeout) override {
    auto promise = std::make_shared<std::promise<Result<Delivery>>>();
    auto future = promise->get_future();
    const std::string topic = record.topic;
    auto sent = send(std::move(record),
                     [promise](Result<Delivery> d) { promise->set_value(std::move(d)); });
    if (!sent) return tl::unexpected(sent.error());
    if (future.wait_for(timeout) != std::future_status::ready) {
      return fail(ErrorCode::kTimeout,
                  "kafka producer: no delivery report from " + topic + " within " +
                      std::to_string(timeout.count()) + "ms",
                  true);
    }
    return future.get();
  }

  Result<void> flush(Millis timeout) override {
    if (rd_kafka_resp_err_t err = rd_kafka_flush(rk_, static_cast<int>(timeout.count()))) {
      return tl::unexpected(rdk::to_error(err, "kafka producer: flush"));
    }
    return {};
  }

 private:
  static void delivered(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    std::unique_ptr<DeliveryCallback> callback(static_cast<DeliveryCallback*>(m->_private));
    if (!callback || !*callback) return;
    const std::string topic = rd_kafka_topic_name(m->rkt);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      (*callback)(tl::unexpected(rdk::to_error(m->err, "kafka delivery to " + topic)));
    } else {
      (*callback)(Delivery{topic, m->partition, m->offset});
    }
  }

  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void*) {
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      spdlog::error("kafka producer: fatal: {}", fatal);
    } else {
      spdlog::warn("kafka producer: {}: {}",
                   rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
    }
  }

  const ProducerConfig config_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

void add(Headers& headers, std::string name, std::string value) {
  headers.push_back(Header{std::move(name), std::move(value)});
}

}  // namespace

Result<std::shared_ptr<KafkaProducer>> KafkaProducer::create(ProducerConfig config) {
  if (config.kafka.brokers.empty() && !config.kafka.properties.count("bootstrap.servers")) {
    return fail(ErrorCode::kInvalidInput, "kafka: no brokers configured");
  }
  auto producer = std::make_shared<KafkaProducerImpl>(std::move(config));
  if (auto r = producer->init(); !r) return tl::unexpected(r.error());
  return std::shared_ptr<KafkaProducer>(std::move(producer));
}

// ---- dead letters ----------------------------------------------------------------------------

OutgoingRecord make_dead_letter(const Record& original, std::string_view reason_code,
                                std::string_view reason_message, std::string_view workflow,
                                std::string topic) {
  OutgoingRecord out;
  out.topic = std::move(topic);
  out.key = original.key;
  out.value = original.value;
  out.headers = original.headers;
  add(out.headers, "flowd-dlq-original-topic", original.topic);
  add(out.headers, "flowd-dlq-original-partition", std::to_string(original.partition));
  add(out.headers, "flowd-dlq-original-offset", std::to_string(original.offset));
  if (original.timestamp_ms >= 0) {
    add(out.headers, "flowd-dlq-original-timestamp", std::to_string(original.timestamp_ms));
  }
  add(out.headers, "flowd-dlq-reason-code", std::string(reason_code));
  add(out.headers, "flowd-dlq-reason-message", std::string(reason_message));
  if (!workflow.empty()) add(out.headers, "flowd-dlq-workflow", std::string(workflow));
  add_spring_dlt_headers(out.headers, original.topic, original.partition, original.offset,
                         original.timestamp_ms, reason_code, reason_message);
  return out;
}

namespace {
std::string big_endian(std::uint64_t value, int bytes) {
  std::string out(static_cast<std::size_t>(bytes), '\0');
  for (int i = bytes - 1; i >= 0; --i) {
    out[static_cast<std::size_t>(i)] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}
}  // namespace

void add_spring_dlt_headers(Headers& headers, std::string_view topic,
                            std::optional<std::int32_t> partition,
                            std::optional<std::int64_t> offset, std::int64_t timestamp_ms,
                            std::string_view error_code, std::string_view message,
                            std::string_view consumer_group) {
  if (!topic.empty()) add(headers, "kafka_dlt-original-topic", std::string(topic));
  if (partition)
    add(headers, "kafka_dlt-original-partition",
        big_endian(static_cast<std::uint32_t>(*partition), 4));
  if (offset)
    add(headers, "kafka_dlt-original-offset", big_endian(static_cast<std::uint64_t>(*offset), 8));
  if (timestamp_ms >= 0) {
    add(headers, "kafka_dlt-original-timestamp",
        big_endian(static_cast<std::uint64_t>(timestamp_ms), 8));
    add(headers, "kafka_dlt-original-timestamp-type", "CreateTime");
  }
  if (!consumer_group.empty())
    add(headers, "kafka_dlt-original-consumer-group", std::string(consumer_group));
  add(headers, "kafka_dlt-exception-fqcn", std::string(error_code));
  add(headers, "kafka_dlt-exception-message", std::string(message));
}

OutgoingRecord make_dead_letter(const Record& original, const PoisonReason& reason,
                                std::string topic) {
  return make_dead_letter(original, to_string(reason.code), reason.message, reason.workflow,
                          std::move(topic));
}

Result<void> DlqPublisher::publish(const Record& original, const PoisonReason& reason,
                                   DeliveryCallback done) {
  return producer_->send(make_dead_letter(original, reason, topic_), std::move(done));
}

Result<void> DlqPublisher::publish(const Record& original, std::string_view reason_code,
                                   std::string_view reason_message, DeliveryCallback done) {
  return producer_->send(make_dead_letter(original, reason_code, reason_message, {}, topic_),
                         std::move(done));
}

// ---- outbox relay ----------------------------------------------------------------------------

OutgoingRecord make_event_record(const OutboxMessage& message, std::string topic) {
  OutgoingRecord out;
  out.topic = std::move(topic);
  out.key = message.execution_id;
  out.value = message.value;
  out.headers = message.headers;
  if (!message.event_type.empty()) add(out.headers, "flowd-event-type", message.event_type);
  add(out.headers, "flowd-outbox-id", std::to_string(message.id));
  add(out.headers, "content-type", "application/json");
  return out;
}

void OutboxPublisher::publish(std::vector<OutboxMessage> batch,
                              std::function<void(OutboxReport)> report) {
  auto shared_report = std::make_shared<std::function<void(OutboxReport)>>(std::move(report));
  for (const OutboxMessage& message : batch) {
    const std::int64_t id = message.id;
    auto sent = producer_->send(make_event_record(message, topic_),
                                [id, shared_report](Result<Delivery> delivery) {
                                  (*shared_report)(OutboxReport{id, std::move(delivery)});
                                });
    if (!sent) (*shared_report)(OutboxReport{id, tl::unexpected(sent.error())});
  }
}

std::vector<OutboxReport> OutboxPublisher::publish_and_wait(std::vector<OutboxMessage> batch,
                                                            Millis timeout) {
  struct Wait {
    std::mutex mutex;
    std::condition_variable done;
    std::vector<std::optional<Result<Delivery>>> results;
    std::size_t left = 0;
  };
  auto wait = std::make_shared<Wait>();
  wait->results.resize(batch.size());
  wait->left = batch.size();
  std::vector<std::int64_t> ids;
  ids.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ids.push_back(batch[i].id);
    auto report = [wait, i](Result<Delivery> delivery) {
      std::lock_guard lock(wait->mutex);
      wait->results[i] = std::move(delivery);
      if (--wait->left == 0) wait->done.notify_all();
    };
    auto sent = producer_->send(make_event_record(batch[i], topic_), report);
    if (!sent) report(tl::unexpected(sent.error()));
  }
  std::unique_lock lock(wait->mutex);
  wait->done.wait_for(lock, timeout, [&] { return wait->left == 0; });
  std::vector<OutboxReport> out;
  out.reserve(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (wait->results[i]) {
      out.push_back(OutboxReport{ids[i], *wait->results[i]});
    } else {
      out.push_back(OutboxReport{
          ids[i], fail(ErrorCode::kTimeout,
                       "outbox row " + std::to_string(ids[i]) + ": no delivery report from " +
                           topic_ + " within " + std::to_string(timeout.count()) + "ms",
                       true)});
    }
  }
  return out;
}

// ---- trigger envelopes -----------------------------------------------------------------------

Json to_json(const TriggerEnvelope& envelope) {
  Json out = {{"workflow", envelope.workflow}, {"input", envelope.input}};
  if (envelope.version) out["version"] = *envelope.version;
  if (!envelope.id.empty()) out["id"] = envelope.id;
  if (envelope.context.is_object()) out["context"] = envelope.context;
  return out;
}

OutgoingRecord make_trigger_record(const TriggerEnvelope& envelope, std::string topic) {
  OutgoingRecord out;
  out.topic = std::move(topic);
  if (!envelope.id.empty()) out.key = envelope.id;
  out.value = to_json(envelope).dump();
  add(out.headers, "content-type", "application/json");
  return out;
}

Result<Delivery> publish_trigger(const ProducerConfig& config, const TriggerEnvelope& envelope,
                                 std::string topic, Millis timeout) {
  if (envelope.workflow.empty()) {
    return fail(ErrorCode::kInvalidInput, "trigger: the workflow name is empty");
  }
  ProducerConfig c = config;
  c.delivery_timeout = std::min(c.delivery_timeout, timeout);
  c.linger = Millis{0};
  auto producer = KafkaProducer::create(std::move(c));
  if (!producer) return tl::unexpected(producer.error());
  return (*producer)->send_and_wait(make_trigger_record(envelope, std::move(topic)),
                                    timeout + Millis{1000});
}

}  // namespace flowd::triggers
