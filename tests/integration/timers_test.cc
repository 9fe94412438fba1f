// Durable timers across a real crash: a sleep, a retry's backoff and an execution timeout are
// running on flowd when it is SIGKILLed ~2 s into their 6 s waits; the restarted flowd (same
// instance id, so it resumes them at once) ends each wait at the time its event recorded, not 6 s
// after the restart. Times are the engine's own (events.occurred_at and the recorded due times).
#include <thread>

#include "flowd/engine/timers.h"
#include "flowd_process.h"
#include "postgres_fixture.h"

using namespace flowd;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<testing::FlowdProcess> spawn_flowd(const std::string& url,
                                                   const std::string& name) {
  return std::make_unique<testing::FlowdProcess>(
      std::vector<std::string>{"--database", url, "--instance-id", "timers-node", "--lease", "2s"},
      std::map<std::string, std::string>{{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                                         {"FLOWD_KAFKA_BOOTSTRAP_FILE", name + ".broker"}},
      name + ".log");
}

// The time in milliseconds since the epoch of an SQL expression over the execution's events.
std::string event_ms(const std::string& execution, const std::string& where,
                     const std::string& what = "occurred_at") {
  return "SELECT (extract(epoch FROM " + what +
         ") * 1000)::bigint FROM events WHERE stream_id = "
         "'execution-" +
         execution + "' AND " + where + " ORDER BY stream_version LIMIT 1";
}

TimePoint at_ms(const std::string& value) {
  REQUIRE_FALSE(value.empty());
  return TimePoint(std::chrono::milliseconds(std::stoll(value)));
}

TimePoint data_time(testing::PostgresDatabase& db, const std::string& execution,
                    const std::string& where, const std::string& key) {
  auto text = db.query("SELECT data->>'" + key + "' FROM events WHERE stream_id = 'execution-" +
                       execution + "' AND " + where + " ORDER BY stream_version LIMIT 1");
  auto t = parse_instant(text);
  INFO(where << " " << key << ": " << text);
  REQUIRE(t);
  return *t;
}

double seconds(Clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

}  // namespace

TEST_CASE("Waits interrupted by SIGKILL end at their recorded times on the restarted flowd",
          "[integration][timers][slow]") {
  testing::PostgresDatabase db;
  eventstore::StoreOptions options;
  options.url = db.url();
  auto store = eventstore::EventStore::open(options);
  REQUIRE(store);
  auto sleeper = testing::apply_yaml(**store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: sleeper, version: 1}
spec:
  steps:
    - {id: wait, type: sleep, with: {duration: 6s}}
    - {id: after, type: noop, dependsOn: [wait]}
)");
  auto retrier = testing::apply_yaml(**store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: retrier, version: 1}
spec:
  steps:
    - {id: flaky, type: fail, with: {times: 1, code: EXTERNAL},
       retry: {maxAttempts: 2, backoff: 6s}}
)");
  auto timed = testing::apply_yaml(**store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: timed, version: 1}
spec:
  timeout: 6s
  steps:
    - {id: forever, type: sleep, with: {duration: 1h}}
)");
  const std::string sleep_id =
      testing::start_durable(**store, *sleeper, Json::object()).execution_id;
  const std::string retry_id =
      testing::start_durable(**store, *retrier, Json::object()).execution_id;
  const std::string timeout_id =
      testing::start_durable(**store, *timed, Json::object()).execution_id;

  auto flowd = spawn_flowd(db.url(), "timers_test_flowd_1");
  REQUIRE(flowd->wait_running());
  auto has = [&](const std::string& id, const std::string& where) {
    return db.query("SELECT count(*) FROM events WHERE stream_id = 'execution-" + id + "' AND " +
                    where) != "0";
  };
  REQUIRE(testing::eventually([&] {
    return has(sleep_id, "type = 'StepStarted' AND step = 'wait'") &&
           has(retry_id, "type = 'StepRetryScheduled'") &&
           has(timeout_id, "type = 'StepStarted' AND step = 'forever'");
  }));
  const TimePoint sleep_due = data_time(db, sleep_id, "type = 'StepStarted'", "dueAt");
  const TimePoint retry_due = data_time(db, retry_id, "type = 'StepRetryScheduled'", "dueAt");
  const TimePoint deadline = data_time(db, timeout_id, "type = 'ExecutionStarted'", "deadline");
  const TimePoint sleep_began = at_ms(db.query(event_ms(sleep_id, "type = 'StepStarted'")));
  CHECK(sleep_due - sleep_began > 6s - 2ms);  // the due time keeps milliseconds
  CHECK(sleep_due - sleep_began <= 6s);

  // Kill it about 2 s into the waits (the scenario, not a synchronisation), then restart.
  std::this_thread::sleep_until(std::chrono::steady_clock::now() +
                                (sleep_began + 2s - Clock::now()));
  CHECK(flowd->stop(SIGKILL) == 128 + SIGKILL);
  const TimePoint killed = Clock::now();
  CHECK(db.query("SELECT count(*) FROM executions WHERE terminal") == "0");
  flowd = spawn_flowd(db.url(), "timers_test_flowd_2");
  REQUIRE(flowd->wait_running());
  const TimePoint restarted = Clock::now();  // it resumed them by now
  REQUIRE(testing::eventually(
      [&] { return db.query("SELECT count(*) FROM executions WHERE terminal") == "3"; }, 60s));
  CHECK(flowd->stop(SIGTERM) == 0);

  // Each wait ends at its recorded time: never before it, and shortly after it unless the
  // restart itself came later (then at once). Restarting the wait would end it ~6 s after the
  // restart instead: 8 s or more after it began.
  auto check_end = [&](const char* what, TimePoint due, TimePoint resumed, TimePoint ended) {
    INFO(what << ": due " << format_time(due) << ", resumed by " << format_time(resumed)
              << ", ended " << format_time(ended) << ", killed " << format_time(killed));
    CHECK(ended >= due - 1ms);  // occurred_at keeps milliseconds, the due time too
    CHECK(seconds(ended - std::max(due, resumed)) < 1.5);
  };
  const std::string resumed_step = "type = 'StepStarted' AND attempt = 2";
  const TimePoint sleep_resumed = at_ms(db.query(event_ms(sleep_id, resumed_step)));
  CHECK(data_time(db, sleep_id, resumed_step, "dueAt") == sleep_due);  // carried over
  check_end("sleep", sleep_due, std::min(sleep_resumed, restarted),
            at_ms(db.query(event_ms(sleep_id, "type = 'StepCompleted' AND step = 'wait'"))));
  CHECK(db.query("SELECT status FROM executions WHERE id = '" + sleep_id + "'") == "completed");

  // The backoff ends when the second attempt starts.
  check_end("retry backoff", retry_due, restarted,
            at_ms(db.query(event_ms(retry_id, resumed_step))));
  CHECK(db.query("SELECT status FROM executions WHERE id = '" + retry_id + "'") == "completed");

  check_end("execution timeout", deadline, restarted,
            at_ms(db.query(event_ms(timeout_id, "type = 'ExecutionTimedOut'"))));
  CHECK(db.query("SELECT status FROM executions WHERE id = '" + timeout_id + "'") == "timed_out");
}
