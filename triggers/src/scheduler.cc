// The scheduler's loop and the handling of one schedule's ticks inside its row lock.
#include "flowd/triggers/scheduler.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <deque>
#include <mutex>

#include "flowd/engine/actor.h"
#include "flowd/engine/engine.h"
#include "flowd/engine/expr.h"
#include "schedule_pg.h"

namespace flowd::triggers {

using detail::micros;
using std::chrono::milliseconds;

namespace {

class Listener : public pqxx::notification_receiver {
 public:
  explicit Listener(pqxx::connection_base& c) : pqxx::notification_receiver(c, "flowd_schedules") {}
  void operator()(const std::string&, int) override {}
};

std::string utc(SysSeconds t) {
  return format_utc(t);
}

bool is_buffering(OverlapPolicy p) {
  return p == OverlapPolicy::kBufferOne || p == OverlapPolicy::kBufferAll;
}

// A start can no longer be made (PostgreSQL unreachable): the look rolls back and runs again;
// starts that did commit are found by their tick rows then.
class StartUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace

// The starts of one look (or backfill), in flight together. Their outcomes are settled before the
// transaction commits; the destructor waits for any still out (an exception mid-look).
struct StartBatch {
  struct Start {
    Schedule* schedule = nullptr;
    SysSeconds fire{};
    bool backfill = false;
    bool was_buffered = false;
    std::string planned;  // the execution id the start asked for
    TickStartResult result;
    std::size_t report_index = static_cast<std::size_t>(-1);
  };
  std::deque<Start> starts;  // stable addresses for the callbacks
  std::mutex mutex;
  std::condition_variable done;
  std::size_t left = 0;  // GUARDED_BY(mutex)

  void wait() {
    std::unique_lock lock(mutex);
    done.wait(lock, [&] { return left == 0; });
  }
  ~StartBatch() { wait(); }
};

struct Scheduler::Impl {
  Impl(SchedulerOptions o, TickStarter& s) : options(std::move(o)), starter(s) {}

  SchedulerOptions options;
  TickStarter& starter;
  std::unique_ptr<pqxx::connection> conn;  // the loop thread's: LISTEN + looks
  std::unique_ptr<Listener> listener;
  std::array<int, 2> wake_pipe{-1, -1};
  std::atomic<bool> stopping{false};
  std::thread thread;
  std::atomic<std::uint64_t> fired{0}, skipped{0}, buffered{0}, missed{0}, failed{0}, looks{0};

  void log(std::string_view level, const std::string& message, const Json& fields = {}) const {
    if (options.log) options.log(level, message, fields.is_null() ? Json::object() : fields);
  }

  void run();
  void open_connection();
  std::size_t look();
  TimePoint next_wake();
  void sleep_until(TimePoint when);
  void pause_for(milliseconds d);

