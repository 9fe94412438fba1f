#pragma once
// Definition is a workflow as loaded from YAML or JSON and validated: the step graph with its
// compiled templates and conditions. Definitions are immutable once loaded and shared between the
// executions that run them (std::shared_ptr<const Definition>).
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/cron.h"
#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/engine/expr.h"
#include "flowd/engine/json.h"

namespace flowd {

// Where a value came from: a YAML line/column (1-based) and the JSON pointer inside the document.
struct SourceLocation {
  int line = 0;  // 0 when unknown (JSON input gives pointers only)
  int column = 0;
  std::string pointer;  // "/spec/steps/2/dependsOn/0"
};

struct RetryPolicy {
  int max_attempts = 1;  // 1 = no retry
  Millis backoff{200};
  double multiplier = 2.0;
  Millis max_backoff{30'000};
  double jitter = 0.0;        // 0..0.25, fraction of the delay added at random
  std::vector<ErrorCode> on;  // empty: retry errors that say they are retryable
};

struct Fallback {
  enum class Kind { kNone, kValue, kSkip, kStep };
  Kind kind = Kind::kNone;
  Json value;        // kValue
  std::string step;  // kStep: id of another step whose body runs instead
};

struct StepDef;

// What a step (or a switch case, or a forEach item) runs: one action (`type` + `with`) or an
// inline group of steps (`steps:`), whose output is `output` rendered, else the last step's.
struct StepBody {
  std::string type;  // empty when `steps` is used
  JsonTemplate with;
  std::vector<StepDef> steps;          // inline group
  std::optional<JsonTemplate> output;  // group output
  SourceLocation location;
};

// A step's `compensate:` (saga rollback): one action run when the execution fails for good after
// the step completed. Its templates see the step's scope plus `self` = {input: the step's `with`
// rendered again, output: the step's output}. Runs with its own timeout and retry policy.
struct CompensateDef {
  std::string type;
  JsonTemplate with;
  std::optional<Millis> timeout;
  std::optional<RetryPolicy> retry;
  SourceLocation location;
};

struct SwitchCase {
  Json match;  // compared with `==` semantics to the switch value
  StepBody body;
};

struct SwitchDef {
  Condition value;  // evaluated to a JSON value, not a truth value
  std::vector<SwitchCase> cases;
  std::optional<StepBody> default_body;
};

struct ForEachDef {
  Template items;  // must render to an array
  std::string as = "item";
  int max_parallel = 0;  // 0: bounded only by the workflow's maxParallel
};

// What to do when a template names data that is not there.
enum class OnMissing { kFail, kNull, kWait };

struct StepDef {
  std::string id;
  std::vector<std::string> depends_on;
  std::optional<Condition> condition;   // `if`
  std::optional<SwitchDef> switch_def;  // `switch`
  std::optional<ForEachDef> for_each;   // `forEach`
  StepBody body;                        // `type`/`with` or `steps` (unused with switch)
  std::optional<Millis> timeout;        // per attempt; absent: defaults, then 60 s
  std::optional<RetryPolicy> retry;     // absent: defaults, then none
  Fallback fallback;
  bool continue_on_error = false;
  OnMissing on_missing = OnMissing::kFail;
  std::optional<CompensateDef> compensate;  // `compensate:` (docs/dlq.md: order and nesting)
  SourceLocation location;
};

// What a schedule does with a tick whose previous run is still going (Temporal's names).
enum class OverlapPolicy {
  kSkip,        // skip: record the tick as skipped (the default)
  kAllow,       // allow: start it anyway
  kBufferOne,   // bufferOne: start it when the running one ends; keep at most one waiting
  kBufferAll,   // bufferAll: keep every tick waiting, start them in order
  kCancelOther  // cancelOther: cancel the running one, then start
};
// "skip", "allow", "bufferOne", "bufferAll", "cancelOther" (as written in definitions and APIs).
std::string_view to_string(OverlapPolicy policy);
std::optional<OverlapPolicy> parse_overlap_policy(std::string_view text);

// A `spec.triggers[].cron` as validated at load: the schedule parses (CronSchedule::parse with
// the zone), the zone exists, durations and times are well-formed. triggers/ (the scheduler)
// fires it; the fields mean what docs/cron.md says.
struct CronTrigger {
  std::string name;      // `name`, else "<workflow>-cron-<i>", i counting the cron triggers from 0
  std::string schedule;  // the cron expression as written
  std::string timezone = "UTC";  // IANA name
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  Millis catchup_window{3'600'000};  // missed ticks younger than this run after downtime
  int max_catchup = 100;             // at most this many of them; older ones are recorded missed
  Millis jitter{0};                  // each tick starts up to this much late (deterministic)
  Json input;  // as written, null when absent; templates over tick.time, tick.date, schedule.name
  bool pause_on_failure = false;
  std::optional<SysSeconds> start_at;  // no tick before (RFC 3339 in the definition)
  std::optional<SysSeconds> end_at;    // no tick after
};

struct TriggerDef {
  enum class Kind { kKafka, kCron, kWebhook };
  Kind kind = Kind::kKafka;
  Json spec;  // the trigger's fields as written; triggers/ interprets them
  SourceLocation location;
  std::optional<CronTrigger> cron;  // kCron: the parsed trigger
};

// `spec.deadLetter`: whether an execution that fails for good becomes a dead letter. With
// `errorCodes`, only failures with one of those codes do (the others are only failed).
struct DeadLetterPolicy {
  bool enabled = true;
  std::vector<std::string> error_codes;  // empty: every code
};

// `spec.onFailure: {workflow: name[@version], input?}`: a workflow run (as a sub-workflow) when the
// execution fails for good, instead of the steps' compensations; its input is the failure
// ({executionId, workflow, version, error, step, input}) unless `input` (templates over
// `failure`, `input`, `steps`) says otherwise.
struct OnFailureDef {
  std::string workflow;
  std::optional<int> version;
  std::optional<JsonTemplate> input;
};

// The compiled form of `spec.input` (valijson), private to the engine (definition/input_schema.h).
struct CompiledSchema;

struct Definition {
  std::string name;
  int version = 1;
  std::string description;
  Json input_schema;  // null when absent
  Millis timeout{3'600'000};
  int max_parallel = 16;
  Millis default_step_timeout{60'000};
  RetryPolicy default_retry;
  std::vector<StepDef> steps;
  std::optional<JsonTemplate> output;
  std::vector<TriggerDef> triggers;
  DeadLetterPolicy dead_letter;            // `spec.deadLetter`
  std::optional<OnFailureDef> on_failure;  // `spec.onFailure`
  std::string source_name;                 // file name or "<input>", for messages
  Json document;                           // the definition as JSON, to store and hash
  // `input_schema` compiled when the definition loads; null when there is no input schema (a
  // Definition built by hand is compiled by validate_input on each call).
  std::shared_ptr<const CompiledSchema> compiled_input_schema;

  // "name@version"
  std::string ref() const;
  const StepDef* find_step(std::string_view id) const;
};

// One problem found while loading a definition.
struct Diagnostic {
  std::string source;  // file name
  SourceLocation location;
  std::string message;

