#pragma once
// DeadLetterPublisher relays the dead_letters outbox to Kafka: execution dead letters not yet on
// flowd.dlq (new ones, and those a failed retry put back) are published with Spring Kafka's
// kafka_dlt-* headers (dlq/dlq_outbox.h) and marked published once their delivery report
// succeeded; republish requests put the original record back on its topic and resolve the
// letter. A crash between delivery and marking publishes a letter again (at-least-once; the
// flowd-dlq-id and flowd-dlq-attempt headers let consumers dedupe).
//
// Threads: one thread of its own (blocking PostgreSQL, waiting for delivery reports).
// Lifecycle: construct, start(), stop() (joins). The store and producer must outlive it.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "flowd/dlq/dead_letter_store.h"
#include "flowd/engine/secrets.h"
#include "flowd/triggers/producer.h"

namespace flowd::service {

struct DeadLetterPublisherOptions {
  std::string topic = "flowd.dlq";
  std::chrono::milliseconds poll_interval{200};
  std::size_t batch_size = 500;
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
  // Secret values this process resolved: masked in what goes to flowd.dlq (the letter's message,
  // error and input, so also the kafka_dlt-exception-message header). May be null.
  std::shared_ptr<const SecretMasker> masker;
};

class DeadLetterPublisher {
 public:
  DeadLetterPublisher(dlq::DeadLetterStore& letters,
                      std::shared_ptr<triggers::KafkaProducer> producer,
                      DeadLetterPublisherOptions options);
  ~DeadLetterPublisher();
  void start();
  void stop();
  // One pass (tests): returns the records delivered.
  std::size_t run_once();

 private:
  void loop();
  void log(std::string_view level, const std::string& message, const Json& fields = {});

  dlq::DeadLetterStore& letters_;
  std::shared_ptr<triggers::KafkaProducer> producer_;
  DeadLetterPublisherOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace flowd::service
