#pragma once
// EventStore is flowd's PostgreSQL event store: the durable EventLog of the engine, the executions
// projection, leases, snapshots, the definition registry and the queries of flowctl.
//
// Writes (append, start_execution) are asynchronous and group-committed: one appender thread owns
// its own connection and commits everything queued since its previous commit in one transaction
// (bounded by StoreOptions::max_batch_events / max_batch_wait). Each caller's callback runs once,
// on the appender thread, after the transaction committed (synchronous_commit as configured on the
// server, `on` by default) or failed; a conflict or duplicate fails only its own request.
//
// Everything else is synchronous and blocking, thread-safe, on a small pool of connections: never
// call it from a thread that drives executions (Asio); post it to a worker.
//
// Lifecycle: open() connects, applies the migrations (advisory-locked, idempotent) and starts the
// appender; close() (or the destructor) answers what is queued, then stops. Calls after close()
// fail with errc::shutting_down.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/event_log.h"
#include "flowd/engine/execution_state.h"
#include "flowd/eventstore/errc.h"
#include "flowd/eventstore/subscription.h"
#include "flowd/eventstore/types.h"

namespace flowd::eventstore {

struct StoreOptions {
  std::string url;  // libpq URL or key=value conninfo
  // Apply pending migrations at open(). When false, open() requires the database to be at exactly
  // this binary's schema version.
  bool migrate = true;
  // This instance's owner id. Executions started through this store are leased to it
  // (lease_ttl); empty: started unowned, for any instance to claim (flowctl).
  std::string owner;
  std::chrono::milliseconds lease_ttl{30'000};
  // Default metadata.actor of appended events.
  std::string actor = "flowd";
  // Group commit: events per transaction, and how long the appender may wait for more requests
  // once it has some (only while under load: a lone request is committed at once).
  std::size_t max_batch_events = 5'000;
  std::chrono::microseconds max_batch_wait{200};
  // Appender lanes: writers with a thread, a queue and a connection each; a stream always uses
  // the same lane (its appends stay in submission order). One lane builds while another's
  // transaction is on the server.
  std::size_t appender_lanes = 2;
  std::size_t pool_size = 4;  // connections for the synchronous API
  std::string notify_channel = "flowd_events";
};

using StoreAppendCallback = std::function<void(StoreResult<std::int64_t>)>;
using StartCallback = std::function<void(StoreResult<StartOutcome>)>;

class EventStore final : public EventLog {
 public:
  // Connects, migrates (or checks the schema version) and starts the appender.
  static StoreResult<std::unique_ptr<EventStore>> open(StoreOptions options);

  ~EventStore() override;
  EventStore(const EventStore&) = delete;
  EventStore& operator=(const EventStore&) = delete;

  // Answers every queued request, stops the appender, closes the connections. Idempotent.
  void close();

  // --- writes (group-committed) ---------------------------------------------------------------

  // EventLog: errors are mapped with to_error(). An ExecutionStarted whose data has a "dedupeKey"
  // that already exists fails (kInvalidInput naming the existing execution); use start_execution()
  // to get that as a value.
  void append(AppendRequest request, AppendCallback done) override;
  // The same with per-request metadata (an object; "actor" defaults to StoreOptions::actor) and
  // the typed error.
  void append(AppendRequest request, Json metadata, StoreAppendCallback done);
  StoreResult<std::int64_t> append_sync(AppendRequest request, Json metadata = Json::object());

  // Exactly-once start: request.events[0] must be ExecutionStarted and expected_version 0. When its
  // data.dedupeKey was already used, nothing is written and the outcome names the existing
  // execution (duplicate = true). Otherwise the events are appended, the executions row created
  // and, when StoreOptions::owner is set, leased to this instance.
  void start_execution(AppendRequest request, Json metadata, StartCallback done);
  StoreResult<StartOutcome> start_execution_sync(AppendRequest request,
                                                 Json metadata = Json::object());

  AppenderStats appender_stats() const;

  // --- reads -----------------------------------------------------------------------------------

