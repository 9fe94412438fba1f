#include "flowd/triggers/schedule.h"

#include <algorithm>
#include <cctype>

#include "flowd/engine/expr.h"

namespace flowd::triggers {

namespace {

constexpr int kMaxCatchup = 100'000;  // as a definition's cron trigger (engine/definition)

Error invalid(std::string message) {
  return Error{ErrorCode::kInvalidInput, std::move(message)};
}

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

Result<std::string> text_field(const Json& body, const char* name, bool required) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) {
    if (required) return tl::unexpected(invalid(std::string(name) + " is required"));
    return std::string();
  }
  if (!it->is_string()) return tl::unexpected(invalid(std::string(name) + " must be a string"));
  return it->get<std::string>();
}

Result<std::optional<Millis>> duration_field(const Json& body, const char* name) {
  auto text = text_field(body, name, false);
  if (!text) return tl::unexpected(text.error());
  if (text->empty()) return std::optional<Millis>();
  auto d = parse_duration(*text);
  if (!d || d->count() < 0)
    return tl::unexpected(invalid(std::string(name) + ": invalid duration " + in_quotes(*text) +
                                  ": use a number and a unit, e.g. 250ms, 30s, 6h, 7d"));
  return std::optional<Millis>(*d);
}

Result<std::optional<SysSeconds>> time_field(const Json& body, const char* name) {
  auto text = text_field(body, name, false);
  if (!text) return tl::unexpected(text.error());
  if (text->empty()) return std::optional<SysSeconds>();
  auto t = parse_rfc3339(*text);
  if (!t)
    return tl::unexpected(invalid(std::string(name) + ": invalid time " + in_quotes(*text) +
                                  ": use RFC 3339, e.g. 2026-03-29T01:00:00Z"));
  return std::optional<SysSeconds>(*t);
}

}  // namespace

std::string_view to_string(ScheduleSource source) {
  return source == ScheduleSource::kApi ? "api" : "definition";
}

