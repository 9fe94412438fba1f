#include "flowd/engine/execution_state.h"

#include <array>

#include "flowd/engine/timers.h"

namespace flowd {
namespace {

constexpr std::array<std::pair<ExecutionStatus, std::string_view>, 8> kExecutionNames{{
    {ExecutionStatus::kPending, "pending"},
    {ExecutionStatus::kRunning, "running"},
    {ExecutionStatus::kPaused, "paused"},
    {ExecutionStatus::kWaiting, "waiting"},
    {ExecutionStatus::kCompleted, "completed"},
    {ExecutionStatus::kFailed, "failed"},
    {ExecutionStatus::kCancelled, "cancelled"},
    {ExecutionStatus::kTimedOut, "timed_out"},
}};

std::int64_t json_int(const Json& data, const char* key) {
  auto it = data.find(key);
  return it != data.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

// The forEach step a path like "each[12]" is an item of, with the item's index; null when the
// path is no item of a forEach whose items are folded into its own state.
StepState* compact_parent(std::map<std::string, StepState, std::less<>>& steps,
                          std::string_view path, std::size_t& index) {
  if (path.empty() || path.back() != ']') return nullptr;
  const std::size_t open = path.rfind('[');
  if (open == std::string_view::npos || open == 0) return nullptr;
  std::size_t value = 0;
  for (std::size_t i = open + 1; i + 1 < path.size(); ++i) {
    if (path[i] < '0' || path[i] > '9') return nullptr;
    value = value * 10 + static_cast<std::size_t>(path[i] - '0');
  }
  auto it = steps.find(path.substr(0, open));
  if (it == steps.end() || value >= it->second.item_status.size()) return nullptr;
  index = value;
  return &it->second;
}

// Moves a finished item's status and output into its forEach's state and drops the entries of
// the item and of the steps inside it ("each[12]", "each[12].check", ...).
void fold_item(std::map<std::string, StepState, std::less<>>& steps, const std::string& path) {
  std::size_t index = 0;
  StepState* parent = compact_parent(steps, path, index);
  if (!parent) return;
  auto it = steps.find(path);
  if (it == steps.end()) return;
  const StepStatus status = it->second.status;
  if (status != StepStatus::kSucceeded && status != StepStatus::kSkipped) return;
  parent->item_status[index] = status;
  parent->item_outputs[index] = std::move(it->second.output);
  const std::string inner = path + ".";
  auto end = steps.lower_bound(inner);
  while (end != steps.end() && end->first.compare(0, inner.size(), inner) == 0) ++end;
  steps.erase(it, end);
}

}  // namespace

std::string_view to_string(ExecutionStatus status) {
  for (const auto& [s, name] : kExecutionNames)
    if (s == status) return name;
  return "unknown";
}

std::optional<ExecutionStatus> parse_execution_status(std::string_view text) {
  for (const auto& [s, name] : kExecutionNames)
    if (name == text) return s;
  return std::nullopt;
}

std::string_view to_string(StepStatus status) {
  switch (status) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kScheduled:
      return "scheduled";
    case StepStatus::kRunning:
      return "running";
    case StepStatus::kRetrying:
      return "retrying";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
  }
  return "unknown";
}

bool is_terminal(ExecutionStatus status) {
  return status == ExecutionStatus::kCompleted || status == ExecutionStatus::kFailed ||
         status == ExecutionStatus::kCancelled || status == ExecutionStatus::kTimedOut;
}

void ExecutionState::apply(const Event& event) {
  version = event.version > 0 ? event.version : version + 1;
  const Json& data = event.data;
  auto step = [&]() -> StepState& {
    auto it = steps.find(event.step);
    if (it == steps.end()) it = steps.emplace(event.step, StepState{}).first;
    return it->second;
  };
  switch (event.type) {
    case EventType::kExecutionStarted:
      status = ExecutionStatus::kRunning;
      started = event.time;
      if (auto it = data.find("workflow"); it != data.end() && it->is_string()) workflow = *it;
      workflow_version = static_cast<int>(json_int(data, "version"));
      if (auto it = data.find("input"); it != data.end()) input = *it;
      if (auto it = data.find("context"); it != data.end()) context = *it;
      deadline = time_field(data, "deadline").value_or(TimePoint{});
      break;
    case EventType::kStepScheduled:
      step().status = StepStatus::kScheduled;
      break;
    case EventType::kStepStarted: {
      StepState& s = step();
      s.status = StepStatus::kRunning;
      s.attempts = std::max(s.attempts, event.attempt);
      if (s.first_started == TimePoint{}) s.first_started = event.time;
      s.due_at = time_field(data, "dueAt").value_or(TimePoint{});
      s.deadline = time_field(data, "deadline").value_or(TimePoint{});
      s.retry_due = {};
      if (auto it = data.find("itemCount"); it != data.end() && it->is_number_unsigned() &&
                                            it->get<std::size_t>() > kForEachItemDetailLimit &&
                                            s.item_status.empty()) {
        s.item_status.assign(it->get<std::size_t>(), StepStatus::kPending);
        s.item_outputs.assign(s.item_status.size(), Json());
      }
      break;
    }
    case EventType::kStepCompleted: {
      StepState& s = step();
      s.status = StepStatus::kSucceeded;
      if (auto it = data.find("output"); it != data.end()) s.output = *it;
      s.duration_ms += json_int(data, "durationMs");
      s.ended = event.time;
      s.completed_version = version;
      s.error.reset();
      s.item_status = {};
      s.item_outputs = {};
      fold_item(steps, event.step);
      break;
    }
    case EventType::kStepFailed: {
      StepState& s = step();
      if (auto it = data.find("error"); it != data.end()) s.error = error_from_json(*it);
      s.duration_ms += json_int(data, "durationMs");
      auto final_it = data.find("final");
      bool final = final_it == data.end() || (final_it->is_boolean() && final_it->get<bool>());
      if (final) {
        s.status = StepStatus::kFailed;
        s.ended = event.time;
        s.item_status = {};
        s.item_outputs = {};
      }
      break;
    }
    case EventType::kStepRetryScheduled: {
      StepState& s = step();
      s.status = StepStatus::kRetrying;
      s.retry_due = time_field(data, "dueAt").value_or(TimePoint{});
      break;
    }
    case EventType::kStepSkipped: {
      StepState& s = step();
      s.status = StepStatus::kSkipped;
      if (auto it = data.find("reason"); it != data.end() && it->is_string()) s.skip_reason = *it;
      s.ended = event.time;
      fold_item(steps, event.step);
      break;
    }
    case EventType::kStepFallbackUsed: {
      StepState& s = step();
      if (auto it = data.find("kind"); it != data.end() && it->is_string()) s.fallback = *it;
      if (s.fallback == "skip") {
        s.status = StepStatus::kSkipped;
        s.skip_reason = "fallback: skip";
      } else {
        s.status = StepStatus::kSucceeded;
        if (auto it = data.find("output"); it != data.end()) s.output = *it;
      }
      s.ended = event.time;
      fold_item(steps, event.step);
      break;
    }
    case EventType::kExecutionPaused:
      status = ExecutionStatus::kPaused;
      break;
    case EventType::kExecutionResumed:
      status = ExecutionStatus::kRunning;
      waiting_for.clear();
      if (auto it = data.find("input"); it != data.end() && it->is_object() && input.is_object())
        input.merge_patch(*it);
      break;
    case EventType::kExecutionWaiting:
      status = ExecutionStatus::kWaiting;
      if (auto it = data.find("missing"); it != data.end() && it->is_string()) waiting_for = *it;
      break;
    case EventType::kExecutionCompleted:
      status = ExecutionStatus::kCompleted;
      if (auto it = data.find("output"); it != data.end()) output = *it;
      ended = event.time;
      break;
    case EventType::kExecutionFailed:
      status = ExecutionStatus::kFailed;
      if (auto it = data.find("error"); it != data.end()) error = error_from_json(*it);
      if (auto it = data.find("step"); it != data.end() && it->is_string()) failed_step = *it;
      ended = event.time;
      break;
    case EventType::kExecutionCancelled: {
      status = ExecutionStatus::kCancelled;
      auto it = data.find("reason");
      error =
          Error{ErrorCode::kCancelled,
                it != data.end() && it->is_string() ? it->get<std::string>() : "cancelled", false};
      ended = event.time;
      break;
    }
    case EventType::kCompensationStarted:
      compensations[event.step] = "started";
      compensation_attempts[event.step] =
          std::max(compensation_attempts[event.step], event.attempt);
      break;
    case EventType::kCompensationCompleted:
      compensations[event.step] = "completed";
      break;
    case EventType::kCompensationFailed:
      compensations[event.step] = "failed";
      break;
    case EventType::kExecutionTimedOut:
      status = ExecutionStatus::kTimedOut;
      error = Error{
          ErrorCode::kTimeout,
          "execution exceeded its timeout of " + std::to_string(json_int(data, "timeoutMs")) + "ms",
          false};
      ended = event.time;
      break;
    case EventType::kSecretAccessed:
      break;  // audit only: the state does not change
  }
}

std::int64_t ExecutionState::duration_ms() const {
  if (started == TimePoint{}) return 0;
  TimePoint end = ended == TimePoint{} ? Clock::now() : ended;
  return std::chrono::duration_cast<std::chrono::milliseconds>(end - started).count();
}

Json ExecutionState::to_json() const {
  Json j{{"id", id},
         {"workflow", workflow},
         {"workflowVersion", workflow_version},
         {"status", to_string(status)},
         {"input", input},
         {"output", output},
         {"version", version},
         {"durationMs", duration_ms()}};
  if (started != TimePoint{}) j["startedAt"] = format_time(started);
  if (ended != TimePoint{}) j["endedAt"] = format_time(ended);
  if (error) j["error"] = flowd::to_json(*error);
  if (!failed_step.empty()) j["failedStep"] = failed_step;
  if (!waiting_for.empty()) j["waitingFor"] = waiting_for;
  Json steps_json = Json::object();
  for (const auto& [path, s] : steps) {
    Json sj{
        {"status", to_string(s.status)}, {"attempts", s.attempts}, {"durationMs", s.duration_ms}};
    if (!s.output.is_null()) sj["output"] = s.output;
    if (s.error && s.status != StepStatus::kSucceeded) sj["error"] = flowd::to_json(*s.error);
    if (!s.skip_reason.empty()) sj["skipReason"] = s.skip_reason;
    if (!s.fallback.empty()) sj["fallback"] = s.fallback;
    if (s.status == StepStatus::kRunning && s.due_at != TimePoint{})
      sj["dueAt"] = format_time(s.due_at);
    if (s.status == StepStatus::kRetrying && s.retry_due != TimePoint{})
      sj["retryAt"] = format_time(s.retry_due);
    steps_json[path] = std::move(sj);
  }
  j["steps"] = std::move(steps_json);
  return j;
}

ExecutionState fold(const std::string& execution_id, const std::vector<Event>& events,
                    std::optional<std::int64_t> upto) {
  ExecutionState state;
  state.id = execution_id;
  for (const Event& e : events) {
    if (upto && state.version >= *upto) break;
    state.apply(e);
  }
  return state;
}

}  // namespace flowd
