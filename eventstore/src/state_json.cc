#include "flowd/eventstore/state_json.h"

#include <array>
#include <chrono>

namespace flowd::eventstore {
namespace {

std::int64_t nanos(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

TimePoint time_of(const Json& value) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::nanoseconds(value.get<std::int64_t>())));
}

constexpr std::array<StepStatus, 7> kStepStatuses = {
    StepStatus::kPending,   StepStatus::kScheduled, StepStatus::kRunning, StepStatus::kRetrying,
    StepStatus::kSucceeded, StepStatus::kFailed,    StepStatus::kSkipped};

std::optional<StepStatus> parse_step_status(std::string_view text) {
  for (StepStatus status : kStepStatuses) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

Json optional_error(const std::optional<Error>& error) {
  return error ? to_json(*error) : Json();
}

std::optional<Error> error_of(const Json& value) {
  if (value.is_null()) return std::nullopt;
  return error_from_json(value);
}

}  // namespace

Json snapshot_to_json(const ExecutionState& state) {
  Json steps = Json::object();
  for (const auto& [path, step] : state.steps) {
    steps[path] = Json{{"status", to_string(step.status)},
                       {"attempts", step.attempts},
                       {"output", step.output},
                       {"error", optional_error(step.error)},
                       {"skipReason", step.skip_reason},
                       {"fallback", step.fallback},
                       {"firstStarted", nanos(step.first_started)},
                       {"ended", nanos(step.ended)},
                       {"durationMs", step.duration_ms},
                       {"completedVersion", step.completed_version}};
    // Durable timers: a resume from this snapshot waits what is left of them (engine/timers.h).
    if (step.due_at != TimePoint{}) steps[path]["dueAt"] = nanos(step.due_at);
    if (step.deadline != TimePoint{}) steps[path]["deadline"] = nanos(step.deadline);
    if (step.retry_due != TimePoint{}) steps[path]["retryDue"] = nanos(step.retry_due);
    if (!step.item_status.empty()) {
      // A large forEach's finished items live only here (StepState): without them a resume from
      // this snapshot would run them again.
      Json statuses = Json::array();
      for (StepStatus s : step.item_status) statuses.push_back(to_string(s));
      steps[path]["itemStatus"] = std::move(statuses);
      steps[path]["itemOutputs"] = Json(step.item_outputs);
    }
  }
  return Json{{"format", kSnapshotFormat},
              {"id", state.id},
              {"workflow", state.workflow},
              {"workflowVersion", state.workflow_version},
              {"status", to_string(state.status)},
              {"input", state.input},
              {"context", state.context},
              {"output", state.output},
              {"error", optional_error(state.error)},
              {"failedStep", state.failed_step},
              {"waitingFor", state.waiting_for},
              {"started", nanos(state.started)},
              {"ended", nanos(state.ended)},
              {"deadline", nanos(state.deadline)},
              {"version", state.version},
              {"steps", std::move(steps)},
              {"compensations", state.compensations},
              {"compensationAttempts", state.compensation_attempts}};
}

Result<ExecutionState> snapshot_from_json(const Json& json) {
  try {
    if (!json.is_object() || json.value("format", 0) != kSnapshotFormat) {
      return fail(ErrorCode::kInternal, "snapshot: unknown format");
    }
    ExecutionState state;
    state.id = json.at("id").get<std::string>();
    state.workflow = json.at("workflow").get<std::string>();
    state.workflow_version = json.at("workflowVersion").get<int>();
    const auto status = parse_execution_status(json.at("status").get<std::string>());
    if (!status) return fail(ErrorCode::kInternal, "snapshot: unknown execution status");
    state.status = *status;
    state.input = json.at("input");
    state.context = json.at("context");
    state.output = json.at("output");
    state.error = error_of(json.at("error"));
    state.failed_step = json.at("failedStep").get<std::string>();
    state.waiting_for = json.at("waitingFor").get<std::string>();
    state.started = time_of(json.at("started"));
    state.ended = time_of(json.at("ended"));
    if (auto it = json.find("deadline"); it != json.end()) state.deadline = time_of(*it);
    state.version = json.at("version").get<std::int64_t>();
    for (const auto& [path, value] : json.at("steps").items()) {
      StepState step;
      const auto step_status = parse_step_status(value.at("status").get<std::string>());
      if (!step_status) return fail(ErrorCode::kInternal, "snapshot: unknown step status");
      step.status = *step_status;
      step.attempts = value.at("attempts").get<int>();
      step.output = value.at("output");
      step.error = error_of(value.at("error"));
      step.skip_reason = value.at("skipReason").get<std::string>();
      step.fallback = value.at("fallback").get<std::string>();
      step.first_started = time_of(value.at("firstStarted"));
      step.ended = time_of(value.at("ended"));
      step.duration_ms = value.at("durationMs").get<std::int64_t>();
      step.completed_version = value.value("completedVersion", std::int64_t{0});
      if (auto it = value.find("dueAt"); it != value.end()) step.due_at = time_of(*it);
      if (auto it = value.find("deadline"); it != value.end()) step.deadline = time_of(*it);
      if (auto it = value.find("retryDue"); it != value.end()) step.retry_due = time_of(*it);
      if (const auto items = value.find("itemStatus"); items != value.end()) {
        const Json& outputs = value.at("itemOutputs");
        if (!items->is_array() || !outputs.is_array() || outputs.size() != items->size()) {
          return fail(ErrorCode::kInternal, "snapshot: step " + path + ": bad forEach items");
        }
        for (const auto& item : *items) {
          const auto item_status = parse_step_status(item.get<std::string>());
          if (!item_status) return fail(ErrorCode::kInternal, "snapshot: unknown item status");
          step.item_status.push_back(*item_status);
        }
        step.item_outputs.assign(outputs.begin(), outputs.end());
      }
      state.steps.emplace(path, std::move(step));
    }
    if (auto c = json.find("compensations"); c != json.end() && c->is_object())
      for (const auto& [path, status] : c->items()) state.compensations[path] = status;
    if (auto c = json.find("compensationAttempts"); c != json.end() && c->is_object())
      for (const auto& [path, n] : c->items()) state.compensation_attempts[path] = n;
    return state;
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kInternal, std::string("snapshot: ") + e.what());
  }
}

}  // namespace flowd::eventstore
