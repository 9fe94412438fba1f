#pragma once
// TriggerConsumer: the Kafka consumer group that turns trigger records into start requests, with
// at-least-once delivery and exactly-once start (DESIGN.md, data flow step 2).
//
// For each record, in partition order, the consumer decodes it with the current TriggerRouter and
// hands it to the TriggerSink with a Completion. The sink makes the outcome durable (the
// ExecutionStarted events, unique per dedupe key, or a dead letter) and then calls the Completion;
// only then is the record's offset (+1) stored, and only when every earlier record of the same
// partition is complete too. librdkafka commits stored offsets in the background and when
// partitions are revoked or the consumer stops. A record whose Completion says kRetryLater (or is
// dropped without being called) is submitted again after a backoff; the partition's offset does
// not move past it meanwhile, later records keep flowing.
//
// Records the filters reject (Decoded::filtered_out) are not given to the sink; their offsets are
// stored in order like any other.
//
// Back-pressure: when `max_in_flight` records are submitted and not complete, every assigned
// partition is paused (polling continues, so the group membership holds); they resume when the
// count falls to half. What is held in memory is bounded by max_in_flight records plus
// librdkafka's prefetch (queued.max.messages.kbytes, 16 MB by default here).
//
// Rebalancing is cooperative-sticky (incremental). When partitions are revoked, the consumer waits
// up to `revoke_timeout` for their in-flight records, stores and commits what completed, and hands
// the rest back: their later completions are ignored and the next owner redelivers them (the
// dedupe key makes the second start a no-op). Lost assignments are dropped at once.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/triggers/decode.h"
#include "flowd/triggers/record.h"

namespace flowd::triggers {

enum class Outcome {
  kStarted,       // every start in the Decoded is durable (or was already: dedupe hit)
  kDeadLettered,  // the record's dead letter is durable (poison, or failed at start)
  kRetryLater,    // nothing durable happened; deliver the record again after a backoff
};
std::string_view to_string(Outcome outcome);

// Completion says how a submitted record ended. Copyable; the first call counts, later calls are
// ignored; callable from any thread, also after the consumer is gone. When the last copy is
// destroyed without a call, the record counts as kRetryLater.
class Completion {
 public:
  struct State;  // consumer.cc
  Completion() = default;
  explicit Completion(std::shared_ptr<State> state) : state_(std::move(state)) {}

  void operator()(Outcome outcome) const;
  explicit operator bool() const { return state_ != nullptr; }

 private:
  std::shared_ptr<State> state_;
};

// What the consumer hands records to (the service implements it). submit() runs on the consumer's
// poll thread: it must not block (post the work to another thread and return). Records of one
// partition arrive in offset order; completions may come in any order.
class TriggerSink {
 public:
  virtual ~TriggerSink() = default;
  // `decoded.starts`: start each (dedupe key unique); `decoded.poison`: dead-letter the record
  // with each reason (PostgreSQL row + DlqPublisher). A start that fails its input schema is
  // dead-lettered too (PoisonCode::kInvalidInput). Then call `done` once.
  virtual void submit(std::shared_ptr<const Record> record, Decoded decoded, Completion done) = 0;
};

struct ConsumerConfig {
  KafkaSettings kafka;
  std::string group_id = "flowd";
  std::string client_id = "flowd";
  // Subscribed besides the router's bound topics (envelope records naming a workflow).
  std::vector<std::string> topics = {std::string(kTriggerTopic)};
  std::size_t max_in_flight = 1024;
  // At max_in_flight the poll thread first stops polling (librdkafka keeps what it prefetched,
  // bounded by queued.max.messages.kbytes); only when still full after this long does it pause
  // the partitions (which discards the prefetched records) and poll on for the group's sake.
  Millis pause_after{1'000};
  Millis revoke_timeout{10'000};  // wait for in-flight records of revoked partitions
  Millis retry_backoff{200};      // first redelivery of a kRetryLater record, doubling
  Millis max_retry_backoff{10'000};
};

struct ConsumerStats {
  std::uint64_t received = 0;       // records polled
  std::uint64_t submitted = 0;      // given to the sink (redeliveries included)
  std::uint64_t started = 0;        // completed kStarted
  std::uint64_t dead_lettered = 0;  // completed kDeadLettered
  std::uint64_t retried = 0;        // completed kRetryLater (or dropped)
  std::uint64_t filtered = 0;       // no binding's filter matched
  std::uint64_t offsets_stored = 0;
  std::uint64_t pauses = 0;            // times back-pressure paused the partitions
  std::uint64_t rebalances = 0;        // assignments and revocations seen
  std::uint64_t assignments_lost = 0;  // revocations without a chance to commit
  std::uint64_t errors = 0;            // client errors reported by librdkafka
  std::size_t in_flight = 0;
  std::size_t assigned_partitions = 0;
  bool paused = false;
  std::int64_t lag = 0;  // sum over assigned partitions of high watermark - next stored offset
};

// The consumer. Lifecycle: create() validates the config and makes the librdkafka handle;
// start() subscribes and starts the poll thread; stop() (or the destructor) drains in-flight
// records up to a deadline, commits, leaves the group and joins the thread. The poll thread owns
// all librdkafka calls except offset stores, which completions make under a mutex.
// The sink must outlive the consumer.
class TriggerConsumer {
 public:
  static Result<std::unique_ptr<TriggerConsumer>> create(
      ConsumerConfig config, std::shared_ptr<const TriggerRouter> router, TriggerSink& sink);
  virtual ~TriggerConsumer() = default;

  virtual Result<void> start() = 0;
  // Routes records with `router` from now on, and subscribes to its topics (resubscribing when
  // they changed). Safe from any thread.
  virtual void set_router(std::shared_ptr<const TriggerRouter> router) = 0;
  // Stops fetching, waits up to `drain` for in-flight records, commits stored offsets and leaves
  // the group. Records still in flight then are handed back. Idempotent; safe from any thread
  // except the sink's submit().
  virtual void stop(Millis drain = Millis{10'000}) = 0;
  virtual ConsumerStats stats() const = 0;
  // The topics subscribed now.
  virtual std::vector<std::string> subscription() const = 0;
};

}  // namespace flowd::triggers
