// dlq_bench: a bulk retry of many dead letters through the real tools — the flowd binary (its
// DurableRunner runs the retries, its DeadLetterProjector resolves the letters) and `flowctl dlq
// retry --workflow W` (direct mode: it numbers, plans and starts each retry) — on a fresh database
// of FLOWD_BENCH_DATABASE_URL (scripts/bench dlq provides one).
//
// Two rounds, a small one and the full one: flowctl's peak RSS must not grow with the count (it
// works page by page), and every letter must end resolved, with one retry each.
//
// FIGURE dlq_bulk_retry_per_s       retries started per second by the bulk command (full round)
// FIGURE dlq_bulk_resolved_per_s    letters resolved per second, start of the command to the last
// FIGURE dlq_flowctl_peak_rss_mb    flowctl's peak RSS in the full round (small round printed too)
// FIGURE dlq_flowd_peak_rss_mb      flowd's peak RSS (VmHWM) after both rounds
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <string>
#include <thread>

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

const char* kWorkflow = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: dlq-bench, version: 1}
spec:
  input: {type: object, required: [orderId]}
  steps:
    - {id: reserve, type: transform, with: {sku: "{{ input.orderId }}"}}
    - id: pay
      dependsOn: [reserve]
      switch:
        value: "{{ input.ok }}"
        cases:
          - {match: true, type: transform, with: {paid: true}}
        default: {type: fail, with: {code: EXTERNAL, message: "card declined"}}
)";

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "dlq_bench: %s\n", message.c_str());
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

pid_t spawn_flowd(const std::string& url, const fs::path& dir) {
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    FILE* log = std::fopen((dir / "flowd.log").c_str(), "w");
    if (log) dup2(fileno(log), 2);
    setenv("FLOWD_HTTP_LISTEN", "127.0.0.1:0", 1);
    setenv("FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").c_str(), 1);
    setenv("FLOWD_LOG_LEVEL", "warn", 1);
    setenv("FLOWD_ENGINE_INSTANCE_ID", "dlq-bench", 1);
    std::string bin = std::string(FLOWD_BIN_DIR) + "/flowd";
    execl(bin.c_str(), bin.c_str(), "--database", url.c_str(), "--workflows", dir.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

double vm_hwm_mb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return 0;
}

struct Round {
  double per_s = 0;
  double resolved_per_s = 0;
  double flowctl_rss_mb = 0;
  std::int64_t retried = 0;
};

Round run_round(pqxx::connection& conn, const std::string& url, const fs::path& dir, int n,
                const std::string& tag) {
  {
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO dead_letters (kind, dedupe_key, reason_code, reason_message, workflow,"
        " workflow_version, input, attempts, first_failed_at, last_failed_at, published_at)"
        " SELECT 'execution', $1 || ':' || g, 'EXTERNAL', 'card declined', 'dlq-bench', 1,"
        " jsonb_build_object('orderId', $1 || g, 'ok', false), 1, now(), now(), now()"
        " FROM generate_series(1, $2::int) g",
        tag, n);
    tx.commit();
  }
  const fs::path out = dir / ("flowctl-" + tag + ".json");
  const auto began = Clock::now();
  pid_t pid = fork();
  if (pid < 0) die("fork failed");
  if (pid == 0) {
    FILE* f = std::fopen(out.c_str(), "w");
    if (f) dup2(fileno(f), 1);
    std::string bin = std::string(FLOWD_BIN_DIR) + "/flowctl";
    execl(bin.c_str(), bin.c_str(), "dlq", "retry", "--workflow", "dlq-bench", "--error-code",
          "EXTERNAL", "--patch", R"({"ok": true})", "--rate", "1000000/s", "--since", "1h",
          "--database", url.c_str(), "-o", "json", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  if (wait4(pid, &status, 0, &usage) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
    die("flowctl dlq retry failed (see " + out.string() + ")");
  const double command_s = std::chrono::duration<double>(Clock::now() - began).count();
  Json summary;
  {
    std::ifstream in(out);
    summary = Json::parse(in);
  }
  Round r;
  r.retried = summary.value("retried", 0);
  r.per_s = summary.value("perSecond", 0.0);
  r.flowctl_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;
  const std::string resolved =
      "SELECT count(*) FROM dead_letters WHERE status = 'resolved' AND "
      "dedupe_key LIKE '" +
      tag + ":%'";
  const auto deadline = Clock::now() + std::chrono::minutes(10);
  while (count(conn, resolved) < n) {
    if (Clock::now() > deadline) die("not every letter of " + tag + " was resolved in 10 min");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  r.resolved_per_s = n / std::chrono::duration<double>(Clock::now() - began).count();
  std::printf(
      "  %-8s %6d letters: retried %ld in %.1f s (%.0f/s), all resolved at %.0f/s, "
      "flowctl peak RSS %.1f MB\n",
      tag.c_str(), n, static_cast<long>(r.retried), command_s, r.per_s, r.resolved_per_s,
      r.flowctl_rss_mb);
  // Correct counts: one retry per letter, every one completed.
  const auto retries = count(conn,
                             "SELECT count(*) FROM dead_letter_retries r JOIN dead_letters d ON "
                             "d.id = r.dead_letter_id WHERE d.dedupe_key LIKE '" +
                                 tag + ":%' AND r.outcome = 'completed'");
  if (r.retried != n || retries != n)
    die(tag + ": " + std::to_string(r.retried) + " retried, " + std::to_string(retries) +
        " completed retries, expected " + std::to_string(n));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int letters = 10'000;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--letters") letters = std::atoi(argv[i + 1]);
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (!server) die("FLOWD_BENCH_DATABASE_URL is not set (run it through scripts/bench dlq)");
  const std::string db = "dlq_bench_" + std::to_string(getpid());
  {
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec0("CREATE DATABASE " + db);
  }
  const std::string url = with_database(server, db);
  fs::path dir = fs::temp_directory_path() / db;
  fs::create_directories(dir);
  std::ofstream(dir / "dlq-bench.yaml") << kWorkflow;
  pid_t flowd = spawn_flowd(url, dir);
  for (int i = 0; !fs::exists(dir / "broker"); ++i) {
    if (i > 600 || waitpid(flowd, nullptr, WNOHANG) == flowd) die("flowd did not start");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  pqxx::connection conn(url);
  while (count(conn, "SELECT count(*) FROM workflow_definitions") < 1)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::printf("dlq_bench: flowd %d, database %s\n", flowd, db.c_str());
  const Round small = run_round(conn, url, dir, std::max(letters / 10, 100), "small");
  const Round full = run_round(conn, url, dir, letters, "full");
  const double flowd_rss = vm_hwm_mb(flowd);
  kill(flowd, SIGTERM);
  waitpid(flowd, nullptr, 0);
  {
    pqxx::connection admin(server);
    pqxx::nontransaction(admin).exec0("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  }
  std::printf("  flowctl peak RSS: %.1f MB at %d letters, %.1f MB at %d\n", small.flowctl_rss_mb,
              std::max(letters / 10, 100), full.flowctl_rss_mb, letters);
  std::printf("FIGURE dlq_bulk_retry_per_s %.0f retries/s\n", full.per_s);
  std::printf("FIGURE dlq_bulk_resolved_per_s %.0f letters/s\n", full.resolved_per_s);
  std::printf("FIGURE dlq_flowctl_peak_rss_mb %.1f MB\n", full.flowctl_rss_mb);
  std::printf("FIGURE dlq_flowd_peak_rss_mb %.1f MB\n", flowd_rss);
  return 0;
}
