#include "schedule_pg.h"

namespace flowd::triggers::detail {

namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string first_line(std::string text) {
  if (auto nl = text.find('\n'); nl != std::string::npos) text.resize(nl);
  return text;
}

template <class T>
std::optional<T> optional_field(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

}  // namespace

std::unique_ptr<pqxx::connection> connect(const std::string& url, const std::string& name) {
  auto conn = std::make_unique<pqxx::connection>(url);
  pqxx::nontransaction setup(*conn);
  setup.exec("SET TIME ZONE 'UTC'");
  setup.exec("SET client_encoding = 'UTF8'");
  setup.exec_params("SELECT set_config('application_name', $1, false)", name);
  return conn;
}

bool breaks_connection(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    return starts_with(state, "08") || starts_with(state, "57P");
  }
  return false;
}

ScheduleError translate(const std::exception& e, std::string_view context) {
  ScheduleError error;
  error.message = std::string(context) + ": " + first_line(e.what());
  if (breaks_connection(e)) {
    error.code = ScheduleErrc::kUnavailable;
    error.hint = "is PostgreSQL running at database.url?";
  } else if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
             sql != nullptr && sql->sqlstate() == "23505") {
    error.code = ScheduleErrc::kConflict;
  } else {
    error.code = ScheduleErrc::kInternal;
  }
  return error;
}

std::unique_ptr<pqxx::connection> Pool::acquire() {
  {
    std::unique_lock lock(mutex_);
    freed_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
  }
  try {
    return connect(url_, "flowd-schedules");
  } catch (...) {
    forget();
    throw;
  }
}

void Pool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
  freed_.notify_one();
}

void Pool::forget() {
  std::lock_guard lock(mutex_);
  if (open_ > 0) --open_;
  freed_.notify_one();
}

std::int64_t micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
std::int64_t micros(SysSeconds t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
TimePoint time_of(std::int64_t us) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(std::chrono::microseconds(us)));
}
SysSeconds seconds_of(std::int64_t us) {
  return SysSeconds(std::chrono::floor<std::chrono::seconds>(std::chrono::microseconds(us)));
}
std::string optional_micros(const std::optional<SysSeconds>& t) {
  return t ? std::to_string(micros(*t)) : std::string();
}
std::string optional_micros(const std::optional<TimePoint>& t) {
  return t ? std::to_string(micros(*t)) : std::string();
}

const char* const kScheduleSelect =
    "SELECT s.name, s.source, s.workflow, s.workflow_version, s.expression, s.timezone, "
    " s.input::text, s.overlap, s.pause_on_failure, s.catchup_window_ms, s.max_catchup, "
    " s.jitter_ms, flowd_micros(s.start_at), flowd_micros(s.end_at), s.paused, s.note, "
    " flowd_micros(s.last_tick), flowd_micros(s.next_tick), flowd_micros(s.due_at), "
    " s.running_execution, s.buffered, s.missed_total, s.definition_version, "
    " flowd_micros(s.created_at), flowd_micros(s.updated_at), "
    " flowd_micros(t.fire_time), t.outcome, t.execution_id, t.detail, t.backfill, "
    "flowd_micros(t.at) "
    "FROM schedules s LEFT JOIN LATERAL ("
    " SELECT * FROM schedule_ticks k WHERE k.schedule = s.name AND k.outcome = 'fired'"
    " ORDER BY k.fire_time DESC LIMIT 1) t ON true ";

