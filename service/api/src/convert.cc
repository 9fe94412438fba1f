#include "flowd/api/convert.h"

#include "flowd/engine/event.h"

namespace flowd::api {

using eventstore::errc;
namespace codes = http::codes;

http::ApiError from_store(const eventstore::StoreError& error) {
  if (error.is(errc::not_found)) return http::ApiError::not_found(error.message);
  if (error.is(errc::invalid_argument)) return http::ApiError::invalid_input(error.message);
  if (error.is(errc::definition_conflict))
    return http::ApiError::conflict(
        error.message, "versions are immutable: drop metadata.version to store a new version");
  if (error.is(errc::conflict) || error.is(errc::duplicate))
    return http::ApiError::conflict(error.message);
  if (error.is(errc::unavailable) || error.is(errc::shutting_down))
    return http::ApiError::unavailable("the event store is unavailable: " + error.message,
                                       "try again shortly");
  if (error.is(errc::unknown_outcome))
    return http::ApiError::internal(error.message,
                                    "the write may or may not have happened: read before retrying");
  return http::ApiError::internal(error.message);
}

http::ApiError from_error(const Error& error) {
  return http::ApiError::make(to_string(error.code), error.message);
}

http::ApiError execution_not_found(const std::string& id) {
  return http::ApiError::not_found("no execution '" + id + "'",
                                   "GET /api/v1/executions (flowctl executions list) shows them");
}

Json workflow_json(const eventstore::DefinitionRecord& record) {
  Json j{{"name", record.name},
         {"version", record.version},
         {"contentHash", record.content_hash},
         {"createdAt", format_time(record.created_at)},
         {"created", record.created},
         {"definition", record.document}};
  if (auto d = record.document.value("/metadata/description"_json_pointer, Json()); d.is_string())
    j["description"] = d;
  return j;
}

Json execution_summary_json(const eventstore::ExecutionRecord& r) {
  Json j{{"id", r.id},
         {"workflow", r.workflow},
         {"workflowVersion", r.workflow_version},
         {"status", to_string(r.status)},
         {"version", r.version},
         {"startedAt", format_time(r.started_at)},
         {"currentStep", r.current_step},
         {"error", r.error}};
  if (r.ended_at) j["endedAt"] = format_time(*r.ended_at);
  if (r.dedupe_key) j["dedupeKey"] = *r.dedupe_key;
  if (r.owner) j["owner"] = *r.owner;
  if (r.lease_until) j["leaseUntil"] = format_time(*r.lease_until);
  if (r.retry_of) j["retryOf"] = *r.retry_of;
  if (r.parent) j["parent"] = *r.parent;
  if (r.updated_at != TimePoint{}) j["updatedAt"] = format_time(r.updated_at);
  if (r.purged_at) j["purgedAt"] = format_time(*r.purged_at);
  return j;
}

Json event_json(const eventstore::RecordedEvent& e) {
  Json j = to_json(e.event);
  j["position"] = e.position.global_position;
  j["metadata"] = e.metadata;
  return j;
}

}  // namespace flowd::api
