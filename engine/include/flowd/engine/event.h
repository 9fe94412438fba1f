#pragma once
// Event is one state change of an execution. An execution's events form one stream
// (`execution-<id>`) with versions 1..n and no gaps; ExecutionState is their fold. The catalogue
// (types and the fields of `data`) is documented in schemas/events.md.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "flowd/engine/error.h"
#include "flowd/engine/json.h"

namespace flowd {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;

enum class EventType {
  kExecutionStarted,    // data: workflow, version, input, context, dedupeKey?, parent?, retryOf?
  kStepScheduled,       // step ready (dependencies done, condition true)
  kStepStarted,         // attempt n begins; data: idempotencyKey, case? (switch)
  kStepCompleted,       // data: output, durationMs
  kStepFailed,          // data: error{code,message,retryable}, durationMs, final
  kStepRetryScheduled,  // data: delayMs, nextAttempt
  kStepSkipped,         // data: reason
  kStepFallbackUsed,    // data: kind (value|skip|step), error, output?
  kExecutionPaused,     // data: reason?, actor?
  kExecutionResumed,    // data: input? (supplied for a waiting step)
  kExecutionWaiting,    // a step waits for missing input; data: missing (path)
  kExecutionCompleted,  // data: output, durationMs
  kExecutionFailed,     // data: error, step
  kExecutionCancelled,  // data: reason
  kExecutionTimedOut,   // data: timeoutMs
  kSecretAccessed,      // a step resolved a secret; data: name (never the value)
  // Failure handling (docs/dlq.md), before ExecutionFailed / ExecutionTimedOut. `step` is the
  // compensated step's path ("" for spec.onFailure).
  kCompensationStarted,    // data: type, attempt?, onFailure? (workflow ref), execution? (child)
  kCompensationCompleted,  // data: output
  kCompensationFailed,     // data: error
};

std::string_view to_string(EventType type);
std::optional<EventType> parse_event_type(std::string_view text);
bool is_terminal(EventType type);

struct Event {
  EventType type = EventType::kExecutionStarted;
  std::string step;  // step path ("fetch", "reserve[3]", "reserve[3].check"); empty: execution
  int attempt = 0;   // step attempt (1-based) where it applies
  Json data = Json::object();
  TimePoint time{};
  std::int64_t version = 0;  // position in the stream, 1-based; set when appended

  static Event make(EventType type, std::string step = {}, int attempt = 0,
                    Json data = Json::object());
};

// {"type","step"?,"attempt"?,"data","time"(RFC 3339 with ms),"version"}
Json to_json(const Event& event);
Result<Event> event_from_json(const Json& json);

// Error <-> {"code","message","retryable"}
Json to_json(const Error& error);
Error error_from_json(const Json& json);

// RFC 3339 UTC with milliseconds: 2026-11-21T10:00:00.123Z
std::string format_time(TimePoint time);
std::optional<TimePoint> parse_time(std::string_view text);

}  // namespace flowd
