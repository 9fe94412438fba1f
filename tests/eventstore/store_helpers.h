#pragma once
// Helpers of the event store tests: a fresh database with an open store, and events shaped like
// the engine's.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "flowd/engine/event.h"
#include "flowd/eventstore/event_store.h"
#include "postgres_fixture.h"

namespace flowd::eventstore::test {

// Event times in tests are whole microseconds, as PostgreSQL keeps them.
inline TimePoint at_micros(std::int64_t micros) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
}

inline TimePoint test_now() {
  const auto now =
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch());
  return at_micros(now.count());
}

inline Event started(const std::string& workflow, int version = 1, const std::string& dedupe = "",
                     TimePoint time = test_now()) {
  Json data{{"workflow", workflow},
            {"version", version},
            {"input", {{"orderId", "o-1"}}},
            {"context", Json::object()}};
  if (!dedupe.empty()) data["dedupeKey"] = dedupe;
  Event e = Event::make(EventType::kExecutionStarted, "", 0, std::move(data));
  e.time = time;
  return e;
}

inline Event step_event(EventType type, const std::string& step, int attempt = 1,
                        Json data = Json::object(), TimePoint time = test_now()) {
  Event e = Event::make(type, step, attempt, std::move(data));
  e.time = time;
  return e;
}

inline Event completed(TimePoint time = test_now()) {
  Event e = Event::make(EventType::kExecutionCompleted, "", 0,
                        Json{{"output", {{"ok", true}}}, {"durationMs", 12}});
  e.time = time;
  return e;
}

inline AppendRequest request(const std::string& id, std::int64_t expected,
                             std::vector<Event> events) {
  return AppendRequest{id, expected, std::move(events)};
}

// A fresh database and a store opened on it (migrated).
struct StoreFixture {
  flowd::testing::PostgresDatabase db;
  std::unique_ptr<EventStore> store;

  explicit StoreFixture(StoreOptions options = {}) { store = open(std::move(options)); }

  std::unique_ptr<EventStore> open(StoreOptions options = {}) const {
    options.url = db.url();
    auto opened = EventStore::open(std::move(options));
    if (!opened) FAIL("open: " << opened.error().message);
    return std::move(*opened);
  }

  std::int64_t count(const std::string& sql) const { return std::stoll(db.query(sql)); }
};

}  // namespace flowd::eventstore::test
