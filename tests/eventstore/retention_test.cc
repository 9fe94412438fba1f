#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;
using std::chrono::hours;

TEST_CASE("Retention removes old terminal executions' events in batches; dry run only counts",
          "[eventstore][retention][integration]") {
  StoreFixture fx;
  const TimePoint old_time = test_now() - hours(24 * 40);
  const TimePoint recent = test_now() - hours(1);
  // 5 old completed (3 events each), 2 recent completed, 2 old but still running.
  for (int i = 0; i < 5; ++i) {
    REQUIRE(fx.store->append_sync(
        request("old-" + std::to_string(i), 0,
                {started("w", 1, "", old_time),
                 step_event(EventType::kStepScheduled, "a", 0, Json::object(), old_time),
                 completed(old_time)})));
  }
  for (int i = 0; i < 2; ++i) {
    REQUIRE(fx.store->append_sync(request("recent-" + std::to_string(i), 0,
                                          {started("w", 1, "", recent), completed(recent)})));
    REQUIRE(fx.store->append_sync(
        request("running-" + std::to_string(i), 0, {started("w", 1, "", old_time)})));
  }
  auto old_state = fx.store->load_state("old-0");
  REQUIRE(old_state);
  REQUIRE(fx.store->save_snapshot(*old_state));

  RetentionRequest dry;
  dry.older_than = hours(24 * 30);
  dry.dry_run = true;
  auto counted = fx.store->purge(dry);
  REQUIRE(counted);
  CHECK(counted->dry_run);
  CHECK(counted->executions == 5);
  CHECK(counted->events == 15);
  CHECK(counted->snapshots == 1);
  CHECK(fx.count("SELECT count(*) FROM events") == 5 * 3 + 2 * 2 + 2);  // nothing removed

  RetentionRequest real = dry;
  real.dry_run = false;
  real.batch_size = 2;
  auto purged = fx.store->purge(real);
  REQUIRE(purged);
  CHECK(purged->executions == 5);
  CHECK(purged->events == 15);
  CHECK(purged->snapshots == 1);
  CHECK(purged->batches == 3);
  CHECK(fx.count("SELECT count(*) FROM events") == 2 * 2 + 2);
  CHECK(fx.count("SELECT count(*) FROM events WHERE stream_id LIKE 'execution-old-%'") == 0);
  CHECK(fx.count("SELECT count(*) FROM snapshots") == 0);

  // The rows stay, marked: the dedupe key and the stream version keep protecting them.
  auto row = fx.store->get_execution("old-0");
  REQUIRE(row);
  REQUIRE(row->has_value());
  CHECK((*row)->purged_at.has_value());
  auto reuse = fx.store->append_sync(request("old-0", 0, {started("w")}));
  REQUIRE_FALSE(reuse);
  CHECK(reuse.error().is(errc::conflict));

  auto second = fx.store->purge(real);
  REQUIRE(second);
  CHECK(second->executions == 0);
  CHECK(second->events == 0);
}

}  // namespace
}  // namespace flowd::eventstore
