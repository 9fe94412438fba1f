// eventstore_bench: what the PostgreSQL event store costs, against PostgreSQL itself.
//
//  1. append: executions shaped like real 3-step runs (11 events in 7 write-ahead appends, each
//     append waiting for the previous one to be durable), many in flight, through the store's
//     group-commit appender with synchronous_commit on.
//     Every event is made before the clock starts, so the figure is the store's, not the
//     generator's;
//  2. raw COPY of the very same rows (read back from `events`) into an identical table in the same
//     run: once as one COPY in one transaction on one connection (the ceiling of one writer), once
//     with the store's transaction boundaries (same number of commits), and once with those
//     boundaries on two connections at once (as many writers as the store's default lanes);
//  3. replay: fold a 1,000,000-event log into ExecutionState, read through the store, from the
//     global log (many executions; read_all with ReadDetail::kFold, and kFull for reference) and
//     from one long stream (one execution, a huge forEach).
//
// Needs FLOWD_BENCH_DATABASE_URL (scripts/bench starts a private server with scripts/pg); creates
// and drops its own database there. Options: --events N (append phase, default 200000),
// --inflight N (concurrent executions, default 1000 as a runner's), --replay-events N (default
// 1000000),
// --batch-wait-us N (the appender's linger), --lanes N (appender lanes), --rounds N (measured
// rounds of append + raw COPY, default 3: the figures are their medians), --skip-replay. Ends with
// `FIGURE <name> <value> <unit>` lines.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "flowd/engine/execution_state.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/eventstore/migrations.h"

#include <pqxx/internal/ignore-deprecated-post.hxx>
#include <pqxx/internal/ignore-deprecated-pre.hxx>
#include <pqxx/tablewriter>