  // "file:line:col: message" (YAML) or "file:pointer: message" (JSON)
  std::string format() const;
};

using Diagnostics = std::vector<Diagnostic>;

// Resolves `ref: name@version` for sub-workflows (and `name` alone: the latest version).
class DefinitionResolver {
 public:
  virtual ~DefinitionResolver() = default;
  virtual std::shared_ptr<const Definition> resolve(std::string_view name,
                                                    std::optional<int> version) const = 0;
};

constexpr int kMaxNestingDepth = 3;      // groups inside forEach / switch
constexpr int kMaxSubWorkflowDepth = 5;  // workflow calling workflow calling ...

// Parses and validates YAML or JSON text. All problems are reported in one pass.
struct LoadResult {
  std::shared_ptr<const Definition> definition;  // null when diagnostics is not empty
  Diagnostics diagnostics;
};
LoadResult load_definition(std::string_view text, std::string source_name);
// The same, knowing these step types (a StepRegistry's types()) instead of builtin_step_types().
LoadResult load_definition(std::string_view text, std::string source_name,
                           const std::set<std::string>& step_types);
LoadResult load_definition_file(const std::string& path);

// Validates `input` against the definition's `spec.input` JSON Schema (INVALID_INPUT on failure,
// naming the JSON pointer and the rule). Also declared in engine.h; declared here too so that
// tools and fuzzers that link only the model library (no Asio runtime) can call it.
Result<void> validate_input(const Definition& definition, const Json& input);

// Cross-definition checks: every `type: workflow` ref resolves, and no chain of refs loops back
// (the cycle is named) or goes deeper than kMaxSubWorkflowDepth.
Diagnostics check_sub_workflows(const Definition& definition, const DefinitionResolver& resolver);

// An in-memory DefinitionResolver, filled from files or loaded definitions.
class DefinitionSet : public DefinitionResolver {
 public:
  void add(std::shared_ptr<const Definition> definition);
  std::shared_ptr<const Definition> resolve(std::string_view name,
                                            std::optional<int> version) const override;
  std::vector<std::shared_ptr<const Definition>> all() const;

 private:
  std::map<std::string, std::map<int, std::shared_ptr<const Definition>>, std::less<>> by_name_;
};

}  // namespace flowd
