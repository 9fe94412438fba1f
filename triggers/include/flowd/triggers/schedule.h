#pragma once
// A schedule: a cron expression in a time zone that starts a workflow at each fire time. One model
// for both sources — a workflow's spec.triggers[].cron (source kDefinition, kept in step with the
// latest version) and schedules managed at run time through the API and flowctl (kApi). Plain data
// and its JSON form (the API's Schedule object, schemas/openapi.yaml); the scheduler that fires
// ticks is scheduler.h, the table schedule_store.h.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/cron.h"
#include "flowd/engine/definition.h"
#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/engine/event.h"
#include "flowd/engine/json.h"
#include "flowd/triggers/tick_plan.h"

namespace flowd::triggers {

enum class ScheduleSource { kApi, kDefinition };
std::string_view to_string(ScheduleSource source);

// What a person (or a definition) decides about a schedule.
struct ScheduleSpec {
  std::string name;
  std::string workflow;
  std::optional<int> version;  // empty: the latest version at each tick
  std::string expression;
  std::string timezone = "UTC";
  Json input;  // null: {}; templates over tick.time, tick.date, schedule.name
  OverlapPolicy overlap = OverlapPolicy::kSkip;
  bool pause_on_failure = false;
  Millis catchup_window{3'600'000};
  int max_catchup = 100;
  Millis jitter{0};
  std::optional<SysSeconds> start_at, end_at;

  TickLimits limits() const;
  bool operator==(const ScheduleSpec&) const = default;
};

// Parses and checks an API body ({name?, workflow, version?, schedule, timezone?, input?, overlap?,
// pauseOnFailure?, catchupWindow?, maxCatchup?, jitter?, startAt?, endAt?}). `name` fills in a
// missing name (PUT /schedules/{name}). Errors are INVALID_INPUT naming the field and the problem,
// as for definitions: "schedule: day-of-month: 32 is out of range 1-31".
Result<ScheduleSpec> parse_schedule_spec(const Json& body, std::string_view name = {});
// A definition's cron trigger as a schedule of workflow `workflow`.
ScheduleSpec spec_of(const CronTrigger& trigger, const std::string& workflow);
// Whether `name` may name a schedule (the rule of workflow names).
bool is_schedule_name(std::string_view name);

struct TickRecord {
  SysSeconds fire_time{};
  std::string outcome;  // fired | skipped | buffered | missed | failed
  std::string execution_id;
  std::string detail;
  bool backfill = false;
  TimePoint at{};
};

struct Schedule {
  ScheduleSpec spec;
  ScheduleSource source = ScheduleSource::kApi;
  bool paused = false;
  std::string note;
  SysSeconds last_tick{};               // every fire time up to here is handled
  std::optional<SysSeconds> next_tick;  // the next fire time (none: never again)
  std::optional<TimePoint> due_at;      // next_tick + its jitter
  std::string running_execution;        // the last started one while it may still run
  int buffered = 0;
  std::int64_t missed_total = 0;
  std::optional<int> definition_version;  // kDefinition: the version that declares it
  TimePoint created_at{}, updated_at{};
  std::optional<TickRecord> last_run;  // the newest fired tick
};

// The API's Schedule object (camelCase; times RFC 3339 UTC; durations as text like "1h").
Json to_json(const Schedule& schedule);
Json to_json(const TickRecord& tick);
// The spec's fields as the API writes them (the data of ScheduleCreated / ScheduleUpdated).
Json to_json(const ScheduleSpec& spec);

}  // namespace flowd::triggers
