// DeadLetterProjector: the terminal events of the log → dead letters, checkpointed in the same
// transaction (see the header for why this is as safe as writing them with the final event).
#include "flowd/dlq/dead_letter_projector.h"

#include <map>

#include "flowd/engine/event.h"
#include "rows.h"

namespace flowd::dlq {

namespace {

constexpr std::string_view kStreamPrefix = "execution-";

// Every event after the checkpoint below the horizon, in global order; the payload only of the
// terminal ones (the others just move the checkpoint).
constexpr const char* kScan =
    "SELECT e.tx_id::text, e.global_position, e.stream_id, e.type,"
    " CASE WHEN e.type IN ('ExecutionFailed', 'ExecutionTimedOut', 'ExecutionCompleted',"
    "   'ExecutionCancelled') THEN e.data::text END, flowd_micros(e.occurred_at)"
    " FROM events e"
    " WHERE (e.tx_id, e.global_position) > ($1::text::xid8, $2::bigint)"
    "   AND e.tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    " ORDER BY e.tx_id, e.global_position LIMIT $3::bigint";

// What the dead letter of a failed execution needs beyond its final event: the executions row
// (top level only: a failed child fails its parent, whose dead letter covers it), the workflow's
// spec.deadLetter, the input and trace context of ExecutionStarted, the failed step's attempts,
// and the first step failure.
constexpr const char* kFailureFacts =
    "SELECT x.workflow, x.workflow_version, x.parent,"
    " (SELECT d.document->'spec'->'deadLetter' FROM workflow_definitions d"
    "   WHERE d.name = x.workflow AND d.version = x.workflow_version)::text,"
    " (SELECT s.data->'input' FROM events s WHERE s.stream_id = $1 AND s.stream_version = 1)::text,"
    " (SELECT s.metadata->>'traceparent' FROM events s"
    "   WHERE s.stream_id = $1 AND s.stream_version = 1),"
    " (SELECT max(a.attempt) FROM events a WHERE a.stream_id = $1 AND a.type = 'StepStarted'"
    "   AND a.step = $2),"
    " (SELECT flowd_micros(min(f.occurred_at)) FROM events f WHERE f.stream_id = $1"
    "   AND f.type = 'StepFailed'),"
    " (SELECT s.data->'context'->'trigger' FROM events s WHERE s.stream_id = $1"
    "   AND s.stream_version = 1)::text"
    " FROM executions x WHERE x.id = $3";

std::string trace_id_of(const std::string& traceparent) {
  // version-traceid-parentid-flags
  if (traceparent.size() >= 35 && traceparent[2] == '-') return traceparent.substr(3, 32);
  return {};
}

struct Terminal {
  std::string execution_id;
  std::string stream_id;
  std::string type;
  Json data;
  std::int64_t time_us = 0;
};

}  // namespace

class DeadLetterProjector::Impl {
 public:
  explicit Impl(DeadLetterProjectorOptions options) : options_(std::move(options)) {}

  DeadLetterProjectorOptions options_;
  std::unique_ptr<pqxx::connection> conn_;

  pqxx::connection& connection() {
    if (!conn_ || !conn_->is_open()) {
      conn_ = std::make_unique<pqxx::connection>(options_.url);
      pqxx::nontransaction(*conn_).exec("SET application_name = 'flowd-dlq-projector'");
      pqxx::work tx(*conn_);
      tx.exec_params("INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
                     options_.name);
      tx.commit();
    }
    return *conn_;
  }

  ProjectionReport batch() {
    ProjectionReport report;
    pqxx::work tx(connection());
    auto cp = tx.exec_params(
        "SELECT tx_id::text, global_position FROM relay_checkpoints WHERE name = $1 FOR UPDATE",
        options_.name)[0];
    std::string tx_id = cp[0].as<std::string>();
    std::int64_t position = cp[1].as<std::int64_t>();
    auto rows =
        tx.exec_params(kScan, tx_id, position, static_cast<std::int64_t>(options_.scan_limit));
    if (rows.empty()) return report;
    std::vector<Terminal> terminals;
    for (const auto& row : rows) {
      if (row[4].is_null()) continue;
      Terminal t;
      t.stream_id = row[2].as<std::string>();
      if (t.stream_id.compare(0, kStreamPrefix.size(), kStreamPrefix) != 0) continue;
      t.execution_id = t.stream_id.substr(kStreamPrefix.size());
      t.type = row[3].as<std::string>();
      t.data = Json::parse(row[4].as<std::string>(), nullptr, false);
      t.time_us = row[5].as<std::int64_t>();
      terminals.push_back(std::move(t));
    }
    report.scanned = rows.size();
    if (!terminals.empty()) apply(tx, terminals, report);
    const auto& last = rows[rows.size() - 1];
    tx.exec_params(
        "UPDATE relay_checkpoints SET tx_id = $2::text::xid8, global_position = $3,"
        " published = published + $4, updated_at = now() WHERE name = $1",
        options_.name, last[0].as<std::string>(), last[1].as<std::int64_t>(),
        static_cast<std::int64_t>(rows.size()));
    tx.commit();
    return report;
  }

