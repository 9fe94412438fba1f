// The global reader must never skip an event that commits late with a lower position
// (notes/eventstore.md: the sequence-gap trap).
#include <atomic>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

// Reads forward from `position` until `want` events with these execution ids arrived, or the
// deadline passes (xmin is cluster-wide: another test's open transaction may delay visibility, it
// never changes what becomes visible). Every event read is appended to `seen`.
void read_until(EventStore& store, Position& position, std::vector<RecordedEvent>& seen,
                const std::function<bool()>& done,
                std::chrono::seconds deadline = std::chrono::seconds(30)) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (!done() && std::chrono::steady_clock::now() < until) {
    auto batch = store.read_all(position, 100);
    REQUIRE(batch);
    for (auto& e : *batch) {
      CHECK(position < e.position);
      position = e.position;
      seen.push_back(std::move(e));
    }
    if (batch->empty()) std::this_thread::yield();
  }
}

std::vector<std::string> ids(const std::vector<RecordedEvent>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e.execution_id);
  return out;
}

constexpr const char* kRawInsert =
    "INSERT INTO events (stream_id, stream_version, type, occurred_at, data) "
    "VALUES ($1, 1, 'ExecutionStarted', now(), '{\"workflow\":\"raw\"}') "
    "RETURNING global_position";

TEST_CASE("The global reader stops before a transaction still open and sees it once committed",
          "[eventstore][reader][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("before", 0, {started("w")})));

  pqxx::connection holder(fx.db.url());
  auto held = std::make_unique<pqxx::work>(holder);
  // Takes a position now, commits later.
  const auto held_position =
      held->exec_params(kRawInsert, "execution-held")[0][0].as<std::int64_t>();

  REQUIRE(fx.store->append_sync(request("after-1", 0, {started("w")})));
  REQUIRE(fx.store->append_sync(request("after-2", 0, {started("w")})));
  // The later appends committed first, with higher positions: a reader going by position alone
  // would pass the held row and never see it.
  CHECK(
      fx.count("SELECT min(global_position) FROM events WHERE stream_id LIKE 'execution-after%'") >
      held_position);

  Position position;
  std::vector<RecordedEvent> seen;
  read_until(*fx.store, position, seen, [&] { return !seen.empty(); });
  REQUIRE(ids(seen) == std::vector<std::string>{"before"});
  // However often it reads, nothing after the open transaction shows up.
  for (int i = 0; i < 20; ++i) {
    auto more = fx.store->read_all(position, 100);
    REQUIRE(more);
    CHECK(more->empty());
  }

  held->commit();
  held.reset();
  read_until(*fx.store, position, seen, [&] { return seen.size() >= 4; });
  CHECK(ids(seen) == std::vector<std::string>{"before", "held", "after-1", "after-2"});
}

TEST_CASE("A rolled-back append leaves a gap the global reader moves past",
          "[eventstore][reader][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("first", 0, {started("w")})));
  {
    pqxx::connection conn(fx.db.url());
    pqxx::work tx(conn);
    tx.exec_params(kRawInsert, "execution-rolled-back");
    tx.abort();
  }
  auto rejected = fx.store->append_sync(request("first", 0, {started("w")}));  // conflict
  REQUIRE_FALSE(rejected);
  REQUIRE(fx.store->append_sync(request("second", 0, {started("w")})));

  const auto first_pos =
      fx.count("SELECT global_position FROM events WHERE stream_id = 'execution-first'");
  const auto second_pos =
      fx.count("SELECT global_position FROM events WHERE stream_id = 'execution-second'");
  CHECK(second_pos > first_pos + 1);  // the gap

  Position position;
  std::vector<RecordedEvent> seen;
  read_until(*fx.store, position, seen, [&] { return seen.size() >= 2; });
  CHECK(ids(seen) == std::vector<std::string>{"first", "second"});
}

TEST_CASE("Concurrent writers: a tailing reader sees every committed event exactly once, in order",
          "[eventstore][reader][concurrency][integration]") {
  StoreFixture fx;
  constexpr int kWriters = 4;
  constexpr int kExecutions = 40;  // per writer, each a few appends
  std::vector<std::unique_ptr<EventStore>> stores;
  for (int i = 0; i < kWriters; ++i) stores.push_back(fx.open());

  // Catch2 assertions stay on this thread; workers count what went wrong.
  std::atomic<bool> writing{true};
  std::atomic<int> write_failures{0}, read_failures{0}, out_of_order{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int e = 0; e < kExecutions; ++e) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(e);
        if (!stores[w]->append_sync(request(id, 0, {started("w")}))) write_failures++;
        if (!stores[w]->append_sync(request(id, 1,
                                            {step_event(EventType::kStepStarted, "a"),
                                             step_event(EventType::kStepCompleted, "a")}))) {
          write_failures++;
        }
      }
    });
  }
  Position position;
  std::vector<RecordedEvent> seen;
  std::thread reader([&] {
    while (writing.load()) {
      auto batch = fx.store->read_all(position, 50);
      if (!batch) {
        read_failures++;
        return;
      }
      for (auto& e : *batch) {
        if (!(position < e.position)) out_of_order++;
        position = e.position;
        seen.push_back(std::move(e));
      }
    }
  });
  for (auto& t : writers) t.join();
  writing = false;
  reader.join();
  CHECK(write_failures.load() == 0);
  CHECK(read_failures.load() == 0);
  CHECK(out_of_order.load() == 0);
  const std::size_t total = kWriters * kExecutions * 3;
  read_until(*fx.store, position, seen, [&] { return seen.size() >= total; });

  CHECK(seen.size() == total);
  std::set<std::string> unique;
  for (const auto& e : seen) unique.insert(e.event_id);
  CHECK(unique.size() == total);
  // Per stream, versions arrive in order.
  std::map<std::string, std::int64_t> last;
  for (const auto& e : seen) {
    CHECK(e.event.version == last[e.execution_id] + 1);
    last[e.execution_id] = e.event.version;
  }
}

}  // namespace
}  // namespace flowd::eventstore
