#include "core/attempt_times.h"

#include "flowd/engine/timers.h"

namespace flowd::detail {

std::optional<AttemptTimes> interrupted_times(const StepState& step) {
  if (step.status != StepStatus::kRunning || step.attempts == 0) return std::nullopt;
  AttemptTimes times;
  if (step.due_at != TimePoint{}) times.due_at = step.due_at;
  if (step.deadline != TimePoint{}) times.deadline = step.deadline;
  return times;
}

Result<AttemptTimes> plan_attempt(const StepRunner* runner, const std::string& path,
                                  const Json& with, TimePoint now,
                                  std::optional<Millis> own_timeout, Millis default_timeout,
                                  const std::optional<AttemptTimes>& inherited) {
  AttemptTimes times;
  if (runner && runner->instant()) return times;  // nothing to wait for, nothing to time out
  if (inherited && inherited->due_at) {
    times.due_at = inherited->due_at;
  } else if (runner) {
    auto due = runner->due_at(path, with, now);
    if (!due) return tl::unexpected(due.error());
    times.due_at = *due;
  }
  const std::optional<Millis> timeout = own_timeout    ? own_timeout
                                        : times.due_at ? std::nullopt
                                                       : std::optional(default_timeout);
  if (timeout) {
    times.timeout = *timeout;
    times.deadline = inherited && inherited->deadline ? *inherited->deadline : now + *timeout;
  }
  return times;
}

void record_times(const AttemptTimes& times, Json& started_data) {
  if (times.due_at) started_data["dueAt"] = format_time(*times.due_at);
  if (times.deadline) started_data["deadline"] = format_time(*times.deadline);
}

Millis time_left(const AttemptTimes& times, TimePoint now) {
  return times.deadline ? time_until(*times.deadline, now) : kNoTimeout;
}

}  // namespace flowd::detail
