#pragma once
// ExecutionState is the fold of an execution's events: the live engine, crash recovery, replay and
// time travel (state as of event N) all build it with apply(), so there is one truth.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/event.h"

namespace flowd {

enum class ExecutionStatus {
  kPending,  // no events yet
  kRunning,
  kPaused,
  kWaiting,  // a step waits for input
  kCompleted,
  kFailed,
  kCancelled,
  kTimedOut,
};

enum class StepStatus {
  kPending,
  kScheduled,
  kRunning,
  kRetrying,  // failed, a retry is scheduled
  kSucceeded,
  kFailed,
  kSkipped,
};

std::string_view to_string(ExecutionStatus status);
std::string_view to_string(StepStatus status);
std::optional<ExecutionStatus> parse_execution_status(std::string_view text);
bool is_terminal(ExecutionStatus status);

struct StepState {
  StepStatus status = StepStatus::kPending;
  int attempts = 0;
  Json output;                 // null until completed (or a fallback value is used)
  std::optional<Error> error;  // last error
  std::string skip_reason;
  std::string fallback;  // "", "value", "skip", "step"
  TimePoint first_started{};
  TimePoint ended{};
  std::int64_t duration_ms = 0;  // sum of attempt durations
  // Durable timers (flowd/engine/timers.h) of the latest attempt: when its sleep ends and when it
  // times out (StepStarted), and when the next attempt is due (StepRetryScheduled). {}: none.
  TimePoint due_at{};
  TimePoint deadline{};
  TimePoint retry_due{};
  // Stream version of its StepCompleted (0: none): compensations run in reverse of this order.
  std::int64_t completed_version = 0;
  // A forEach over more than kForEachItemDetailLimit items keeps its items here rather than as
  // one entry per item path: an item's entry (and its inner steps') is dropped when the item
  // succeeds or is skipped, leaving its status and output by index. Failed items keep their
  // entries. Cleared when the forEach step itself ends (its output then holds every item's).
  std::vector<StepStatus> item_status;
  std::vector<Json> item_outputs;
};

// Above this many items a forEach's items are folded into its own StepState (see StepState).
inline constexpr std::size_t kForEachItemDetailLimit = 1000;

struct ExecutionState {
  std::string id;
  std::string workflow;
  int workflow_version = 0;
  ExecutionStatus status = ExecutionStatus::kPending;
  Json input;
  Json context;
  Json output;
  std::optional<Error> error;
  std::string failed_step;
  std::string waiting_for;  // missing path while kWaiting
  TimePoint started{};
  TimePoint ended{};
  TimePoint
      deadline{};  // the execution timeout (ExecutionStarted `deadline`); {}: started + timeout
  std::int64_t version = 0;                             // events applied
  std::map<std::string, StepState, std::less<>> steps;  // by step path
  // Compensations by compensated step path ("" for spec.onFailure): "started" (attempts so
  // far in compensation_attempts), "completed" or "failed".
  std::map<std::string, std::string, std::less<>> compensations;
  std::map<std::string, int, std::less<>> compensation_attempts;

  void apply(const Event& event);
  bool terminal() const { return is_terminal(status); }
  std::int64_t duration_ms() const;

  // {"id","workflow","version","status","input","output","error"?,"steps":{...},...}
  Json to_json() const;
};

// Folds events[0..upto) (all when upto is empty) into a fresh state.
ExecutionState fold(const std::string& execution_id, const std::vector<Event>& events,
                    std::optional<std::int64_t> upto = std::nullopt);

}  // namespace flowd
