#pragma once
// Scheduler fires the ticks of every schedule (docs/cron.md "Schedules"). Every flowd instance
// runs one; there is no leader. One thread sleeps until the earliest due tick of all schedules
// (one timer for 10,000 schedules, not 10,000 timers), woken early by LISTEN flowd_schedules
// when any instance changes a schedule. Due schedules are locked FOR NO KEY UPDATE SKIP LOCKED,
// so instances racing for a tick get disjoint sets; a fired tick's row in schedule_ticks
// (UNIQUE (schedule, fire_time)) is written in the transaction of its ExecutionStarted (a trigger
// of migration 0010 on the execution's dedupe key "cron:<schedule>@<fire time>"). A crash between
// the start and the schedule's update leaves the tick's row in place: the next look sees it and
// moves on, and the dedupe key refuses a second start. So each tick starts at most once, and a tick
// is never lost while its schedule exists: after downtime the owed ticks inside the catch-up
// window run in order, the older ones are recorded as missed.
//
// The overlap policy decides what a tick does while the schedule's previous execution runs;
// buffered ticks start when it ends, and pauseOnFailure pauses a schedule whose execution failed
// (both seen by a look every `poll_running` while such a schedule has a running execution).
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "flowd/engine/error.h"
#include "flowd/triggers/schedule_store.h"

namespace flowd::triggers {

// One tick to start: the service resolves the workflow, checks the input and appends
// ExecutionStarted with dedupe key = actor = "cron:<schedule>@<fire time>".
struct TickStart {
  std::string execution_id;  // planned: the id the execution gets when it is new
  std::string schedule;
  SysSeconds fire_time{};
  std::string workflow;
  std::optional<int> version;
  Json input;    // rendered from the schedule's input templates
  Json context;  // {"schedule": {"name", "fireTime", "backfill"}}
  std::string dedupe_key;
  bool backfill = false;
};

struct TickStartResult {
  enum class Kind {
    kStarted,      // ExecutionStarted is committed
    kDuplicate,    // the tick had started before (its execution id)
    kRefused,      // can never start: unknown workflow, input against spec.input (error says)
    kUnavailable,  // try again later (PostgreSQL down)
  };
  Kind kind = Kind::kStarted;
  std::string execution_id;
  std::string error;
};

class TickStarter {
 public:
  virtual ~TickStarter() = default;
  // Starts the tick's execution and calls `done` once with the outcome, from any thread, maybe
  // before start() returns. The scheduler keeps the starts of one look in flight together, so
  // they share the event store's group commits.
  virtual void start(const TickStart& tick, std::function<void(TickStartResult)> done) = 0;
  // cancelOther: asks the running execution to cancel (asynchronous, like `flowctl cancel`).
  virtual void cancel(const std::string& execution_id, const std::string& reason,
                      const std::string& actor) = 0;
};

struct SchedulerOptions {
  std::string url;
  std::string instance = "flowd";  // actor "flowd:<instance>" of pauseOnFailure
  std::size_t batch = 100;         // schedules locked per transaction
  // While a schedule with buffered ticks or pauseOnFailure has a running execution, how often
  // the scheduler looks whether it ended.
  std::chrono::milliseconds poll_running{500};
  // Longest sleep without a look (a missed notification costs at most this).
  std::chrono::milliseconds max_sleep{30'000};
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
};

struct BackfillRequest {
  std::string schedule;
  SysSeconds from{}, to{};               // fire times from <= t <= to
  std::optional<OverlapPolicy> overlap;  // default: the schedule's
  std::string actor;
};

// {ticks, fired, skipped, buffered, alreadyDone, failed, items:[{fireTime, outcome, executionId}]}
struct BackfillReport {
  std::size_t ticks = 0, fired = 0, skipped = 0, buffered = 0, already_done = 0, failed = 0;
  std::vector<TickRecord> items;
};

struct SchedulerStats {
  std::uint64_t fired = 0, skipped = 0, buffered = 0, missed = 0, failed = 0, looks = 0;
};

constexpr std::size_t kMaxBackfillTicks = 10'000;

class Scheduler {
 public:
  static ScheduleResult<std::unique_ptr<Scheduler>> open(SchedulerOptions options,
                                                         TickStarter& starter);
  ~Scheduler();

  void start();
  void stop();  // idempotent; joins the thread

  // Runs the fire times of a past window under the overlap policy, each once: fire times that
  // already have a tick row (from the schedule or an earlier backfill) are `alreadyDone`.
  ScheduleResult<BackfillReport> backfill(const BackfillRequest& request);

  SchedulerStats stats() const;

  struct Impl;

 private:
  explicit Scheduler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace flowd::triggers
