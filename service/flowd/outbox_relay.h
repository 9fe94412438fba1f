#pragma once
// OutboxRelay publishes committed execution events to the Kafka topic flowd.events.
//
// The events table is the outbox. Every state change is already an event committed in the same
// transaction as the rest of the execution's write, so there is no second table to fill and
// nothing to keep in step with it: the relay reads the gap-safe global log
// (EventStore::read_all, which never shows an uncommitted event and never skips one that commits
// late) after a checkpoint, publishes the batch with the idempotent producer, and moves the
// checkpoint (table relay_checkpoints) only after every delivery report of the batch succeeded
// (on a partial failure: up to the last event before the first failure). So: no event is
// published that was not committed, and none is lost across restarts; a crash between delivery
// and checkpoint publishes a batch again (at-least-once). Records carry the event's id, stream
// version and global position in headers so consumers dedupe; the key is the execution id, so
// one execution's events stay in order on one partition.
//
// One relay per database publishes at a time: it holds a PostgreSQL session advisory lock on its
// own connection; other instances' relays wait on standby and take over when that session ends.
// The checkpoint is written on the lock's connection: a relay whose connection (and so lock)
// broke cannot move it.
//
// Threads: one relay thread does everything (blocking PostgreSQL and waiting for delivery
// reports). Lifecycle: construct, start(), stop() (waits for the batch in flight, up to the
// delivery timeout). The store and the publisher must outlive it.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/producer.h"

namespace flowd::service {

struct OutboxRelayOptions {
  std::string url;                              // PostgreSQL: the lock and the checkpoint
  std::string name = "flowd.events";            // checkpoint row and lock: one relay per name
  std::size_t batch_size = 1'000;               // events per read and publish
  std::chrono::milliseconds poll_interval{20};  // idle wait before reading the log again
  std::chrono::milliseconds lock_retry{1'000};  // standby: try the lock this often
  std::chrono::milliseconds delivery_timeout{30'000};
  std::chrono::milliseconds retry_backoff{100};  // after a failed batch, doubling
  std::chrono::milliseconds max_retry_backoff{5'000};
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
};

struct OutboxRelayStats {
  std::uint64_t published = 0;  // events delivered (again after a failure counts again)
  std::uint64_t batches = 0;
  std::uint64_t failures = 0;  // batches with a failed delivery or checkpoint
  bool active = false;         // holds the lock
  eventstore::Position checkpoint;
};

class OutboxRelay {
 public:
  OutboxRelay(eventstore::EventStore& store, std::shared_ptr<triggers::OutboxPublisher> publisher,
              OutboxRelayOptions options);
  ~OutboxRelay();
  OutboxRelay(const OutboxRelay&) = delete;
  OutboxRelay& operator=(const OutboxRelay&) = delete;

  void start();
  // Finishes the batch in flight, releases the lock, joins the thread. Idempotent.
  void stop();
  OutboxRelayStats stats() const;

  class Session;  // the lock-holding connection (outbox_relay.cc)

 private:
  void run();
  void relay(Session& session);
  // Waits `wait` or until stop(); true when stopping.
  bool sleep(std::chrono::milliseconds wait);
  void log(std::string_view level, const std::string& message, const Json& fields = {});

  eventstore::EventStore& store_;
  std::shared_ptr<triggers::OutboxPublisher> publisher_;
  OutboxRelayOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;            // GUARDED_BY(mutex_)
  eventstore::Position checkpoint_;  // GUARDED_BY(mutex_)
  std::atomic<std::uint64_t> published_{0}, batches_{0}, failures_{0};
  std::atomic<bool> active_{false};
  std::thread thread_;
};

// The Kafka record value of one event: the event (to_json) plus executionId, eventId, position
// {txId, globalPosition}, metadata and recordedAt.
Json event_message(const eventstore::RecordedEvent& event);

}  // namespace flowd::service
