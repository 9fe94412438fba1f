#include <barrier>
#include <future>
#include <thread>

#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

TEST_CASE("Appended events read back with versions, times, steps and metadata",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  const TimePoint t0 = at_micros(1'790'000'000'123'456);
  std::vector<Event> events = {
      started("order-processing", 2, "", t0),
      step_event(EventType::kStepScheduled, "fetch", 0, Json::object(), t0),
      step_event(EventType::kStepStarted, "fetch", 1, {{"idempotencyKey", "e-1/fetch/1"}}, t0),
      step_event(EventType::kStepCompleted, "fetch", 1,
                 {{"output", {{"body", "tab\there, newline\nhere, backslash \\ quote \" é"}}},
                  {"durationMs", 5}},
                 t0 + std::chrono::milliseconds(5)),
  };
  auto version =
      fx.store->append_sync(request("e-1", 0, events), Json{{"traceparent", "00-abc-def-01"}});
  REQUIRE(version);
  CHECK(*version == 4);

  auto read = fx.store->read_stream("e-1");
  REQUIRE(read);
  REQUIRE(read->size() == 4);
  for (std::size_t i = 0; i < read->size(); ++i) {
    const RecordedEvent& r = (*read)[i];
    CHECK(r.execution_id == "e-1");
    CHECK(r.event.version == static_cast<std::int64_t>(i) + 1);
    CHECK(r.event.type == events[i].type);
    CHECK(r.event.step == events[i].step);
    CHECK(r.event.attempt == events[i].attempt);
    CHECK(r.event.data == events[i].data);
    CHECK(r.event.time == events[i].time);
    CHECK(r.metadata["traceparent"] == "00-abc-def-01");
    CHECK(r.metadata["actor"] == "flowd");
    CHECK(r.event_id.size() == 36);
    CHECK(r.position.tx_id > 0);
  }
  // One transaction per batch: the four events share a transaction id, in position order.
  CHECK((*read)[0].position.tx_id == (*read)[3].position.tx_id);
  CHECK((*read)[0].position.global_position < (*read)[3].position.global_position);

  auto from_three = fx.store->read_stream("e-1", 3, 10);
  REQUIRE(from_three);
  REQUIRE(from_three->size() == 2);
  CHECK(from_three->front().event.version == 3);
  auto limited = fx.store->read_stream("e-1", 1, 2);
  REQUIRE(limited);
  CHECK(limited->size() == 2);

  auto more = fx.store->append_sync(request("e-1", 4, {completed()}));
  REQUIRE(more);
  CHECK(*more == 5);
  CHECK(*fx.store->stream_version("e-1") == 5);
  CHECK(*fx.store->stream_version("nope") == 0);
  CHECK(fx.store->read_stream("nope")->empty());
}

TEST_CASE("A wrong expected version is a typed conflict and writes nothing",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));

  struct Case {
    const char* name;
    std::int64_t expected;
  };
  const Case cases[] = {
      {"new-stream expectation on an existing stream", 0}, {"behind", 0}, {"ahead", 7}};
  for (const auto& c : cases) {
    INFO(c.name);
    auto result = fx.store->append_sync(
        request("e-1", c.expected, {step_event(EventType::kStepScheduled, "a", 0)}));
    REQUIRE_FALSE(result);
    CHECK(result.error().is(errc::conflict));
    CHECK_THAT(result.error().message,
               Catch::Contains("expected version " + std::to_string(c.expected)) &&
                   Catch::Contains("at version 1"));
  }
  CHECK(fx.count("SELECT count(*) FROM events") == 1);
  CHECK(*fx.store->stream_version("e-1") == 1);

  // Appending to a stream that does not exist with a version other than 0 conflicts too.
  auto missing = fx.store->append_sync(request("e-2", 3, {started("w")}));
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(errc::conflict));
}

TEST_CASE("The EventLog interface reports a conflict as kInternal naming both versions",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  EventLog& log = *fx.store;
  std::promise<Result<std::int64_t>> first, second;
  log.append(request("e-1", 0, {started("w")}),
             [&](Result<std::int64_t> r) { first.set_value(r); });
  REQUIRE(first.get_future().get() == 1);
  log.append(request("e-1", 0, {started("w")}),
             [&](Result<std::int64_t> r) { second.set_value(r); });
  auto result = second.get_future().get();
  REQUIRE_FALSE(result);
  CHECK(result.error().code == ErrorCode::kInternal);
  CHECK_THAT(result.error().message,
             Catch::Contains("expected version 0") && Catch::Contains("at version 1"));
}

