// durable_bench: durable executions end to end on PostgreSQL — what one flowd instance sustains.
//
// N executions of a 3-step workflow (transform, transform, noop) are started through the event
// store (start_execution, group-committed, as flowctl and the API do: unowned, for any instance to
// claim) and run by a DurableRunner — claim_resumable, load the state, Engine::resume — with every
// event of every execution committed (synchronous_commit as the server has it, `on` by default)
// before it is acted on. The clock runs from the first start to the last ExecutionCompleted.
//
// Needs FLOWD_BENCH_DATABASE_URL (scripts/bench starts a private server with scripts/pg); creates
// and drops its own database there. Options: --executions N (default 20000), --max-in-flight N
// (the runner's, default 1000), --owned (start through the runner's own store: leased to the
// instance at once, found by its lease renewal instead of claiming). Ends with `FIGURE <name>
// <value> <unit>` lines.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "bench_support.h"
#include "durable_runner.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

namespace {

using namespace flowd;
using flowd::bench::figure;
using flowd::bench::with_database;
using Seconds = std::chrono::duration<double>;

constexpr const char* kThreeSteps = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: bench-three, version: 1}
spec:
  steps:
    - {id: a, type: transform, with: {n: "{{ input.n }}"}}
    - {id: b, type: transform, dependsOn: [a], with: {m: "{{ steps.a.output.n }}"}}
    - {id: c, type: noop, dependsOn: [b]}
  output: {m: "{{ steps.b.output.m }}"}
)";

struct Options {
  std::int64_t executions = 20'000;
  std::size_t max_in_flight = 1000;
  bool owned = false;
};

std::unique_ptr<eventstore::EventStore> open_store(const std::string& url,
                                                   const std::string& owner) {
  eventstore::StoreOptions options;
  options.url = url;
  options.owner = owner;
  auto store = eventstore::EventStore::open(options);
  if (!store) throw std::runtime_error("open store: " + store.error().message);
  return std::move(*store);
}

std::int64_t count(pqxx::connection& conn, const std::string& sql) {
  return pqxx::nontransaction(conn).exec(sql)[0][0].as<std::int64_t>();
}

