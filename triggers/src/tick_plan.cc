#include "flowd/triggers/tick_plan.h"

#include <chrono>
#include <deque>

#include "flowd/engine/actor.h"

namespace flowd::triggers {
namespace {

using std::chrono::seconds;

void count_missed(DueTicks& due, SysSeconds t) {
  ++due.missed;
  if (!due.first_missed || t < *due.first_missed) due.first_missed = t;
  if (!due.last_missed || t > *due.last_missed) due.last_missed = t;
}

}  // namespace

DueTicks due_ticks(const CronSchedule& cron, const TickLimits& limits, SysSeconds after,
                   SysSeconds now) {
  DueTicks due;
  // Ticks at start_at count, so the search starts just before it.
  if (limits.start_at && *limits.start_at - seconds(1) > after)
    after = *limits.start_at - seconds(1);
  const auto past_end = [&](SysSeconds t) { return limits.end_at && t > *limits.end_at; };
  // The oldest tick that may still fire: whole seconds, rounding the window's edge up.
  const SysSeconds window_start =
      now - std::chrono::ceil<seconds>(
                std::chrono::duration_cast<std::chrono::milliseconds>(limits.catchup_window));

  std::deque<SysSeconds> in_window;
  SysSeconds cursor = after;
  for (auto t = cron.next_after(cursor); t && *t <= now && !past_end(*t);
       t = cron.next_after(cursor)) {
    cursor = *t;
    if (*t < window_start) {
      count_missed(due, *t);
      if (due.missed >= limits.max_missed_counted) {
        // Stop walking a years-long gap tick by tick: the rest before the window is missed too.
        due.missed_counting_stopped = true;
        cursor = window_start - seconds(1);
      }
      continue;
    }
    in_window.push_back(*t);
    if (in_window.size() > limits.max_catchup) {
      count_missed(due, in_window.front());
      in_window.pop_front();
    }
  }
  due.fire.assign(in_window.begin(), in_window.end());
  const SysSeconds from = cursor > now ? cursor : now;
  if (auto next = cron.next_after(from); next && !past_end(*next)) due.next = next;
  return due;
}

Millis jitter_for(std::string_view schedule, SysSeconds fire_time, Millis max) {
  if (max.count() <= 0) return Millis{0};
  // FNV-1a over "<schedule>@<epoch seconds>": stable across instances, builds and restarts.
  std::uint64_t hash = 14695981039346656037ull;
  auto mix = [&](std::string_view bytes) {
    for (unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ull;
  };
  mix(schedule);
  mix("@");
  mix(std::to_string(fire_time.time_since_epoch().count()));
  return Millis{static_cast<Millis::rep>(hash % (static_cast<std::uint64_t>(max.count()) + 1))};
}

std::string_view to_string(OverlapAction action) {
  switch (action) {
    case OverlapAction::kStart:
      return "start";
    case OverlapAction::kSkip:
      return "skip";
    case OverlapAction::kBuffer:
      return "buffer";
    case OverlapAction::kCancelThenStart:
      return "cancelThenStart";
  }
  return "start";
}

OverlapAction decide_overlap(OverlapPolicy policy, bool previous_running, std::size_t buffered) {
  switch (policy) {
    case OverlapPolicy::kAllow:
      return OverlapAction::kStart;
    case OverlapPolicy::kCancelOther:
      return previous_running ? OverlapAction::kCancelThenStart : OverlapAction::kStart;
    case OverlapPolicy::kBufferAll:
      return previous_running || buffered > 0 ? OverlapAction::kBuffer : OverlapAction::kStart;
    case OverlapPolicy::kBufferOne:
      if (buffered > 0) return OverlapAction::kSkip;
      return previous_running ? OverlapAction::kBuffer : OverlapAction::kStart;
    case OverlapPolicy::kSkip:
      return previous_running ? OverlapAction::kSkip : OverlapAction::kStart;
  }
  return OverlapAction::kSkip;
}

std::string tick_dedupe_key(std::string_view schedule, SysSeconds fire_time) {
  return actor::cron(schedule, fire_time);
}

Json tick_scope(std::string_view schedule, SysSeconds fire_time, std::string_view time_zone) {
  const std::string local = format_in_zone(fire_time, time_zone);
  return Json{{"tick", {{"time", format_utc(fire_time)}, {"date", local.substr(0, 10)}}},
              {"schedule", {{"name", std::string(schedule)}}}};
}

}  // namespace flowd::triggers
