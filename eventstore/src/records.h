#pragma once
// Decoding rows of `events` and `executions` into the API's value types. Private.
#include <pqxx/pqxx>
#include <string>

#include "flowd/eventstore/errc.h"
#include "flowd/eventstore/types.h"

namespace flowd::eventstore::detail {

// The select list decode_event() expects, in this order.
#define FLOWD_EVENT_COLUMNS                                                            \
  "global_position, tx_id, event_id, stream_id, stream_version, type, step, attempt, " \
  "occurred_at, data, metadata, recorded_at"

// The select list decode_fold_event() expects (ReadDetail::kFold).
#define FLOWD_FOLD_EVENT_COLUMNS \
  "global_position, tx_id, stream_id, stream_version, type, step, attempt, occurred_at, data"

// The select list decode_execution() expects, from the execution_summaries view (the executions
// row with its stream's current version and latest step event).
#define FLOWD_EXECUTION_COLUMNS                                                                 \
  "id, workflow, workflow_version, version, status, dedupe_key, started_at, ended_at, "         \
  "current_step, current_event, current_attempt, error, owner, lease_until, retry_of, parent, " \
  "updated_at, purged_at"

// Throws std::runtime_error on a row it cannot understand (unknown event type or status).
RecordedEvent decode_event(const pqxx::row& row);
RecordedEvent decode_fold_event(const pqxx::row& row);
ExecutionRecord decode_execution(const pqxx::row& row);

// "execution-<id>" -> "<id>" (other stream names are returned as they are).
std::string execution_id_of(const std::string& stream);

}  // namespace flowd::eventstore::detail