  void apply(pqxx::work& tx, std::vector<Terminal>& terminals, ProjectionReport& report) {
    // Which of them are retries of a dead letter: one query for the batch.
    std::string ids = "{";
    for (std::size_t i = 0; i < terminals.size(); ++i) {
      if (i > 0) ids += ',';
      ids += '"' + terminals[i].execution_id + '"';
    }
    ids += '}';
    std::map<std::string, std::pair<std::int64_t, int>> retries;
    for (const auto& row :
         tx.exec_params("SELECT execution_id, dead_letter_id, retry_number FROM dead_letter_retries"
                        " WHERE execution_id = ANY($1::text[])",
                        ids)) {
      retries[row[0].as<std::string>()] = {row[1].as<std::int64_t>(), row[2].as<int>()};
    }
    for (auto& t : terminals) {
      if (auto it = retries.find(t.execution_id); it != retries.end()) {
        retry_ended(tx, t, it->second.first, it->second.second, report);
      } else if (t.type == "ExecutionFailed" || t.type == "ExecutionTimedOut") {
        failed(tx, t, report);
      }
    }
  }

  Json masked(Json value) const {
    if (options_.masker) options_.masker->mask(value);
    return value;
  }
  std::string masked(std::string text) const {
    return options_.masker ? options_.masker->mask(std::move(text)) : text;
  }

  // A JSON document's text with its strings masked (unchanged without secrets to mask).
  std::string masked_json_text(std::string text) const {
    if (!options_.masker || options_.masker->empty()) return text;
    Json value = Json::parse(text, nullptr, false);
    if (value.is_discarded()) return masked(std::move(text));
    options_.masker->mask(value);
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
  }

  static Json error_of(const Terminal& t) {
    if (t.type == "ExecutionTimedOut") {
      return Json{{"code", "TIMEOUT"},
                  {"message", "the execution timed out after " +
                                  std::to_string(t.data.value("timeoutMs", 0)) + " ms"},
                  {"retryable", true}};
    }
    if (t.type == "ExecutionCancelled")
      return Json{{"code", "CANCELLED"}, {"message", t.data.value("reason", "cancelled")}};
    Json e = t.data.is_object() ? t.data.value("error", Json::object()) : Json::object();
    if (!e.is_object()) e = Json::object();
    if (!e.contains("code")) e["code"] = "INTERNAL";
    if (!e.contains("message")) e["message"] = "the execution failed";
    return e;
  }

  void retry_ended(pqxx::work& tx, const Terminal& t, std::int64_t letter, int number,
                   ProjectionReport& report) {
    const bool completed = t.type == "ExecutionCompleted";
    tx.exec_params(
        "UPDATE dead_letter_retries SET outcome = $3, ended_at = flowd_ts($4::bigint)"
        " WHERE dead_letter_id = $1 AND retry_number = $2 AND outcome IS NULL",
        letter, number, completed ? "completed" : "failed", t.time_us);
    if (completed) {
      // Only the letter's latest retry decides; an older one ending late changes nothing.
      auto r = tx.exec_params(
          "UPDATE dead_letters SET status = 'resolved', resolved_at = now(),"
          " resolved_by = 'retry', resolution = $3, updated_at = now()"
          " WHERE id = $1 AND retries = $2 AND status = 'retrying' RETURNING id",
          letter, number,
          "retry " + std::to_string(number) + " completed (execution " + t.execution_id + ")");
      if (!r.empty()) {
        record_action(tx, letter, "Resolved", "flowd", {},
                      Json{{"retry", number}, {"execution", t.execution_id}});
        ++report.resolved;
      }
      return;
    }
    const Json error = masked(error_of(t));
    const std::string step = t.data.is_object() ? t.data.value("step", std::string()) : "";
    auto r = tx.exec_params(
        "UPDATE dead_letters SET status = 'pending', attempts = attempts + 1,"
        " reason_code = $3, reason_message = $4, last_error = $5::jsonb,"
        " failed_step = COALESCE(NULLIF($6, ''), failed_step),"
        " last_failed_at = flowd_ts($7::bigint), published_at = NULL, updated_at = now()"
        " WHERE id = $1 AND retries = $2 AND status = 'retrying' RETURNING id",
        letter, number, error.value("code", "INTERNAL"), error.value("message", ""),
        error.dump(-1, ' ', false, Json::error_handler_t::replace), step, t.time_us);
    if (!r.empty()) {
      record_action(tx, letter, "FailedAgain", "flowd", {},
                    Json{{"retry", number}, {"execution", t.execution_id}, {"error", error}});
      ++report.failed_again;
    }
  }