TEST_CASE("Five concurrent appends to one stream: exactly one succeeds, four conflict",
          "[eventstore][append][concurrency][integration]") {
  // Through one store (one appender decides within its batch) and through five stores (five
  // connections racing for the stream's row in PostgreSQL).
  for (const int stores : {1, 5}) {
    INFO("stores: " << stores);
    StoreFixture fx;
    std::vector<std::unique_ptr<EventStore>> extra;
    for (int i = 1; i < stores; ++i) extra.push_back(fx.open());
    auto store_for = [&](int i) -> EventStore& {
      return i == 0 || stores == 1 ? *fx.store : *extra[static_cast<std::size_t>(i - 1)];
    };
    REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));

    constexpr int kWriters = 5;
    std::barrier sync(kWriters);
    std::vector<StoreResult<std::int64_t>> results(kWriters);
    std::vector<std::thread> writers;
    for (int i = 0; i < kWriters; ++i) {
      writers.emplace_back([&, i] {
        sync.arrive_and_wait();
        results[i] = store_for(i).append_sync(request(
            "e-1", 1, {step_event(EventType::kStepScheduled, "writer-" + std::to_string(i), 0)}));
      });
    }
    for (auto& w : writers) w.join();
    int ok = 0, conflicts = 0;
    for (const auto& r : results) {
      if (r) {
        ++ok;
        CHECK(*r == 2);
      } else if (r.error().is(errc::conflict)) {
        ++conflicts;
      }
    }
    CHECK(ok == 1);
    CHECK(conflicts == 4);
    CHECK(fx.count("SELECT count(*) FROM events") == 2);
    CHECK(fx.count("SELECT max(stream_version) FROM events") == 2);
  }
}

TEST_CASE("A stream starts with ExecutionStarted, and only there",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  auto no_start =
      fx.store->append_sync(request("e-1", 0, {step_event(EventType::kStepScheduled, "a", 0)}));
  REQUIRE_FALSE(no_start);
  CHECK(no_start.error().is(errc::invalid_argument));
  CHECK_THAT(no_start.error().message, Catch::Contains("must start with ExecutionStarted"));
  auto twice = fx.store->append_sync(request("e-1", 0, {started("w"), started("w")}));
  REQUIRE_FALSE(twice);
  CHECK(twice.error().is(errc::invalid_argument));
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})) == 1);
  auto again = fx.store->append_sync(request("e-1", 1, {started("w")}));
  REQUIRE_FALSE(again);
  CHECK(again.error().is(errc::invalid_argument));
  CHECK(fx.count("SELECT count(*) FROM events") == 1);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 1);
}

TEST_CASE("A store whose cached version is stale detects the other writer",
          "[eventstore][append][concurrency][integration]") {
  // Store a decides from the versions it committed itself; b writes behind its back.
  StoreFixture fx;
  auto b = fx.open();
  auto& a = *fx.store;
  REQUIRE(a.append_sync(request("e-1", 0, {started("w")})) == 1);
  REQUIRE(a.append_sync(request("e-1", 1, {step_event(EventType::kStepScheduled, "x", 0)})) == 2);
  REQUIRE(b->append_sync(request("e-1", 2, {step_event(EventType::kStepScheduled, "y", 0)})) == 3);

  // a still believes 2: the database says 3, so this is a conflict and writes nothing.
  auto stale = a.append_sync(request("e-1", 2, {step_event(EventType::kStepScheduled, "z", 0)}));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().is(errc::conflict));
  CHECK_THAT(stale.error().message, Catch::Contains("at version 3"));
  // An append without events is checked against the database too, not against the cache.
  REQUIRE(b->append_sync(request("e-1", 3, {step_event(EventType::kStepScheduled, "w", 0)})) == 4);
  REQUIRE(a.append_sync(request("e-1", 4, {step_event(EventType::kStepScheduled, "v", 0)})) == 5);
  REQUIRE(b->append_sync(request("e-1", 5, {step_event(EventType::kStepScheduled, "u", 0)})) == 6);
  auto empty = a.append_sync(request("e-1", 5, {}));
  REQUIRE_FALSE(empty);
  CHECK(empty.error().is(errc::conflict));
  // The right expected version goes through, although a's cache disagreed with it.
  CHECK(a.append_sync(request("e-1", 6, {step_event(EventType::kStepScheduled, "z", 0)})) == 7);
  CHECK(b->append_sync(request("e-1", 7, {completed()})) == 8);
  CHECK(fx.count("SELECT count(*) FROM events WHERE stream_id = 'execution-e-1'") == 8);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 8);
  CHECK(*a.stream_version("e-1") == 8);

  // A start another store already made (same id) is a conflict for the one that assumed it new.
  REQUIRE(b->append_sync(request("e-2", 0, {started("w")})) == 1);
  auto late = a.append_sync(request("e-2", 0, {started("w")}));
  REQUIRE_FALSE(late);
  CHECK(late.error().is(errc::conflict));
  // And a dedupe key another store used is a duplicate, not an error.
  REQUIRE(b->start_execution_sync(request("e-3", 0, {started("w", 1, "key-3")})));
  auto dup = a.start_execution_sync(request("e-4", 0, {started("w", 1, "key-3")}));
  REQUIRE(dup);
  CHECK(dup->duplicate);
  CHECK(dup->execution_id == "e-3");
  CHECK(a.appender_stats().cached_batches > 0);
}

