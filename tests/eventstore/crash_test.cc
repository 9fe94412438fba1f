// The appender's backend killed in the middle of a batch: no part of the batch becomes visible,
// every caller hears of it, and the store carries on with a new connection.
#include <future>
#include <pqxx/pqxx>
#include <thread>

#include "store_helpers.h"

// libpqxx 6.4 leaks the PGresult of a statement whose connection the server terminates
// (connection_base::exec_prepared throws before taking ownership of it). That is the path this test
// exercises on purpose; suppress exactly that frame for LeakSanitizer.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:pqxx::connection_base::exec_prepared\n";
}

namespace flowd::eventstore {
namespace {

using namespace test;

TEST_CASE("A backend killed mid-batch leaves no partial batch and the appender reconnects",
          "[eventstore][append][crash][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("blocked", 0, {started("w")})));

  // Another writer holds version 2 of "blocked" in an open transaction: the appender's batch will
  // wait on that key of the events' unique index while copying its events, i.e. in the middle of
  // its transaction.
  pqxx::connection locker(fx.db.url());
  pqxx::work lock_tx(locker);
  lock_tx.exec(
      "INSERT INTO events (stream_id, stream_version, type, occurred_at, data) "
      "VALUES ('execution-blocked', 2, 'StepScheduled', now(), '{}')");

  constexpr int kOthers = 10;
  std::vector<std::future<StoreResult<std::int64_t>>> results;
  auto submit = [&](AppendRequest r) {
    auto promise = std::make_shared<std::promise<StoreResult<std::int64_t>>>();
    results.push_back(promise->get_future());
    fx.store->append(std::move(r), Json::object(),
                     [promise](StoreResult<std::int64_t> v) { promise->set_value(std::move(v)); });
  };
  submit(request("blocked", 1, {step_event(EventType::kStepScheduled, "a", 0)}));
  for (int i = 0; i < kOthers; ++i)
    submit(request("other-" + std::to_string(i), 0, {started("w")}));

  // Wait until the appender's backend waits for the lock, then kill it.
  pqxx::connection admin(fx.db.server_url());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int killed = 0;
  while (killed == 0 && std::chrono::steady_clock::now() < deadline) {
    pqxx::nontransaction tx(admin);
    killed = tx.exec_params(
                   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                   "WHERE datname = $1 AND application_name = 'flowd-appender' "
                   "AND wait_event_type = 'Lock'",
                   fx.db.name())[0][0]
                 .as<int>();
    if (killed == 0) std::this_thread::yield();
  }
  REQUIRE(killed == 1);
  lock_tx.abort();

  // The blocked request failed as "nothing written"; every caller got exactly its answer, and
  // what was answered ok is exactly what is in the table.
  auto blocked = results[0].get();
  REQUIRE_FALSE(blocked);
  CHECK(blocked.error().is(errc::unavailable));
  CHECK(blocked.error().retryable());
  int ok = 0;
  for (int i = 1; i <= kOthers; ++i) {
    auto r = results[i].get();
    const std::string stream = "execution-other-" + std::to_string(i - 1);
    const auto stored = fx.count("SELECT count(*) FROM events WHERE stream_id = '" + stream + "'");
    if (r) {
      ++ok;
      CHECK(stored == 1);
    } else {
      CHECK(r.error().is(errc::unavailable));
      CHECK(stored == 0);
      CHECK(fx.count("SELECT count(*) FROM streams WHERE stream_id = '" + stream + "'") == 0);
    }
  }
  CHECK(fx.count("SELECT count(*) FROM events WHERE stream_id = 'execution-blocked'") == 1);
  CHECK(fx.count("SELECT version FROM streams WHERE stream_id = 'execution-blocked'") == 1);
  INFO(ok << " of " << kOthers << " were in other transactions");

  // The store reconnects: the rejected append goes through when retried.
  auto retried =
      fx.store->append_sync(request("blocked", 1, {step_event(EventType::kStepScheduled, "a", 0)}));
  CHECK(retried == 2);
  CHECK(fx.count("SELECT version FROM streams WHERE stream_id = 'execution-blocked'") == 2);
}

}  // namespace
}  // namespace flowd::eventstore
