// Cron schedules end to end: the real flowd binary (each instance on its own embedded broker) and a
// real PostgreSQL, driven with the real flowctl over HTTP; what happened is read back with SQL.
// Every tick of a schedule runs once across three instances and a SIGKILL; after downtime the
// owed ticks inside the catch-up window run in order and the older ones are missed and counted;
// each overlap policy does what it says; a backfill runs each past tick once; pauseOnFailure
// pauses; the API refuses bad schedules naming what is wrong.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include "flowd/engine/cron.h"
#include "flowd_process.h"
#include "postgres_fixture.h"

using namespace flowd;
using flowd::testing::eventually;
using flowd::testing::FlowdProcess;
using flowd::testing::run;
using flowd::testing::shell_quote;

namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::current_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir / "wf");
  return dir;
}

// tick: records what the scheduler rendered into its input.
const char* kTick = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: tick, version: 1}
spec:
  steps:
    - {id: note, type: transform, with: {at: "{{ input.at }}"}}
)";

// slow: runs longer than the every-second schedules fire.
const char* kSlow = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: slow, version: 1}
spec:
  steps:
    - {id: wait, type: sleep, with: {duration: 2500ms}}
)";

const char* kBroken = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: broken, version: 1}
spec:
  deadLetter: {enabled: false}
  steps:
    - {id: boom, type: fail, with: {code: EXTERNAL, message: "always"}}
)";

// nightly declares its schedule in the definition.
const char* kNightly = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: nightly, version: 1}
spec:
  steps:
    - {id: note, type: noop}
  triggers:
    - cron: {name: nightly-report, schedule: "0 30 2 * * *", timezone: Europe/Berlin}
)";

class Instance {
 public:
  Instance(flowd::testing::PostgresDatabase& db, fs::path dir, std::string id)
      : db_(db), dir_(std::move(dir)), id_(std::move(id)) {}

  void start() {
    const std::string address_file = (dir_ / ("broker-" + id_)).string();
    flowd_ = std::make_unique<FlowdProcess>(
        std::vector<std::string>{"--database", db_.url(), "--workflows", (dir_ / "wf").string()},
        std::map<std::string, std::string>{{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                                           {"FLOWD_KAFKA_BOOTSTRAP_FILE", address_file},
                                           {"FLOWD_ENGINE_INSTANCE_ID", id_}},
        (dir_ / (id_ + "-" + std::to_string(++starts_) + ".log")).string());
    REQUIRE(flowd_->wait_running());
    auto listening = Json::parse(flowd_->find_line("HTTP API listening"));
    const std::string api = listening.at("url").get<std::string>();
    server_ = api.substr(0, api.size() - std::string("/api/v1").size());
  }
  void kill() {
    flowd_->stop(SIGKILL);
    flowd_.reset();
  }
  void stop() {
    flowd_->stop(SIGTERM);
    flowd_.reset();
  }
  FlowdProcess& process() { return *flowd_; }
  std::pair<int, std::string> flowctl(const std::string& args) {
    return run("FLOWD_ACTOR=tester " + std::string(FLOWD_BIN_DIR) + "/flowctl " + args +
               " --server " + server_ + " 2>&1");
  }
  Json flowctl_json(const std::string& args) {
    auto [status, out] = flowctl(args + " -o json");
    INFO(args << "\n" << out);
    REQUIRE(status == 0);
    return Json::parse(out);
  }
  const std::string& server() const { return server_; }

 private:
  flowd::testing::PostgresDatabase& db_;
  fs::path dir_;
  std::string id_;
  std::unique_ptr<FlowdProcess> flowd_;
  std::string server_;
  int starts_ = 0;
};

long long count(flowd::testing::PostgresDatabase& db, const std::string& sql) {
  const std::string v = db.query(sql);
  return v.empty() ? 0 : std::stoll(v);
}

long long ticks(flowd::testing::PostgresDatabase& db, const std::string& schedule,
                const std::string& outcome) {
  return count(db, "SELECT count(*) FROM schedule_ticks WHERE schedule = '" + schedule +
                       "' AND outcome = '" + outcome + "'");
}

// Seconds between the schedule's first and last fired tick that have no tick row: a lost tick.
long long gaps(flowd::testing::PostgresDatabase& db, const std::string& schedule) {
  return count(db,
               "SELECT count(*) FROM generate_series("
               " (SELECT min(fire_time) FROM schedule_ticks WHERE schedule = '" +
                   schedule +
                   "'),"
                   " (SELECT max(fire_time) FROM schedule_ticks WHERE schedule = '" +
                   schedule +
                   "'),"
                   " interval '1 second') s WHERE NOT EXISTS (SELECT 1 FROM schedule_ticks t "
                   " WHERE t.schedule = '" +
                   schedule + "' AND t.fire_time = s)");
}

// Pairs of this schedule's executions whose run times overlap.
long long overlaps(flowd::testing::PostgresDatabase& db, const std::string& schedule) {
  const std::string mine =
      "SELECT e.* FROM executions e WHERE e.dedupe_key LIKE 'cron:" + schedule + "@%'";
  return count(db, "SELECT count(*) FROM (" + mine + ") a JOIN (" + mine +
                       ") b ON a.id < b.id AND a.started_at < coalesce(b.ended_at, now()) AND "
                       "b.started_at < coalesce(a.ended_at, now())");
}

std::string every_second(const std::string& name, const std::string& workflow,
                         const std::string& extra = "") {
  return "schedules create " + name + " --workflow " + workflow + " --schedule '* * * * * *' " +
         extra;
}

}  // namespace

