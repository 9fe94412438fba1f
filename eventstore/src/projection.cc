#include "projection.h"

namespace flowd::eventstore::detail {

std::optional<std::string> dedupe_key_of(const Event& event) {
  if (event.type != EventType::kExecutionStarted || !event.data.is_object()) return std::nullopt;
  const auto it = event.data.find("dedupeKey");
  if (it == event.data.end() || !it->is_string()) return std::nullopt;
  auto key = it->get<std::string>();
  if (key.empty()) return std::nullopt;
  return key;
}

std::optional<std::string> execution_ref(const Json& value) {
  if (value.is_string()) {
    auto text = value.get<std::string>();
    if (text.empty()) return std::nullopt;
    return text;
  }
  if (value.is_object()) {
    for (const char* key : {"executionId", "execution", "id"}) {
      const auto it = value.find(key);
      if (it != value.end() && it->is_string()) return it->get<std::string>();
    }
    return value.dump();
  }
  return std::nullopt;
}

void ProjectionDelta::apply(const Event& event, std::int64_t event_version, std::int64_t time_us) {
  version = event_version;
  switch (event.type) {
    case EventType::kExecutionStarted: {
      started = true;
      const Json& data = event.data;
      if (data.is_object()) {
        if (auto it = data.find("workflow"); it != data.end() && it->is_string()) {
          workflow = it->get<std::string>();
        }
        if (auto it = data.find("version"); it != data.end() && it->is_number_integer()) {
          workflow_version = it->get<int>();
        }
        if (auto it = data.find("parent"); it != data.end()) parent = execution_ref(*it);
        if (auto it = data.find("retryOf"); it != data.end()) retry_of = execution_ref(*it);
      }
      dedupe_key = dedupe_key_of(event);
      started_at_us = time_us;
      status = ExecutionStatus::kRunning;
      break;
    }
    case EventType::kExecutionPaused:
      status = ExecutionStatus::kPaused;
      break;
    case EventType::kExecutionResumed:
      status = ExecutionStatus::kRunning;
      break;
    case EventType::kExecutionWaiting:
      status = ExecutionStatus::kWaiting;
      break;
    case EventType::kExecutionCompleted:
    case EventType::kExecutionFailed:
    case EventType::kExecutionCancelled:
    case EventType::kExecutionTimedOut: {
      status = event.type == EventType::kExecutionCompleted   ? ExecutionStatus::kCompleted
               : event.type == EventType::kExecutionFailed    ? ExecutionStatus::kFailed
               : event.type == EventType::kExecutionCancelled ? ExecutionStatus::kCancelled
                                                              : ExecutionStatus::kTimedOut;
      terminal = true;
      ended_at_us = time_us;
      if (event.type == EventType::kExecutionFailed && event.data.is_object()) {
        if (auto it = event.data.find("error"); it != event.data.end() && it->is_object()) {
          error = *it;
        }
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace flowd::eventstore::detail
