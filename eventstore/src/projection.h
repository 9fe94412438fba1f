#pragma once
// ProjectionDelta is what one append transaction changes in an execution's `executions` row,
// computed from the events being appended (no read of the row needed). The row follows the
// lifecycle only (start, status, end: changes_row()); the current version and step are read from
// the stream itself (schemas/migrations/0006). Pure; private to eventstore/src.
#include <cstdint>
#include <optional>
#include <string>

#include "flowd/engine/event.h"
#include "flowd/engine/execution_state.h"
#include "flowd/engine/json.h"

namespace flowd::eventstore::detail {

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
  std::optional<Json> error;

  // `event` gets stream version `version`; `time_us` is its time in microseconds.
  void apply(const Event& event, std::int64_t version, std::int64_t time_us);
  // The events change the row: the execution started, changed status or ended.
  bool changes_row() const { return started || status.has_value() || terminal; }
};

// The dedupe key of an ExecutionStarted event (data.dedupeKey as a non-empty string), if any.
std::optional<std::string> dedupe_key_of(const Event& event);
// An execution reference from event data (a string, or an object's "executionId"/"execution"/"id").
std::optional<std::string> execution_ref(const Json& value);

}  // namespace flowd::eventstore::detail