TEST_CASE("Schedules through flowctl: ticks with rendered input, definitions, pause, errors",
          "[integration][schedules]") {
  flowd::testing::PostgresDatabase db;
  const fs::path dir = fresh_dir("schedules_api_test");
  std::ofstream(dir / "wf" / "tick.yaml") << kTick;
  std::ofstream(dir / "wf" / "nightly.yaml") << kNightly;
  std::ofstream(dir / "wf" / "broken.yaml") << kBroken;
  Instance flowd(db, dir, "sched-api");
  flowd.start();

  // A definition's cron trigger is a schedule; only a new version changes or removes it.
  auto listed = flowd.flowctl_json("schedules list");
  REQUIRE(listed["items"].size() == 1);
  CHECK(listed["items"][0]["name"] == "nightly-report");
  CHECK(listed["items"][0]["source"] == "definition");
  CHECK(listed["items"][0]["timezone"] == "Europe/Berlin");
  auto [refused, why] = flowd.flowctl("schedules delete nightly-report");
  CHECK(refused != 0);
  CHECK(why.find("spec.triggers") != std::string::npos);
  // next: in the zone and in UTC (02:30 Berlin is 01:30Z in winter, 00:30Z in summer).
  auto next = flowd.flowctl_json("schedules next nightly-report -n 3");
  REQUIRE(next["items"].size() == 3);
  const std::string local = next["items"][0]["local"];
  CHECK(local.substr(11, 8) == "02:30:00");
  const std::string utc = next["items"][0]["utc"];
  CHECK((utc.substr(11) == "01:30:00Z" || utc.substr(11) == "00:30:00Z"));

  // A new version that changes the trigger updates the schedule; one without it deletes it.
  std::string v2 = kNightly;
  v2.replace(v2.find("version: 1"), 10, "version: 2");
  v2.replace(v2.find("0 30 2 * * *"), 12, "0 45 3 * * *");
  std::ofstream(dir / "nightly-v2.yaml") << v2;
  auto [applied, applied_out] =
      flowd.flowctl("workflows apply " + (dir / "nightly-v2.yaml").string());
  INFO(applied_out);
  REQUIRE(applied == 0);
  REQUIRE(eventually(
      [&] {
        return db.query("SELECT expression FROM schedules WHERE name = 'nightly-report'") ==
               "0 45 3 * * *";
      },
      seconds(30)));
  CHECK(db.query("SELECT actor FROM schedule_events WHERE schedule = 'nightly-report' AND type = "
                 "'ScheduleUpdated'") == "definition:nightly@2");
  std::string v3 = kNightly;
  v3.replace(v3.find("version: 1"), 10, "version: 3");
  v3.erase(v3.find("  triggers:"));
  std::ofstream(dir / "nightly-v3.yaml") << v3;
  REQUIRE(flowd.flowctl("workflows apply " + (dir / "nightly-v3.yaml").string()).first == 0);
  REQUIRE(eventually(
      [&] {
        return count(db, "SELECT count(*) FROM schedules WHERE name = 'nightly-report'") == 0;
      },
      seconds(30)));
  CHECK(db.query("SELECT actor FROM schedule_events WHERE schedule = 'nightly-report' AND type = "
                 "'ScheduleDeleted'") == "definition:nightly@3");

  // Bad schedules are refused with the field and the problem.
  auto [bad, bad_out] =
      flowd.flowctl("schedules create bad --workflow tick --schedule '0 0 32 * *'");
  CHECK(bad != 0);
  CHECK(bad_out.find("day-of-month: 32 is out of range 1-31") != std::string::npos);
  auto [zone, zone_out] = flowd.flowctl(
      "schedules create bad --workflow tick --schedule '@daily' --timezone Mars/Base");
  CHECK(zone != 0);
  CHECK(zone_out.find("Mars/Base") != std::string::npos);

  // Ticks start with their input rendered from tick.time and schedule.name; the actor is the tick.
  flowd.flowctl_json(
      every_second("pulse", "tick",
                   "--overlap allow --input " +
                       shell_quote(R"({"at": "{{ tick.time }}", "who": "{{ schedule.name }}"})")));
  REQUIRE(eventually([&] { return ticks(db, "pulse", "fired") >= 3; }, seconds(30)));
  CHECK(count(db,
              "SELECT count(*) FROM schedule_ticks t JOIN executions e ON e.id = t.execution_id "
              "JOIN events v ON v.stream_id = 'execution-' || e.id AND v.stream_version = 1 "
              "WHERE t.schedule = 'pulse' AND v.data->'input'->>'at' = "
              "to_char(t.fire_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AND "
              "v.data->'input'->>'who' = 'pulse' AND v.metadata->>'actor' = e.dedupe_key AND "
              "e.dedupe_key LIKE 'cron:pulse@%'") >= 3);

  // Pause: nothing fires; unpause: the ticks of the pause are not run afterwards.
  auto paused = flowd.flowctl_json("schedules pause pulse --note 'maintenance'");
  CHECK(paused["paused"] == true);
  CHECK(paused["note"] == "maintenance");
  const long long at_pause = ticks(db, "pulse", "fired");
  std::this_thread::sleep_for(seconds(3));  // a window in which a running schedule fires 3 times
  CHECK(ticks(db, "pulse", "fired") == at_pause);
  flowd.flowctl_json("schedules unpause pulse");
  REQUIRE(eventually([&] { return ticks(db, "pulse", "fired") > at_pause; }, seconds(30)));
  const std::string event_time =
      "(SELECT occurred_at FROM schedule_events WHERE schedule = 'pulse' AND type = '";
  CHECK(count(db, "SELECT count(*) FROM schedule_ticks WHERE schedule = 'pulse' AND fire_time > " +
                      event_time + "SchedulePaused') + interval '1 second' AND fire_time < " +
                      event_time + "ScheduleUnpaused') - interval '1 second'") == 0);

  // get: the last run, recent ticks and the audit trail with the actor.
  auto got = flowd.flowctl_json("schedules get pulse");
  CHECK(got["lastRun"]["outcome"] == "fired");
  CHECK(got["recentTicks"].size() >= 3);
  std::set<std::string> types;
  for (const auto& e : got["events"]) {
    types.insert(e["type"].get<std::string>());
    if (e["type"] == "SchedulePaused") CHECK(e["actor"] == "flowctl:tester");
  }
  CHECK(types.count("ScheduleCreated") == 1);
  CHECK(types.count("SchedulePaused") == 1);
  CHECK(types.count("ScheduleUnpaused") == 1);
  CHECK(types.count("TickFired") == 1);

  // pauseOnFailure: the first failed execution pauses the schedule, with a note naming it.
  flowd.flowctl_json(every_second("fragile", "broken", "--pause-on-failure"));
  REQUIRE(eventually(
      [&] { return db.query("SELECT paused FROM schedules WHERE name = 'fragile'") == "t"; },
      seconds(30)));
  CHECK(db.query("SELECT note FROM schedules WHERE name = 'fragile'").find("failed") !=
        std::string::npos);
  CHECK(ticks(db, "fragile", "fired") == 1);

  // update and delete a run-time schedule; its history stays.
  flowd.flowctl_json(
      "schedules update pulse --workflow tick --schedule '@hourly' --timezone "
      "Asia/Kolkata");
  auto hourly = flowd.flowctl_json("schedules next pulse -n 2");
  CHECK(hourly["items"][0]["local"].get<std::string>().substr(13) == ":00:00+05:30");
  auto [deleted, deleted_out] = flowd.flowctl("schedules delete pulse");
  INFO(deleted_out);
  CHECK(deleted == 0);
  CHECK(count(db, "SELECT count(*) FROM schedules WHERE name = 'pulse'") == 0);
  CHECK(count(db,
              "SELECT count(*) FROM schedule_events WHERE schedule = 'pulse' AND type = "
              "'ScheduleDeleted' AND actor = 'flowctl:tester'") == 1);
  // The scheduler's loop never failed (a failing look retries every second: polling in disguise).
  CHECK(flowd.process().find_line("\"scheduler: ") == "");
}

