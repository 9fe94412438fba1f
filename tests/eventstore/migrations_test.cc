#include <thread>

#include "flowd/eventstore/migrations.h"
#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using flowd::testing::PostgresDatabase;

TEST_CASE("Migrations are embedded in version order", "[eventstore][migrations]") {
  const auto& all = migrations();
  REQUIRE_FALSE(all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].version == static_cast<int>(i) + 1);
    CHECK_FALSE(all[i].sql.empty());
  }
  CHECK(latest_schema_version() == all.back().version);
}

TEST_CASE("Migrating an empty database applies every migration once and records it",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  auto first = migrate(db.url());
  REQUIRE(first);
  CHECK(first->from_version == 0);
  CHECK(first->to_version == latest_schema_version());
  CHECK(first->applied.size() == migrations().size());
  CHECK(db.query("SELECT count(*) FROM flowd_schema_version") ==
        std::to_string(migrations().size()));

  auto second = migrate(db.url());
  REQUIRE(second);
  CHECK(second->from_version == latest_schema_version());
  CHECK(second->applied.empty());
  auto version = database_schema_version(db.url());
  REQUIRE(version);
  CHECK(*version == latest_schema_version());
}

TEST_CASE("Instances migrating the same database at once apply it exactly once",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  constexpr int kInstances = 4;
  std::vector<StoreResult<MigrationReport>> reports(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] { reports[i] = migrate(db.url()); });
  }
  for (auto& t : threads) t.join();
  std::size_t applied = 0;
  for (const auto& report : reports) {
    REQUIRE(report);
    applied += report->applied.size();
  }
  CHECK(applied == migrations().size());
  CHECK(db.query("SELECT count(*) FROM flowd_schema_version") ==
        std::to_string(migrations().size()));
}

TEST_CASE("A database migrated by a newer flowd is refused with a clear error",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  REQUIRE(migrate(db.url()));
  const int newer = latest_schema_version() + 1;
  db.query("INSERT INTO flowd_schema_version (version, name, checksum) VALUES (" +
           std::to_string(newer) + ", '9999_future.sql', 'x')");

  auto again = migrate(db.url());
  REQUIRE_FALSE(again);
  CHECK(again.error().is(errc::schema_too_new));
  CHECK_THAT(again.error().message,
             Catch::Contains(std::to_string(newer)) && Catch::Contains("upgrade flowd"));

  for (bool auto_migrate : {true, false}) {
    StoreOptions options;
    options.url = db.url();
    options.migrate = auto_migrate;
    auto store = EventStore::open(options);
    REQUIRE_FALSE(store);
    CHECK(store.error().is(errc::schema_too_new));
  }
}

TEST_CASE("An applied migration whose text changed is refused",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  REQUIRE(migrate(db.url()));
  db.query("UPDATE flowd_schema_version SET checksum = 'edited' WHERE version = 1");
  auto again = migrate(db.url());
  REQUIRE_FALSE(again);
  CHECK(again.error().is(errc::schema_modified));
}

TEST_CASE("Opening without migrating requires the current schema",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  StoreOptions options;
  options.url = db.url();
  options.migrate = false;
  auto empty = EventStore::open(options);
  REQUIRE_FALSE(empty);
  CHECK_THAT(empty.error().message, Catch::Contains("run the migrations"));

  REQUIRE(migrate(db.url()));
  auto store = EventStore::open(options);
  REQUIRE(store);
  auto version = (*store)->schema_version();
  REQUIRE(version);
  CHECK(*version == latest_schema_version());
}

