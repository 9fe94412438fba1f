#pragma once
// The API's JSON shapes of the store's values, and the translation of store and engine errors to
// ApiErrors (stable code, message, hint). Shared by Operations and the SSE stream so that every
// path answers the same shapes (schemas/openapi.yaml).
#include <string>

#include "flowd/engine/error.h"
#include "flowd/eventstore/errc.h"
#include "flowd/eventstore/types.h"
#include "http/error.h"

namespace flowd::api {

// not_found -> NOT_FOUND, invalid_argument -> INVALID_INPUT, conflict / duplicate /
// definition_conflict -> CONFLICT, unavailable / shutting_down -> UNAVAILABLE, the rest INTERNAL.
http::ApiError from_store(const eventstore::StoreError& error);
// By the code's name (INVALID_INPUT, NOT_FOUND, TIMEOUT, ...).
http::ApiError from_error(const Error& error);
http::ApiError execution_not_found(const std::string& id);

// Workflow: {"name","version","description"?,"contentHash","createdAt","created","definition"}
Json workflow_json(const eventstore::DefinitionRecord& record);
// ExecutionSummary: {"id","workflow","workflowVersion","status","version","startedAt",...}
Json execution_summary_json(const eventstore::ExecutionRecord& record);
// Event: flowd::to_json(event) plus "position" (global) and "metadata".
Json event_json(const eventstore::RecordedEvent& event);

}  // namespace flowd::api