TEST_CASE("Each overlap policy does what it says, and a backfill runs each past tick once",
          "[integration][schedules][slow]") {
  flowd::testing::PostgresDatabase db;
  const fs::path dir = fresh_dir("schedules_overlap_test");
  std::ofstream(dir / "wf" / "slow.yaml") << kSlow;
  std::ofstream(dir / "wf" / "tick.yaml") << kTick;
  Instance flowd(db, dir, "sched-overlap");
  flowd.start();
  for (const char* policy : {"skip", "allow", "bufferOne", "bufferAll", "cancelOther"})
    flowd.flowctl_json(
        every_second(std::string("o-") + policy, "slow", std::string("--overlap ") + policy));
  // Each slow run takes 2.5 s, so every policy meets overlapping ticks many times.
  REQUIRE(eventually([&] { return ticks(db, "o-allow", "fired") >= 8; }, seconds(60)));
  for (const char* policy : {"skip", "allow", "bufferOne", "bufferAll", "cancelOther"})
    flowd.flowctl_json(std::string("schedules pause o-") + policy);

  // skip: ticks during a run are skipped; runs never overlap.
  CHECK(ticks(db, "o-skip", "skipped") >= 2);
  CHECK(ticks(db, "o-skip", "fired") >= 2);
  CHECK(overlaps(db, "o-skip") == 0);
  // allow: every tick starts; runs overlap.
  CHECK(ticks(db, "o-allow", "skipped") == 0);
  CHECK(overlaps(db, "o-allow") > 0);
  // bufferOne: one waits, the rest are skipped; runs never overlap.
  CHECK(count(db,
              "SELECT count(*) FROM schedule_ticks WHERE schedule = 'o-bufferOne' AND "
              "outcome = 'skipped' AND detail LIKE '%already waiting%'") >= 1);
  CHECK(count(db,
              "SELECT count(*) FROM schedule_ticks t JOIN executions e ON e.id = "
              "t.execution_id WHERE t.schedule = 'o-bufferOne' AND e.started_at > "
              "t.fire_time + interval '1 second'") >= 1);
  CHECK(overlaps(db, "o-bufferOne") == 0);
  // bufferAll: nothing is skipped; every tick waits its turn; runs never overlap.
  CHECK(ticks(db, "o-bufferAll", "skipped") == 0);
  CHECK(ticks(db, "o-bufferAll", "buffered") >= 1);
  CHECK(overlaps(db, "o-bufferAll") == 0);
  // cancelOther: each tick cancels the run before it.
  CHECK(count(db,
              "SELECT count(*) FROM executions WHERE dedupe_key LIKE 'cron:o-cancelOther@%' "
              "AND status = 'cancelled'") >= 2);
  CHECK(ticks(db, "o-cancelOther", "skipped") == 0);

  // Backfill a past window of an hourly schedule: each hour once, a second backfill starts none.
  flowd.flowctl_json(
      "schedules create hourly --workflow tick --schedule '@hourly' --overlap allow");
  const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now());
  const std::string from = format_utc(SysSeconds(hour - std::chrono::hours(5)));
  const std::string to = format_utc(SysSeconds(hour - std::chrono::hours(1)));
  auto first = flowd.flowctl_json("schedules backfill hourly --from " + from + " --to " + to);
  CHECK(first["ticks"] == 5);
  CHECK(first["fired"] == 5);
  auto second = flowd.flowctl_json("schedules backfill hourly --from " + from + " --to " + to);
  CHECK(second["fired"] == 0);
  CHECK(second["alreadyDone"] == 5);
  CHECK(count(db, "SELECT count(*) FROM executions WHERE dedupe_key LIKE 'cron:hourly@%'") == 5);
  CHECK(count(db, "SELECT count(*) FROM schedule_ticks WHERE schedule = 'hourly' AND backfill") ==
        5);
  // Under skip, the first tick of a backfill runs and the rest meet it running.
  const std::string ten_minutes_later =
      format_utc(SysSeconds(hour - std::chrono::hours(5) + std::chrono::minutes(10)));
  auto skipping = flowd.flowctl_json("schedules backfill o-skip --from " + from + " --to " +
                                     ten_minutes_later + " --overlap skip");
  CHECK(skipping["ticks"] == 601);
  CHECK(skipping["fired"].get<int>() <= 1);  // none when o-skip's last run still goes
  CHECK(skipping["skipped"].get<int>() >= 600);
  CHECK(skipping["fired"].get<int>() + skipping["skipped"].get<int>() ==
        skipping["ticks"].get<int>() - skipping["alreadyDone"].get<int>());
}