  // Events of one execution with version >= from_version, at most max_count, in version order.
  StoreResult<std::vector<RecordedEvent>> read_stream(const std::string& execution_id,
                                                      std::int64_t from_version = 1,
                                                      std::size_t max_count = 1'000);
  // Current version of an execution's stream (0 when it has no events).
  StoreResult<std::int64_t> stream_version(const std::string& execution_id);
  // Committed events after `after` in the global order, at most max_count. Never skips an event
  // that commits later: reads stop before the oldest transaction still running.
  StoreResult<std::vector<RecordedEvent>> read_all(Position after, std::size_t max_count = 1'000,
                                                   ReadDetail detail = ReadDetail::kFull);
  // Live tail of the global log from `after` (see subscription.h).
  StoreResult<std::unique_ptr<Subscription>> subscribe(Position after,
                                                       Subscription::Handler handler,
                                                       SubscriptionOptions options = {});

  // --- replay and snapshots --------------------------------------------------------------------

  // State of an execution folded from its events, as of event `at` (all when empty), starting
  // from the newest snapshot at or before it. not_found when the stream has no events.
  StoreResult<ExecutionState> load_state(const std::string& execution_id,
                                         std::optional<std::int64_t> at = std::nullopt);
  // The current state of many executions (as load_state without `at`), with a query for their
  // snapshots and one per page of events instead of two per execution: one result per id, in
  // the order of `execution_ids` (not_found for one without events, invalid_argument for a
  // repeated id).
  StoreResult<std::vector<StoreResult<ExecutionState>>> load_states(
      const std::vector<std::string>& execution_ids);
  // Stores state (its version is state.version; saving the same version again is a no-op).
  StoreResult<void> save_snapshot(const ExecutionState& state);
  // The newest snapshot with version <= at_most (any when empty), or nullopt.
  StoreResult<std::optional<ExecutionState>> load_snapshot(
      const std::string& execution_id, std::optional<std::int64_t> at_most = std::nullopt);

  // --- executions projection -------------------------------------------------------------------

  StoreResult<std::optional<ExecutionRecord>> get_execution(const std::string& execution_id);
  StoreResult<ExecutionPage> list_executions(const ExecutionQuery& query);
  // How many executions match the query's workflow and time range, by status ("running" -> n);
  // the query's status, limit and page token are ignored.
  StoreResult<std::map<std::string, std::int64_t>> count_executions(const ExecutionQuery& query);
  StoreResult<std::optional<std::string>> find_by_dedupe_key(const std::string& dedupe_key);

  // --- leases: which instance runs an execution ------------------------------------------------

  // Takes the lease when the execution is not terminal and unowned, owned by `owner`, or its
  // lease lapsed — or, for a sub-workflow execution, when `owner` holds its parent's live lease
  // (the parent's run drives the child). false when another owner holds a live lease; not_found
  // when it does not exist.
  StoreResult<bool> claim(const std::string& execution_id, const std::string& owner,
                          std::chrono::milliseconds ttl);
  // Extends the lease when `owner` still holds it (false: lost to another instance).
  StoreResult<bool> renew(const std::string& execution_id, const std::string& owner,
                          std::chrono::milliseconds ttl);
  // Extends every lease `owner` holds on non-terminal executions, except orphans (sub-workflow
  // executions whose parent ended); returns the ids of those that are no sub-workflow executions
  // (a child runs inside its parent's run, which adopts it).
  StoreResult<std::vector<std::string>> renew_all(const std::string& owner,
                                                  std::chrono::milliseconds ttl);
  // Gives up `owner`'s leases on these executions (others' leases are left alone).
  StoreResult<void> release(const std::vector<std::string>& execution_ids,
                            const std::string& owner);
  // Non-terminal executions that nobody holds (unowned or lease lapsed), oldest first; never
  // sub-workflow executions (see renew_all).
  StoreResult<std::vector<ExecutionRecord>> list_resumable(std::size_t limit = 100);
  // Atomically claims up to `limit` of those for `owner` (SKIP LOCKED: instances racing for them
  // get disjoint sets); returns the claimed ids.
  StoreResult<std::vector<std::string>> claim_resumable(const std::string& owner,
                                                        std::chrono::milliseconds ttl,
                                                        std::size_t limit = 100);
  // Claims up to `limit` orphans — non-terminal sub-workflow executions whose parent ended (or is
  // unknown) and whose lease lapsed or was never taken — for `owner`, who is to end them (SKIP
  // LOCKED, oldest first); returns their ids.
  StoreResult<std::vector<std::string>> claim_orphans(const std::string& owner,
                                                      std::chrono::milliseconds ttl,
                                                      std::size_t limit = 100);

  // --- definition registry ---------------------------------------------------------------------

  // Stores a workflow definition (JSON form) as an immutable version. With metadata.version set:
  // stores name@version, a no-op when that version holds the same content, definition_conflict
  // when it holds different content. Without: a no-op returning the latest version when its
  // content is the same, else stores latest + 1. Content = the document without metadata.version.
  StoreResult<DefinitionRecord> apply_definition(const Json& document);
  // The given version, or the latest when empty; nullopt when there is none.
  StoreResult<std::optional<DefinitionRecord>> get_definition(
      const std::string& name, std::optional<int> version = std::nullopt);
  // Every version of `name` (of all names when empty), by name then version.
  StoreResult<std::vector<DefinitionRecord>> list_definitions(
      const std::optional<std::string>& name = std::nullopt);

  // --- retention -------------------------------------------------------------------------------

  // Deletes the events and snapshots of terminal executions that ended before now - older_than,
  // in batches of batch_size executions per transaction; their executions and streams rows stay
  // (marked purged_at) so dedupe keys and versions keep protecting them. dry_run only counts.
  StoreResult<RetentionReport> purge(const RetentionRequest& request);

  // --- administration --------------------------------------------------------------------------

  StoreResult<int> schema_version();
  const StoreOptions& options() const;

  class Impl;

 private:
  explicit EventStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowd::eventstore
