// Crash test: 1,000 durable executions while flowd is SIGKILLed at random moments several times
// and restarted; afterwards SQL proves every execution reached exactly one terminal state, no
// stream has a version gap, and no completed step ran again.
#include <random>
#include <thread>

#include "flowd_process.h"
#include "postgres_fixture.h"

using namespace flowd;

namespace {

// flowd with a short lease (a restarted instance takes its executions back at once anyway: same
// instance id), its own HTTP port and embedded broker.
std::unique_ptr<flowd::testing::FlowdProcess> spawn_flowd(const std::string& url,
                                                          const std::string& name) {
  return std::make_unique<flowd::testing::FlowdProcess>(
      std::vector<std::string>{"--database", url, "--instance-id", "crash-node", "--lease", "2s",
                               "--max-in-flight", "400"},
      std::map<std::string, std::string>{{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                                         {"FLOWD_KAFKA_BOOTSTRAP_FILE", name + ".broker"}},
      name + ".log");
}

}  // namespace

TEST_CASE("flowd killed at random moments loses nothing and runs no completed step twice",
          "[integration][crash][slow]") {
  flowd::testing::PostgresDatabase db;
  eventstore::StoreOptions options;
  options.url = db.url();
  auto store = eventstore::EventStore::open(options);
  REQUIRE(store);
  auto def = flowd::testing::apply_yaml(**store, R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: crashy, version: 1}
spec:
  steps:
    - {id: a, type: sleep, with: {duration: 5ms}}
    - {id: b, type: transform, dependsOn: [a], with: {n: "{{ input.n }}"}}
    - {id: c, type: sleep, dependsOn: [b], with: {duration: 5ms}}
    - {id: d, type: fail, dependsOn: [c], with: {times: 1, code: EXTERNAL},
       retry: {maxAttempts: 2, backoff: 5ms}}
)");
  constexpr int kExecutions = 1000;
  for (int i = 0; i < kExecutions; ++i)
    flowd::testing::start_durable(**store, *def, Json{{"n", i}});

  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> pause_ms(300, 1500);
  int kills = 0;
  for (int round = 0; round < 4; ++round) {
    auto flowd = spawn_flowd(db.url(), "crash_test_flowd_" + std::to_string(round));
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
    CHECK(flowd->stop(SIGKILL) == 128 + SIGKILL);
    ++kills;
  }
  INFO("terminal after " << kills << " kills: "
                         << db.query("SELECT count(*) FROM executions WHERE status IN "
                                     "('completed','failed','cancelled','timed_out')"));

  auto flowd = spawn_flowd(db.url(), "crash_test_flowd_last");
  // SIGTERM before flowd handles it would kill it like SIGKILL: wait until it says it runs.
  REQUIRE(flowd->wait_running());
  bool finished = flowd::testing::eventually(
      [&] {
        return db.query(
                   "SELECT count(*) FROM executions WHERE status NOT IN "
                   "('completed','failed','cancelled','timed_out')") == "0";
      },
      std::chrono::seconds(180));
  CHECK(flowd->stop(SIGTERM) == 0);
  REQUIRE(finished);

  CHECK(db.query("SELECT count(*) FROM executions") == std::to_string(kExecutions));
  CHECK(db.query("SELECT count(*) FROM executions WHERE status = 'completed'") ==
        std::to_string(kExecutions));
  // Exactly one terminal event per execution stream.
  CHECK(db.query("SELECT count(*) FROM executions x WHERE (SELECT count(*) FROM events e WHERE "
                 "e.stream_id = 'execution-' || x.id AND e.type IN ('ExecutionCompleted', "
                 "'ExecutionFailed', 'ExecutionCancelled', 'ExecutionTimedOut')) <> 1") == "0");
  // Versions 1..n without a gap in every stream.
  CHECK(db.query("SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id "
                 "HAVING max(stream_version) <> count(*) OR min(stream_version) <> 1) g") == "0");
  // No step started again after it completed.
  CHECK(db.query("SELECT count(*) FROM events s JOIN events c ON c.stream_id = s.stream_id AND "
                 "c.step = s.step AND c.type = 'StepCompleted' AND s.type = 'StepStarted' AND "
                 "s.stream_version > c.stream_version") == "0");
  // The projection agrees with the log.
  CHECK(db.query("SELECT count(*) FROM executions x JOIN streams s ON s.stream_id = "
                 "'execution-' || x.id WHERE s.version <> x.version") == "0");
}