  void failed(pqxx::work& tx, const Terminal& t, ProjectionReport& report) {
    const Json error = masked(error_of(t));
    const std::string step = t.data.is_object() ? t.data.value("step", std::string()) : "";
    auto facts = tx.exec_params(kFailureFacts, t.stream_id, step, t.execution_id);
    if (facts.empty()) return;  // no executions row: not an execution this store started
    const auto& f = facts[0];
    if (!f[2].is_null()) return;  // a sub-workflow execution: its parent's failure is the letter
    const std::string code = error.value("code", "INTERNAL");
    if (!f[3].is_null()) {
      const Json policy = Json::parse(f[3].as<std::string>(), nullptr, false);
      if (policy.is_object()) {
        if (policy.value("enabled", true) == false) return;
        if (auto codes = policy.find("errorCodes");
            codes != policy.end() && codes->is_array() && !codes->empty()) {
          bool listed = false;
          for (const auto& c : *codes) listed = listed || (c.is_string() && c == code);
          if (!listed) return;
        }
      }
    }
    const std::string traceparent = f[5].is_null() ? "" : f[5].as<std::string>();
    const int attempts = f[6].is_null() ? 1 : f[6].as<int>();
    const std::int64_t first = f[7].is_null() ? t.time_us : f[7].as<std::int64_t>();
    // A Kafka-triggered execution names its record: the flowd.dlq headers point back to it.
    Json trigger = f[8].is_null() ? Json() : Json::parse(f[8].as<std::string>(), nullptr, false);
    std::string topic, partition, offset;  // "": none
    if (trigger.is_object() && trigger.value("kind", "") == "kafka" &&
        trigger.value("topic", Json()).is_string()) {
      topic = trigger["topic"].get<std::string>();
      partition = std::to_string(trigger.value("partition", 0));
      offset = std::to_string(trigger.value("offset", std::int64_t{0}));
    }
    auto inserted = tx.exec_params(
        "INSERT INTO dead_letters (kind, dedupe_key, reason_code, reason_message, workflow,"
        " workflow_version, execution_id, failed_step, input, attempts, last_error,"
        " first_failed_at, last_failed_at, trace_id, source_topic, source_partition, source_offset)"
        " VALUES ('execution', $1, $2, $3, $4, $5, $6, NULLIF($7, ''), $8::jsonb, $9, $10::jsonb,"
        " flowd_ts($11::bigint), flowd_ts($12::bigint), NULLIF($13, ''), NULLIF($14, ''),"
        " NULLIF($15, '')::int, NULLIF($16, '')::bigint) ON CONFLICT (dedupe_key) DO NOTHING "
        "RETURNING id",
        "execution:" + t.execution_id, code, error.value("message", ""), f[0].as<std::string>(),
        f[1].as<int>(), t.execution_id, step,
        f[4].is_null() ? std::string("null") : masked_json_text(f[4].as<std::string>()), attempts,
        error.dump(-1, ' ', false, Json::error_handler_t::replace), first, t.time_us,
        trace_id_of(traceparent), topic, partition, offset);
    if (inserted.empty()) return;
    record_action(tx, inserted[0][0].as<std::int64_t>(), "Created", "flowd", {},
                  Json{{"execution", t.execution_id}, {"error", error}});
    ++report.dead_lettered;
  }
};

Result<std::unique_ptr<DeadLetterProjector>> DeadLetterProjector::open(
    DeadLetterProjectorOptions options) {
  if (options.url.empty()) return fail(ErrorCode::kInvalidInput, "dead letters: no database URL");
  auto impl = std::make_unique<Impl>(std::move(options));
  try {
    impl->connection();
  } catch (const std::exception& e) {
    return tl::unexpected(translate_database_error(e, "projector"));
  }
  return std::unique_ptr<DeadLetterProjector>(new DeadLetterProjector(std::move(impl)));
}

DeadLetterProjector::DeadLetterProjector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DeadLetterProjector::~DeadLetterProjector() {
  stop();
}

Result<ProjectionReport> DeadLetterProjector::run_once() {
  try {
    return impl_->batch();
  } catch (const std::exception& e) {
    impl_->conn_.reset();
    return tl::unexpected(translate_database_error(e, "projection"));
  }
}

Result<ProjectionReport> DeadLetterProjector::catch_up() {
  ProjectionReport total;
  for (;;) {
    auto r = run_once();
    if (!r) return r;
    total.scanned += r->scanned;
    total.dead_lettered += r->dead_lettered;
    total.resolved += r->resolved;
    total.failed_again += r->failed_again;
    if (r->scanned < impl_->options_.scan_limit) return total;
  }
}

void DeadLetterProjector::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void DeadLetterProjector::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeadLetterProjector::loop() {
  auto backoff = impl_->options_.poll_interval;
  for (;;) {
    auto r = run_once();
    std::chrono::milliseconds wait{0};
    if (!r) {
      if (impl_->options_.log)
        impl_->options_.log("warn", "dead-letter projection failed: " + r.error().message, {});
      wait = backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5'000));
    } else {
      backoff = impl_->options_.poll_interval;
      if (r->dead_lettered > 0 && impl_->options_.log)
        impl_->options_.log("info", "executions dead-lettered", Json{{"count", r->dead_lettered}});
      if (r->scanned < impl_->options_.scan_limit) wait = impl_->options_.poll_interval;
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, wait, [this] { return stopping_; })) return;
  }
}

}  // namespace flowd::dlq
