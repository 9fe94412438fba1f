// scheduler_bench: what the cron scheduler costs and how late its ticks start.
//
// One Scheduler (triggers/scheduler.h) with the service's StoreTickStarter on a fresh database:
//  1. idle: 10,000 active schedules whose next tick is months away; the scheduler runs for 10 s.
//     The figures are the process's CPU time and the scheduler's looks (wake-ups) in that time:
//     one timer for all of them, so both stay near zero instead of growing with the count.
//  2. on time: 10 more schedules fire every second (overlap allow) for 20 s beside the 10,000.
//     Delay = the execution's started_at (ExecutionStarted's time) - the tick's fire time, from
//     SQL; the issue's target is p99 < 100 ms on an idle machine. Every tick must have fired once.
//  3. burst: 100 schedules fire at the same second for 5 s (ticks start one after the other, so
//     this shows the cost of a crowded second).
//
// Needs FLOWD_BENCH_DATABASE_URL (scripts/bench starts a private server); creates and drops its
// own database. Ends with `FIGURE <name> <value> <unit>` lines.
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/schedule_store.h"
#include "flowd/triggers/scheduler.h"
#include "tick_starter.h"

namespace {

using namespace flowd;
using flowd::bench::figure;
using flowd::bench::with_database;
using std::chrono::seconds;

constexpr const char* kNoop = R"({"apiVersion":"flowd/v1","kind":"Workflow",
  "metadata":{"name":"bench-tick","version":1},"spec":{"steps":[{"id":"a","type":"noop"}]}})";

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double query_double(pqxx::connection& c, const std::string& sql) {
  auto r = pqxx::nontransaction(c).exec(sql);
  return r[0][0].is_null() ? -1 : r[0][0].as<double>();
}

void create_every_second(triggers::ScheduleStore& store, const std::string& prefix, int n) {
  for (int i = 0; i < n; ++i) {
    triggers::ScheduleSpec spec;
    spec.name = prefix + std::to_string(i);
    spec.workflow = "bench-tick";
    spec.expression = "* * * * * *";
    spec.overlap = OverlapPolicy::kAllow;  // nothing runs the executions: never "still running"
    if (auto made = store.create(spec, "bench"); !made)
      throw std::runtime_error("create schedule: " + made.error().message);
  }
}

// Delay percentiles (ms) of the fired ticks of schedules named prefix*.
void delays(pqxx::connection& c, const std::string& prefix, const std::string& figure_prefix) {
  const std::string base =
      "FROM schedule_ticks t JOIN executions e ON e.id = t.execution_id WHERE t.schedule LIKE '" +
      prefix + "%' AND t.outcome = 'fired'";
  const std::string ms = "extract(epoch FROM e.started_at - t.fire_time) * 1000";
  figure(figure_prefix + "_p50",
         query_double(c, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY " + ms + ") " + base),
         "ms");
  figure(figure_prefix + "_p99",
         query_double(c, "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY " + ms + ") " + base),
         "ms");
  figure(figure_prefix + "_max", query_double(c, "SELECT max(" + ms + ") " + base), "ms");
  figure(figure_prefix + "_ticks", query_double(c, "SELECT count(*) " + base), "ticks");
  // The latest starts, to tell a slow second from slow ticks.
  for (const auto& r : pqxx::nontransaction(c).exec(
           "SELECT to_char(t.fire_time, 'HH24:MI:SS'), count(*), round(max(" + ms +
           ")::numeric, 1) " + base + " GROUP BY 1 ORDER BY 3 DESC LIMIT 3"))
    std::printf("    slowest second %s: %s ticks, up to %s ms\n", r[0].c_str(), r[1].c_str(),
                r[2].c_str());
}