TEST_CASE("Every tick fires once across three instances, a SIGKILL and downtime",
          "[integration][schedules][slow]") {
  flowd::testing::PostgresDatabase db;
  const fs::path dir = fresh_dir("schedules_cluster_test");
  std::ofstream(dir / "wf" / "tick.yaml") << kTick;
  std::vector<std::unique_ptr<Instance>> instances;
  for (const char* id : {"sched-a", "sched-b", "sched-c"}) {
    instances.push_back(std::make_unique<Instance>(db, dir, id));
    instances.back()->start();
  }
  // Minutes of an every-second schedule: 60 ticks on three instances, 30 with one SIGKILLed,
  // 60 after it came back with the same id.
  instances[0]->flowctl_json(every_second("beat", "tick", "--overlap allow"));
  const auto minute = seconds(120);  // the wait for 60 ticks, with room for the suite's load
  REQUIRE(eventually([&] { return ticks(db, "beat", "fired") >= 60; }, minute));
  instances[1]->kill();
  const long long at_kill = ticks(db, "beat", "fired");
  REQUIRE(eventually([&] { return ticks(db, "beat", "fired") >= at_kill + 30; }, minute));
  instances[1]->start();
  const long long at_restart = ticks(db, "beat", "fired");
  REQUIRE(eventually([&] { return ticks(db, "beat", "fired") >= at_restart + 60; }, minute));
  std::printf("schedules: %lld ticks across three instances, one SIGKILLed and restarted\n",
              ticks(db, "beat", "fired"));

  // One execution per fired tick, one tick row per second: none lost, none twice.
  CHECK(count(db, "SELECT count(*) FROM executions WHERE dedupe_key LIKE 'cron:beat@%'") ==
        ticks(db, "beat", "fired"));
  CHECK(gaps(db, "beat") == 0);

  // Downtime: all instances stop; at restart the ticks of the last catchupWindow run, in order,
  // and the older ones are recorded as missed and counted.
  instances[0]->flowctl_json(
      "schedules update beat --workflow tick --schedule '* * * * * *' "
      "--overlap allow --catchup-window 5s");
  for (auto& i : instances) i->stop();
  const std::string stopped_at = db.query("SELECT now()");
  // The downtime: 10 ticks pass with no instance up; the 6 of the last 5 s are owed and run, the
  // rest are missed.
  std::this_thread::sleep_for(seconds(10));
  instances[2]->start();
  REQUIRE(eventually([&] { return ticks(db, "beat", "missed") == 1; }, seconds(30)));
  REQUIRE(eventually(
      [&] {
        return count(db,
                     "SELECT count(*) FROM schedule_ticks WHERE schedule = 'beat' AND "
                     "outcome = 'fired' AND at > fire_time + interval '2 seconds'") >= 3;
      },
      seconds(30)));
  const long long missed =
      std::stoll(db.query("SELECT missed_total FROM schedules WHERE name = 'beat'"));
  CHECK(missed >= 3);
  // Fired after the restart (caught up) or missed, every second of the downtime is accounted for.
  CHECK(count(db,
              "SELECT (data->>'count')::int FROM schedule_events WHERE schedule = 'beat' AND "
              "type = 'TicksMissed'") == missed);
  CHECK(count(db,
              "SELECT count(*) FROM generate_series((SELECT min(fire_time) FROM schedule_ticks "
              "WHERE schedule = 'beat' AND fire_time > '" +
                  stopped_at +
                  "'), (SELECT "
                  "max(fire_time) FROM schedule_ticks WHERE schedule = 'beat'), interval '1 "
                  "second') s WHERE NOT EXISTS (SELECT 1 FROM schedule_ticks t WHERE t.schedule "
                  "= 'beat' AND t.fire_time = s) AND NOT (s BETWEEN (SELECT min(fire_time) FROM "
                  "schedule_ticks WHERE schedule = 'beat' AND outcome = 'missed') AND (SELECT "
                  "min(fire_time) FROM schedule_ticks WHERE schedule = 'beat' AND outcome = "
                  "'missed') + (SELECT ((data->>'count')::int - 1) * interval '1 second' FROM "
                  "schedule_events WHERE schedule = 'beat' AND type = 'TicksMissed'))") == 0);
  // A backfill of the downtime runs the missed ticks (each once), and only those.
  instances[2]->flowctl_json("schedules pause beat");
  const std::string first_missed = db.query(
      "SELECT to_char(fire_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
      "schedule_ticks WHERE schedule = 'beat' AND outcome = 'missed'");
  const std::string last_missed = format_utc(*parse_rfc3339(first_missed) + seconds(missed - 1));
  auto backfilled = instances[2]->flowctl_json("schedules backfill beat --from " + first_missed +
                                               " --to " + last_missed + " --overlap allow");
  CHECK(backfilled["fired"] == missed);
  CHECK(backfilled["alreadyDone"] == 0);
  CHECK(ticks(db, "beat", "missed") == 0);
  CHECK(gaps(db, "beat") == 0);
  CHECK(count(db, "SELECT count(*) FROM executions WHERE dedupe_key LIKE 'cron:beat@%'") ==
        ticks(db, "beat", "fired"));

  // The per-schedule metric (refreshed every 2 s).
  const std::string sample =
      "flowd_schedule_missed_ticks{schedule=\"beat\"} " + std::to_string(missed);
  CHECK(eventually(
      [&] {
        auto [status, metrics] = run("curl -s " + instances[2]->server() + "/metrics");
        return status == 0 && metrics.find(sample) != std::string::npos;
      },
      seconds(15)));
}