Schedule read_schedule(const pqxx::row& r) {
  Schedule s;
  ScheduleSpec& spec = s.spec;
  spec.name = r[0].as<std::string>();
  s.source =
      r[1].as<std::string>() == "definition" ? ScheduleSource::kDefinition : ScheduleSource::kApi;
  spec.workflow = r[2].as<std::string>();
  spec.version = optional_field<int>(r[3]);
  spec.expression = r[4].as<std::string>();
  spec.timezone = r[5].as<std::string>();
  spec.input = r[6].is_null() ? Json() : Json::parse(r[6].as<std::string>());
  spec.overlap = parse_overlap_policy(r[7].as<std::string>()).value_or(OverlapPolicy::kSkip);
  spec.pause_on_failure = r[8].as<bool>();
  spec.catchup_window = Millis{r[9].as<std::int64_t>()};
  spec.max_catchup = r[10].as<int>();
  spec.jitter = Millis{r[11].as<std::int64_t>()};
  if (!r[12].is_null()) spec.start_at = seconds_of(r[12].as<std::int64_t>());
  if (!r[13].is_null()) spec.end_at = seconds_of(r[13].as<std::int64_t>());
  s.paused = r[14].as<bool>();
  s.note = r[15].is_null() ? "" : r[15].as<std::string>();
  s.last_tick = seconds_of(r[16].as<std::int64_t>());
  if (!r[17].is_null()) s.next_tick = seconds_of(r[17].as<std::int64_t>());
  if (!r[18].is_null()) s.due_at = time_of(r[18].as<std::int64_t>());
  s.running_execution = r[19].is_null() ? "" : r[19].as<std::string>();
  s.buffered = r[20].as<int>();
  s.missed_total = r[21].as<std::int64_t>();
  s.definition_version = optional_field<int>(r[22]);
  s.created_at = time_of(r[23].as<std::int64_t>());
  s.updated_at = time_of(r[24].as<std::int64_t>());
  if (!r[25].is_null()) {
    TickRecord t;
    t.fire_time = seconds_of(r[25].as<std::int64_t>());
    t.outcome = r[26].as<std::string>();
    t.execution_id = r[27].is_null() ? "" : r[27].as<std::string>();
    t.detail = r[28].is_null() ? "" : r[28].as<std::string>();
    t.backfill = r[29].as<bool>();
    t.at = time_of(r[30].as<std::int64_t>());
    s.last_run = std::move(t);
  }
  return s;
}

NextRun next_run(const ScheduleSpec& spec, const CronSchedule& cron, SysSeconds last_tick) {
  SysSeconds after = last_tick;
  if (spec.start_at && *spec.start_at - std::chrono::seconds(1) > after)
    after = *spec.start_at - std::chrono::seconds(1);
  NextRun next;
  auto t = cron.next_after(after);
  if (!t || (spec.end_at && *t > *spec.end_at)) return next;
  next.tick = *t;
  next.due = TimePoint(*t) + jitter_for(spec.name, *t, spec.jitter);
  return next;
}

void append_event(pqxx::transaction_base& tx, const std::string& schedule, const std::string& type,
                  const std::string& actor, const Json& data) {
  tx.exec_params(
      "INSERT INTO schedule_events (schedule, type, actor, data) VALUES ($1, $2, $3, "
      "$4::jsonb)",
      schedule, type, actor, data.dump());
}

bool record_tick(pqxx::transaction_base& tx, const std::string& schedule, SysSeconds fire,
                 const std::string& outcome, const std::string& execution_id,
                 const std::string& detail, bool backfill) {
  auto r = tx.exec_params(
      "INSERT INTO schedule_ticks (schedule, fire_time, outcome, execution_id, detail, backfill) "
      "VALUES ($1, flowd_ts($2), $3, NULLIF($4, ''), NULLIF($5, ''), $6) "
      "ON CONFLICT (schedule, fire_time) DO UPDATE SET outcome = EXCLUDED.outcome, "
      " execution_id = EXCLUDED.execution_id, detail = EXCLUDED.detail, "
      " backfill = EXCLUDED.backfill, at = now() WHERE schedule_ticks.outcome = 'missed'",
      schedule, micros(fire), outcome, execution_id, detail, backfill);
  return r.affected_rows() == 1;
}

std::optional<std::string> tick_outcome(pqxx::transaction_base& tx, const std::string& schedule,
                                        SysSeconds fire) {
  auto r = tx.exec_params(
      "SELECT outcome FROM schedule_ticks WHERE schedule = $1 AND fire_time = flowd_ts($2)",
      schedule, micros(fire));
  if (r.empty()) return std::nullopt;
  return r[0][0].as<std::string>();
}

}  // namespace flowd::triggers::detail
