#include "flowd/engine/event.h"

#include <array>
#include <cstdio>
#include <ctime>

namespace flowd {
namespace {

constexpr std::array<std::pair<EventType, std::string_view>, 19> kEventNames{{
    {EventType::kExecutionStarted, "ExecutionStarted"},
    {EventType::kStepScheduled, "StepScheduled"},
    {EventType::kStepStarted, "StepStarted"},
    {EventType::kStepCompleted, "StepCompleted"},
    {EventType::kStepFailed, "StepFailed"},
    {EventType::kStepRetryScheduled, "StepRetryScheduled"},
    {EventType::kStepSkipped, "StepSkipped"},
    {EventType::kStepFallbackUsed, "StepFallbackUsed"},
    {EventType::kExecutionPaused, "ExecutionPaused"},
    {EventType::kExecutionResumed, "ExecutionResumed"},
    {EventType::kExecutionWaiting, "ExecutionWaiting"},
    {EventType::kExecutionCompleted, "ExecutionCompleted"},
    {EventType::kExecutionFailed, "ExecutionFailed"},
    {EventType::kExecutionCancelled, "ExecutionCancelled"},
    {EventType::kExecutionTimedOut, "ExecutionTimedOut"},
    {EventType::kSecretAccessed, "SecretAccessed"},
    {EventType::kCompensationStarted, "CompensationStarted"},
    {EventType::kCompensationCompleted, "CompensationCompleted"},
    {EventType::kCompensationFailed, "CompensationFailed"},
}};

}  // namespace

std::string_view to_string(EventType type) {
  for (const auto& [t, name] : kEventNames)
    if (t == type) return name;
  return "Unknown";
}

std::optional<EventType> parse_event_type(std::string_view text) {
  for (const auto& [t, name] : kEventNames)
    if (name == text) return t;
  return std::nullopt;
}

bool is_terminal(EventType type) {
  return type == EventType::kExecutionCompleted || type == EventType::kExecutionFailed ||
         type == EventType::kExecutionCancelled || type == EventType::kExecutionTimedOut;
}

Event Event::make(EventType type, std::string step, int attempt, Json data) {
  return Event{type, std::move(step), attempt, std::move(data)};
}

std::string format_time(TimePoint time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];  // room for any int fields: -Wformat-truncation at -O3
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::optional<TimePoint> parse_time(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fff][Z|+00:00]
  std::tm tm{};
  int millis = 0;
  std::string s(text);
  int consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
    return std::nullopt;
  std::size_t pos = static_cast<std::size_t>(consumed);
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      if (digits < 3) millis = millis * 10 + (s[pos] - '0');
      ++digits;
      ++pos;
    }
    for (; digits < 3; ++digits) millis *= 10;
  }
  std::string_view zone = std::string_view(s).substr(pos);
  if (zone != "Z" && zone != "+00:00" && !zone.empty()) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  std::time_t secs = timegm(&tm);
  return TimePoint(std::chrono::seconds(secs)) + std::chrono::milliseconds(millis);
}

Json to_json(const Error& error) {
  return Json{
      {"code", to_string(error.code)}, {"message", error.message}, {"retryable", error.retryable}};
}

Error error_from_json(const Json& json) {
  Error e;
  if (!json.is_object()) return Error{ErrorCode::kInternal, json.dump(), false};
  if (auto it = json.find("code"); it != json.end() && it->is_string())
    e.code = parse_error_code(it->get<std::string>()).value_or(ErrorCode::kInternal);
  if (auto it = json.find("message"); it != json.end() && it->is_string())
    e.message = it->get<std::string>();
  if (auto it = json.find("retryable"); it != json.end() && it->is_boolean())
    e.retryable = it->get<bool>();
  return e;
}

Json to_json(const Event& event) {
  Json j{{"type", to_string(event.type)}, {"data", event.data}, {"time", format_time(event.time)}};
  if (!event.step.empty()) j["step"] = event.step;
  if (event.attempt > 0) j["attempt"] = event.attempt;
  if (event.version > 0) j["version"] = event.version;
  return j;
}

Result<Event> event_from_json(const Json& json) {
  if (!json.is_object()) return fail(ErrorCode::kInternal, "event is not a JSON object");
  auto type_it = json.find("type");
  if (type_it == json.end() || !type_it->is_string())
    return fail(ErrorCode::kInternal, "event has no type");
  auto type = parse_event_type(type_it->get<std::string>());
  if (!type) return fail(ErrorCode::kInternal, "unknown event type " + type_it->dump());
  Event e;
  e.type = *type;
  if (auto it = json.find("step"); it != json.end() && it->is_string()) e.step = *it;
  if (auto it = json.find("attempt"); it != json.end() && it->is_number_integer()) e.attempt = *it;
  if (auto it = json.find("data"); it != json.end()) e.data = *it;
  if (auto it = json.find("version"); it != json.end() && it->is_number_integer()) e.version = *it;
  if (auto it = json.find("time"); it != json.end() && it->is_string()) {
    auto t = parse_time(it->get<std::string>());
    if (!t) return fail(ErrorCode::kInternal, "bad event time " + it->dump());
    e.time = *t;
  }
  return e;
}

}  // namespace flowd