void run(const std::string& url, const Options& options) {
  pqxx::connection conn(url);
  const std::string sync =
      pqxx::nontransaction(conn).exec("SHOW synchronous_commit")[0][0].as<std::string>();
  std::printf(
      "durable_bench: %lld executions of 3 steps, runner max in flight %zu, %s, "
      "synchronous_commit=%s\n",
      static_cast<long long>(options.executions), options.max_in_flight,
      options.owned ? "started leased to the runner's instance" : "started unowned and claimed",
      sync.c_str());

  const std::string owner = "bench-node";
  auto store = open_store(url, owner);
  auto starter = options.owned ? nullptr : open_store(url, "");
  eventstore::EventStore& start_through = options.owned ? *store : *starter;
  auto commands = eventstore::CommandQueue::open(url);
  if (!commands) throw std::runtime_error("command queue: " + commands.error().message);

  auto loaded = load_definition(kThreeSteps, "bench-three.yaml");
  if (!loaded.definition) throw std::runtime_error("the bench workflow does not load");
  const auto definition = loaded.definition;
  if (auto applied = store->apply_definition(definition->document); !applied) {
    throw std::runtime_error("apply_definition: " + applied.error().message);
  }

  service::DurableRunnerOptions runner_options;
  runner_options.owner = owner;
  runner_options.max_in_flight = options.max_in_flight;
  runner_options.poll_interval = std::chrono::milliseconds(20);
  service::DurableRunner runner(*store, **commands, runner_options);
  runner.start();

  std::atomic<std::int64_t> start_failures{0};
  std::atomic<std::int64_t> starts_done{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < options.executions; ++i) {
    StartOptions start;
    start.execution_id = new_uuid();
    start.input = Json{{"n", i}};
    start.dedupe_key = "bench/" + std::to_string(i);
    Event started = started_event(*definition, start);
    started.time = Clock::now();
    start_through.start_execution(AppendRequest{start.execution_id, 0, {std::move(started)}},
                                  Json::object(),
                                  [&](eventstore::StoreResult<eventstore::StartOutcome> r) {
                                    if (!r) start_failures.fetch_add(1);
                                    starts_done.fetch_add(1);
                                  });
  }
  while (starts_done.load() < options.executions) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const double started_s = Seconds(std::chrono::steady_clock::now() - t0).count();
  if (start_failures.load() > 0) {
    throw std::runtime_error(std::to_string(start_failures.load()) + " starts failed");
  }
  // Done when every execution is terminal (the runner counts what it finished).
  auto last_progress = std::chrono::steady_clock::now();
  std::uint64_t last_completed = 0;
  while (runner.completed() < static_cast<std::uint64_t>(options.executions)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const auto completed = runner.completed();
    if (completed != last_completed) {
      last_completed = completed;
      last_progress = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - last_progress > std::chrono::seconds(60)) {
      throw std::runtime_error("no progress for 60 s at " + std::to_string(completed) + " of " +
                               std::to_string(options.executions) + " executions");
    }
  }
  const double total_s = Seconds(std::chrono::steady_clock::now() - t0).count();
  runner.stop(std::chrono::seconds(5));
  const auto stats = store->appender_stats();
  store->close();
  if (starter) starter->close();

  const std::int64_t completed =
      count(conn, "SELECT count(*) FROM executions WHERE status = 'completed'");
  const std::int64_t events = count(conn, "SELECT count(*) FROM events");
  if (completed != options.executions) {
    throw std::runtime_error(std::to_string(completed) + " of " +
                             std::to_string(options.executions) + " executions completed");
  }
  std::printf("  all %lld starts committed after %.2f s; %lld events (%.1f per execution)\n",
              static_cast<long long>(options.executions), started_s, static_cast<long long>(events),
              static_cast<double>(events) / static_cast<double>(options.executions));
  std::printf(
      "  runner's appender: %llu commits, %.1f events per commit, %.0f%% decided from its "
      "version cache\n",
      static_cast<unsigned long long>(stats.batches),
      static_cast<double>(stats.events) /
          static_cast<double>(std::max<std::uint64_t>(stats.batches, 1)),
      100.0 * static_cast<double>(stats.cached_batches) /
          static_cast<double>(std::max<std::uint64_t>(stats.batches, 1)));
  figure("durable_events_per_sec", static_cast<double>(events) / total_s, "events/s");
  figure("durable_three_step_executions_per_sec", static_cast<double>(options.executions) / total_s,
         "exec/s");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::int64_t {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::atoll(argv[++i]);
    };
    if (arg == "--executions") {
      options.executions = next();
    } else if (arg == "--max-in-flight") {
      options.max_in_flight = static_cast<std::size_t>(next());
    } else if (arg == "--owned") {
      options.owned = true;
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (server == nullptr || *server == '\0') {
    std::fprintf(stderr, "durable_bench: set FLOWD_BENCH_DATABASE_URL (scripts/bench does)\n");
    return 2;
  }
  const std::string db_name = "flowd_durable_bench_" + std::to_string(::getpid());
  auto admin_exec = [&](const std::string& sql) {
    pqxx::connection admin(server);
    pqxx::nontransaction tx(admin);
    tx.exec(sql);
  };
  int status = 0;
  try {
    admin_exec("DROP DATABASE IF EXISTS " + db_name);
    admin_exec("CREATE DATABASE " + db_name);
    run(with_database(server, db_name), options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "durable_bench: %s\n", e.what());
    status = 1;
  }
  try {
    admin_exec("DROP DATABASE IF EXISTS " + db_name + " WITH (FORCE)");
  } catch (const std::exception&) {
  }
  flowd::bench::print_figures();
  return status;
}
