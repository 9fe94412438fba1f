#include "dead_letter_publisher.h"

#include "flowd/dlq/dlq_outbox.h"

namespace flowd::service {

DeadLetterPublisher::DeadLetterPublisher(dlq::DeadLetterStore& letters,
                                         std::shared_ptr<triggers::KafkaProducer> producer,
                                         DeadLetterPublisherOptions options)
    : letters_(letters), producer_(std::move(producer)), options_(std::move(options)) {}

DeadLetterPublisher::~DeadLetterPublisher() {
  stop();
}

void DeadLetterPublisher::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void DeadLetterPublisher::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeadLetterPublisher::log(std::string_view level, const std::string& message,
                              const Json& fields) {
  if (options_.log) options_.log(level, message, fields);
}

std::size_t DeadLetterPublisher::run_once() {
  std::size_t delivered_count = 0;
  auto letters = letters_.list_unpublished_of(dlq::DeadLetterKind::kExecution, options_.batch_size);
  if (!letters) {
    log("warn", "dead letters to publish not listed: " + letters.error().message);
  } else if (!letters->empty()) {
    struct Reports {
      std::mutex mutex;
      std::vector<std::int64_t> delivered;
    };
    auto reports = std::make_shared<Reports>();
    for (auto& letter : *letters) {
      const std::int64_t id = letter.id;
      if (options_.masker && !options_.masker->empty()) {
        letter.reason_message = options_.masker->mask(std::move(letter.reason_message));
        options_.masker->mask(letter.input);
        options_.masker->mask(letter.last_error);
      }
      auto sent = producer_->send(dlq::make_dlq_record(letter, options_.topic),
                                  [reports, id](Result<triggers::Delivery> d) {
                                    if (!d) return;
                                    std::lock_guard lock(reports->mutex);
                                    reports->delivered.push_back(id);
                                  });
      if (!sent)
        log("warn", "dead letter not queued for " + options_.topic + ": " + sent.error().message,
            {{"deadLetter", id}});
    }
    (void)producer_->flush(Millis(30'000));
    std::vector<std::int64_t> ids;
    {
      std::lock_guard lock(reports->mutex);
      ids.swap(reports->delivered);
    }
    delivered_count += ids.size();
    if (auto marked = letters_.mark_published(ids); !marked)
      log("warn", "dead letters not marked published: " + marked.error().message);
  }
  auto requests = dlq::list_republish_requests(letters_, options_.batch_size);
  if (!requests) {
    log("warn", "republish requests not listed: " + requests.error().message);
    return delivered_count;
  }
  for (const auto& letter : *requests) {
    if (!letter.source) continue;
    auto delivery = producer_->send_and_wait(dlq::make_republish_record(letter), Millis(30'000));
    if (!delivery) {
      log("warn", "dead letter not republished (tried again later): " + delivery.error().message,
          {{"deadLetter", letter.id}});
      continue;
    }
    const std::string where = delivery->topic + "/" + std::to_string(delivery->partition) + "@" +
                              std::to_string(delivery->offset);
    if (auto marked = dlq::mark_republished(letters_, letter, where); !marked)
      log("warn", "republished dead letter not marked: " + marked.error().message,
          {{"deadLetter", letter.id}});
    log("info", "dead letter republished", {{"deadLetter", letter.id}, {"to", where}});
    ++delivered_count;
  }
  return delivered_count;
}

void DeadLetterPublisher::loop() {
  for (;;) {
    run_once();
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, options_.poll_interval, [this] { return stopping_; })) return;
  }
}

}  // namespace flowd::service
