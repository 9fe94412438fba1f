#pragma once
// Durable timers. Every wait of an execution is due at an absolute time written in the event that
// begins it, and folded into ExecutionState, so an execution resumed after a crash or a takeover
// waits only what is left (nothing when the time has passed) instead of the whole wait again:
//   ExecutionStarted    `deadline`  the execution timeout
//   StepStarted         `dueAt`     when a sleep ends
//   StepStarted         `deadline`  when the attempt times out (absent: no step timeout)
//   StepRetryScheduled  `dueAt`     when the next attempt starts
// The times are RFC 3339 UTC with milliseconds (format_time); the engine reads "now" only through
// EngineDeps::now, so tests can move its clock.
#include <optional>
#include <string_view>

#include "flowd/engine/duration.h"
#include "flowd/engine/event.h"
#include "flowd/engine/json.h"

namespace flowd {

// An RFC 3339 date-time with a `Z` or a numeric offset and optional fractions:
// 2026-11-21T10:00:00Z, 2026-11-21T12:00:00.250+02:00. Fields out of range -> nullopt.
std::optional<TimePoint> parse_instant(std::string_view text);

// How long until `due`, never negative: a wait whose time has passed ends at once.
Millis time_until(TimePoint due, TimePoint now);

// The RFC 3339 time in data[key]; nullopt when it is absent or not a time.
std::optional<TimePoint> time_field(const Json& data, const char* key);

}  // namespace flowd
