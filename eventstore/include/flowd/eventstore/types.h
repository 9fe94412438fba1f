#pragma once
// Value types of the event store's API: positions in the global log, recorded events, the
// executions projection, definitions, queries and reports. Plain data, no behaviour.
#include <chrono>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/event.h"
#include "flowd/engine/execution_state.h"
#include "flowd/engine/json.h"

namespace flowd::eventstore {

// A place in the global log. Events are read in (tx_id, global_position) order: the id of the
// transaction that appended the event, then its position. Position{} is before the first event.
struct Position {
  std::uint64_t tx_id = 0;
  std::int64_t global_position = 0;

  auto operator<=>(const Position&) const = default;
};

// One stored event: the engine's Event (with its stream version) plus what the store adds.
struct RecordedEvent {
  Position position;
  std::string execution_id;  // the stream is "execution-<execution_id>"
  std::string event_id;      // uuid
  Event event;               // event.version = stream version (1..n)
  Json metadata;             // {"actor", trace context, causation / correlation ids, ...}
  TimePoint recorded_at{};
};

// How much of each event a read returns: everything, or only what a fold needs (position,
// execution id and the Event: no event_id, metadata or recorded_at) — replaying a projection
// reads a third less and parses one JSON document per event instead of two.
enum class ReadDetail { kFull, kFold };

// The stream name of an execution: "execution-<id>".
std::string stream_name(const std::string& execution_id);

// Outcome of start_execution(): a new execution, or the one already started with the same
// dedupe key (duplicate = true; version is then that execution's current version).
struct StartOutcome {
  std::string execution_id;
  std::int64_t version = 0;
  bool duplicate = false;
};

// A row of the `executions` projection.
struct ExecutionRecord {
  std::string id;
  std::string workflow;
  int workflow_version = 0;
  std::int64_t version = 0;  // number of events
  ExecutionStatus status = ExecutionStatus::kPending;
  std::optional<std::string> dedupe_key;
  TimePoint started_at{};
  std::optional<TimePoint> ended_at;
  Json current_step;  // {"step","event","attempt"} of the latest step event, or null
  Json error;         // {"code","message","retryable"} of a failed execution, or null
  std::optional<std::string> owner;
  std::optional<TimePoint> lease_until;
  std::optional<std::string> retry_of;
  std::optional<std::string> parent;
  TimePoint updated_at{};
  std::optional<TimePoint> purged_at;  // retention removed its events

  bool terminal() const { return is_terminal(status); }
};

// Filters of list_executions(), newest first; page_token continues a previous page.
struct ExecutionQuery {
  std::optional<std::string> workflow;
  std::optional<ExecutionStatus> status;
  std::optional<TimePoint> since;  // started at or after
  std::optional<TimePoint> until;  // started before
  std::size_t limit = 50;
  std::string page_token;
};

struct ExecutionPage {
  std::vector<ExecutionRecord> items;
  std::string next_page_token;  // empty on the last page
};

// One immutable version of a workflow definition in the registry.
struct DefinitionRecord {
  std::string name;
  int version = 0;
  std::string content_hash;  // sha256 (hex) of the canonical JSON without metadata.version
  Json document;             // as applied, with metadata.version set to `version`
  TimePoint created_at{};
  bool created = false;  // apply_definition(): true when this call stored it
};

struct RetentionRequest {
  std::chrono::milliseconds older_than{std::chrono::hours(24 * 30)};  // ended before now - this
  bool dry_run = false;
  std::size_t batch_size = 500;  // executions per transaction
};

struct RetentionReport {
  std::int64_t executions = 0;  // terminal executions whose events were (or would be) removed
  std::int64_t events = 0;
  std::int64_t snapshots = 0;
  std::int64_t batches = 0;
  bool dry_run = false;
};

// Counters of the group-commit appender (monotonic since open).
struct AppenderStats {
  std::uint64_t batches = 0;   // committed transactions
  std::uint64_t requests = 0;  // append / start requests answered
  std::uint64_t events = 0;    // events made durable
  std::uint64_t conflicts = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t failures = 0;  // requests failed for another reason
  std::uint64_t max_batch_events = 0;
  // Batches decided from the appender's own version cache, without reading `executions` first
  // (the conditional UPDATE / INSERT still verifies every version).
  std::uint64_t cached_batches = 0;
  // Where the appender thread spends its time (microseconds, summed over batches): BEGIN, reading
  // versions and dedupe keys, building the rows, the projection (executions + NOTIFY, which also
  // checks the versions), COPY of the events, COMMIT, and running callbacks.
  std::uint64_t begin_us = 0;
  std::uint64_t check_us = 0;
  std::uint64_t build_us = 0;
  std::uint64_t projection_us = 0;
  std::uint64_t copy_us = 0;
  std::uint64_t commit_us = 0;
  std::uint64_t callback_us = 0;
};

}  // namespace flowd::eventstore