void run(const std::string& url) {
  eventstore::StoreOptions options;
  options.url = url;
  options.owner = "bench";
  auto store = eventstore::EventStore::open(options);
  if (!store) throw std::runtime_error("store: " + store.error().message);
  if (auto applied = (*store)->apply_definition(Json::parse(kNoop)); !applied)
    throw std::runtime_error("apply: " + applied.error().message);
  auto commands = eventstore::CommandQueue::open(url);
  if (!commands) throw std::runtime_error("commands: " + commands.error().message);
  auto schedules = triggers::ScheduleStore::open({url, 2});
  if (!schedules) throw std::runtime_error("schedules: " + schedules.error().message);
  pqxx::connection sql(url);

  // 10,000 schedules due on a day months away (written in one statement: the setup, not the
  // subject of the bench).
  pqxx::nontransaction(sql).exec(
      "INSERT INTO schedules (name, source, workflow, expression, overlap, last_tick, next_tick, "
      "due_at) SELECT 'idle-' || i, 'api', 'bench-tick', (i % 60) || ' ' || (i / 60 % 60) || "
      "' 3 1 1 *', 'allow', now(), date_trunc('year', now()) + interval '1 year 3 hours', "
      "date_trunc('year', now()) + interval '1 year 3 hours' FROM generate_series(1, 10000) i");

  service::StoreTickStarter starter(**store, **commands, nullptr);
  triggers::SchedulerOptions scheduler_options;
  scheduler_options.url = url;
  scheduler_options.instance = "bench";
  auto scheduler = triggers::Scheduler::open(scheduler_options, starter);
  if (!scheduler) throw std::runtime_error("scheduler: " + scheduler.error().message);
  (*scheduler)->start();

  std::printf("idle: 10000 schedules, 10 s\n");
  std::this_thread::sleep_for(seconds(1));  // the first look is done
  const double cpu0 = cpu_seconds();
  const auto looks0 = (*scheduler)->stats().looks;
  std::this_thread::sleep_for(seconds(10));
  const double idle_cpu = cpu_seconds() - cpu0;
  figure("scheduler_cpu_10k_schedules", idle_cpu * 1000 / 10, "ms_cpu/s");
  figure("scheduler_looks_10k_schedules",
         static_cast<double>((*scheduler)->stats().looks - looks0) / 10, "looks/s");

  std::printf("on time: 10 every-second schedules beside them, 20 s\n");
  create_every_second(**schedules, "beat-", 10);
  std::this_thread::sleep_for(seconds(20));
  pqxx::nontransaction(sql).exec("UPDATE schedules SET paused = true WHERE name LIKE 'beat-%'");
  std::this_thread::sleep_for(seconds(1));
  delays(sql, "beat-", "tick_start_delay");
  // Every second of each schedule between its first and last tick has exactly one fired tick.
  figure(
      "tick_gaps",
      query_double(
          sql,
          "SELECT coalesce(sum(g), 0) FROM (SELECT schedule, extract(epoch FROM max(fire_time) - "
          "min(fire_time)) + 1 - count(*) AS g FROM schedule_ticks WHERE schedule LIKE 'beat-%' "
          "GROUP BY schedule) x"),
      "ticks");

  std::printf("burst: 100 schedules at the same second, 5 s\n");
  create_every_second(**schedules, "burst-", 100);
  std::this_thread::sleep_for(seconds(5));
  pqxx::nontransaction(sql).exec("UPDATE schedules SET paused = true WHERE name LIKE 'burst-%'");
  std::this_thread::sleep_for(seconds(2));
  delays(sql, "burst-", "tick_start_delay_burst100");

  (*scheduler)->stop();
  (*store)->close();
}

}  // namespace

int main() {
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (server == nullptr || *server == '\0') {
    std::fprintf(stderr, "scheduler_bench: set FLOWD_BENCH_DATABASE_URL (scripts/bench does)\n");
    return 2;
  }
  const std::string db_name = "flowd_scheduler_bench_" + std::to_string(::getpid());
  auto admin_exec = [&](const std::string& sql) {
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec(sql);
  };
  int status = 0;
  try {
    admin_exec("DROP DATABASE IF EXISTS " + db_name);
    admin_exec("CREATE DATABASE " + db_name);
    run(with_database(server, db_name));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "scheduler_bench: %s\n", e.what());
    status = 1;
  }
  try {
    admin_exec("DROP DATABASE IF EXISTS " + db_name + " WITH (FORCE)");
  } catch (const std::exception&) {
  }
  flowd::bench::print_figures();
  return status;
}
