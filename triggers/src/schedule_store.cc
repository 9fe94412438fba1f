// ScheduleStore over libpqxx 6.4. Each change is one transaction: the schedules row and its
// schedule_events row commit together, so the audit trail never misses a change.
#include "flowd/triggers/schedule_store.h"

#include <map>

#include "schedule_pg.h"

namespace flowd::triggers {

using detail::micros;
using detail::optional_micros;

struct ScheduleStore::Impl {
  explicit Impl(const ScheduleStoreOptions& o) : pool(o.url, o.pool_size) {}
  detail::Pool pool;
};

namespace {

ScheduleError not_found(const std::string& name) {
  return {ScheduleErrc::kNotFound, "no schedule '" + name + "'",
          "GET /api/v1/schedules (flowctl schedules list) shows them"};
}

ScheduleError owned_by_definition(const Schedule& s) {
  return {ScheduleErrc::kConflict,
          "schedule '" + s.spec.name + "' comes from workflow " + s.spec.workflow +
              "'s spec.triggers: change or remove it there and apply a new version",
          "pause and unpause work on every schedule"};
}

SysSeconds now_seconds() {
  return std::chrono::floor<std::chrono::seconds>(Clock::now());
}

std::optional<Schedule> select_schedule(pqxx::transaction_base& tx, const std::string& name,
                                        bool lock) {
  auto r = tx.exec_params(std::string(detail::kScheduleSelect) + "WHERE s.name = $1" +
                              (lock ? " FOR NO KEY UPDATE OF s" : ""),
                          name);
  if (r.empty()) return std::nullopt;
  return detail::read_schedule(r[0]);
}

Result<CronSchedule> cron_of(const ScheduleSpec& spec) {
  return CronSchedule::parse(spec.expression, spec.timezone);
}

// Writes the spec's columns and the scheduler's next place from `last_tick`.
void write_spec(pqxx::transaction_base& tx, const ScheduleSpec& spec, ScheduleSource source,
                std::optional<int> definition_version, SysSeconds last_tick, bool insert) {
  auto cron = cron_of(spec);
  const auto next = cron ? detail::next_run(spec, *cron, last_tick) : detail::NextRun{};
  const std::string version = spec.version ? std::to_string(*spec.version) : "";
  const std::string def_version = definition_version ? std::to_string(*definition_version) : "";
  const std::string input = spec.input.is_null() ? "" : spec.input.dump();
  if (insert) {
    tx.exec_params(
        "INSERT INTO schedules (name, source, workflow, workflow_version, expression, timezone, "
        " input, overlap, pause_on_failure, catchup_window_ms, max_catchup, jitter_ms, start_at, "
        " end_at, last_tick, next_tick, due_at, definition_version) "
        "VALUES ($1, $2, $3, NULLIF($4, '')::int, $5, $6, NULLIF($7, '')::jsonb, $8, $9, $10, $11, "
        " $12, flowd_ts(NULLIF($13, '')::bigint), flowd_ts(NULLIF($14, '')::bigint), "
        " flowd_ts($15), flowd_ts(NULLIF($16, '')::bigint), flowd_ts(NULLIF($17, '')::bigint), "
        " NULLIF($18, '')::int)",
        spec.name, std::string(to_string(source)), spec.workflow, version, spec.expression,
        spec.timezone, input, std::string(to_string(spec.overlap)), spec.pause_on_failure,
        static_cast<std::int64_t>(spec.catchup_window.count()), spec.max_catchup,
        static_cast<std::int64_t>(spec.jitter.count()), optional_micros(spec.start_at),
        optional_micros(spec.end_at), micros(last_tick), optional_micros(next.tick),
        optional_micros(next.due), def_version);
    return;
  }
  tx.exec_params(
      "UPDATE schedules SET workflow = $2, workflow_version = NULLIF($3, '')::int, "
      " expression = $4, timezone = $5, input = NULLIF($6, '')::jsonb, overlap = $7, "
      " pause_on_failure = $8, catchup_window_ms = $9, max_catchup = $10, jitter_ms = $11, "
      " start_at = flowd_ts(NULLIF($12, '')::bigint), end_at = flowd_ts(NULLIF($13, '')::bigint), "
      " last_tick = flowd_ts($14), next_tick = flowd_ts(NULLIF($15, '')::bigint), "
      " due_at = flowd_ts(NULLIF($16, '')::bigint), definition_version = NULLIF($17, '')::int, "
      " updated_at = now() WHERE name = $1",
      spec.name, spec.workflow, version, spec.expression, spec.timezone, input,
      std::string(to_string(spec.overlap)), spec.pause_on_failure,
      static_cast<std::int64_t>(spec.catchup_window.count()), spec.max_catchup,
      static_cast<std::int64_t>(spec.jitter.count()), optional_micros(spec.start_at),
      optional_micros(spec.end_at), micros(last_tick), optional_micros(next.tick),
      optional_micros(next.due), def_version);
}

// Ticks waiting for a schedule that goes away (deleted) will never start.
void drop_buffered(pqxx::transaction_base& tx, const std::string& name, const std::string& why) {
  tx.exec_params(
      "UPDATE schedule_ticks SET outcome = 'skipped', detail = $2, at = now() "
      "WHERE schedule = $1 AND outcome = 'buffered'",
      name, why);
}

}  // namespace

std::string definition_actor(const std::string& workflow, int version) {
  return "definition:" + workflow + "@" + std::to_string(version);
}

ScheduleResult<std::unique_ptr<ScheduleStore>> ScheduleStore::open(ScheduleStoreOptions options) {
  auto impl = std::make_unique<Impl>(options);
  // One round trip now, so a wrong URL or an unmigrated database fails at open.
  auto checked = impl->pool.with<bool>("open schedules", [](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec("SELECT 1 FROM schedules LIMIT 1");
    return ScheduleResult<bool>(true);
  });
  if (!checked) return tl::unexpected(checked.error());
  return std::unique_ptr<ScheduleStore>(new ScheduleStore(std::move(impl)));
}

ScheduleStore::ScheduleStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ScheduleStore::~ScheduleStore() = default;

ScheduleResult<Schedule> ScheduleStore::create(const ScheduleSpec& spec, const std::string& actor) {
  if (auto cron = cron_of(spec); !cron)
    return tl::unexpected(
        ScheduleError{ScheduleErrc::kInvalid, "schedule: " + cron.error().message});
  return impl_->pool.with<
      Schedule>("create schedule", [&](pqxx::connection& c) -> ScheduleResult<Schedule> {
    pqxx::work tx(c);
    if (auto existing = select_schedule(tx, spec.name, false))
      return tl::unexpected(ScheduleError{
          ScheduleErrc::kConflict, "schedule '" + spec.name + "' exists already",
          existing->source == ScheduleSource::kDefinition
              ? "it comes from workflow " + existing->spec.workflow + "'s spec.triggers"
              : "PUT /api/v1/schedules/" + spec.name + " (flowctl schedules update) changes it"});
    write_spec(tx, spec, ScheduleSource::kApi, std::nullopt, now_seconds(), true);
    detail::append_event(tx, spec.name, "ScheduleCreated", actor, Json{{"spec", to_json(spec)}});
    auto created = select_schedule(tx, spec.name, false);
    tx.commit();
    return *created;
  });
}

ScheduleResult<Schedule> ScheduleStore::update(const ScheduleSpec& spec, const std::string& actor) {
  if (auto cron = cron_of(spec); !cron)
    return tl::unexpected(
        ScheduleError{ScheduleErrc::kInvalid, "schedule: " + cron.error().message});
  return impl_->pool.with<Schedule>(
      "update schedule", [&](pqxx::connection& c) -> ScheduleResult<Schedule> {
        pqxx::work tx(c);
        auto existing = select_schedule(tx, spec.name, true);
        if (!existing) return tl::unexpected(not_found(spec.name));
        if (existing->source == ScheduleSource::kDefinition)
          return tl::unexpected(owned_by_definition(*existing));
        // Handled fire times stay handled; a changed expression starts from now, not from the past.
        write_spec(tx, spec, ScheduleSource::kApi, std::nullopt,
                   std::max(existing->last_tick, now_seconds()), false);
        detail::append_event(tx, spec.name, "ScheduleUpdated", actor,
                             Json{{"spec", to_json(spec)}, {"previous", to_json(existing->spec)}});
        auto updated = select_schedule(tx, spec.name, false);
        tx.commit();
        return *updated;
      });
}

ScheduleResult<void> ScheduleStore::remove(const std::string& name, const std::string& actor) {
  return impl_->pool.with<void>("delete schedule",
                                [&](pqxx::connection& c) -> ScheduleResult<void> {
                                  pqxx::work tx(c);
                                  auto existing = select_schedule(tx, name, true);
                                  if (!existing) return tl::unexpected(not_found(name));
                                  if (existing->source == ScheduleSource::kDefinition)
                                    return tl::unexpected(owned_by_definition(*existing));
                                  tx.exec_params("DELETE FROM schedules WHERE name = $1", name);
                                  drop_buffered(tx, name, "schedule deleted");
                                  detail::append_event(tx, name, "ScheduleDeleted", actor,
                                                       Json{{"spec", to_json(existing->spec)}});
                                  tx.commit();
                                  return {};
                                });
}

ScheduleResult<Schedule> ScheduleStore::set_paused(const std::string& name, bool paused,
                                                   const std::string& note,
                                                   const std::string& actor) {
  return impl_->pool.with<Schedule>(
      "pause schedule", [&](pqxx::connection& c) -> ScheduleResult<Schedule> {
        pqxx::work tx(c);
        auto existing = select_schedule(tx, name, true);
        if (!existing) return tl::unexpected(not_found(name));
        if (existing->paused == paused) return *existing;  // idempotent: no event
        if (paused) {
          tx.exec_params(
              "UPDATE schedules SET paused = true, note = NULLIF($2, ''), "
              "updated_at = now() WHERE name = $1",
              name, note);
        } else {
          // Ticks that passed while paused do not run: the next is the first after now.
          auto cron = cron_of(existing->spec);
          const SysSeconds from = std::max(existing->last_tick, now_seconds());
          const auto next =
              cron ? detail::next_run(existing->spec, *cron, from) : detail::NextRun{};
          tx.exec_params(
              "UPDATE schedules SET paused = false, note = NULLIF($2, ''), "
              "last_tick = flowd_ts($3), next_tick = flowd_ts(NULLIF($4, '')::bigint), "
              "due_at = flowd_ts(NULLIF($5, '')::bigint), updated_at = now() "
              "WHERE name = $1",
              name, note, micros(from), optional_micros(next.tick), optional_micros(next.due));
        }
        detail::append_event(tx, name, paused ? "SchedulePaused" : "ScheduleUnpaused", actor,
                             note.empty() ? Json::object() : Json{{"note", note}});
        auto changed = select_schedule(tx, name, false);
        tx.commit();
        return *changed;
      });
}

ScheduleResult<Schedule> ScheduleStore::get(const std::string& name) {
  return impl_->pool.with<Schedule>("get schedule",
                                    [&](pqxx::connection& c) -> ScheduleResult<Schedule> {
                                      pqxx::read_transaction tx(c);
                                      auto s = select_schedule(tx, name, false);
                                      if (!s) return tl::unexpected(not_found(name));
                                      return *s;
                                    });
}

ScheduleResult<std::vector<Schedule>> ScheduleStore::list() {
  return impl_->pool.with<std::vector<Schedule>>(
      "list schedules", [&](pqxx::connection& c) -> ScheduleResult<std::vector<Schedule>> {
        pqxx::read_transaction tx(c);
        std::vector<Schedule> out;
        for (const auto& row : tx.exec(std::string(detail::kScheduleSelect) + "ORDER BY s.name"))
          out.push_back(detail::read_schedule(row));
        return out;
      });
}

ScheduleResult<std::vector<TickRecord>> ScheduleStore::ticks(const std::string& name,
                                                             std::size_t limit) {
  return impl_->pool.with<std::vector<TickRecord>>(
      "schedule ticks", [&](pqxx::connection& c) -> ScheduleResult<std::vector<TickRecord>> {
        pqxx::read_transaction tx(c);
        auto rows = tx.exec_params(
            "SELECT flowd_micros(fire_time), outcome, execution_id, detail, backfill, "
            "flowd_micros(at) FROM schedule_ticks WHERE schedule = $1 "
            "ORDER BY fire_time DESC LIMIT $2",
            name, static_cast<std::int64_t>(limit));
        std::vector<TickRecord> out;
        for (const auto& r : rows) {
          TickRecord t;
          t.fire_time = detail::seconds_of(r[0].as<std::int64_t>());
          t.outcome = r[1].as<std::string>();
          t.execution_id = r[2].is_null() ? "" : r[2].as<std::string>();
          t.detail = r[3].is_null() ? "" : r[3].as<std::string>();
          t.backfill = r[4].as<bool>();
          t.at = detail::time_of(r[5].as<std::int64_t>());
          out.push_back(std::move(t));
        }
        return out;
      });
}

ScheduleResult<std::vector<ScheduleEvent>> ScheduleStore::events(const std::string& name,
                                                                 std::size_t limit) {
  return impl_->pool.with<std::vector<ScheduleEvent>>(
      "schedule events", [&](pqxx::connection& c) -> ScheduleResult<std::vector<ScheduleEvent>> {
        pqxx::read_transaction tx(c);
        // The newest `limit`, returned oldest first.
        auto rows = tx.exec_params(
            "SELECT * FROM (SELECT position, type, actor, data::text, flowd_micros(occurred_at) "
            "FROM schedule_events WHERE schedule = $1 ORDER BY position DESC LIMIT $2) e "
            "ORDER BY position",
            name, static_cast<std::int64_t>(limit));
        std::vector<ScheduleEvent> out;
        for (const auto& r : rows)
          out.push_back(ScheduleEvent{r[0].as<std::int64_t>(), r[1].as<std::string>(),
                                      r[2].as<std::string>(), Json::parse(r[3].as<std::string>()),
                                      detail::time_of(r[4].as<std::int64_t>())});
        return out;
      });
}

ScheduleResult<std::vector<std::pair<std::string, std::int64_t>>> ScheduleStore::missed_counts() {
  using Out = std::vector<std::pair<std::string, std::int64_t>>;
  return impl_->pool.with<Out>("missed ticks", [&](pqxx::connection& c) -> ScheduleResult<Out> {
    pqxx::read_transaction tx(c);
    Out out;
    for (const auto& r :
         tx.exec("SELECT name, missed_total FROM schedules WHERE missed_total > 0 ORDER BY name"))
      out.emplace_back(r[0].as<std::string>(), r[1].as<std::int64_t>());
    return out;
  });
}

ScheduleResult<SyncReport> ScheduleStore::sync_definitions(
    const std::vector<DefinitionSchedules>& workflows) {
  return impl_->pool.with<SyncReport>(
      "sync definition schedules", [&](pqxx::connection& c) -> ScheduleResult<SyncReport> {
        pqxx::work tx(c);
        tx.exec("SELECT pg_advisory_xact_lock(hashtext('flowd.schedules.sync'))");
        SyncReport report;
        std::map<std::string, Schedule> existing;
        for (const auto& row : tx.exec(std::string(detail::kScheduleSelect)))
          existing.emplace(row[0].as<std::string>(), detail::read_schedule(row));
        for (const auto& w : workflows) {
          const std::string actor = definition_actor(w.workflow, w.version);
          std::map<std::string, bool> declared;
          for (const auto& trigger : w.triggers) {
            const ScheduleSpec spec = spec_of(trigger, w.workflow);
            declared[spec.name] = true;
            auto it = existing.find(spec.name);
            if (it == existing.end()) {
              write_spec(tx, spec, ScheduleSource::kDefinition, w.version, now_seconds(), true);
              detail::append_event(tx, spec.name, "ScheduleCreated", actor,
                                   Json{{"spec", to_json(spec)}, {"definitionVersion", w.version}});
              Schedule added;
              added.spec = spec;
              added.source = ScheduleSource::kDefinition;
              existing.emplace(spec.name, std::move(added));
              report.created.push_back(spec.name);
              continue;
            }
            const Schedule& s = it->second;
            if (s.source != ScheduleSource::kDefinition || s.spec.workflow != w.workflow) {
              report.conflicts.push_back(spec.name);
              continue;
            }
            if (s.spec == spec && s.definition_version == w.version) continue;
            write_spec(tx, spec, ScheduleSource::kDefinition, w.version,
                       std::max(s.last_tick, now_seconds()), false);
            if (!(s.spec == spec)) {
              detail::append_event(tx, spec.name, "ScheduleUpdated", actor,
                                   Json{{"spec", to_json(spec)},
                                        {"previous", to_json(s.spec)},
                                        {"definitionVersion", w.version}});
              report.updated.push_back(spec.name);
            }
          }
          // Schedules the latest version no longer declares go away.
          for (const auto& [name, s] : existing) {
            if (s.source != ScheduleSource::kDefinition || s.spec.workflow != w.workflow ||
                declared.count(name))
              continue;
            tx.exec_params("DELETE FROM schedules WHERE name = $1", name);
            drop_buffered(tx, name, "schedule deleted");
            detail::append_event(tx, name, "ScheduleDeleted", actor,
                                 Json{{"spec", to_json(s.spec)}, {"definitionVersion", w.version}});
            report.deleted.push_back(name);
          }
        }
        tx.commit();
        return report;
      });
}

}  // namespace flowd::triggers
