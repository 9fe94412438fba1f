#pragma once
// Reprocessor is what people do with dead letters: retry (same input, new input, a JSON merge
// patch of it, from the failed step, onto another definition version, or — for a trigger record —
// decoding and starting it again, or republishing it to its topic), discard, archive, and the
// read side (show, stats, the progress of a bulk retry). flowctl's direct mode and the HTTP API
// both call it, so both behave the same.
//
// Safe by construction:
//  - A retry is two steps. (1) One transaction locks the letter's row, numbers the retry
//    (retries + 1), plans it (execution id, input, version, mode) in dead_letter_retries and marks
//    the letter `retrying`. (2) The execution is started with dedupe key 'dlq:<id>:<n>'. Retrying
//    a letter that is already `retrying` returns its current retry and repeats step 2, which the
//    dedupe key makes a no-op once it happened: two concurrent retries of one letter start one
//    execution, and a crash between the steps is repaired by retrying again.
//  - The retry execution ends in the DeadLetterProjector: completed resolves the letter; failed
//    puts it back to `pending` with the new failure as its next attempt.
//  - Every action is an audit event (dead_letter_events: who, when, what, why).
//
// Threads: blocking; any thread but an Asio one. The store and letters must outlive it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "flowd/dlq/dead_letter_store.h"
#include "flowd/engine/error.h"
#include "flowd/engine/json.h"

namespace flowd::eventstore {
class EventStore;
}

namespace flowd::dlq {

struct RetryOptions {
  std::optional<Json> input;      // replaces the input
  std::optional<Json> patch;      // RFC 7386 JSON merge patch over the original input
  bool from_failed_step = false;  // completed steps' outputs are reused (execution letters)
  std::optional<int> version;     // definition version to run (default: the letter's)
  bool republish = false;         // trigger letters: put the record back on its topic
  std::string actor = "flowctl";
  std::string reason;
  std::string batch;  // a bulk retry's label (progress and the failure threshold)
  bool dry_run = false;
};

struct RetryResult {
  std::int64_t dead_letter_id = 0;
  int retry_number = 0;
  std::string execution_id;  // empty for a republish
  std::string mode;          // same-input | input | patch | from-failed-step | redecode | republish
  std::string workflow;
  int workflow_version = 0;
  Json input;
  std::size_t reused_steps = 0;
  bool already_requested = false;  // the letter was `retrying`: this is its current retry
  bool dry_run = false;
};
Json to_json(const RetryResult& result);
Json to_json(const DeadLetter& letter);

class Reprocessor {
 public:
  Reprocessor(eventstore::EventStore& store, DeadLetterStore& letters);
  ~Reprocessor();

  Result<RetryResult> retry(std::int64_t id, const RetryOptions& options);
  Result<DeadLetter> discard(std::int64_t id, const std::string& actor, const std::string& reason);
  Result<DeadLetter> archive(std::int64_t id, const std::string& actor, const std::string& reason);

  // {"deadLetter", "retries":[...], "audit":[...], "timeline":[{version,type,step?,attempt?,
  //  time,error?}], "failedStep": {"id","error","input"?,"attempts"}}
  Result<Json> show(std::int64_t id);
  // {"total","byState","byWorkflow","byErrorCode","byAge","oldestPending","retries":{started,
  //  completed,failed,running,successRate},"resolution":{resolved,avgSeconds,maxSeconds}}
  Result<Json> stats();
  // {"batch","started","completed","failed","running"}
  Result<Json> batch_progress(const std::string& batch);

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The dead letters an execution belongs to, for its audit (GET /api/v1/executions/{id}/audit):
// the one its failure made ("relation": "failed") and the one it retries ("relation": "retry",
// with its "retryNumber"), each with its retries (who asked, mode, outcome) and every action on
// it (dead_letter_events: type, actor, reason, time). [] when none.
Result<Json> dead_letters_of_execution(DeadLetterStore& letters, const std::string& execution_id);

}  // namespace flowd::dlq
