#pragma once
// StoreTriggerSink turns decoded trigger records into durable outcomes (DESIGN.md, data flow step
// 2): ExecutionStarted in the event store, unique per dedupe key, or a dead letter. Only then does
// it call the record's Completion, so the consumer stores the offset after the outcome is durable
// (at-least-once delivery, exactly-once start).
//
// Per record: each start's input is checked against its workflow's input schema (failing:
// INVALID_INPUT poison); the rest are appended as ExecutionStarted through
// EventStore::start_execution (group-committed; a used dedupe key is a duplicate and counts as
// started). Started executions are unowned unless the store was opened with an owner: any
// DurableRunner claims them. Poison reasons become rows of dead_letters (one transaction per
// batch, idempotent per record and workflow); once a row is durable the record is published to
// flowd.dlq through the DlqPublisher. A failed Kafka publish leaves the row unpublished and a
// sweep publishes it again later, so a row is never lost to Kafka trouble. The Completion says
// kStarted (some start is durable), kDeadLettered (only dead letters) or kRetryLater (the
// database could not be reached / was shutting down: nothing is lost, the record comes again
// and dedupes).
//
// Threads: submit() runs on the consumer's poll thread and only queues. One worker thread
// validates, hands starts to the store's appender (asynchronous) and writes dead letters in
// batches; the appender thread completes starts. Lifecycle: construct, start(), then the
// consumer; at shutdown stop the consumer first, then stop() this (records still queued are
// completed kRetryLater), then the store. Counters are safe to read from any thread.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "flowd/dlq/dead_letter_store.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/consumer.h"
#include "flowd/triggers/producer.h"

namespace flowd::service {

struct TriggerSinkOptions {
  std::size_t max_batch = 1'000;  // records the worker takes per pass
  std::string consumer_group;     // recorded with dead letters
  // Dead letters not on flowd.dlq after this long are published again (also at start-up).
  std::chrono::milliseconds republish_after{30'000};
  std::chrono::milliseconds republish_interval{10'000};
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
  // A new execution's ExecutionStarted is durable (not called for duplicates), on the store's
  // appender thread: keep it short. flowd hands the event to its DurableRunner, which runs the
  // execution without reading it back.
  std::function<void(Event started)> on_started;
};

struct TriggerSinkStats {
  std::uint64_t records = 0;        // submitted records
  std::uint64_t started = 0;        // new executions
  std::uint64_t duplicates = 0;     // starts whose dedupe key was used already
  std::uint64_t dead_lettered = 0;  // dead-letter rows written (or found: redelivered poison)
  std::uint64_t retries = 0;        // records completed kRetryLater
  std::uint64_t dlq_published = 0;  // flowd.dlq deliveries
  std::uint64_t dlq_publish_failures = 0;
  std::size_t queued = 0;  // waiting for the worker
};

class StoreTriggerSink final : public triggers::TriggerSink {
 public:
  // `dlq` may be null (no Kafka dead letters: rows only, published by a later sweep when one is
  // set up). The store, dead-letter store and publisher must outlive this object.
  StoreTriggerSink(eventstore::EventStore& store, dlq::DeadLetterStore& dead_letters,
                   std::shared_ptr<triggers::DlqPublisher> dlq, TriggerSinkOptions options = {});
  ~StoreTriggerSink() override;
  StoreTriggerSink(const StoreTriggerSink&) = delete;
  StoreTriggerSink& operator=(const StoreTriggerSink&) = delete;

  void start();
  // Stops the worker; queued records are completed kRetryLater. Idempotent.
  void stop();

  void submit(std::shared_ptr<const triggers::Record> record, triggers::Decoded decoded,
              triggers::Completion done) override;

  TriggerSinkStats stats() const;

  struct Flight;    // one record on its way (trigger_sink.cc)
  struct Counters;  // shared with callbacks that may outlive the sink

 private:
  struct Job {
    std::shared_ptr<Flight> flight;
    std::vector<triggers::TriggerRequest> starts;
    std::vector<triggers::PoisonReason> poison;
  };
  void enqueue(Job job);
  void worker_loop();
  void process(std::vector<Job>& jobs);
  void start_one(const std::shared_ptr<Flight>& flight, triggers::TriggerRequest request);
  void write_dead_letters(std::vector<Job>& jobs);
  void publish_dead_letter(const dlq::DeadLetter& letter);
  void republish_unpublished();
  void mark_published();
  void log(std::string_view level, const std::string& message, const Json& fields = {});

  eventstore::EventStore& store_;
  dlq::DeadLetterStore& dead_letters_;
  std::shared_ptr<triggers::DlqPublisher> dlq_;
  TriggerSinkOptions options_;
  std::shared_ptr<Counters> counters_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread worker_;
};

}  // namespace flowd::service
