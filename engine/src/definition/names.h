#pragma once
// Private to the definition loader: the lexical rules of definitions (ids, names, refs, durations,
// zone names; cron expressions are engine/cron.h's) and the "did you mean" helper. Kept in one
// place so that docs/definitions.md and schemas/workflow.schema.json can be checked against them.
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "flowd/engine/duration.h"

namespace flowd::definition {

// The step types every flowd knows (builtin_step_types() in step_runner.h returns this set).
const std::set<std::string>& builtin_types();

// Step ids: [A-Za-z_][A-Za-z0-9_-]*, at most 64 characters (templates name them: steps.<id>).
inline constexpr std::string_view kStepIdRule =
    "use up to 64 letters, digits, '_' and '-', starting with a letter or '_'";
bool is_step_id(std::string_view s);

// Workflow names: [A-Za-z0-9][A-Za-z0-9._-]*, at most 128 characters.
inline constexpr std::string_view kWorkflowNameRule =
    "up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit";
bool is_workflow_name(std::string_view s);

// `name` or `name@version` (version a positive integer).
struct WorkflowRef {
  std::string name;
  std::optional<int> version;
};
std::optional<WorkflowRef> parse_workflow_ref(std::string_view s);

// forEach `as`: [A-Za-z_][A-Za-z0-9_]* and not one of the names templates already have.
bool is_identifier(std::string_view s);
bool is_reserved_name(std::string_view s);

// The fields of a step's result in templates: output, status, error, attempts.
bool is_step_field(std::string_view s);

// parse_duration with at most 10 digits, so that every duration fits in milliseconds.
std::optional<Millis> parse_bounded_duration(std::string_view s);

// "INVALID_DEFINITION, INVALID_INPUT, ..." for messages.
std::string error_code_list();

// Kafka topic names: 1 to 249 of [A-Za-z0-9._-].
bool is_topic_name(std::string_view s);

// IANA zone names as written (Europe/Berlin, UTC, America/Argentina/Buenos_Aires, Etc/GMT+2).
bool is_timezone_name(std::string_view s);

inline constexpr std::string_view kOverlapPolicies =
    "skip, allow, bufferOne, bufferAll, cancelOther";
bool is_overlap_policy(std::string_view s);

// The candidate closest to `word` by edit distance, if close enough to be a likely typo.
std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates);

}  // namespace flowd::definition
