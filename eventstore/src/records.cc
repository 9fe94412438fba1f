#include "records.h"

#include <stdexcept>

#include "pg.h"

namespace flowd::eventstore {

std::string stream_name(const std::string& execution_id) {
  return "execution-" + execution_id;
}

namespace detail {

std::string execution_id_of(const std::string& stream) {
  constexpr std::string_view kPrefix = "execution-";
  if (stream.compare(0, kPrefix.size(), kPrefix) == 0) return stream.substr(kPrefix.size());
  return stream;
}

namespace {

std::string_view text_of(const pqxx::field& field) {
  return std::string_view(field.c_str(), field.size());
}

// Columns from stream_id on: stream_id, stream_version, type, step, attempt, occurred_at, data.
void decode_event_fields(const pqxx::row& row, pqxx::row::size_type first, RecordedEvent& out) {
  constexpr std::string_view kPrefix = "execution-";
  std::string_view stream = text_of(row[first]);
  if (stream.substr(0, kPrefix.size()) == kPrefix) stream.remove_prefix(kPrefix.size());
  out.execution_id.assign(stream);
  out.event.version = row[first + 1].as<std::int64_t>();
  const auto type = parse_event_type(text_of(row[first + 2]));
  if (!type)
    throw std::runtime_error("unknown event type '" + row[first + 2].as<std::string>() + "'");
  out.event.type = *type;
  if (!row[first + 3].is_null()) out.event.step.assign(text_of(row[first + 3]));
  if (!row[first + 4].is_null()) out.event.attempt = row[first + 4].as<int>();
  out.event.time = time_field(row[first + 5]);
  out.event.data = parse_json(row[first + 6]);
}

}  // namespace

RecordedEvent decode_event(const pqxx::row& row) {
  RecordedEvent out;
  out.position.global_position = row[0].as<std::int64_t>();
  out.position.tx_id = row[1].as<std::uint64_t>();
  out.event_id.assign(text_of(row[2]));
  decode_event_fields(row, 3, out);
  out.metadata = parse_json(row[10]);
  out.recorded_at = time_field(row[11]);
  return out;
}

RecordedEvent decode_fold_event(const pqxx::row& row) {
  RecordedEvent out;
  out.position.global_position = row[0].as<std::int64_t>();
  out.position.tx_id = row[1].as<std::uint64_t>();
  decode_event_fields(row, 2, out);
  return out;
}

ExecutionRecord decode_execution(const pqxx::row& row) {
  ExecutionRecord out;
  out.id = row[0].as<std::string>();
  out.workflow = row[1].as<std::string>();
  out.workflow_version = row[2].as<int>();
  out.version = row[3].as<std::int64_t>();
  const auto status = parse_execution_status(std::string_view(row[4].c_str(), row[4].size()));
  if (!status)
    throw std::runtime_error("unknown execution status '" + row[4].as<std::string>() + "'");
  out.status = *status;
  out.dedupe_key = optional_text(row[5]);
  out.started_at = time_field(row[6]);
  out.ended_at = optional_time(row[7]);
  if (!row[8].is_null()) {
    out.current_step = Json{{"step", row[8].as<std::string>()},
                            {"event", row[9].is_null() ? std::string() : row[9].as<std::string>()}};
    if (!row[10].is_null() && row[10].as<int>() > 0)
      out.current_step["attempt"] = row[10].as<int>();
  }
  out.error = parse_json(row[11]);
  out.owner = optional_text(row[12]);
  out.lease_until = optional_time(row[13]);
  out.retry_of = optional_text(row[14]);
  out.parent = optional_text(row[15]);
  out.updated_at = time_field(row[16]);
  out.purged_at = optional_time(row[17]);
  return out;
}

}  // namespace detail
}  // namespace flowd::eventstore
