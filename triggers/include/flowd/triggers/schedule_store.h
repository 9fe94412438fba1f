#pragma once
// ScheduleStore is the `schedules` table and its audit trail
// (schemas/migrations/0010_schedules.sql): create, update, pause, unpause and delete schedules —
// each change appended to schedule_events with its actor — read them with their last run and tick
// history, and keep the schedules that workflow definitions declare in step with the latest version
// of each workflow. The scheduler (scheduler.h) fires the ticks.
//
// Synchronous and blocking, thread-safe, on a small pool of connections: call it from worker
// threads, never from an Asio thread. The schema must be migrated (EventStore::open does that).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "flowd/engine/definition.h"
#include "flowd/triggers/schedule.h"

namespace flowd::triggers {

enum class ScheduleErrc {
  kInvalid,      // the request is wrong (400)
  kNotFound,     // no such schedule (404)
  kConflict,     // the name is taken, or a definition owns the schedule (409)
  kUnavailable,  // PostgreSQL cannot be reached (503)
  kInternal,
};
struct ScheduleError {
  ScheduleError() = default;
  ScheduleError(ScheduleErrc c, std::string m, std::string h = {})
      : code(c), message(std::move(m)), hint(std::move(h)) {}
  ScheduleErrc code = ScheduleErrc::kInternal;
  std::string message;
  std::string hint;
};
template <class T>
using ScheduleResult = tl::expected<T, ScheduleError>;

struct ScheduleStoreOptions {
  std::string url;
  std::size_t pool_size = 2;
};

// One event of a schedule's audit trail.
struct ScheduleEvent {
  std::int64_t position = 0;
  std::string type;  // ScheduleCreated, ScheduleUpdated, SchedulePaused, ScheduleUnpaused,
                     // ScheduleDeleted, BackfillRequested, TickFired, TickSkipped, TickBuffered,
                     // TicksMissed, TickFailed
  std::string actor;
  Json data;
  TimePoint at{};
};

// What sync_definitions changed, by schedule name; `conflicts` names schedules a definition
// declares that another source (the API, another workflow) already owns.
struct SyncReport {
  std::vector<std::string> created, updated, deleted, conflicts;
  bool changed() const { return !created.empty() || !updated.empty() || !deleted.empty(); }
};

// The cron triggers of one workflow's latest version.
struct DefinitionSchedules {
  std::string workflow;
  int version = 0;
  std::vector<CronTrigger> triggers;
};

class ScheduleStore {
 public:
  static ScheduleResult<std::unique_ptr<ScheduleStore>> open(ScheduleStoreOptions options);
  ~ScheduleStore();

  // New run-time schedule (source api); conflict when the name is taken. Its first tick is the
  // first fire time after now (and after startAt).
  ScheduleResult<Schedule> create(const ScheduleSpec& spec, const std::string& actor);
  // Replaces a run-time schedule's spec; a definition's schedule is changed by applying a new
  // version (conflict). Fire times already handled stay handled.
  ScheduleResult<Schedule> update(const ScheduleSpec& spec, const std::string& actor);
  // Deletes a run-time schedule (its ticks and events stay for the record); conflict for a
  // definition's schedule.
  ScheduleResult<void> remove(const std::string& name, const std::string& actor);
  // Pause / unpause with a note; unpausing does not run the ticks that passed while paused.
  ScheduleResult<Schedule> set_paused(const std::string& name, bool paused, const std::string& note,
                                      const std::string& actor);

  ScheduleResult<Schedule> get(const std::string& name);
  ScheduleResult<std::vector<Schedule>> list();
  // Newest first.
  ScheduleResult<std::vector<TickRecord>> ticks(const std::string& name, std::size_t limit = 20);
  ScheduleResult<std::vector<ScheduleEvent>> events(const std::string& name,
                                                    std::size_t limit = 100);
  // Schedules that missed ticks, with how many (flowd_schedule_missed_ticks_total).
  ScheduleResult<std::vector<std::pair<std::string, std::int64_t>>> missed_counts();

  // Creates, updates and deletes the definition-sourced schedules of these workflows so they
  // match their triggers (idempotent; instances doing it at once serialise on an advisory lock).
  // The actor is "definition:<workflow>@<version>".
  ScheduleResult<SyncReport> sync_definitions(const std::vector<DefinitionSchedules>& workflows);

  struct Impl;

 private:
  explicit ScheduleStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "definition:<workflow>@<version>": who changes a definition's schedules.
std::string definition_actor(const std::string& workflow, int version);

}  // namespace flowd::triggers
