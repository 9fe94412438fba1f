// takeover_bench — fast takeover: three flowd processes on one PostgreSQL and one embedded broker;
// one is SIGKILLed. Prints the seconds from the kill until (a) trigger records on its partitions
// start on the survivors, (b) the executions it had leased resume there, and (c) the instance,
// restarted with the same id, consumes from partitions again (tests/support/takeover_cluster.h).
// The settings are the defaults of config/; FLOWD_* variables in the environment override them
// for every instance (e.g. the old defaults: FLOWD_KAFKA_SESSION_TIMEOUT=10s
// FLOWD_KAFKA_HEARTBEAT_INTERVAL=3s FLOWD_KAFKA_STATIC_MEMBERSHIP=off
// FLOWD_ENGINE_LEASE_DURATION=30s). Needs FLOWD_BENCH_DATABASE_URL (scripts/bench cron provides
// it); creates and drops its own database. `--runs N` repeats the measurement (median printed).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <vector>

#include "takeover_cluster.h"

using namespace flowd;

namespace {

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "takeover_bench: %s\n", message.c_str());
  std::exit(1);
}

std::string with_database(const std::string& url, const std::string& db) {
  auto slash = url.rfind('/');
  auto query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--runs")
      runs = std::max(1, std::atoi(argv[i + 1]));
    else
      die("unknown option " + flag + " (--runs N)");
  }
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (!server) die("FLOWD_BENCH_DATABASE_URL is not set (run it through scripts/bench cron)");
  std::vector<double> kafka, leased, rejoin;
  for (int run = 0; run < runs; ++run) {
    const std::string db = "takeover_bench_" + std::to_string(getpid()) + "_" + std::to_string(run);
    {
      pqxx::connection admin(server);
      pqxx::nontransaction(admin).exec0("CREATE DATABASE " + db);
    }
    const std::string url = with_database(server, db);
    takeover::Options options;
    options.flowd_bin = std::string(FLOWD_BIN_DIR) + "/flowd";
    options.database_url = url;
    options.dir = std::filesystem::temp_directory_path() / db;
    std::filesystem::remove_all(options.dir);
    auto conn = std::make_unique<pqxx::connection>(url);
    takeover::TakeoverCluster cluster(options, [&](const std::string& sql) {
      pqxx::nontransaction tx(*conn);
      auto result = tx.exec(sql);
      if (result.empty() || result[0][0].is_null()) return std::string();
      return result[0][0].as<std::string>();
    });
    const takeover::Outcome out = cluster.run();
    if (!out.error.empty()) die(out.error + " (logs in " + options.dir.string() + ")");
    for (const auto& v : out.violations)
      std::fprintf(stderr, "takeover_bench: VIOLATION %s\n", v.c_str());
    std::printf("run %d: %s; (a) %.2f s, (b) %.2f s, (c) %.2f s\n", run + 1, out.details.c_str(),
                out.kafka_partitions_s, out.leased_executions_s, out.rejoin_same_id_s);
    std::fflush(stdout);
    kafka.push_back(out.kafka_partitions_s);
    leased.push_back(out.leased_executions_s);
    rejoin.push_back(out.rejoin_same_id_s);
    conn.reset();  // before DROP DATABASE
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec0("DROP DATABASE " + db + " WITH (FORCE)");
    std::filesystem::remove_all(options.dir);
    if (!out.violations.empty()) return 1;
  }
  std::printf("FIGURE takeover_kafka_partitions_s %.2f s\n", median(kafka));
  std::printf("FIGURE takeover_leased_executions_s %.2f s\n", median(leased));
  std::printf("FIGURE takeover_rejoin_same_id_s %.2f s\n", median(rejoin));
  return 0;
}