TEST_CASE("Migration 5 moves stream versions into executions and keeps `streams` readable",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  auto old = migrate(db.url(), 4);
  REQUIRE(old);
  CHECK(old->to_version == 4);
  CHECK(*database_schema_version(db.url()) == 4);
  // Written by an older flowd: a streams row per stream; one stream has no executions row.
  db.query(
      "INSERT INTO streams (stream_id, version) VALUES ('execution-e-1', 2), "
      "('execution-orphan', 1)");
  db.query(
      "INSERT INTO executions (id, workflow, workflow_version, version, status, started_at) "
      "VALUES ('e-1', 'w', 1, 2, 'running', now())");
  db.query(
      "INSERT INTO events (stream_id, stream_version, type, occurred_at, data) VALUES "
      "('execution-e-1', 1, 'ExecutionStarted', now(), '{\"workflow\": \"w\", \"version\": "
      "1}'), ('execution-e-1', 2, 'StepScheduled', now(), '{}'), "
      "('execution-orphan', 1, 'StepScheduled', now(), '{}')");

  auto refused = migrate(db.url());
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("1 stream(s) without an executions row") &&
                                          Catch::Contains("migrate again"));
  CHECK(*database_schema_version(db.url()) == 4);  // nothing applied

  db.query(
      "SET flowd.allow_delete = 'on'; DELETE FROM events WHERE stream_id = "
      "'execution-orphan'; DELETE FROM streams WHERE stream_id = 'execution-orphan'");
  auto upgraded = migrate(db.url(), 5);
  REQUIRE(upgraded);
  CHECK(upgraded->applied == std::vector<int>{5});
  CHECK(db.query("SELECT stream_id || ':' || version FROM streams") == "execution-e-1:2");

  StoreOptions options;
  options.url = db.url();
  auto store = EventStore::open(options);
  REQUIRE(store);
  CHECK(*(*store)->stream_version("e-1") == 2);
  auto stale = (*store)->append_sync(AppendRequest{"e-1", 1, {}});
  REQUIRE_FALSE(stale);
  CHECK(stale.error().is(errc::conflict));
  Event scheduled = Event::make(EventType::kStepScheduled, "b", 0);
  CHECK((*store)->append_sync(AppendRequest{"e-1", 2, {scheduled}}) == 3);
  CHECK(db.query("SELECT version FROM streams WHERE stream_id = 'execution-e-1'") == "3");
}

TEST_CASE("Migration 6 keeps executions readable: version and current step come from the stream",
          "[eventstore][migrations][integration]") {
  PostgresDatabase db;
  REQUIRE(migrate(db.url(), 5));
  // Written by flowd 5, which kept the current step in the row.
  db.query(
      "INSERT INTO executions (id, workflow, workflow_version, version, status, started_at, "
      "current_step, current_event, current_attempt) "
      "VALUES ('e-1', 'w', 1, 3, 'running', now(), 'a', 'StepStarted', 1)");
  db.query(
      "INSERT INTO events (stream_id, stream_version, type, step, attempt, occurred_at, data) "
      "VALUES ('execution-e-1', 1, 'ExecutionStarted', NULL, NULL, now(), "
      "'{\"workflow\": \"w\", \"version\": 1}'), "
      "('execution-e-1', 2, 'StepScheduled', 'a', 1, now(), '{}'), "
      "('execution-e-1', 3, 'StepStarted', 'a', 1, now(), '{}')");
  auto upgraded = migrate(db.url(), 6);
  REQUIRE(upgraded);
  CHECK(upgraded->applied == std::vector<int>{6});

  StoreOptions options;
  options.url = db.url();
  auto store = EventStore::open(options);
  REQUIRE(store);
  auto before = (*store)->get_execution("e-1");
  REQUIRE(before);
  REQUIRE(*before);
  CHECK((*before)->version == 3);
  CHECK((*before)->current_step == Json{{"step", "a"}, {"event", "StepStarted"}, {"attempt", 1}});
  // An append moves the stream, not the row; readers see it through the view.
  Event completed = Event::make(EventType::kStepCompleted, "a", 1);
  CHECK((*store)->append_sync(AppendRequest{"e-1", 3, {completed}}) == 4);
  CHECK(db.query("SELECT version FROM executions WHERE id = 'e-1'") == "3");
  auto after = (*store)->get_execution("e-1");
  REQUIRE(after);
  REQUIRE(*after);
  CHECK((*after)->version == 4);
  CHECK((*after)->current_step["event"] == "StepCompleted");
  CHECK(*(*store)->stream_version("e-1") == 4);
  CHECK(db.query("SELECT version FROM streams WHERE stream_id = 'execution-e-1'") == "4");
}

TEST_CASE("An unreachable database is reported as unavailable", "[eventstore][migrations]") {
  StoreOptions options;
  options.url = "postgresql://flowd@127.0.0.1:1/nothing?connect_timeout=2";
  auto store = EventStore::open(options);
  REQUIRE_FALSE(store);
  CHECK(store.error().is(errc::unavailable));
  CHECK(store.error().retryable());
  CHECK(to_error(store.error()).code == ErrorCode::kExternal);
}

}  // namespace
}  // namespace flowd::eventstore
