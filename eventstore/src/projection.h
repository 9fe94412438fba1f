#pragma once
// ProjectionDelta is what one append transaction changes in an execution's `executions` row,
// computed from the events being appended (no read of the row needed). Pure; private to
// eventstore/src.
#include <cstdint>
#include <optional>
#include <string>

#include "flowd/engine/event.h"
#include "flowd/engine/execution_state.h"
#include "flowd/engine/json.h"

namespace flowd::eventstore::detail {

// The latest step event of an execution ("current step" of the projection).
struct StepHead {
  std::string step;
  std::string event;
  int attempt = 0;
};

struct ProjectionDelta {
  std::string execution_id;
  bool started = false;  // saw ExecutionStarted: the row is inserted
  std::string workflow;
  int workflow_version = 0;
  std::optional<std::string> dedupe_key;
  std::optional<std::string> parent;
  std::optional<std::string> retry_of;
  std::int64_t started_at_us = 0;
  std::int64_t version = 0;  // stream version after the events
  std::optional<ExecutionStatus> status;
  bool terminal = false;
  std::optional<std::int64_t> ended_at_us;
  std::optional<StepHead> current_step;
  std::optional<Json> error;

  // `event` gets stream version `version`; `time_us` is its time in microseconds.
  void apply(const Event& event, std::int64_t version, std::int64_t time_us);
};

// The dedupe key of an ExecutionStarted event (data.dedupeKey as a non-empty string), if any.
std::optional<std::string> dedupe_key_of(const Event& event);
// An execution reference from event data (a string, or an object's "executionId"/"execution"/"id").
std::optional<std::string> execution_ref(const Json& value);

}  // namespace flowd::eventstore::detail