bool is_schedule_name(std::string_view s) {
  if (s.empty() || s.size() > 128 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

TickLimits ScheduleSpec::limits() const {
  TickLimits l;
  l.catchup_window = catchup_window;
  l.max_catchup = static_cast<std::size_t>(max_catchup);
  l.start_at = start_at;
  l.end_at = end_at;
  return l;
}

Result<ScheduleSpec> parse_schedule_spec(const Json& body, std::string_view name) {
  if (!body.is_object()) return tl::unexpected(invalid("a schedule must be a JSON object"));
  static const std::vector<std::string> kFields{
      "name",           "workflow",      "version",    "schedule", "timezone", "input", "overlap",
      "pauseOnFailure", "catchupWindow", "maxCatchup", "jitter",   "startAt",  "endAt"};
  for (const auto& [key, value] : body.items())
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end())
      return tl::unexpected(invalid("unknown field " + in_quotes(key) +
                                    " (a schedule has name, workflow, version, schedule, "
                                    "timezone, input, overlap, pauseOnFailure, catchupWindow, "
                                    "maxCatchup, jitter, startAt, endAt)"));
  ScheduleSpec spec;
  auto given = text_field(body, "name", name.empty());
  if (!given) return tl::unexpected(given.error());
  if (!name.empty() && !given->empty() && *given != name)
    return tl::unexpected(
        invalid("name " + in_quotes(*given) + " does not match the path's " + in_quotes(name)));
  spec.name = name.empty() ? *given : std::string(name);
  if (!is_schedule_name(spec.name))
    return tl::unexpected(invalid("invalid schedule name " + in_quotes(spec.name) +
                                  ": up to 128 letters, digits, '.', '_' and '-', starting "
                                  "with a letter or digit"));
  auto workflow = text_field(body, "workflow", true);
  if (!workflow) return tl::unexpected(workflow.error());
  spec.workflow = *workflow;
  if (auto it = body.find("version"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      return tl::unexpected(invalid("version must be a positive integer (or null: the latest)"));
    spec.version = it->get<int>();
  }
  auto expression = text_field(body, "schedule", true);
  if (!expression) return tl::unexpected(expression.error());
  spec.expression = *expression;
  auto zone = text_field(body, "timezone", false);
  if (!zone) return tl::unexpected(zone.error());
  if (!zone->empty()) spec.timezone = *zone;
  if (!is_known_time_zone(spec.timezone))
    return tl::unexpected(invalid("timezone: unknown time zone " + in_quotes(spec.timezone) +
                                  ": use an IANA name like Europe/Berlin or UTC"));
  if (auto cron = CronSchedule::parse(spec.expression, spec.timezone); !cron)
    return tl::unexpected(invalid("schedule: " + cron.error().message));
  if (auto it = body.find("input"); it != body.end() && !it->is_null()) {
    if (auto compiled = JsonTemplate::compile(*it); !compiled)
      return tl::unexpected(invalid("input: " + compiled.error().message));
    spec.input = *it;
  }
  auto overlap = text_field(body, "overlap", false);
  if (!overlap) return tl::unexpected(overlap.error());
  if (!overlap->empty()) {
    auto policy = parse_overlap_policy(*overlap);
    if (!policy)
      return tl::unexpected(
          invalid("overlap must be one of skip, allow, bufferOne, bufferAll, "
                  "cancelOther, got " +
                  in_quotes(*overlap)));
    spec.overlap = *policy;
  }
  if (auto it = body.find("pauseOnFailure"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean()) return tl::unexpected(invalid("pauseOnFailure must be a boolean"));
    spec.pause_on_failure = it->get<bool>();
  }
  auto window = duration_field(body, "catchupWindow");
  if (!window) return tl::unexpected(window.error());
  if (*window) spec.catchup_window = **window;
  auto jitter = duration_field(body, "jitter");
  if (!jitter) return tl::unexpected(jitter.error());
  if (*jitter) spec.jitter = **jitter;
  if (auto it = body.find("maxCatchup"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 0 ||
        it->get<std::int64_t>() > kMaxCatchup)
      return tl::unexpected(invalid("maxCatchup must be an integer from 0 to 100000"));
    spec.max_catchup = it->get<int>();
  }
  auto start = time_field(body, "startAt");
  if (!start) return tl::unexpected(start.error());
  spec.start_at = *start;
  auto end = time_field(body, "endAt");
  if (!end) return tl::unexpected(end.error());
  spec.end_at = *end;
  if (spec.start_at && spec.end_at && *spec.end_at <= *spec.start_at)
    return tl::unexpected(
        invalid("endAt must be after startAt (" + format_utc(*spec.start_at) + ")"));
  return spec;
}

ScheduleSpec spec_of(const CronTrigger& trigger, const std::string& workflow) {
  ScheduleSpec spec;
  spec.name = trigger.name;
  spec.workflow = workflow;
  spec.expression = trigger.schedule;
  spec.timezone = trigger.timezone;
  spec.input = trigger.input;
  spec.overlap = trigger.overlap;
  spec.pause_on_failure = trigger.pause_on_failure;
  spec.catchup_window = trigger.catchup_window;
  spec.max_catchup = trigger.max_catchup;
  spec.jitter = trigger.jitter;
  spec.start_at = trigger.start_at;
  spec.end_at = trigger.end_at;
  return spec;
}

Json to_json(const ScheduleSpec& spec) {
  auto time_or_null = [](const std::optional<SysSeconds>& t) {
    return t ? Json(format_utc(*t)) : Json(nullptr);
  };
  return Json{{"name", spec.name},
              {"workflow", spec.workflow},
              {"version", spec.version ? Json(*spec.version) : Json(nullptr)},
              {"schedule", spec.expression},
              {"timezone", spec.timezone},
              {"input", spec.input},
              {"overlap", to_string(spec.overlap)},
              {"pauseOnFailure", spec.pause_on_failure},
              {"catchupWindow", format_duration(spec.catchup_window)},
              {"maxCatchup", spec.max_catchup},
              {"jitter", format_duration(spec.jitter)},
              {"startAt", time_or_null(spec.start_at)},
              {"endAt", time_or_null(spec.end_at)}};
}

Json to_json(const TickRecord& tick) {
  return Json{{"fireTime", format_utc(tick.fire_time)},
              {"outcome", tick.outcome},
              {"executionId", tick.execution_id.empty() ? Json(nullptr) : Json(tick.execution_id)},
              {"detail", tick.detail.empty() ? Json(nullptr) : Json(tick.detail)},
              {"backfill", tick.backfill},
              {"at", format_time(tick.at)}};
}

Json to_json(const Schedule& s) {
  Json out = to_json(s.spec);
  out["source"] = to_string(s.source);
  out["paused"] = s.paused;
  out["note"] = s.note.empty() ? Json(nullptr) : Json(s.note);
  out["nextRun"] = s.next_tick && !s.paused ? Json(format_utc(*s.next_tick)) : Json(nullptr);
  out["lastRun"] = s.last_run ? to_json(*s.last_run) : Json(nullptr);
  out["running"] = s.running_execution.empty() ? Json(nullptr) : Json(s.running_execution);
  out["buffered"] = s.buffered;
  out["missedTicks"] = s.missed_total;
  out["definitionVersion"] = s.definition_version ? Json(*s.definition_version) : Json(nullptr);
  out["createdAt"] = format_time(s.created_at);
  out["updatedAt"] = format_time(s.updated_at);
  return out;
}

}  // namespace flowd::triggers
