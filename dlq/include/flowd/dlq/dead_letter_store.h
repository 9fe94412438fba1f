#pragma once
// DeadLetterStore is the `dead_letters` table (schemas/migrations/0003_dead_letters.sql): what
// flowd could not run, kept for people to inspect and reprocess. Poison trigger records are
// stored with their original bytes (key, value, headers) and Kafka coordinates; failed executions
// (kind kExecution) with their workflow, failed step, error and input (written by the
// DeadLetterProjector, dead_letter_projector.h). Reprocessing is dlq/reprocessor.h.
//
// Inserts are idempotent per source (DeadLetter::dedupe_key): a redelivered poison record finds
// its row instead of adding one. Everything is synchronous and blocking, thread-safe, on a small
// pool of connections: call it from worker threads, never from a poll or Asio thread.
// Lifecycle: open() connects (the schema must be migrated: EventStore::open does that); the
// destructor closes the connections. Errors are flowd::Error values: EXTERNAL (retryable) when
// PostgreSQL cannot be reached, INVALID_INPUT for rows it refuses, INTERNAL otherwise.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/error.h"
#include "flowd/engine/event.h"
#include "flowd/engine/json.h"

namespace flowd::dlq {

enum class DeadLetterKind { kTrigger, kExecution };
// pending: waiting for a person; retrying: a retry execution runs (retry_execution_id) or a
// republish is requested; resolved: a retry completed (or the record went back on its topic);
// discarded: dropped on purpose (with a reason); archived: kept for the record, out of the queue.
enum class DeadLetterStatus { kPending, kRetrying, kResolved, kDiscarded, kArchived };

std::string_view to_string(DeadLetterKind kind);
std::string_view to_string(DeadLetterStatus status);
std::optional<DeadLetterKind> parse_dead_letter_kind(std::string_view text);
std::optional<DeadLetterStatus> parse_dead_letter_status(std::string_view text);

struct RecordHeader {
  std::string name;
  std::optional<std::string> value;  // empty optional: a header with a null value
};

// The Kafka record a trigger dead letter comes from, byte for byte.
struct SourceRecord {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = -1;  // -1: none
  std::optional<std::string> key;  // empty optional: null key
  std::string value;
  std::vector<RecordHeader> headers;
  std::string consumer_group;  // empty: unknown
};

struct DeadLetter {
  std::int64_t id = 0;  // assigned by insert
  DeadLetterKind kind = DeadLetterKind::kTrigger;
  DeadLetterStatus status = DeadLetterStatus::kPending;
  std::string dedupe_key;  // unique; trigger_dedupe_key() for records
  std::string reason_code;
  std::string reason_message;
  std::string workflow;  // empty: none
  std::optional<int> workflow_version;
  std::string execution_id;  // kExecution
  std::string failed_step;   // kExecution
  Json input;                // null: none
  std::optional<SourceRecord> source;
  int attempts = 0;
  Json last_error;  // null: none
  std::string retry_execution_id;
  std::optional<TimePoint> published_at;     // delivered to the flowd.dlq topic
  std::optional<TimePoint> first_failed_at;  // the original failure (default: created_at)
  std::optional<TimePoint> last_failed_at;   // the latest (a retry's, when one failed again)
  std::string trace_id;                      // W3C trace id, "" when unknown
  int retries = 0;                           // retry executions started
  std::string resolution;                    // why it left the queue, "" while in it
  TimePoint created_at{};
  TimePoint updated_at{};
};

// "trigger:<topic>/<partition>/<offset>", plus "#<workflow>" when the reason concerns one
// workflow's binding (a record can be poison for several).
std::string trigger_dedupe_key(const std::string& topic, std::int32_t partition,
                               std::int64_t offset, const std::string& workflow = {});

struct InsertOutcome {
  std::int64_t id = 0;
  bool created = false;  // false: the dedupe key already had this row
};

// Filters of list(), newest first; `before_id` continues a page (the last id seen).
struct DeadLetterQuery {
  std::optional<DeadLetterKind> kind;
  std::optional<DeadLetterStatus> status;
  std::optional<std::string> workflow;
  std::optional<std::string> reason_code;
  std::optional<std::string> source_topic;
  std::optional<TimePoint> since;  // created at or after
  std::optional<TimePoint> until;  // created before
  std::optional<std::int64_t> before_id;
  std::size_t limit = 50;
};

struct DeadLetterStoreOptions {
  std::string url;
  std::size_t pool_size = 2;
};

class DeadLetterStore {
 public:
  // Connects once to check the database is reachable and migrated (dead_letters exists).
  static Result<std::unique_ptr<DeadLetterStore>> open(DeadLetterStoreOptions options);
  ~DeadLetterStore();
  DeadLetterStore(const DeadLetterStore&) = delete;
  DeadLetterStore& operator=(const DeadLetterStore&) = delete;

  Result<InsertOutcome> insert(const DeadLetter& letter);
  // One transaction; outcomes in the order given. Rows sharing a dedupe key get the same id.
  Result<std::vector<InsertOutcome>> insert_batch(const std::vector<DeadLetter>& letters);

  Result<std::optional<DeadLetter>> get(std::int64_t id);
  Result<std::vector<DeadLetter>> list(const DeadLetterQuery& query);
  Result<std::map<DeadLetterStatus, std::int64_t>> count_by_status(
      std::optional<DeadLetterKind> kind = std::nullopt);

  // The flowd.dlq topic took these rows.
  Result<void> mark_published(const std::vector<std::int64_t>& ids);
  // Trigger rows not yet on flowd.dlq and created before now - older_than, oldest first.
  Result<std::vector<DeadLetter>> list_unpublished(std::chrono::milliseconds older_than,
                                                   std::size_t limit);
  // Rows of `kind` not yet on flowd.dlq (any age), oldest first: the outbox of execution dead
  // letters, which the daemon's DeadLetterPublisher relays.
  Result<std::vector<DeadLetter>> list_unpublished_of(DeadLetterKind kind, std::size_t limit);

  // Runs f on a pooled connection inside one transaction (the reprocessing and projection code of
  // this library; `work` is a pqxx::work). Exceptions become Errors.
  Result<void> transact(std::string_view context, const std::function<void(void* work)>& f);

  class Impl;

 private:
  explicit DeadLetterStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowd::dlq
