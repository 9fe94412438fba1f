// flowd: the flowd daemon. Runs durable executions against the PostgreSQL event store: claims
// what nobody runs, resumes what was in flight, applies operator commands, stops gracefully on
// SIGTERM / SIGINT.
#include <unistd.h>
#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "durable_runner.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

namespace {

std::mutex log_mutex;

// One JSON object per line on stderr.
void log_line(std::string_view level, const std::string& message, const flowd::Json& fields) {
  flowd::Json line{
      {"time", flowd::format_time(flowd::Clock::now())}, {"level", level}, {"message", message}};
  if (fields.is_object())
    for (const auto& [k, v] : fields.items()) line[k] = v;
  std::lock_guard lock(log_mutex);
  std::cerr << line.dump() << "\n";
}

std::string default_instance_id() {
  char host[256] = "flowd";
  gethostname(host, sizeof host - 1);
  return std::string(host);
}

// Applies every definition found in `dirs` to the registry (new content = new version).
bool apply_definitions(flowd::eventstore::EventStore& store, const std::vector<std::string>& dirs) {
  bool ok = true;
  for (const auto& dir : dirs) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      auto ext = entry.path().extension().string();
      if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
      auto loaded = flowd::load_definition_file(entry.path().string());
      if (!loaded.definition) {
        for (const auto& d : loaded.diagnostics) log_line("error", d.format(), {});
        ok = false;
        continue;
      }
      auto applied = store.apply_definition(loaded.definition->document);
      if (!applied) {
        log_line("error", "apply " + entry.path().string() + ": " + applied.error().message, {});
        ok = false;
        continue;
      }
      log_line("info",
               "workflow " + applied->name + "@" + std::to_string(applied->version) +
                   (applied->created ? " applied" : " unchanged"),
               {{"file", entry.path().string()}});
    }
    if (ec) {
      log_line("error", "cannot read workflows folder " + dir + ": " + ec.message(), {});
      ok = false;
    }
  }
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flowd — the durable workflow service"};
  std::string database = std::getenv("FLOWD_DATABASE_URL") ? std::getenv("FLOWD_DATABASE_URL") : "";
  std::string instance = std::getenv("FLOWD_INSTANCE_ID") ? std::getenv("FLOWD_INSTANCE_ID") : "";
  std::vector<std::string> workflow_dirs;
  int lease_seconds = 15;
  int grace_seconds = 10;
  std::size_t max_in_flight = 1000;
  app.add_option("--database", database, "PostgreSQL URL (FLOWD_DATABASE_URL)");
  app.add_option("--instance-id", instance, "this instance's lease owner id (FLOWD_INSTANCE_ID)");
  app.add_option("--workflows", workflow_dirs, "folders whose definitions are applied at start");
  app.add_option("--lease-seconds", lease_seconds, "execution lease duration")
      ->check(CLI::Range(1, 3600));
  app.add_option("--shutdown-grace", grace_seconds, "seconds to let executions finish on stop")
      ->check(CLI::Range(0, 3600));
  app.add_option("--max-in-flight", max_in_flight, "executions run at once")
      ->check(CLI::Range(1, 1000000));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (database.empty()) {
    log_line("error", "no database: set --database or FLOWD_DATABASE_URL", {});
    return 2;
  }
  if (instance.empty()) instance = default_instance_id();

  // Block the stop signals in every thread; the main thread waits for them below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  flowd::eventstore::StoreOptions store_options;
  store_options.url = database;
  store_options.owner = instance;
  store_options.lease_ttl = std::chrono::seconds(lease_seconds);
  auto store = flowd::eventstore::EventStore::open(store_options);
  if (!store) {
    log_line("error", "event store: " + store.error().message, {});
    return 1;
  }
  auto commands = flowd::eventstore::CommandQueue::open(database);
  if (!commands) {
    log_line("error", "command queue: " + commands.error().message, {});
    return 1;
  }
  if (!apply_definitions(**store, workflow_dirs)) return 1;

  flowd::service::DurableRunnerOptions options;
  options.owner = instance;
  options.lease_ttl = std::chrono::seconds(lease_seconds);
  options.max_in_flight = max_in_flight;
  options.log = log_line;
  flowd::service::DurableRunner runner(**store, **commands, options);
  runner.start();
  log_line("info", "flowd running", {{"instance", instance}});

  int signal = 0;
  sigwait(&signals, &signal);
  log_line("info", std::string("stopping on ") + (signal == SIGTERM ? "SIGTERM" : "SIGINT"),
           {{"inFlight", runner.in_flight()}});
  bool drained = runner.stop(std::chrono::seconds(grace_seconds));
  (*store)->close();
  log_line("info", drained ? "stopped" : "stopped; unfinished executions resume on next start",
           {{"completed", runner.completed()}});
  return 0;
}
