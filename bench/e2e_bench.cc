// e2e_bench: the whole service path — Kafka trigger record → ExecutionStarted → 3 steps →
// ExecutionCompleted, everything durable — through the real `flowd` binary on its embedded broker
// and a real PostgreSQL.
//
// 1. Peak: N trigger envelopes are produced as fast as the producer takes them; the clock runs
//    from the first produce to the last ExecutionCompleted (executions/s completed).
// 2. Latency at half of peak: for a few seconds, envelopes at half the peak rate, each carrying
//    its send time (context.sentUs). Trigger → ExecutionStarted latency is the commit time of the
//    transaction that wrote the ExecutionStarted event (pg_xact_commit_timestamp; scripts/bench
//    starts the server with track_commit_timestamp=on) minus the send time, same machine clock.
//    Also reported: when a gap-safe reader of the global log (the store's own query, polled every
//    millisecond, as the outbox relay reads) first sees it — later by whatever older write
//    transaction was still open.
//
// Needs FLOWD_BENCH_DATABASE_URL (scripts/bench starts a private server); creates and drops its
// own database. Options: --executions N (default 20000), --seconds S (latency phase, default 5).
// Ends with `FIGURE <name> <value> <unit>` lines.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "flowd/triggers/producer.h"

namespace {

using namespace flowd;
using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::duration<double>;
namespace fs = std::filesystem;

constexpr const char* kWorkflow = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: e2e-three, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {n: "{{ input.n }}"}}
    - {id: b, type: transform, dependsOn: [a], with: {m: "{{ steps.a.output.n }}"}}
    - {id: c, type: noop, dependsOn: [b]}
  output: {m: "{{ steps.b.output.m }}"}
)";

std::vector<std::string> figures;

void figure(const std::string& name, double value, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  figures.push_back("FIGURE " + name + " " + buf + " " + unit);
  std::printf("  %-40s %s %s\n", name.c_str(), buf, unit.c_str());
  std::fflush(stdout);
}

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "e2e_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string with_database(const std::string& url, const std::string& db) {
  auto slash = url.rfind('/');
  auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

std::int64_t count(pqxx::connection& conn, const std::string& sql) {
  pqxx::nontransaction tx(conn);
  return tx.exec1(sql)[0].as<std::int64_t>();
}

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

