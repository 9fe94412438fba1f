#include "flowd/dlq/dlq_outbox.h"

#include "flowd/dlq/reprocessor.h"
#include "rows.h"

namespace flowd::dlq {

triggers::OutgoingRecord make_dlq_record(const DeadLetter& d, const std::string& topic) {
  triggers::OutgoingRecord out;
  out.topic = topic;
  out.key = d.execution_id.empty() ? std::to_string(d.id) : d.execution_id;
  out.value = to_json(d).dump(-1, ' ', false, Json::error_handler_t::replace);
  auto add = [&](std::string name, std::string value) {
    out.headers.push_back(triggers::Header{std::move(name), std::move(value)});
  };
  add("content-type", "application/json");
  add("flowd-dlq-id", std::to_string(d.id));
  add("flowd-dlq-kind", std::string(to_string(d.kind)));
  add("flowd-dlq-reason-code", d.reason_code);
  add("flowd-dlq-attempt", std::to_string(d.attempts));
  if (!d.workflow.empty()) add("flowd-dlq-workflow", d.workflow);
  if (!d.execution_id.empty()) add("flowd-dlq-execution", d.execution_id);
  if (!d.trace_id.empty()) add("flowd-dlq-trace-id", d.trace_id);
  if (d.source) {
    add("flowd-dlq-original-topic", d.source->topic);
    add("flowd-dlq-original-partition", std::to_string(d.source->partition));
    add("flowd-dlq-original-offset", std::to_string(d.source->offset));
    triggers::add_spring_dlt_headers(out.headers, d.source->topic, d.source->partition,
                                     d.source->offset, d.source->timestamp_ms, d.reason_code,
                                     d.reason_message, d.source->consumer_group);
  } else {
    triggers::add_spring_dlt_headers(out.headers, {}, std::nullopt, std::nullopt, -1, d.reason_code,
                                     d.reason_message);
  }
  return out;
}

triggers::OutgoingRecord make_republish_record(const DeadLetter& d) {
  triggers::OutgoingRecord out;
  out.topic = d.source->topic;
  out.partition = d.source->partition;
  out.key = d.source->key;
  out.value = d.source->value;
  for (const auto& h : d.source->headers) out.headers.push_back({h.name, h.value});
  out.headers.push_back({"flowd-dlq-republished-from", std::to_string(d.id)});
  return out;
}

Result<std::vector<DeadLetter>> list_republish_requests(DeadLetterStore& store, std::size_t limit) {
  std::vector<DeadLetter> out;
  auto done = store.transact("republish requests", [&](void* w) {
    auto& tx = *static_cast<pqxx::work*>(w);
    for (const auto& row : tx.exec_params(
             std::string("SELECT ") + dead_letter_columns() +
                 " FROM dead_letters WHERE republish_requested_at IS NOT NULL"
                 " AND status = 'retrying' ORDER BY republish_requested_at LIMIT $1::bigint",
             static_cast<std::int64_t>(limit)))
      out.push_back(read_dead_letter_row(row));
  });
  if (!done) return tl::unexpected(done.error());
  return out;
}

Result<void> mark_republished(DeadLetterStore& store, const DeadLetter& d,
                              const std::string& where) {
  return store.transact("republished", [&](void* w) {
    auto& tx = *static_cast<pqxx::work*>(w);
    auto r = tx.exec_params(
        "UPDATE dead_letters SET status = 'resolved', republish_requested_at = NULL,"
        " resolved_at = now(), resolved_by = 'republish', resolution = $2, updated_at = now()"
        " WHERE id = $1 AND status = 'retrying' RETURNING retries",
        d.id, "republished to " + where);
    if (r.empty()) return;
    tx.exec_params(
        "UPDATE dead_letter_retries SET started_at = now(), outcome = 'completed', ended_at = now()"
        " WHERE dead_letter_id = $1 AND retry_number = $2",
        d.id, r[0][0].as<int>());
    record_action(tx, d.id, "Republished", "flowd", {}, Json{{"to", where}});
  });
}

}  // namespace flowd::dlq

namespace flowd::dlq {

Result<std::int64_t> purge_dead_letters(DeadLetterStore& store,
                                        std::chrono::milliseconds older_than, bool dry_run) {
  std::int64_t count = 0;
  auto done = store.transact("retention", [&](void* w) {
    auto& tx = *static_cast<pqxx::work*>(w);
    const auto ms = static_cast<std::int64_t>(older_than.count());
    if (dry_run) {
      count = tx.exec_params(
                    "SELECT count(*) FROM dead_letters WHERE status IN ('resolved', 'discarded',"
                    " 'archived') AND updated_at < now() - $1::bigint * interval '1 millisecond'",
                    ms)[0][0]
                  .as<std::int64_t>();
      return;
    }
    auto rows = tx.exec_params(
        "WITH gone AS (DELETE FROM dead_letters WHERE status IN ('resolved', 'discarded',"
        " 'archived') AND updated_at < now() - $1::bigint * interval '1 millisecond'"
        " RETURNING id, status)"
        " INSERT INTO dead_letter_events (dead_letter_id, type, actor, data)"
        " SELECT id, 'Purged', 'retention', jsonb_build_object('state', status) FROM gone"
        " RETURNING dead_letter_id",
        ms);
    count = static_cast<std::int64_t>(rows.size());
  });
  if (!done) return tl::unexpected(done.error());
  return count;
}

}  // namespace flowd::dlq
