#pragma once
// The edge between schedules and libpqxx 6.4, shared by ScheduleStore and the Scheduler:
// connections, a small pool, error translation, the row <-> Schedule mapping and the writes both
// make (events, tick rows, the scheduler's place). Private to triggers/src. Times cross the wire
// as microseconds since the epoch (flowd_ts / flowd_micros of migration 0001).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "flowd/triggers/schedule_store.h"

namespace flowd::triggers::detail {

std::unique_ptr<pqxx::connection> connect(const std::string& url, const std::string& name);

ScheduleError translate(const std::exception& e, std::string_view context);
bool breaks_connection(const std::exception& e);

// Connections handed out one caller at a time; a broken one is dropped and re-opened.
class Pool {
 public:
  Pool(std::string url, std::size_t size) : url_(std::move(url)), size_(size) {}
  // Runs f(connection); translates exceptions. f returns ScheduleResult<T>.
  template <class T, class F>
  ScheduleResult<T> with(std::string_view context, F&& f) {
    std::unique_ptr<pqxx::connection> conn;
    try {
      conn = acquire();
      auto result = f(*conn);
      release(std::move(conn));
      return result;
    } catch (const std::exception& e) {
      if (conn && !breaks_connection(e))
        release(std::move(conn));
      else
        forget();
      return tl::unexpected(translate(e, context));
    }
  }

 private:
  std::unique_ptr<pqxx::connection> acquire();
  void release(std::unique_ptr<pqxx::connection> conn);
  void forget();

  const std::string url_;
  const std::size_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mutex_)
  std::size_t open_ = 0;                                 // GUARDED_BY(mutex_)
};

std::int64_t micros(TimePoint t);
std::int64_t micros(SysSeconds t);
TimePoint time_of(std::int64_t micros);
SysSeconds seconds_of(std::int64_t micros);
// A nullable timestamp parameter: "" (NULL) or the microseconds as text
// (flowd_ts(NULLIF($n,'')::bigint)).
std::string optional_micros(const std::optional<SysSeconds>& t);
std::string optional_micros(const std::optional<TimePoint>& t);

// The select list (schedules s + its newest fired tick t) and FROM clause read_schedule expects.
extern const char* const kScheduleSelect;
Schedule read_schedule(const pqxx::row& row);

// Where the scheduler looks next after `last_tick`: the next fire time inside start/end and when
// it is due with its jitter (both empty when the schedule never fires again).
struct NextRun {
  std::optional<SysSeconds> tick;
  std::optional<TimePoint> due;
};
NextRun next_run(const ScheduleSpec& spec, const CronSchedule& cron, SysSeconds last_tick);

void append_event(pqxx::transaction_base& tx, const std::string& schedule, const std::string& type,
                  const std::string& actor, const Json& data);
// Records a tick that did not fire (skipped, buffered, missed, failed); false when the tick
// already has a row (a missed tick's row takes a backfill's outcome).
bool record_tick(pqxx::transaction_base& tx, const std::string& schedule, SysSeconds fire,
                 const std::string& outcome, const std::string& execution_id,
                 const std::string& detail, bool backfill);
// The outcome of a tick already handled, if any.
std::optional<std::string> tick_outcome(pqxx::transaction_base& tx, const std::string& schedule,
                                        SysSeconds fire);

}  // namespace flowd::triggers::detail
