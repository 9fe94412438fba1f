#include <condition_variable>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

// Collects what a subscription delivers; waits for a count with a deadline.
struct Collector {
  std::mutex mutex;
  std::condition_variable arrived;
  std::vector<RecordedEvent> events;

  Subscription::Handler handler() {
    return [this](const RecordedEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
      arrived.notify_all();
    };
  }
  bool wait_for(std::size_t count, std::chrono::seconds deadline) {
    std::unique_lock lock(mutex);
    return arrived.wait_for(lock, deadline, [&] { return events.size() >= count; });
  }
  std::size_t size() {
    std::lock_guard lock(mutex);
    return events.size();
  }
};

// The global read horizon is cluster-wide: a transaction open in another test's database can
// delay visibility (never change it). Waits for `count` events to be readable.
void wait_visible(EventStore& store, std::size_t count) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until) {
    auto all = store.read_all(Position{}, count + 1);
    REQUIRE(all);
    if (all->size() >= count) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FAIL("events did not become visible");
}

TEST_CASE("A subscription delivers existing events, then wakes on NOTIFY for new ones",
          "[eventstore][subscription][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));
  wait_visible(*fx.store, 1);

  Collector collector;
  SubscriptionOptions options;
  // Polling so slow that only the notification can deliver within the test's deadline.
  options.poll_interval = std::chrono::hours(1);
  auto sub = fx.store->subscribe(Position{}, collector.handler(), options);
  REQUIRE(sub);
  REQUIRE(collector.wait_for(1, std::chrono::seconds(30)));

  REQUIRE(fx.store->append_sync(
      request("e-1", 1, {step_event(EventType::kStepScheduled, "a", 0), completed()})));
  REQUIRE(collector.wait_for(3, std::chrono::seconds(30)));
  {
    std::lock_guard lock(collector.mutex);
    REQUIRE(collector.events.size() == 3);
    for (std::size_t i = 0; i < 3; ++i) {
      CHECK(collector.events[i].execution_id == "e-1");
      CHECK(collector.events[i].event.version == static_cast<std::int64_t>(i) + 1);
    }
  }
  // The position is stored after the handler returns: read it once the thread has stopped.
  (*sub)->stop();
  CHECK((*sub)->position() == collector.events.back().position);
}

TEST_CASE("Without a notification, polling still delivers",
          "[eventstore][subscription][integration]") {
  StoreFixture fx;
  Collector collector;
  SubscriptionOptions options;
  options.poll_interval = std::chrono::milliseconds(50);
  auto sub = fx.store->subscribe(Position{}, collector.handler(), options);
  REQUIRE(sub);
  // Written behind the store's back: no NOTIFY is sent.
  fx.db.query(
      "INSERT INTO events (stream_id, stream_version, type, occurred_at, data) "
      "VALUES ('execution-raw', 1, 'ExecutionStarted', now(), '{}')");
  REQUIRE(collector.wait_for(1, std::chrono::seconds(30)));
  CHECK(collector.events.front().execution_id == "raw");
}

TEST_CASE("A subscription starts after the given position and stops cleanly",
          "[eventstore][subscription][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})));
  REQUIRE(fx.store->append_sync(request("e-2", 0, {started("w")})));
  wait_visible(*fx.store, 2);
  Position after;
  {
    auto all = fx.store->read_all(Position{}, 10);
    REQUIRE(all);
    REQUIRE(all->size() == 2);
    after = all->front().position;
  }
  Collector collector;
  auto sub = fx.store->subscribe(after, collector.handler());
  REQUIRE(sub);
  REQUIRE(collector.wait_for(1, std::chrono::seconds(30)));
  (*sub)->stop();
  const std::size_t delivered = collector.size();
  CHECK(delivered == 1);
  CHECK(collector.events.front().execution_id == "e-2");
  // Stopped: later appends are not delivered.
  REQUIRE(fx.store->append_sync(request("e-3", 0, {started("w")})));
  CHECK_FALSE(collector.wait_for(delivered + 1, std::chrono::seconds(1)));
}

TEST_CASE("A handler may stop its own subscription", "[eventstore][subscription][integration]") {
  StoreFixture fx;
  std::mutex mutex;
  std::condition_variable cv;
  int calls = 0;
  Subscription* self = nullptr;
  auto sub = fx.store->subscribe(Position{}, [&](const RecordedEvent&) {
    std::lock_guard lock(mutex);
    ++calls;
    self->stop();  // set before any event exists (below)
    cv.notify_all();
  });
  REQUIRE(sub);
  {
    std::lock_guard lock(mutex);
    self = sub->get();
  }
  // Three events in one transaction: the handler stops on the first.
  REQUIRE(fx.store->append_sync(request(
      "e-1", 0, {started("w"), step_event(EventType::kStepScheduled, "a", 0), completed()})));
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return calls >= 1; }));
  }
  (*sub)->stop();
  CHECK(calls == 1);
}

}  // namespace
}  // namespace flowd::eventstore