pid_t spawn_flowd(const std::string& url, const fs::path& dir) {
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    FILE* log = std::fopen((dir / "flowd.log").c_str(), "w");
    if (log) dup2(fileno(log), 2);
    setenv("FLOWD_HTTP_LISTEN", "127.0.0.1:0", 1);
    setenv("FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").c_str(), 1);
    setenv("FLOWD_LOG_LEVEL", "warn", 1);
    setenv("FLOWD_ENGINE_INSTANCE_ID", "e2e-bench", 1);
    setenv("FLOWD_ENGINE_MAX_IN_FLIGHT", "2000", 0);  // 0: a value from the caller wins
    setenv("FLOWD_KAFKA_MAX_IN_FLIGHT", "2000", 0);
    std::string bin = std::string(FLOWD_BIN_DIR) + "/flowd";
    execl(bin.c_str(), bin.c_str(), "--database", url.c_str(), "--workflows", dir.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

std::string wait_for_broker(const fs::path& file, pid_t pid) {
  for (int i = 0; i < 600; ++i) {
    std::string line;
    if (std::ifstream in(file); in && std::getline(in, line) && !line.empty()) return line;
    if (waitpid(pid, nullptr, WNOHANG) == pid) die("flowd exited during start-up (see its log)");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  die("flowd did not start its embedded broker within 60 s");
}

void send(triggers::KafkaProducer& producer, std::int64_t n, const std::string& phase) {
  triggers::TriggerEnvelope envelope;
  envelope.workflow = "e2e-three";
  envelope.input = Json{{"n", n}};
  envelope.id = phase + "-" + std::to_string(n);
  envelope.context = Json{{"sentUs", now_us()}, {"phase", phase}};
  while (true) {
    auto sent = producer.send(triggers::make_trigger_record(envelope), [](auto) {});
    if (sent) return;
    if (!sent.error().retryable) die("produce: " + sent.error().message);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // local queue full
  }
}

// Waits until `target` executions of `phase` completed; returns false after `limit`.
bool wait_completed(pqxx::connection& conn, const std::string& phase, std::int64_t target,
                    std::chrono::seconds limit) {
  const auto deadline = Clock::now() + limit;
  const std::string sql =
      "SELECT count(*) FROM executions WHERE status = 'completed' AND dedupe_key LIKE '" + phase +
      "-%'";
  while (Clock::now() < deadline) {
    if (count(conn, sql) >= target) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

// Tails the committed ExecutionStarted events of `phase` the way the store's readers do
// (tx_id < the oldest running transaction, so nothing that commits late is skipped) and records
// each one's latency from its send time to the moment it was seen.
class StartWatcher {
 public:
  StartWatcher(const std::string& url, std::string phase)
      : conn_(url), phase_(std::move(phase)), thread_([this] { loop(); }) {}
  ~StartWatcher() { stop(); }

  // Stops once `expected` starts were seen (or after `limit`); returns the latencies in ms.
  std::vector<double> finish(std::size_t expected, std::chrono::seconds limit) {
    const auto deadline = Clock::now() + limit;
    while (seen_.load() < expected && Clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    stop();
    return latencies_;
  }

 private:
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  void loop() {
    conn_.prepare("tail",
                  "SELECT tx_id::text, global_position, (data->'context'->>'sentUs')::bigint "
                  "FROM events WHERE (tx_id, global_position) > ($1::xid8, $2) "
                  "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) AND type = "
                  "'ExecutionStarted' AND data->'context'->>'phase' = $3 "
                  "ORDER BY tx_id, global_position LIMIT 10000");
    // From the end of what is committed now: earlier phases are not scanned again.
    std::string tx_id = "0";
    std::int64_t position = 0;
    {
      pqxx::nontransaction tx(conn_);
      const auto last = tx.exec(
          "SELECT tx_id::text, global_position FROM events WHERE tx_id < "
          "pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx_id DESC, global_position DESC "
          "LIMIT 1");
      if (!last.empty()) {
        tx_id = last[0][0].as<std::string>();
        position = last[0][1].as<std::int64_t>();
      }
    }
    while (!stopping_) {
      pqxx::nontransaction tx(conn_);
      const auto rows = tx.exec_prepared("tail", tx_id, position, phase_);
      const std::int64_t now = now_us();
      for (const auto& row : rows) {
        latencies_.push_back(static_cast<double>(now - row[2].as<std::int64_t>()) / 1000.0);
      }
      if (!rows.empty()) {
        tx_id = rows.back()[0].as<std::string>();
        position = rows.back()[1].as<std::int64_t>();
        seen_ += rows.size();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

  pqxx::connection conn_;
  std::string phase_;
  std::vector<double> latencies_;  // watcher thread until stop()
  std::atomic<std::size_t> seen_{0};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(index, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t executions = 20'000;
  int seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--executions")
      executions = std::atoll(argv[i + 1]);
    else if (flag == "--seconds")
      seconds = std::atoi(argv[i + 1]);
    else
      die("unknown option " + flag + " (--executions N, --seconds S)");
  }
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (!server) die("FLOWD_BENCH_DATABASE_URL is not set (run it through scripts/bench e2e)");
  const std::string db = "e2e_bench_" + std::to_string(getpid());
  {
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec0("CREATE DATABASE " + db);
  }
  const std::string url = with_database(server, db);
  fs::path dir = fs::temp_directory_path() / db;
  fs::create_directories(dir);
  std::ofstream(dir / "e2e-three.yaml") << kWorkflow;

  pid_t flowd = spawn_flowd(url, dir);
  const std::string brokers = wait_for_broker(dir / "broker", flowd);
  std::printf("e2e_bench: flowd %d on embedded broker %s, database %s\n", flowd, brokers.c_str(),
              db.c_str());
  triggers::ProducerConfig config;
  config.kafka.brokers = brokers;
  config.linger = std::chrono::milliseconds(1);
  auto producer = triggers::KafkaProducer::create(config);
  if (!producer) die("producer: " + producer.error().message);
  pqxx::connection conn(url);

  // Warm-up: the consumer joins its group and the first execution runs.
  send(**producer, 0, "warm");
  (void)(*producer)->flush(std::chrono::seconds(10));
  if (!wait_completed(conn, "warm", 1, std::chrono::seconds(120)))
    die("the warm-up execution did not complete within 120 s");

  // 1. Peak.
  const auto t0 = Clock::now();
  for (std::int64_t i = 0; i < executions; ++i) send(**producer, i, "peak");
  (void)(*producer)->flush(std::chrono::seconds(60));
  const double produce_s = Seconds(Clock::now() - t0).count();
  if (!wait_completed(conn, "peak", executions, std::chrono::seconds(600)))
    die("peak phase did not complete within 600 s");
  const double peak_s = Seconds(Clock::now() - t0).count();
  const double peak = static_cast<double>(executions) / peak_s;
  std::printf("peak: %lld executions, produced in %.2f s, all completed after %.2f s\n",
              static_cast<long long>(executions), produce_s, peak_s);

  // 2. Latency at half of the peak rate.
  const double rate = peak / 2;
  const auto n = static_cast<std::int64_t>(rate * seconds);
  StartWatcher watcher(url, "half");
  const auto t1 = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        t1 + std::chrono::duration_cast<Clock::duration>(Seconds(static_cast<double>(i) / rate)));
    send(**producer, i, "half");
  }
  (void)(*producer)->flush(std::chrono::seconds(60));
  if (!wait_completed(conn, "half", n, std::chrono::seconds(600)))
    die("half-load phase did not complete within 600 s");
  const std::vector<double> seen =
      watcher.finish(static_cast<std::size_t>(n), std::chrono::seconds(60));
  if (seen.size() != static_cast<std::size_t>(n))
    die("the watcher saw " + std::to_string(seen.size()) + " of " + std::to_string(n) + " starts");
  double p50 = 0, p99 = 0, max = 0;
  bool commit_times = false;
  {
    pqxx::nontransaction tx(conn);
    commit_times = tx.exec1("SHOW track_commit_timestamp")[0].as<std::string>() == "on";
    if (commit_times) {
      auto row = tx.exec1(
          "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l), percentile_cont(0.99) WITHIN "
          "GROUP (ORDER BY l), max(l) FROM (SELECT (flowd_micros(pg_xact_commit_timestamp(e.xmin)) "
          "- (e.data->'context'->>'sentUs')::bigint) / 1000.0 AS l FROM events e WHERE e.type = "
          "'ExecutionStarted' AND e.data->'context'->>'phase' = 'half') s");
      p50 = row[0].as<double>();
      p99 = row[1].as<double>();
      max = row[2].as<double>();
    }
  }
  if (commit_times) {
    std::printf(
        "half load: %lld executions at %.0f/s; trigger->ExecutionStarted committed: p50 "
        "%.1f ms, p99 %.1f ms, max %.1f ms\n",
        static_cast<long long>(n), rate, p50, p99, max);
  } else {
    std::printf(
        "half load: %lld executions at %.0f/s; the server runs without "
        "track_commit_timestamp: no commit-time latency (run through scripts/bench e2e)\n",
        static_cast<long long>(n), rate);
  }
  std::printf(
      "  seen by a gap-safe reader of the global log: p50 %.1f ms, p99 %.1f ms, max %.1f "
      "ms\n",
      percentile(seen, 0.5), percentile(seen, 0.99), percentile(seen, 1.0));

  // The producer goes first: once flowd stops, its embedded broker is gone.
  (void)(*producer)->flush(std::chrono::seconds(5));
  producer->reset();
  kill(flowd, SIGTERM);
  int status = 0;
  waitpid(flowd, &status, 0);
  conn.disconnect();
  {
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec0("DROP DATABASE " + db + " WITH (FORCE)");
  }
  fs::remove_all(dir);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("flowd did not stop cleanly");

  figure("e2e_peak_executions_per_sec", peak, "exec/s");
  figure("e2e_half_load_rate", rate, "exec/s");
  if (commit_times) {
    figure("e2e_trigger_to_started_p50", p50, "ms");
    figure("e2e_trigger_to_started_p99", p99, "ms");
  }
  figure("e2e_trigger_to_started_seen_by_reader_p50", percentile(seen, 0.5), "ms");
  figure("e2e_trigger_to_started_seen_by_reader_p99", percentile(seen, 0.99), "ms");
  for (const auto& f : figures) std::printf("%s\n", f.c_str());
  return 0;
}
