#pragma once
// The durable times of one step attempt (flowd/engine/timers.h): when its wait ends (`dueAt`) and
// when it times out (`deadline`), written into its StepStarted. A step resumed after a crash
// inherits the times of the attempt the crash interrupted, so its wait and its timeout continue
// instead of starting again. Plain functions, called by Engine::Run on the engine's thread.
#include <optional>
#include <string>

#include "flowd/engine/execution_state.h"
#include "flowd/engine/step_runner.h"

namespace flowd::detail {

struct AttemptTimes {
  std::optional<TimePoint> due_at;    // the runner waits until then (sleep)
  std::optional<TimePoint> deadline;  // the attempt times out then; nullopt: no timeout
  Millis timeout{0};                  // the configured step timeout, for messages
};

// A wait longer than any timeout; used when an attempt has none.
inline constexpr Millis kNoTimeout = std::chrono::hours(24 * 365 * 100);

// The times of the attempt that was running when the execution was interrupted; nullopt when the
// step was not running.
std::optional<AttemptTimes> interrupted_times(const StepState& step);

// The times of a new attempt of the step at `path` beginning at `now`: `inherited`'s where it
// recorded them, else fresh ones: the runner's due_at() and now + the step's timeout (its own, or
// `default_timeout` unless the runner waits until a time). Instant runners get no deadline.
Result<AttemptTimes> plan_attempt(const StepRunner* runner, const std::string& path,
                                  const Json& with, TimePoint now,
                                  std::optional<Millis> own_timeout, Millis default_timeout,
                                  const std::optional<AttemptTimes>& inherited);

// Adds `dueAt` / `deadline` to a StepStarted's data.
void record_times(const AttemptTimes& times, Json& started_data);

// How long the attempt may run from `now`: until its deadline (zero when past), else kNoTimeout.
Millis time_left(const AttemptTimes& times, TimePoint now);

}  // namespace flowd::detail