  // The parts of one schedule's handling (inside the transaction that holds its row).
  struct Pass {
    Schedule& s;
    const CronSchedule& cron;
    TimePoint now;
    StartBatch& batch;
    std::int64_t missed_delta = 0;
  };
  void observe_running(pqxx::transaction_base& tx, Pass& pass);
  void start_buffered(pqxx::transaction_base& tx, Pass& pass);
  void fire_due(pqxx::transaction_base& tx, Pass& pass);
  // One tick under `policy`; returns its outcome (a start counts as "fired" until settled).
  std::string handle_tick(pqxx::transaction_base& tx, Pass& pass, SysSeconds fire,
                          OverlapPolicy policy, bool backfill, std::string* execution_id);
  // Sends the tick's start (false: refused at once, recorded as failed).
  bool start_tick(pqxx::transaction_base& tx, Pass& pass, SysSeconds fire, bool backfill,
                  bool was_buffered);
  // Waits for the batch's starts and records what they did; throws StartUnavailable.
  void settle(pqxx::transaction_base& tx, StartBatch& batch, BackfillReport* report);
  void record_failed(pqxx::transaction_base& tx, const std::string& schedule, SysSeconds fire,
                     bool was_buffered, bool backfill, const std::string& error);
  void save(pqxx::transaction_base& tx, Pass& pass);
};

ScheduleResult<std::unique_ptr<Scheduler>> Scheduler::open(SchedulerOptions options,
                                                           TickStarter& starter) {
  auto impl = std::make_unique<Impl>(std::move(options), starter);
  try {
    impl->open_connection();
  } catch (const std::exception& e) {
    return tl::unexpected(detail::translate(e, "scheduler"));
  }
  if (::pipe2(impl->wake_pipe.data(), O_CLOEXEC | O_NONBLOCK) != 0)
    return tl::unexpected(ScheduleError{ScheduleErrc::kInternal, "scheduler: pipe() failed"});
  return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
}

Scheduler::Scheduler(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Scheduler::~Scheduler() {
  stop();
  for (int fd : impl_->wake_pipe)
    if (fd >= 0) ::close(fd);
}

void Scheduler::start() {
  if (impl_->thread.joinable()) return;
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void Scheduler::stop() {
  if (impl_->stopping.exchange(true)) return;
  const char byte = 's';
  (void)!::write(impl_->wake_pipe[1], &byte, 1);
  if (impl_->thread.joinable()) impl_->thread.join();
}

SchedulerStats Scheduler::stats() const {
  return SchedulerStats{impl_->fired,  impl_->skipped, impl_->buffered,
                        impl_->missed, impl_->failed,  impl_->looks};
}

void Scheduler::Impl::open_connection() {
  listener.reset();
  conn = detail::connect(options.url, "flowd-scheduler");
  listener = std::make_unique<Listener>(*conn);
}

void Scheduler::Impl::run() {
  while (!stopping) {
    try {
      if (!conn) open_connection();
      conn->get_notifs();
      while (look() == options.batch && !stopping) {
      }
      sleep_until(next_wake());
    } catch (const std::exception& e) {
      log("warn", "scheduler: " + std::string(e.what()) + "; retrying in 1s");
      if (detail::breaks_connection(e)) {
        listener.reset();
        conn.reset();
      }
      pause_for(milliseconds(1000));
    }
  }
}

// Sleeps on the LISTEN socket (a schedule changed) and the wake pipe (stop) until `when`.
void Scheduler::Impl::sleep_until(TimePoint when) {
  const auto left = std::chrono::ceil<milliseconds>(when - Clock::now());
  if (left.count() <= 0) return;
  std::array<pollfd, 2> fds{pollfd{conn->sock(), POLLIN, 0}, pollfd{wake_pipe[0], POLLIN, 0}};
  ::poll(fds.data(), fds.size(), static_cast<int>(std::min<std::int64_t>(left.count(), 1 << 30)));
  if (fds[1].revents != 0) {
    char buffer[16];
    while (::read(wake_pipe[0], buffer, sizeof buffer) > 0) {
    }
  }
  if (fds[0].revents != 0) conn->get_notifs();
}

void Scheduler::Impl::pause_for(milliseconds d) {
  pollfd fd{wake_pipe[0], POLLIN, 0};
  ::poll(&fd, 1, static_cast<int>(d.count()));
}

TimePoint Scheduler::Impl::next_wake() {
  pqxx::read_transaction tx(*conn);
  auto r = tx.exec(
      "SELECT flowd_micros(min(due_at) FILTER (WHERE NOT paused AND due_at IS NOT NULL)), "
      " bool_or(NOT paused AND running_execution IS NOT NULL AND "
      "         (buffered > 0 OR pause_on_failure)) "
      "FROM schedules");
  tx.commit();
  const TimePoint now = Clock::now();
  TimePoint wake = now + options.max_sleep;
  if (!r[0][0].is_null()) wake = std::min(wake, detail::time_of(r[0][0].as<std::int64_t>()));
  if (!r[0][1].is_null() && r[0][1].as<bool>()) wake = std::min(wake, now + options.poll_running);
  // Due but not ours: another instance holds those rows; its commit notifies us.
  if (wake <= now) wake = now + milliseconds(50);
  return wake;
}

std::size_t Scheduler::Impl::look() {
  ++looks;
  pqxx::work tx(*conn);
  const TimePoint now = Clock::now();
  auto rows = tx.exec_params(
      std::string(detail::kScheduleSelect) +
          "WHERE NOT s.paused AND (s.due_at <= flowd_ts($1) OR "
          " (s.running_execution IS NOT NULL AND (s.buffered > 0 OR s.pause_on_failure) AND "
          "  EXISTS (SELECT 1 FROM executions e WHERE e.id = s.running_execution AND e.terminal)))"
          " ORDER BY s.due_at NULLS LAST LIMIT $2 FOR NO KEY UPDATE OF s SKIP LOCKED",
      micros(now), static_cast<std::int64_t>(options.batch));
  StartBatch batch;
  std::deque<Schedule> schedules;
  std::deque<CronSchedule> crons;
  std::deque<Pass> passes;
  for (const auto& row : rows) {
    schedules.push_back(detail::read_schedule(row));
    Schedule& s = schedules.back();
    auto cron = CronSchedule::parse(s.spec.expression, s.spec.timezone);
    if (!cron) {  // checked when stored; a zone this machine lost since
      log("error", "schedule " + s.spec.name + ": " + cron.error().message);
      tx.exec_params("UPDATE schedules SET due_at = NULL WHERE name = $1", s.spec.name);
      continue;
    }
    crons.push_back(std::move(*cron));
    passes.push_back(Pass{s, crons.back(), now, batch});
    Pass& pass = passes.back();
    observe_running(tx, pass);
    start_buffered(tx, pass);
    if (!s.paused) fire_due(tx, pass);
  }
  settle(tx, batch, nullptr);
  for (auto& pass : passes) save(tx, pass);
  tx.commit();
  return rows.size();
}

void Scheduler::Impl::observe_running(pqxx::transaction_base& tx, Pass& pass) {
  Schedule& s = pass.s;
  if (s.running_execution.empty()) return;
  auto r =
      tx.exec_params("SELECT status, terminal FROM executions WHERE id = $1", s.running_execution);
  if (!r.empty() && !r[0][1].as<bool>()) return;
  const std::string status = r.empty() ? "unknown" : r[0][0].as<std::string>();
  if (s.spec.pause_on_failure && !s.paused && (status == "failed" || status == "timed_out")) {
    s.paused = true;
    s.note = "paused by pauseOnFailure: execution " + s.running_execution + " " + status;
    detail::append_event(
        tx, s.spec.name, "SchedulePaused", actor::engine(options.instance),
        Json{{"note", s.note}, {"executionId", s.running_execution}, {"status", status}});
    log("warn", "schedule " + s.spec.name + " paused: its execution failed",
        {{"schedule", s.spec.name}, {"execution", s.running_execution}, {"status", status}});
  }
  s.running_execution.clear();
}

void Scheduler::Impl::start_buffered(pqxx::transaction_base& tx, Pass& pass) {
  Schedule& s = pass.s;
  if (s.buffered <= 0) return;
  while (s.running_execution.empty() && !s.paused) {
    auto r = tx.exec_params(
        "SELECT flowd_micros(fire_time), backfill FROM schedule_ticks "
        "WHERE schedule = $1 AND outcome = 'buffered' ORDER BY fire_time LIMIT 1",
        s.spec.name);
    if (r.empty()) break;
    const SysSeconds fire = detail::seconds_of(r[0][0].as<std::int64_t>());
    start_tick(tx, pass, fire, r[0][1].as<bool>(), true);
  }
}

void Scheduler::Impl::fire_due(pqxx::transaction_base& tx, Pass& pass) {
  Schedule& s = pass.s;
  const auto now_s = std::chrono::floor<std::chrono::seconds>(pass.now);
  const DueTicks due = due_ticks(pass.cron, s.spec.limits(), s.last_tick, now_s);
  if (due.missed > 0) {
    const std::string detail =
        std::to_string(due.missed) + (due.missed_counting_stopped ? "+" : "") + " ticks from " +
        utc(*due.first_missed) + " to " + utc(*due.last_missed) +
        " missed: older than the catch-up window (" + format_duration(s.spec.catchup_window) +
        ") or over maxCatchup (" + std::to_string(s.spec.max_catchup) + ")";
    detail::record_tick(tx, s.spec.name, *due.first_missed, "missed", "", detail, false);
    detail::append_event(tx, s.spec.name, "TicksMissed", actor::engine(options.instance),
                         Json{{"count", due.missed},
                              {"countIsLowerBound", due.missed_counting_stopped},
                              {"first", utc(*due.first_missed)},
                              {"last", utc(*due.last_missed)}});
    log("warn", "schedule " + s.spec.name + ": " + detail, {{"schedule", s.spec.name}});
    pass.missed_delta += static_cast<std::int64_t>(due.missed);
    missed += due.missed;
    s.last_tick = std::max(s.last_tick, *due.last_missed);
  }
  for (SysSeconds fire : due.fire) {
    if (TimePoint(fire) + jitter_for(s.spec.name, fire, s.spec.jitter) > pass.now) break;
    handle_tick(tx, pass, fire, s.spec.overlap, false, nullptr);
    s.last_tick = fire;
  }
}

std::string Scheduler::Impl::handle_tick(pqxx::transaction_base& tx, Pass& pass, SysSeconds fire,
                                         OverlapPolicy policy, bool backfill,
                                         std::string* execution_id) {
  Schedule& s = pass.s;
  const std::string& name = s.spec.name;
  // Done ticks are never decided again; a backfill may still run a missed one.
  if (auto done = detail::tick_outcome(tx, name, fire); done && !(backfill && *done == "missed"))
    return "alreadyDone";
  const std::string running = s.running_execution;
  const OverlapAction action =
      decide_overlap(policy, !running.empty(), static_cast<std::size_t>(std::max(0, s.buffered)));
  const Json data{{"fireTime", utc(fire)}, {"backfill", backfill}};
  switch (action) {
    case OverlapAction::kSkip: {
      const std::string why =
          policy == OverlapPolicy::kBufferOne && s.buffered > 0
              ? "a tick is already waiting for execution " + running + " (overlap: bufferOne)"
              : "execution " + running + " still runs (overlap: " + std::string(to_string(policy)) +
                    ")";
      detail::record_tick(tx, name, fire, "skipped", running, why, backfill);
      Json d = data;
      d["running"] = running;
      d["reason"] = why;
      detail::append_event(tx, name, "TickSkipped", tick_dedupe_key(name, fire), d);
      ++skipped;
      return "skipped";
    }
    case OverlapAction::kBuffer:
      detail::record_tick(tx, name, fire, "buffered", "", "waits for execution " + running,
                          backfill);
      detail::append_event(tx, name, "TickBuffered", tick_dedupe_key(name, fire), data);
      ++s.buffered;
      ++buffered;
      return "buffered";
    case OverlapAction::kCancelThenStart:
      starter.cancel(running, "overlap cancelOther: tick " + utc(fire) + " of schedule " + name,
                     tick_dedupe_key(name, fire));
      [[fallthrough]];
    case OverlapAction::kStart:
      break;
  }
  if (!start_tick(tx, pass, fire, backfill, false)) return "failed";
  if (execution_id != nullptr) *execution_id = s.running_execution;
  return "fired";
}

bool Scheduler::Impl::start_tick(pqxx::transaction_base& tx, Pass& pass, SysSeconds fire,
                                 bool backfill, bool was_buffered) {
  Schedule& s = pass.s;
  const std::string& name = s.spec.name;
  TickStart tick;
  tick.execution_id = new_uuid();
  tick.schedule = name;
  tick.fire_time = fire;
  tick.workflow = s.spec.workflow;
  tick.version = s.spec.version;
  tick.dedupe_key = tick_dedupe_key(name, fire);
  tick.backfill = backfill;
  tick.context =
      Json{{"schedule", {{"name", name}, {"fireTime", utc(fire)}, {"backfill", backfill}}}};
  tick.input = Json::object();
  if (!s.spec.input.is_null()) {
    const Json scope_json = tick_scope(name, fire, s.spec.timezone);
    Scope scope;
    scope.bind("tick", &scope_json["tick"]);
    scope.bind("schedule", &scope_json["schedule"]);
    auto compiled = JsonTemplate::compile(s.spec.input);
    auto rendered =
        compiled ? compiled->render(scope) : Result<Json>(tl::unexpected(compiled.error()));
    if (!rendered) {
      record_failed(tx, name, fire, was_buffered, backfill, "input: " + rendered.error().message);
      return false;
    }
    tick.input = std::move(*rendered);
  }
  StartBatch& batch = pass.batch;
  StartBatch::Start* slot = &batch.starts.emplace_back();
  slot->schedule = &s;
  slot->fire = fire;
  slot->backfill = backfill;
  slot->was_buffered = was_buffered;
  slot->planned = tick.execution_id;
  {
    std::lock_guard lock(batch.mutex);
    ++batch.left;
  }
  // Until settled, the schedule counts its tick as started (the next tick sees it running).
  s.running_execution = tick.execution_id;
  starter.start(tick, [&batch, slot](TickStartResult result) {
    std::lock_guard lock(batch.mutex);
    slot->result = std::move(result);
    --batch.left;
    batch.done.notify_all();
  });
  return true;
}

void Scheduler::Impl::record_failed(pqxx::transaction_base& tx, const std::string& schedule,
                                    SysSeconds fire, bool was_buffered, bool backfill,
                                    const std::string& error) {
  if (was_buffered) {
    tx.exec_params(
        "UPDATE schedule_ticks SET outcome = 'failed', detail = $3, at = now() "
        "WHERE schedule = $1 AND fire_time = flowd_ts($2)",
        schedule, micros(fire), error);
  } else {
    detail::record_tick(tx, schedule, fire, "failed", "", error, backfill);
  }
  detail::append_event(tx, schedule, "TickFailed", tick_dedupe_key(schedule, fire),
                       Json{{"fireTime", utc(fire)}, {"error", error}});
  log("warn", "schedule " + schedule + ": tick " + utc(fire) + " did not start: " + error,
      {{"schedule", schedule}});
  ++failed;
}

void Scheduler::Impl::settle(pqxx::transaction_base& tx, StartBatch& batch,
                             BackfillReport* report) {
  batch.wait();
  for (auto& start : batch.starts) {
    Schedule& s = *start.schedule;
    const std::string& name = s.spec.name;
    TickRecord* item = report != nullptr && start.report_index < report->items.size()
                           ? &report->items[start.report_index]
                           : nullptr;
    switch (start.result.kind) {
      case TickStartResult::Kind::kUnavailable:
        throw StartUnavailable("schedule " + name + ": tick " + utc(start.fire) +
                               " could not start: " + start.result.error);
      case TickStartResult::Kind::kRefused:
        record_failed(tx, name, start.fire, start.was_buffered, start.backfill, start.result.error);
        if (s.running_execution == start.planned) s.running_execution.clear();
        if (item != nullptr) {
          item->outcome = "failed";
          item->execution_id.clear();
          --report->fired;
          ++report->failed;
        }
        break;
      case TickStartResult::Kind::kStarted:
      case TickStartResult::Kind::kDuplicate:
        if (s.running_execution == start.planned) s.running_execution = start.result.execution_id;
        if (item != nullptr) item->execution_id = start.result.execution_id;
        if (start.backfill)
          tx.exec_params(
              "UPDATE schedule_ticks SET backfill = true "
              "WHERE schedule = $1 AND fire_time = flowd_ts($2)",
              name, micros(start.fire));
        ++fired;
        break;
    }
  }
}

void Scheduler::Impl::save(pqxx::transaction_base& tx, Pass& pass) {
  Schedule& s = pass.s;
  if (is_buffering(s.spec.overlap) || s.buffered > 0) {
    auto r = tx.exec_params(
        "SELECT count(*) FROM schedule_ticks WHERE schedule = $1 AND outcome = 'buffered'",
        s.spec.name);
    s.buffered = r[0][0].as<int>();
  }
  const auto next = detail::next_run(s.spec, pass.cron, s.last_tick);
  tx.exec_params(
      "UPDATE schedules SET paused = $2, note = NULLIF($3, ''), last_tick = flowd_ts($4), "
      " next_tick = flowd_ts(NULLIF($5, '')::bigint), due_at = flowd_ts(NULLIF($6, '')::bigint), "
      " running_execution = NULLIF($7, ''), buffered = $8, missed_total = missed_total + $9 "
      "WHERE name = $1",
      s.spec.name, s.paused, s.note, micros(s.last_tick), detail::optional_micros(next.tick),
      detail::optional_micros(next.due), s.running_execution, s.buffered, pass.missed_delta);
}

ScheduleResult<BackfillReport> Scheduler::backfill(const BackfillRequest& request) {
  if (request.to < request.from)
    return tl::unexpected(ScheduleError{ScheduleErrc::kInvalid, "to must not be before from"});
  const auto now = Clock::now();
  if (TimePoint(request.from) > now)
    return tl::unexpected(ScheduleError{ScheduleErrc::kInvalid,
                                        "from is in the future: backfill runs past fire times"});
  try {
    auto conn = detail::connect(impl_->options.url, "flowd-backfill");
    pqxx::work tx(*conn);
    auto rows = tx.exec_params(
        std::string(detail::kScheduleSelect) + "WHERE s.name = $1 FOR NO KEY UPDATE OF s",
        request.schedule);
    if (rows.empty())
      return tl::unexpected(ScheduleError{ScheduleErrc::kNotFound,
                                          "no schedule '" + request.schedule + "'",
                                          "flowctl schedules list shows them"});
    Schedule s = detail::read_schedule(rows[0]);
    auto cron = CronSchedule::parse(s.spec.expression, s.spec.timezone);
    if (!cron) return tl::unexpected(ScheduleError{ScheduleErrc::kInternal, cron.error().message});
    // Fire times in the window, never past now.
    const auto to = std::min(request.to, std::chrono::floor<std::chrono::seconds>(now));
    std::vector<SysSeconds> fires;
    for (auto t = cron->next_after(request.from - std::chrono::seconds(1)); t && *t <= to;
         t = cron->next_after(*t)) {
      if (fires.size() == kMaxBackfillTicks)
        return tl::unexpected(ScheduleError{
            ScheduleErrc::kInvalid,
            "the window holds more than " + std::to_string(kMaxBackfillTicks) + " fire times",
            "backfill a shorter window, one after the other"});
      fires.push_back(*t);
    }
    const OverlapPolicy policy = request.overlap.value_or(s.spec.overlap);
    detail::append_event(tx, s.spec.name, "BackfillRequested", request.actor,
                         Json{{"from", format_utc(request.from)},
                              {"to", format_utc(to)},
                              {"overlap", to_string(policy)},
                              {"ticks", fires.size()}});
    StartBatch batch;
    Impl::Pass pass{s, *cron, now, batch};
    impl_->observe_running(tx, pass);
    BackfillReport report;
    report.ticks = fires.size();
    for (SysSeconds fire : fires) {
      std::string execution;
      const std::size_t sent = batch.starts.size();
      std::string outcome = impl_->handle_tick(tx, pass, fire, policy, true, &execution);
      if (batch.starts.size() > sent) batch.starts.back().report_index = report.items.size();
      if (outcome == "alreadyDone") {
        ++report.already_done;
      } else if (outcome == "fired") {
        ++report.fired;
      } else if (outcome == "skipped") {
        ++report.skipped;
      } else if (outcome == "buffered") {
        ++report.buffered;
      } else {
        ++report.failed;
      }
      TickRecord item;
      item.fire_time = fire;
      item.outcome = outcome;
      item.execution_id = execution;
      item.backfill = true;
      item.at = Clock::now();
      report.items.push_back(std::move(item));
    }
    impl_->settle(tx, batch, &report);
    // The schedule's own place is untouched; only what runs and waits changed.
    tx.exec_params(
        "UPDATE schedules SET running_execution = NULLIF($2, ''), buffered = "
        "(SELECT count(*) FROM schedule_ticks WHERE schedule = $1 AND outcome = "
        "'buffered'), paused = $3, note = NULLIF($4, '') WHERE name = $1",
        s.spec.name, s.running_execution, s.paused, s.note);
    tx.commit();
    return report;
  } catch (const StartUnavailable& e) {
    return tl::unexpected(ScheduleError{ScheduleErrc::kUnavailable, e.what(),
                                        "run the same backfill again: done ticks are kept"});
  } catch (const std::exception& e) {
    return tl::unexpected(detail::translate(e, "backfill"));
  }
}

}  // namespace flowd::triggers
