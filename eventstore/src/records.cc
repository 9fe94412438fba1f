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

RecordedEvent decode_event(const pqxx::row& row) {
  RecordedEvent out;
  out.position.global_position = row[0].as<std::int64_t>();
  out.position.tx_id = row[1].as<std::uint64_t>();
  out.event_id = row[2].as<std::string>();
  out.execution_id = execution_id_of(row[3].as<std::string>());
  out.event.version = row[4].as<std::int64_t>();
  const auto type = parse_event_type(std::string_view(row[5].c_str(), row[5].size()));
  if (!type) throw std::runtime_error("unknown event type '" + row[5].as<std::string>() + "'");
  out.event.type = *type;
  if (!row[6].is_null()) out.event.step = row[6].as<std::string>();
  if (!row[7].is_null()) out.event.attempt = row[7].as<int>();
  out.event.time = from_micros(row[8].as<std::int64_t>());
  out.event.data = parse_json(row[9]);
  out.metadata = parse_json(row[10]);
  out.recorded_at = from_micros(row[11].as<std::int64_t>());
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
  out.started_at = from_micros(row[6].as<std::int64_t>());
  out.ended_at = optional_time(row[7]);
  out.current_step = parse_json(row[8]);
  out.error = parse_json(row[9]);
  out.owner = optional_text(row[10]);
  out.lease_until = optional_time(row[11]);
  out.retry_of = optional_text(row[12]);
  out.parent = optional_text(row[13]);
  out.updated_at = from_micros(row[14].as<std::int64_t>());
  out.purged_at = optional_time(row[15]);
  return out;
}

}  // namespace detail
}  // namespace flowd::eventstore
