#pragma once
// Operations is flowd's API as plain calls, independent of any transport: the HTTP routes
// (routes.h) and flowctl's direct mode (--database) both call it, so both give the same answers
// in the same JSON shapes (schemas/openapi.yaml). Every call returns the JSON body of the answer
// or an ApiError (stable code, message, hint, details); `Reply::status` says which HTTP status a
// success maps to (201 for something created, 202 for a queued command).
//
// Lifecycle: made over an open EventStore and CommandQueue, which must outlive it.
// Threads: every call blocks on PostgreSQL; any thread may call (the store and the queue are
// thread-safe), but never an Asio thread that serves connections or drives executions.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "flowd/engine/error.h"
#include "flowd/engine/json.h"
#include "http/error.h"

namespace flowd::eventstore {
class EventStore;
class CommandQueue;
}  // namespace flowd::eventstore

namespace flowd::api {

using http::ApiError;

// A successful answer: its JSON body and the HTTP status it maps to.
struct Reply {
  Reply() = default;
  Reply(Json body_, unsigned status_ = 200, std::string location_ = {})
      : body(std::move(body_)), status(status_), location(std::move(location_)) {}

  Json body;
  unsigned status = 200;
  std::string location;  // a Location header for created resources ("" for none)
};
using ApiResult = tl::expected<Reply, ApiError>;

struct OperationsOptions {
  // metadata.actor of the events and commands these calls cause ("api", "flowctl").
  std::string actor = "api";
  // Retention of dead letters (dlq::purge_dead_letters), run by retention() after the events':
  // its count goes into the answer as "deadLetters". Empty: none.
  std::function<Result<std::int64_t>(std::chrono::milliseconds older_than, bool dry_run)>
      dead_letter_retention;
  // The dead letters of an execution for audit(): its letter and the one it retries, with their
  // retries and actions (dlq::dead_letters_of_execution), as "deadLetters". Empty: none.
  std::function<Result<Json>(const std::string& execution_id)> dead_letter_audit;
};

struct WorkflowFilter {
  std::optional<std::string> name_prefix;
  std::size_t limit = 50;  // 1..500
  std::string page_token;
};

struct ExecutionFilter {
  std::optional<std::string> workflow;
  std::optional<std::string> status;      // pending, running, ..., timed_out
  std::optional<std::string> since;       // RFC 3339 time, or a duration ago ("1h")
  std::optional<std::string> until;       // started before: RFC 3339 time, or a duration ago
  std::optional<std::string> dedupe_key;  // only the execution started with this dedupe key
  std::size_t limit = 50;                 // 1..500
  std::string page_token;
};

struct StartRequest {
  std::string workflow;
  std::optional<int> version;  // empty: the latest
  Json input = Json::object();
  Json context = nullptr;  // an object or null
  std::string dedupe_key;  // "": none
  std::string retry_of;    // "": none (rerun sets it)
  std::string actor;       // metadata.actor ("": OperationsOptions::actor), e.g. the token name
};

struct RerunRequest {
  std::optional<Json> input;   // empty: the original input
  std::optional<int> version;  // empty: the original workflow version
  std::string actor;           // as StartRequest::actor
};

// A definition sent as text: YAML, or JSON (which is YAML too).
struct DefinitionText {
  std::string text;
  std::string source = "<request>";  // for diagnostics ("<request>:4:7: ...")
};

class Operations {
 public:
  Operations(eventstore::EventStore& store, eventstore::CommandQueue& commands,
             OperationsOptions options = {});

  // --- workflows -------------------------------------------------------------------------------
  // Stores a definition as a new immutable version: 201 created, 200 unchanged;
  // INVALID_DEFINITION (422) with every problem in details; CONFLICT when name@version exists
  // with other content.
  ApiResult apply_workflow(const DefinitionText& definition);
  // {"valid","name"?,"version"?,"problems":[{message,pointer?,line?,column?}]}; nothing stored.
  ApiResult validate_workflow(const DefinitionText& definition);
  // The latest version of each workflow, by name: {"items":[WorkflowSummary],"nextPageToken"?}.
  ApiResult list_workflows(const WorkflowFilter& filter);
  // One version (the latest when empty), with every version's info when `version` is empty.
  ApiResult get_workflow(const std::string& name, std::optional<int> version);

  // --- executions ------------------------------------------------------------------------------
  // Validates the input (INVALID_INPUT with details), appends ExecutionStarted: 201 with
  // {"id","workflow","workflowVersion","status","duplicate":false}, or 200 and duplicate:true
  // when the dedupe key was used before.
  ApiResult start_execution(const StartRequest& request);
  ApiResult list_executions(const ExecutionFilter& filter);
  // {"counts":{"<status>":n,...},"total":n} over the filter's workflow and time range (every
  // status present, 0 when none).
  ApiResult count_executions(const ExecutionFilter& filter);
  // The state folded from the events (as of event `as_of` when given) plus the executions row.
  ApiResult get_execution(const std::string& id, std::optional<std::int64_t> as_of = {});
  // Events with version > after, at most limit (1..1000): {"items","nextAfter"?}.
  ApiResult events(const std::string& id, std::int64_t after, std::size_t limit);
  // {"state","eventsApplied","timeline":[{version,type,step?,status}]}; no step runs again.
  ApiResult replay(const std::string& id, std::optional<std::int64_t> upto);
  // A new execution with the same (or given) input and version, linked by retryOf.
  ApiResult rerun(const std::string& id, const RerunRequest& request);
  // pause | resume | cancel through the CommandQueue: 202 {"executionId","command","commandId"};
  // CONFLICT when the execution already ended.
  ApiResult command(const std::string& id, const std::string& command, const Json& payload,
                    const std::string& actor = {});

  // Who did what: who started it, the input, every step with attempts and durations, the
  // secrets each step accessed (names), commands with actor and reason, retries, fallbacks,
  // lineage (retryOf, parent, retries and children), every event's actor and, with
  // OperationsOptions::dead_letter_audit, its dead letters' retries and actions (audit.cc).
  ApiResult audit(const std::string& id);
  // The webhooks the stored workflows serve: {"items":[{path,url,workflow,...}],"problems"}.
  ApiResult list_webhooks();

  // --- administration --------------------------------------------------------------------------
  // {"executions","events","snapshots","batches","dryRun"}
  ApiResult retention(std::chrono::milliseconds older_than, bool dry_run);

  eventstore::EventStore& store() { return store_; }
  const OperationsOptions& options() const { return options_; }

 private:
  eventstore::EventStore& store_;
  eventstore::CommandQueue& commands_;
  OperationsOptions options_;
};

}  // namespace flowd::api