TEST_CASE("A cached version is not trusted once retention removed the stream's events",
          "[eventstore][append][concurrency][retention][integration]") {
  // a decides from its cache; b ends the execution and purges it, so a's next version would
  // collide with nothing in the events' unique index.
  StoreFixture fx;
  auto b = fx.open();
  auto& a = *fx.store;
  REQUIRE(a.append_sync(request("e-1", 0, {started("w")})) == 1);
  REQUIRE(a.append_sync(request("e-1", 1, {step_event(EventType::kStepStarted, "x", 1)})) == 2);
  REQUIRE(b->append_sync(request("e-1", 2, {completed()})) == 3);
  RetentionRequest purge;
  purge.older_than = std::chrono::milliseconds(0);
  auto purged = b->purge(purge);
  REQUIRE(purged);
  REQUIRE(purged->executions == 1);
  REQUIRE(fx.count("SELECT count(*) FROM events WHERE stream_id = 'execution-e-1'") == 0);

  auto stale = a.append_sync(request("e-1", 2, {step_event(EventType::kStepCompleted, "x", 1)}));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().is(errc::conflict));
  CHECK_THAT(stale.error().message, Catch::Contains("at version 3"));
  CHECK(fx.count("SELECT count(*) FROM events WHERE stream_id = 'execution-e-1'") == 0);
  // Other streams of a's cache keep working (decided again from reads).
  REQUIRE(a.append_sync(request("e-2", 0, {started("w")})) == 1);
  CHECK(a.append_sync(request("e-2", 1, {step_event(EventType::kStepStarted, "x", 1)})) == 2);
}

TEST_CASE("A request PostgreSQL rejects as data fails alone; its batch-mates are written",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  constexpr int kGood = 20;
  std::vector<std::future<StoreResult<std::int64_t>>> futures;
  std::vector<std::shared_ptr<std::promise<StoreResult<std::int64_t>>>> promises;
  for (int i = 0; i <= kGood; ++i) {
    auto promise = std::make_shared<std::promise<StoreResult<std::int64_t>>>();
    futures.push_back(promise->get_future());
    Event e = started("w");
    // jsonb cannot hold \u0000: the server rejects this request's COPY row.
    if (i == kGood / 2) e.data["input"] = std::string("nul\0byte", 8);
    fx.store->append(request("e-" + std::to_string(i), 0, {e}), Json::object(),
                     [promise](StoreResult<std::int64_t> r) { promise->set_value(std::move(r)); });
  }
  for (int i = 0; i <= kGood; ++i) {
    auto r = futures[i].get();
    if (i == kGood / 2) {
      REQUIRE_FALSE(r);
      CHECK(r.error().is(errc::invalid_argument));
      CHECK(to_error(r.error()).code == ErrorCode::kInvalidInput);
    } else {
      CHECK(r == 1);
    }
  }
  CHECK(fx.count("SELECT count(*) FROM events") == kGood);
  CHECK(fx.count("SELECT count(*) FROM executions") == kGood);
}

TEST_CASE("An append without events checks the version and writes nothing",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  CHECK(fx.store->append_sync(request("e-1", 0, {})) == 0);
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));
  CHECK(fx.store->append_sync(request("e-1", 1, {})) == 1);
  auto stale = fx.store->append_sync(request("e-1", 0, {}));
  REQUIRE_FALSE(stale);
  CHECK(stale.error().is(errc::conflict));
  CHECK(fx.count("SELECT count(*) FROM events") == 1);
}

TEST_CASE("Events are append-only in the database", "[eventstore][append][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));
  CHECK_THROWS_WITH(fx.db.query("UPDATE events SET type = 'Forged'"),
                    Catch::Contains("not allowed"));
  CHECK_THROWS_WITH(fx.db.query("DELETE FROM events"), Catch::Contains("not allowed"));
  CHECK_THROWS_WITH(fx.db.query("UPDATE workflow_definitions SET version = 2"),
                    Catch::Contains("not allowed"));
  CHECK(fx.count("SELECT count(*) FROM events WHERE type = 'ExecutionStarted'") == 1);
}

TEST_CASE("After close, appends fail with shutting_down and queued ones were answered",
          "[eventstore][append][integration]") {
  StoreFixture fx;
  std::promise<StoreResult<std::int64_t>> queued;
  fx.store->append(request("e-1", 0, {started("w")}), Json::object(),
                   [&](StoreResult<std::int64_t> r) { queued.set_value(std::move(r)); });
  fx.store->close();
  CHECK(queued.get_future().get() == 1);
  auto late = fx.store->append_sync(request("e-2", 0, {started("w")}));
  REQUIRE_FALSE(late);
  CHECK(late.error().is(errc::shutting_down));
  auto read = fx.store->read_stream("e-1");
  REQUIRE_FALSE(read);
  CHECK(read.error().is(errc::shutting_down));
}

}  // namespace
}  // namespace flowd::eventstore
