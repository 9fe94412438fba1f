#pragma once
// DeadLetterProjector turns the event log's terminal events into dead-letter rows: an execution
// that failed for good (ExecutionFailed, ExecutionTimedOut) becomes a dead letter of kind
// `execution` unless its workflow opts out (`spec.deadLetter`); a retry execution that ends
// updates the dead letter it retries (completed: resolved; failed again: pending with the next
// attempt's error) instead of making a new one.
//
// Why a projection and not the appender's transaction: the appender is the hot path of every
// execution (group-committed COPY, tuned per batch) and knows nothing of definitions or dead
// letters; a projection keeps it unchanged and is just as safe. The projector reads the gap-safe
// global log (rows of transactions older than every running one, in (tx_id, global_position)
// order, as the outbox relay does) after its checkpoint (relay_checkpoints row
// 'flowd.dlq-projector'), and writes the dead letters *and* moves the checkpoint in one
// transaction. A crash before the commit leaves both unchanged, so the next run (this instance
// after a restart, or another) projects the same events again; the row's dedupe key
// ('execution:<id>') makes a second projection a no-op. So a failed execution always gets its
// dead letter, once, at most a poll interval after its final event commits.
//
// Several instances may run projectors: the checkpoint row is locked FOR UPDATE by each batch,
// so batches are serialised and never double-apply.
//
// Threads: start() runs one thread of its own (blocking PostgreSQL on its own connection);
// run_once() may be called directly instead (tests, flowctl). Lifecycle: open(), start(),
// stop() (joins). Not copyable.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "flowd/engine/error.h"
#include "flowd/engine/json.h"
#include "flowd/engine/secrets.h"

namespace flowd::dlq {

struct DeadLetterProjectorOptions {
  std::string url;
  std::string name = "flowd.dlq-projector";      // checkpoint row
  std::size_t scan_limit = 5'000;                // events looked at per batch
  std::chrono::milliseconds poll_interval{100};  // idle wait
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
  // Secret values this process resolved (flowd/engine/secrets.h): masked ("***") in a letter's
  // error, message and input, and in its audit data, before they are written. The events are
  // masked already when appended; this keeps a value that reached them some other way (an
  // error text, an input) out of dead_letters, flowd.dlq and the dead-letter API too. May be null.
  std::shared_ptr<const SecretMasker> masker;
};

struct ProjectionReport {
  std::size_t scanned = 0;        // events read after the checkpoint
  std::size_t dead_lettered = 0;  // new dead letters
  std::size_t resolved = 0;       // retries that completed
  std::size_t failed_again = 0;   // retries that failed
};

class DeadLetterProjector {
 public:
  static Result<std::unique_ptr<DeadLetterProjector>> open(DeadLetterProjectorOptions options);
  ~DeadLetterProjector();
  DeadLetterProjector(const DeadLetterProjector&) = delete;
  DeadLetterProjector& operator=(const DeadLetterProjector&) = delete;

  // One batch in one transaction.
  Result<ProjectionReport> run_once();
  // Batches until nothing is left below the horizon (tests, tools).
  Result<ProjectionReport> catch_up();

  void start();
  void stop();

  class Impl;

 private:
  explicit DeadLetterProjector(std::unique_ptr<Impl> impl);
  void loop();

  std::unique_ptr<Impl> impl_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace flowd::dlq
