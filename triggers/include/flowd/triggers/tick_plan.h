#pragma once
// The scheduler's decisions, as pure functions: which ticks a schedule owes at an instant (the
// catch-up window, its cap, start and end), each tick's jitter, and what the overlap policy does
// with a tick while the previous run still goes. No clock, no database: the scheduler that claims
// ticks in PostgreSQL calls these, and unit tests check them against known answers.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/cron.h"
#include "flowd/engine/definition.h"
#include "flowd/engine/duration.h"
#include "flowd/engine/json.h"

namespace flowd::triggers {

// A schedule's limits on which fire times count (CronTrigger's fields, or a run-time schedule's).
struct TickLimits {
  Millis catchup_window{3'600'000};  // owed ticks older than now - window are missed
  std::size_t max_catchup = 100;     // at most this many owed ticks fire; older ones are missed
  std::optional<SysSeconds> start_at;
  std::optional<SysSeconds> end_at;
  // Missed ticks are counted one by one up to this many; past it the count is a lower bound.
  std::uint64_t max_missed_counted = 1'000'000;
};

struct DueTicks {
  std::vector<SysSeconds> fire;  // oldest first: what to claim and start now
  // Owed ticks that will never fire (too old, or over the cap), counted rather than listed: an
  // every-second schedule down for a day owes 86,400 of them.
  std::uint64_t missed = 0;
  bool missed_counting_stopped = false;  // over max_missed_counted: `missed` is a lower bound
  std::optional<SysSeconds> first_missed, last_missed;
  std::optional<SysSeconds> next;  // the first fire time after now, for the scheduler's one timer
};

// Fire times t with after < t <= now inside [start_at, end_at]: the newest max_catchup of those
// within the catch-up window fire, in order; the rest are missed. `after` is the newest fire time
// the schedule already handled (its creation time for a new schedule).
DueTicks due_ticks(const CronSchedule& cron, const TickLimits& limits, SysSeconds after,
                   SysSeconds now);

// How late a tick starts, 0..max: a hash of schedule name and fire time, so every instance
// computes the same delay for a tick and ticks of many schedules at one minute spread out.
Millis jitter_for(std::string_view schedule, SysSeconds fire_time, Millis max);

enum class OverlapAction {
  kStart,            // start the tick's execution now
  kSkip,             // record the tick as skipped
  kBuffer,           // keep the tick waiting; start it when the running one ends
  kCancelThenStart,  // cancel the running execution, then start
};
std::string_view to_string(OverlapAction action);

// `previous_running`: the schedule's last started execution has not ended. `buffered`: ticks
// already waiting. A tick never overtakes waiting ones, so with some waiting it is buffered too
// (bufferOne keeps one: a second waiting tick is skipped).
OverlapAction decide_overlap(OverlapPolicy policy, bool previous_running, std::size_t buffered);

// The execution's dedupe key for a tick: its actor, "cron:<schedule>@<fire time>" (actor.h):
// one execution per schedule and fire time, whichever instance claims it.
std::string tick_dedupe_key(std::string_view schedule, SysSeconds fire_time);

// What a schedule's input templates see: {tick: {time, date}, schedule: {name}}. tick.time is the
// fire time in UTC (RFC 3339); tick.date is its calendar date in the schedule's zone (a nightly
// 00:30 Europe/Berlin run on 2026-07-01 has date 2026-07-01, though UTC still says 06-30).
Json tick_scope(std::string_view schedule, SysSeconds fire_time, std::string_view time_zone);

}  // namespace flowd::triggers