namespace {

using flowd::AppendRequest;
using flowd::Event;
using flowd::EventType;
using flowd::Json;
using namespace flowd::eventstore;
using Seconds = std::chrono::duration<double>;

struct Options {
  std::int64_t events = 200'000;
  int inflight = 1000;  // as DurableRunnerOptions::max_in_flight, the runner's default
  std::int64_t replay_events = 1'000'000;
  bool replay = true;
  std::int64_t batch_wait_us = -1;  // StoreOptions::max_batch_wait; default when negative
  std::int64_t lanes = -1;          // StoreOptions::appender_lanes; default when negative
  int rounds = 3;                   // measured rounds; figures are their medians
};

std::vector<std::pair<std::string, std::string>> figures;  // name, "value unit"

void figure(const std::string& name, double value, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  figures.emplace_back(name, std::string(buf) + " " + unit);
  std::printf("  %-44s %s %s\n", name.c_str(), buf, unit.c_str());
  std::fflush(stdout);
}

std::string with_database(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url + " dbname=" + db;
  const auto path = url.find('/', scheme + 3);
  if (path == std::string::npos) return url + "/" + db;
  const auto query = url.find('?', path);
  return url.substr(0, path + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

// --- event shapes ------------------------------------------------------------------------------

Json order_input(int n) {
  Json items = Json::array();
  for (int i = 0; i < 3; ++i) {
    items.push_back({{"sku", "SKU-" + std::to_string(1000 + (n + i) % 97)}, {"qty", 1 + i}});
  }
  return Json{{"orderId", "ord-" + std::to_string(n)},
              {"customer", "c-" + std::to_string(n % 1000)},
              {"items", items}};
}

// The appends of one 3-step execution, as the engine writes them ahead of acting.
std::vector<std::vector<Event>> execution_appends(const std::string& id, int n) {
  const auto now = flowd::Clock::now();
  auto ev = [&](EventType type, const std::string& step, int attempt, Json data) {
    Event e = Event::make(type, step, attempt, std::move(data));
    e.time = now;
    return e;
  };
  const char* steps[] = {"fetch", "charge", "notify"};
  std::vector<std::vector<Event>> appends;
  appends.push_back(
      {ev(EventType::kExecutionStarted, "", 0,
          {{"workflow", "order-processing"},
           {"version", 3},
           {"input", order_input(n)},
           {"context", {{"trigger", "kafka"}, {"traceId", "4bf92f3577b34da6a3ce929d0e0e4736"}}},
           {"dedupeKey", "orders.created/0/" + std::to_string(n)}}),
       ev(EventType::kStepScheduled, steps[0], 0, Json::object())});
  for (int s = 0; s < 3; ++s) {
    appends.push_back({ev(EventType::kStepStarted, steps[s], 1,
                          {{"idempotencyKey", id + "/" + steps[s] + "/1"}})});
    std::vector<Event> done = {ev(
        EventType::kStepCompleted, steps[s], 1,
        {{"output", {{"status", 200}, {"body", {{"ok", true}, {"ref", "r-" + std::to_string(n)}}}}},
         {"durationMs", 7}})};
    if (s < 2) {
      done.push_back(ev(EventType::kStepScheduled, steps[s + 1], 0, Json::object()));
    } else {
      done.push_back(
          ev(EventType::kExecutionCompleted, "", 0,
             {{"output", {{"orderId", "ord-" + std::to_string(n)}}}, {"durationMs", 42}}));
    }
    appends.push_back(std::move(done));
  }
  return appends;
}

// --- phase 1: appends through the store --------------------------------------------------------

struct AppendRun {
  std::int64_t events = 0;
  std::int64_t executions = 0;
  double seconds = 0;
  AppenderStats stats;
  std::string error;
};

// The engine's side is one "engine" thread: it builds each execution's events and submits the
// next append when the previous one is durable. Store callbacks (on the appender thread) only hand
// the chain back to it, as the real engine posts to its executor.
AppendRun run_appends(EventStore& store, const Options& options) {
  struct Chain {
    std::string id;
    std::vector<std::vector<Event>> appends;
    std::size_t next = 0;
    std::int64_t version = 0;
  };
  std::mutex mutex;
  std::condition_variable ready;
  std::deque<std::shared_ptr<Chain>> runnable;  // GUARDED_BY(mutex); nullptr: start a new one
  std::string error;                            // GUARDED_BY(mutex)
  std::int64_t executions = 0;                  // engine thread only
  std::int64_t started = 0;                     // engine thread only
  std::int64_t in_flight = 0;                   // engine thread only
  const std::int64_t limit = options.events / 11;

  auto post = [&](std::shared_ptr<Chain> chain) {
    std::lock_guard lock(mutex);
    runnable.push_back(std::move(chain));
    ready.notify_one();
  };
  auto submit = [&](const std::shared_ptr<Chain>& chain) {
    auto events = std::move(chain->appends[chain->next++]);
    store.append(AppendRequest{chain->id, chain->version, std::move(events)}, Json::object(),
                 [&, chain](StoreResult<std::int64_t> r) {
                   if (!r) {
                     std::lock_guard lock(mutex);
                     if (error.empty()) error = r.error().message;
                     chain->next = chain->appends.size();
                   } else {
                     chain->version = *r;
                   }
                   post(chain);
                 });
  };
  // Every execution's events are made before the clock starts: the figure is the store's, not
  // the event generator's (an engine makes them as part of deciding, whatever it writes to).
  std::vector<std::shared_ptr<Chain>> chains;
  chains.reserve(static_cast<std::size_t>(limit));
  for (std::int64_t i = 0; i < limit; ++i) {
    auto chain = std::make_shared<Chain>();
    chain->id = "bench-" + std::to_string(i);
    chain->appends = execution_appends(chain->id, static_cast<int>(i));
    chains.push_back(std::move(chain));
  }
  auto start_new = [&] {
    auto chain = std::move(chains[static_cast<std::size_t>(started)]);
    ++started;
    ++in_flight;
    submit(chain);
  };

  const auto t0 = std::chrono::steady_clock::now();
  while (started < limit && in_flight < options.inflight) start_new();
  while (in_flight > 0) {
    std::shared_ptr<Chain> chain;
    {
      std::unique_lock lock(mutex);
      ready.wait(lock, [&] { return !runnable.empty(); });
      chain = std::move(runnable.front());
      runnable.pop_front();
    }
    if (chain->next < chain->appends.size()) {
      submit(chain);
      continue;
    }
    --in_flight;
    ++executions;
    if (started < limit) start_new();
  }
  AppendRun run;
  run.seconds = Seconds(std::chrono::steady_clock::now() - t0).count();
  run.executions = executions;
  run.events = executions * 11;
  run.stats = store.appender_stats();
  run.error = error;
  return run;
}

// --- phase 2: raw COPY of the same rows ----------------------------------------------------------

constexpr const char* kRowsQuery =
    "SELECT tx_id::text, stream_id, stream_version, type, step, attempt, occurred_at, data, "
    "metadata FROM events ORDER BY tx_id, global_position";

void copy_escape(std::string& out, const char* text, std::size_t size) {
  for (std::size_t i = 0; i < size; ++i) {
    switch (text[i]) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += text[i];
    }
  }
}

struct RawRows {
  std::vector<std::string> batches;  // COPY text per store transaction
  std::int64_t rows = 0;
};

RawRows read_rows(pqxx::connection& conn) {
  RawRows out;
  pqxx::read_transaction tx(conn);
  std::string current_tx;
  for (const auto& row : tx.exec(kRowsQuery)) {
    if (out.batches.empty() || row[0].c_str() != current_tx) {
      current_tx = row[0].c_str();
      out.batches.emplace_back();
    }
    std::string& text = out.batches.back();
    if (!text.empty()) text += '\n';
    for (int c = 1; c <= 8; ++c) {
      if (c > 1) text += '\t';
      if (row[c].is_null()) {
        text += "\\N";
      } else {
        copy_escape(text, row[c].c_str(), row[c].size());
      }
    }
    ++out.rows;
  }
  return out;
}

const std::vector<std::string> kColumns = {"stream_id", "stream_version", "type", "step",
                                           "attempt",   "occurred_at",    "data", "metadata"};

void copy_into(pqxx::work& tx, const std::string& text) {
#include <pqxx/internal/ignore-deprecated-pre.hxx>
  pqxx::tablewriter writer(tx, "raw_events", kColumns.begin(), kColumns.end());
  writer.write_raw_line(text);
  writer.complete();
#include <pqxx/internal/ignore-deprecated-post.hxx>
}

void reset_raw_table(pqxx::connection& conn) {
  pqxx::work tx(conn);
  tx.exec("DROP TABLE IF EXISTS raw_events");
  tx.exec("CREATE TABLE raw_events (LIKE events INCLUDING ALL)");
  tx.commit();
}

double raw_copy_single(pqxx::connection& conn, const RawRows& rows) {
  reset_raw_table(conn);
  std::string all;
  for (const auto& b : rows.batches) {
    if (!all.empty()) all += '\n';
    all += b;
  }
  const auto t0 = std::chrono::steady_clock::now();
  pqxx::work tx(conn);
  copy_into(tx, all);
  tx.commit();
  return Seconds(std::chrono::steady_clock::now() - t0).count();
}

double raw_copy_batched(pqxx::connection& conn, const RawRows& rows) {
  reset_raw_table(conn);
  const auto t0 = std::chrono::steady_clock::now();
  for (const auto& b : rows.batches) {
    pqxx::work tx(conn);
    copy_into(tx, b);
    tx.commit();
  }
  return Seconds(std::chrono::steady_clock::now() - t0).count();
}

// The same commits split over two connections, as the store's two appender lanes write them.
double raw_copy_two_connections(pqxx::connection& conn, const std::string& url,
                                const RawRows& rows) {
  reset_raw_table(conn);
  pqxx::connection a(url), b(url);
  const auto t0 = std::chrono::steady_clock::now();
  auto writer = [&](pqxx::connection& c, std::size_t first) {
    for (std::size_t i = first; i < rows.batches.size(); i += 2) {
      pqxx::work tx(c);
      copy_into(tx, rows.batches[i]);
      tx.commit();
    }
  };
  std::thread second([&] { writer(b, 1); });
  writer(a, 0);
  second.join();
  return Seconds(std::chrono::steady_clock::now() - t0).count();
}

// --- phase 3: replay
// -------------------------------------------------------------------------------

// Writes `total` events straight into `events` (COPY): executions of 11 events for the global
// log, and one execution of a forEach over total/3 items.
void generate_log(pqxx::connection& conn, std::int64_t total, bool one_stream) {
  std::string text;
  std::int64_t written = 0;
  int n = 0;
  auto flush = [&](bool last) {
    if (text.empty() || (!last && text.size() < (8u << 20))) return;
    pqxx::work tx(conn);
#include <pqxx/internal/ignore-deprecated-pre.hxx>
    pqxx::tablewriter writer(tx, "events", kColumns.begin(), kColumns.end());
    text.pop_back();
    writer.write_raw_line(text);
    writer.complete();
#include <pqxx/internal/ignore-deprecated-post.hxx>
    tx.commit();
    text.clear();
  };
  auto row = [&](const std::string& stream, std::int64_t version, const Event& e) {
    text += stream;
    text += '\t' + std::to_string(version) + '\t';
    text += std::string(flowd::to_string(e.type)) + '\t';
    text += e.step.empty() ? std::string("\\N") : e.step;
    text += '\t';
    text += e.attempt > 0 ? std::to_string(e.attempt) : std::string("\\N");
    text += "\t2026-11-21 10:00:00.000000+00\t";
    const std::string data = e.data.dump();
    copy_escape(text, data.c_str(), data.size());
    text += "\t{\"actor\": \"bench\"}\n";
    ++written;
    flush(false);
  };
  if (!one_stream) {
    while (written < total) {
      const std::string id = "replay-" + std::to_string(n);
      std::int64_t version = 0;
      for (auto& append : execution_appends(id, n)) {
        for (auto& e : append) {
          if (written < total) row("execution-" + id, ++version, e);
        }
      }
      ++n;
    }
  } else {
    const std::string stream = "execution-long";
    std::int64_t version = 0;
    auto appends = execution_appends("long", 0);
    row(stream, ++version, appends[0][0]);
    for (std::int64_t i = 0; written < total; ++i) {
      const std::string step = "items[" + std::to_string(i) + "]";
      Event scheduled = Event::make(EventType::kStepScheduled, step, 0);
      Event started = Event::make(EventType::kStepStarted, step, 1,
                                  {{"idempotencyKey", "long/" + step + "/1"}});
      Event completed =
          Event::make(EventType::kStepCompleted, step, 1,
                      {{"output", {{"sku", "SKU-" + std::to_string(i)}, {"reserved", true}}},
                       {"durationMs", 1}});
      for (const Event* e : {&scheduled, &started, &completed}) {
        if (written < total) row(stream, ++version, *e);
      }
    }
  }
  flush(true);
}

// Empties the log (retention's switch lets the append-only trigger allow it), and the projection.
void delete_events(pqxx::connection& conn, bool executions = false) {
  pqxx::work tx(conn);
  tx.exec("SET LOCAL flowd.allow_delete = 'on'");
  tx.exec("DELETE FROM events");
  if (executions) tx.exec("DELETE FROM executions");
  tx.commit();
}

// One measured round: empty tables, the appends through the store, then raw COPY of the very
// rows the store wrote, three ways.
struct Round {
  double store_rate = 0, executions_rate = 0, requests_rate = 0, batch_events = 0;
  double commits_rate = 0;
  double ms_begin = 0, ms_check = 0, ms_build = 0, ms_projection = 0, ms_copy = 0;
  double ms_commit = 0, ms_callbacks = 0;  // appender time per batch, by phase
  double single_rate = 0, batched_rate = 0, two_rate = 0;
};

Round measure_round(EventStore& store, pqxx::connection& conn, const std::string& url,
                    const Options& options) {
  delete_events(conn, /*executions=*/true);
  // Not `executions`: VACUUM or ANALYZE of the emptied table records it as empty, and the
  // appender's plans then scan the whole table per batch until autovacuum analyzes it again
  // (18 ms per batch; see the note in eventstore/README.md).
  pqxx::nontransaction(conn).exec("VACUUM ANALYZE events");
  pqxx::nontransaction(conn).exec("CHECKPOINT");
  const auto before = store.appender_stats();
  AppendRun run = run_appends(store, options);
  if (!run.error.empty()) throw std::runtime_error("append failed: " + run.error);
  Round m;
  const double batches = static_cast<double>(run.stats.batches - before.batches);
  m.store_rate = static_cast<double>(run.events) / run.seconds;
  m.executions_rate = static_cast<double>(run.executions) / run.seconds;
  m.requests_rate = static_cast<double>(run.stats.requests - before.requests) / run.seconds;
  m.batch_events = static_cast<double>(run.events) / batches;
  m.commits_rate = batches / run.seconds;
  const auto& a = run.stats;
  auto ms = [&](std::uint64_t now, std::uint64_t then) {
    return batches > 0 ? static_cast<double>(now - then) / batches / 1000 : 0;
  };
  m.ms_begin = ms(a.begin_us, before.begin_us);
  m.ms_check = ms(a.check_us, before.check_us);
  m.ms_build = ms(a.build_us, before.build_us);
  m.ms_projection = ms(a.projection_us, before.projection_us);
  m.ms_copy = ms(a.copy_us, before.copy_us);
  m.ms_commit = ms(a.commit_us, before.commit_us);
  m.ms_callbacks = ms(a.callback_us, before.callback_us);

  pqxx::nontransaction(conn).exec("CHECKPOINT");
  RawRows rows = read_rows(conn);
  if (rows.rows != run.events) {
    throw std::runtime_error("read back " + std::to_string(rows.rows) + " rows, expected " +
                             std::to_string(run.events));
  }
  const double n = static_cast<double>(rows.rows);
  m.single_rate = n / raw_copy_single(conn, rows);
  pqxx::nontransaction(conn).exec("CHECKPOINT");
  m.batched_rate = n / raw_copy_batched(conn, rows);
  pqxx::nontransaction(conn).exec("CHECKPOINT");
  m.two_rate = n / raw_copy_two_connections(conn, url, rows);
  return m;
}

double fold_global(EventStore& store, ReadDetail detail, std::int64_t& folded,
                   std::int64_t& states) {
  std::unordered_map<std::string, flowd::ExecutionState> live;
  Position position;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    auto page = store.read_all(position, 10'000, detail);
    if (!page) throw std::runtime_error(page.error().message);
    if (page->empty()) break;
    for (const auto& r : *page) {
      auto [it, inserted] = live.try_emplace(r.execution_id);
      if (inserted) it->second.id = r.execution_id;
      it->second.apply(r.event);
      ++folded;
      if (it->second.terminal()) {
        ++states;
        live.erase(it);
      }
    }
    position = page->back().position;
  }
  states += static_cast<std::int64_t>(live.size());
  return Seconds(std::chrono::steady_clock::now() - t0).count();
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
    if (arg == "--events") {
      options.events = next();
    } else if (arg == "--inflight") {
      options.inflight = static_cast<int>(next());
    } else if (arg == "--replay-events") {
      options.replay_events = next();
    } else if (arg == "--batch-wait-us") {
      options.batch_wait_us = next();
    } else if (arg == "--rounds") {
      options.rounds = std::max(1, static_cast<int>(next()));
    } else if (arg == "--lanes") {
      options.lanes = next();
    } else if (arg == "--skip-replay") {
      options.replay = false;
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  const char* server = std::getenv("FLOWD_BENCH_DATABASE_URL");
  if (server == nullptr || *server == '\0') {
    std::fprintf(stderr, "eventstore_bench: set FLOWD_BENCH_DATABASE_URL (scripts/bench does)\n");
    return 2;
  }
  const std::string db_name = "flowd_bench_" + std::to_string(::getpid());
  const std::string url = with_database(server, db_name);
  auto admin_exec = [&](const std::string& sql) {
    pqxx::connection admin(server);
    pqxx::nontransaction tx(admin);
    tx.exec(sql);
  };
  admin_exec("DROP DATABASE IF EXISTS " + db_name);
  admin_exec("CREATE DATABASE " + db_name);
  int status = 0;
  try {
    pqxx::connection conn(url);
    const std::string sync =
        pqxx::nontransaction(conn).exec("SHOW synchronous_commit")[0][0].as<std::string>();
    const std::string fsync = pqxx::nontransaction(conn).exec("SHOW fsync")[0][0].as<std::string>();
    std::printf(
        "eventstore_bench: %lld events, %d executions in flight, synchronous_commit=%s "
        "fsync=%s\n",
        static_cast<long long>(options.events), options.inflight, sync.c_str(), fsync.c_str());
    std::fflush(stdout);

    StoreOptions store_options;
    store_options.url = url;
    if (options.lanes > 0) store_options.appender_lanes = static_cast<std::size_t>(options.lanes);
    if (options.batch_wait_us >= 0) {
      store_options.max_batch_wait = std::chrono::microseconds(options.batch_wait_us);
    }
    auto opened = EventStore::open(store_options);
    if (!opened) throw std::runtime_error(opened.error().message);
    auto& store = **opened;

    // Warm-up (connections, plans, caches); each round then starts from empty tables.
    {
      Options warm = options;
      warm.events = std::min<std::int64_t>(options.events / 10, 20'000);
      run_appends(store, warm);
    }
    std::vector<Round> rounds;
    for (int r = 0; r < options.rounds; ++r) {
      rounds.push_back(measure_round(store, conn, url, options));
      const Round& m = rounds.back();
      std::printf(
          "round %d: store %.0f events/s (%.0f events per commit; appender ms per batch: begin "
          "%.2f, check %.2f, build %.2f, projection %.2f, copy %.2f, commit %.2f, callbacks "
          "%.2f); raw COPY one tx %.0f, same commits %.0f, two connections %.0f events/s\n",
          r + 1, m.store_rate, m.batch_events, m.ms_begin, m.ms_check, m.ms_build, m.ms_projection,
          m.ms_copy, m.ms_commit, m.ms_callbacks, m.single_rate, m.batched_rate, m.two_rate);
      std::fflush(stdout);
    }
    auto median = [&](auto field) {
      std::vector<double> v;
      for (const Round& m : rounds) v.push_back(field(m));
      std::sort(v.begin(), v.end());
      return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
    };
    struct Reported {
      const char* name;
      double Round::*field;
      const char* unit;
    };
    const Reported store_figures[] = {
        {"eventstore_append_events_per_s", &Round::store_rate, "events/s"},
        {"eventstore_append_executions_per_s", &Round::executions_rate, "executions/s"},
        {"eventstore_append_requests_per_s", &Round::requests_rate, "appends/s"},
        {"eventstore_batch_events_avg", &Round::batch_events, "events"},
        {"eventstore_commits_per_s", &Round::commits_rate, "commits/s"}};
    const Reported raw_figures[] = {
        {"raw_copy_one_tx_events_per_s", &Round::single_rate, "events/s"},
        {"raw_copy_same_commits_events_per_s", &Round::batched_rate, "events/s"},
        {"raw_copy_two_connections_events_per_s", &Round::two_rate, "events/s"}};
    std::printf("append through the store (group commit), median of %zu rounds:\n", rounds.size());
    for (const auto& f : store_figures)
      figure(f.name, median([&](const Round& m) { return m.*f.field; }), f.unit);
    std::printf("raw COPY of the same rows into an identical table, median of %zu rounds:\n",
                rounds.size());
    for (const auto& f : raw_figures)
      figure(f.name, median([&](const Round& m) { return m.*f.field; }), f.unit);
    std::printf(
        "  ratios (median of the rounds' ratios): store rate / raw COPY rate. 'one tx' is one "
        "COPY of every row in one transaction on one connection (the ceiling of a single "
        "writer); 'same commits' is one COPY per store transaction (the same number of "
        "synchronous commits) on one connection; 'two connections' writes those on two "
        "connections at once, as the store's %zu appender lanes do.\n",
        store_options.appender_lanes);
    figure("eventstore_vs_raw_copy_ratio",
           median([](const Round& m) { return m.store_rate / m.single_rate; }), "ratio");
    figure("eventstore_vs_raw_copy_same_commits_ratio",
           median([](const Round& m) { return m.store_rate / m.batched_rate; }), "ratio");
    figure("eventstore_vs_raw_copy_two_connections_ratio",
           median([](const Round& m) { return m.store_rate / m.two_rate; }), "ratio");

    if (options.replay) {
      std::printf("replay (%lld-event logs, read through the store and folded):\n",
                  static_cast<long long>(options.replay_events));
      delete_events(conn);
      generate_log(conn, options.replay_events, false);
      pqxx::nontransaction(conn).exec("VACUUM ANALYZE events");
      std::int64_t folded = 0, states = 0;
      fold_global(store, ReadDetail::kFold, folded, states);  // warm the cache once
      folded = states = 0;
      const double full_s = fold_global(store, ReadDetail::kFull, folded, states);
      const double full_rate = static_cast<double>(folded) / full_s;
      folded = states = 0;
      const double global_s = fold_global(store, ReadDetail::kFold, folded, states);
      figure("replay_global_log_full_events_per_s", full_rate, "events/s");
      figure("replay_global_log_events_per_s", static_cast<double>(folded) / global_s, "events/s");

      delete_events(conn);
      generate_log(conn, options.replay_events, true);
      pqxx::nontransaction(conn).exec("VACUUM ANALYZE events");
      (void)store.load_state("long");  // warm
      const auto t0 = std::chrono::steady_clock::now();
      auto state = store.load_state("long");
      const double stream_s = Seconds(std::chrono::steady_clock::now() - t0).count();
      if (!state) throw std::runtime_error(state.error().message);
      figure("replay_one_stream_events_per_s", static_cast<double>(state->version) / stream_s,
             "events/s");

      // The fold alone, in memory, for reference.
      auto events = store.read_stream("long", 1, 200'000);
      if (!events) throw std::runtime_error(events.error().message);
      std::vector<Event> plain;
      for (auto& r : *events) plain.push_back(std::move(r.event));
      const auto f0 = std::chrono::steady_clock::now();
      const auto folded_state = flowd::fold("long", plain);
      const double fold_s = Seconds(std::chrono::steady_clock::now() - f0).count();
      figure("fold_in_memory_events_per_s", static_cast<double>(folded_state.version) / fold_s,
             "events/s");
    }
    store.close();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "eventstore_bench: %s\n", e.what());
    status = 1;
  }
  try {
    admin_exec("DROP DATABASE IF EXISTS " + db_name + " WITH (FORCE)");
  } catch (const std::exception&) {
  }
  for (const auto& [name, value] : figures)
    std::printf("FIGURE %s %s\n", name.c_str(), value.c_str());
  return status;
}
