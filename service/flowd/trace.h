#pragma once
// Trace context of executions: the W3C trace id a trigger brought along, for log lines.
#include <string>

#include "flowd/engine/json.h"

namespace flowd::service {

// The trace id in an execution's context (`trace.traceparent` or `traceparent`, W3C format
// version-traceid-spanid-flags), empty when there is none.
std::string trace_id_of(const Json& context);

// {"execution": id, "workflow": name, "traceId": ...} — the fields of a log line about one.
Json execution_fields(const std::string& id, const std::string& workflow, const Json& context);

}  // namespace flowd::service
