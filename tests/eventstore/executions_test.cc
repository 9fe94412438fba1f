// Exactly-once start, the executions projection and the queries over it.
#include <barrier>
#include <set>
#include <thread>

#include "flowd/engine/execution_state.h"
#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

TEST_CASE("A second start with the same dedupe key returns the first execution",
          "[eventstore][dedupe][integration]") {
  StoreFixture fx;
  auto first = fx.store->start_execution_sync(request("e-1", 0, {started("w", 1, "order-42")}));
  REQUIRE(first);
  CHECK_FALSE(first->duplicate);
  CHECK(first->execution_id == "e-1");
  CHECK(first->version == 1);

  auto second = fx.store->start_execution_sync(request("e-2", 0, {started("w", 1, "order-42")}));
  REQUIRE(second);
  CHECK(second->duplicate);
  CHECK(second->execution_id == "e-1");
  CHECK(second->version == 1);
  CHECK(fx.count("SELECT count(*) FROM events") == 1);
  CHECK(fx.count("SELECT count(*) FROM executions") == 1);
  CHECK(*fx.store->find_by_dedupe_key("order-42") == std::optional<std::string>("e-1"));
  CHECK_FALSE(fx.store->find_by_dedupe_key("order-43")->has_value());

  // A start retried with its own id after an unknown outcome learns it exists.
  auto retried = fx.store->start_execution_sync(request("e-1", 0, {started("w", 1, "order-42")}));
  REQUIRE(retried);
  CHECK(retried->duplicate);
  CHECK(retried->execution_id == "e-1");

  // Through the plain EventLog interface a duplicate is an error, not a crash.
  auto plain = fx.store->append_sync(request("e-3", 0, {started("w", 1, "order-42")}));
  REQUIRE_FALSE(plain);
  CHECK(plain.error().is(errc::duplicate));
  CHECK_THAT(plain.error().message, Catch::Contains("e-1"));
  CHECK(to_error(plain.error()).code == ErrorCode::kInvalidInput);

  // Starts without a key never collide.
  CHECK_FALSE(fx.store->start_execution_sync(request("e-4", 0, {started("w")}))->duplicate);
  CHECK_FALSE(fx.store->start_execution_sync(request("e-5", 0, {started("w")}))->duplicate);
}

TEST_CASE("Racing starts with one dedupe key start exactly one execution",
          "[eventstore][dedupe][concurrency][integration]") {
  for (const int stores : {1, 4}) {
    INFO("stores: " << stores);
    StoreFixture fx;
    std::vector<std::unique_ptr<EventStore>> extra;
    for (int i = 1; i < stores; ++i) extra.push_back(fx.open());
    constexpr int kStarters = 4;
    std::barrier sync(kStarters);
    std::vector<StoreResult<StartOutcome>> results(kStarters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kStarters; ++i) {
      threads.emplace_back([&, i] {
        EventStore& store = stores == 1 || i == 0 ? *fx.store : *extra[i - 1];
        sync.arrive_and_wait();
        results[i] = store.start_execution_sync(
            request("e-" + std::to_string(i), 0, {started("w", 1, "kafka/orders/0/17")}));
      });
    }
    for (auto& t : threads) t.join();
    int fresh = 0;
    std::set<std::string> named;
    for (const auto& r : results) {
      REQUIRE(r);
      if (!r->duplicate) ++fresh;
      named.insert(r->execution_id);
    }
    CHECK(fresh == 1);
    CHECK(named.size() == 1);  // every caller learns the same execution
    CHECK(fx.count("SELECT count(*) FROM executions") == 1);
    CHECK(fx.count("SELECT count(*) FROM events") == 1);
  }
}

TEST_CASE("start_execution needs a new stream starting with ExecutionStarted",
          "[eventstore][dedupe][integration]") {
  StoreFixture fx;
  auto no_start = fx.store->start_execution_sync(
      request("e-1", 0, {step_event(EventType::kStepScheduled, "a", 0)}));
  REQUIRE_FALSE(no_start);
  CHECK(no_start.error().is(errc::invalid_argument));
  auto not_new = fx.store->start_execution_sync(request("e-1", 3, {started("w")}));
  REQUIRE_FALSE(not_new);
  CHECK(not_new.error().is(errc::invalid_argument));
}

TEST_CASE("The executions projection follows the events and agrees with the fold",
          "[eventstore][projection][integration]") {
  StoreFixture fx;
  const TimePoint t0 = at_micros(1'790'000'000'000'000);
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };

  struct Case {
    const char* id;
    std::vector<std::vector<Event>> appends;
    ExecutionStatus status;
    bool ended;
  };
  const Json error{{"code", "EXTERNAL"}, {"message", "boom"}, {"retryable", false}};
  const std::vector<Case> cases = {
      {"running",
       {{started("w", 3, "", at(0))},
        {step_event(EventType::kStepScheduled, "fetch", 0, Json::object(), at(1)),
         step_event(EventType::kStepStarted, "fetch", 1, Json::object(), at(2))}},
       ExecutionStatus::kRunning,
       false},
      {"completed",
       {{started("w", 3, "", at(0)),
         step_event(EventType::kStepStarted, "a", 1, Json::object(), at(1))},
        {step_event(EventType::kStepCompleted, "a", 1, {{"output", 1}, {"durationMs", 3}}, at(4)),
         completed(at(5))}},
       ExecutionStatus::kCompleted,
       true},
      {"failed",
       {{started("w", 3, "", at(0))},
        {step_event(EventType::kStepFailed, "a", 2, {{"error", error}, {"final", true}}, at(3))},
        {Event{EventType::kExecutionFailed, "", 0, {{"error", error}, {"step", "a"}}, at(4), 0}}},
       ExecutionStatus::kFailed,
       true},
      {"paused",
       {{started("w", 3, "", at(0))},
        {Event{EventType::kExecutionPaused, "", 0, {{"actor", "ops"}}, at(1), 0}}},
       ExecutionStatus::kPaused,
       false},
      {"resumed",
       {{started("w", 3, "", at(0)),
         Event{EventType::kExecutionPaused, "", 0, Json::object(), at(1), 0}},
        {Event{EventType::kExecutionResumed, "", 0, Json::object(), at(2), 0}}},
       ExecutionStatus::kRunning,
       false},
      {"cancelled",
       {{started("w", 3, "", at(0))},
        {Event{EventType::kExecutionCancelled, "", 0, {{"reason", "user"}}, at(9), 0}}},
       ExecutionStatus::kCancelled,
       true},
      {"timed-out",
       {{started("w", 3, "", at(0)),
         Event{EventType::kExecutionTimedOut, "", 0, {{"timeoutMs", 10}}, at(10), 0}}},
       ExecutionStatus::kTimedOut,
       true},
  };
  for (const auto& c : cases) {
    INFO(c.id);
    std::int64_t version = 0;
    std::vector<Event> all;
    for (const auto& events : c.appends) {
      auto r = fx.store->append_sync(request(c.id, version, events));
      REQUIRE(r);
      version = *r;
      for (auto e : events) {
        e.version = static_cast<std::int64_t>(all.size()) + 1;
        all.push_back(e);
      }
    }
    auto row = fx.store->get_execution(c.id);
    REQUIRE(row);
    REQUIRE(row->has_value());
    const ExecutionRecord& record = **row;
    const ExecutionState folded = fold(c.id, all);
    CHECK(record.status == c.status);
    CHECK(record.status == folded.status);
    CHECK(record.terminal() == folded.terminal());
    CHECK(record.workflow == "w");
    CHECK(record.workflow_version == 3);
    CHECK(record.version == version);
    CHECK(record.started_at == t0);
    CHECK(record.ended_at.has_value() == c.ended);
    if (c.ended) CHECK(*record.ended_at == all.back().time);
    // The latest step event is the current step.
    const Event* last_step = nullptr;
    for (const auto& e : all) {
      if (!e.step.empty()) last_step = &e;
    }
    if (last_step != nullptr) {
      CHECK(record.current_step["step"] == last_step->step);
      CHECK(record.current_step["event"] == std::string(to_string(last_step->type)));
    } else {
      CHECK(record.current_step.is_null());
    }
    if (c.status == ExecutionStatus::kFailed) {
      CHECK(record.error == error);
    }
    // The row itself is written only by lifecycle events; once ended, its version is exact
    // (retention counts events with it).
    if (c.ended) {
      CHECK(fx.count(std::string("SELECT version FROM executions WHERE id = '") + c.id + "'") ==
            version);
    }
  }
}

TEST_CASE("An append after an execution ended keeps its row's version exact",
          "[eventstore][projection][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->append_sync(request("e-1", 0, {started("w")})) == 1);
  REQUIRE(fx.store->append_sync(request("e-1", 1, {step_event(EventType::kStepStarted, "a", 1)})) ==
          2);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 1);  // not per append
  REQUIRE(fx.store->append_sync(request("e-1", 2, {completed()})) == 3);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 3);
  // A late event (a step that finished after the end) still moves the ended row.
  REQUIRE(fx.store->append_sync(
              request("e-1", 3, {step_event(EventType::kStepCompleted, "a", 1)})) == 4);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 4);
  // And so does the next one: an ended stream is never decided from the version cache.
  REQUIRE(fx.store->append_sync(
              request("e-1", 4, {step_event(EventType::kStepCompleted, "b", 1)})) == 5);
  CHECK(fx.count("SELECT version FROM executions WHERE id = 'e-1'") == 5);
  auto record = fx.store->get_execution("e-1");
  REQUIRE(record);
  REQUIRE(*record);
  CHECK((*record)->status == ExecutionStatus::kCompleted);
  CHECK((*record)->version == 5);
}

TEST_CASE("Starts record lineage and the starter's lease",
          "[eventstore][projection][integration]") {
  StoreOptions options;
  options.owner = "instance-a";
  options.lease_ttl = std::chrono::minutes(1);
  StoreFixture fx(options);
  Event child = started("child", 1, "k-1");
  child.data["parent"] = Json{{"executionId", "p-1"}, {"step", "sub"}};
  child.data["retryOf"] = "old-1";
  REQUIRE(fx.store->start_execution_sync(request("c-1", 0, {child})));
  auto row = *fx.store->get_execution("c-1");
  REQUIRE(row);
  CHECK(row->parent == std::optional<std::string>("p-1"));
  CHECK(row->retry_of == std::optional<std::string>("old-1"));
  CHECK(row->dedupe_key == std::optional<std::string>("k-1"));
  CHECK(row->owner == std::optional<std::string>("instance-a"));
  REQUIRE(row->lease_until);
  CHECK(*row->lease_until > Clock::now());

  // A store without an owner (flowctl) starts executions unowned.
  auto unowned = fx.open();
  REQUIRE(unowned->start_execution_sync(request("c-2", 0, {started("w")})));
  auto row2 = *unowned->get_execution("c-2");
  REQUIRE(row2);
  CHECK_FALSE(row2->owner.has_value());
  CHECK_FALSE(row2->lease_until.has_value());
  CHECK_FALSE(fx.store->get_execution("missing")->has_value());
}

TEST_CASE("Listing executions filters by workflow, status and time, newest first, in pages",
          "[eventstore][queries][integration]") {
  StoreFixture fx;
  const TimePoint t0 = at_micros(1'790'000'000'000'000);
  // 12 executions: workflows a/b alternating, one minute apart; every third completed.
  for (int i = 0; i < 12; ++i) {
    const std::string id = "x-" + std::to_string(100 + i);
    const TimePoint t = t0 + std::chrono::minutes(i);
    std::vector<Event> events = {started(i % 2 == 0 ? "a" : "b", 1, "", t)};
    if (i % 3 == 0) events.push_back(completed(t + std::chrono::seconds(1)));
    REQUIRE(fx.store->append_sync(request(id, 0, events)));
  }
  auto list = [&](ExecutionQuery q) {
    auto page = fx.store->list_executions(q);
    REQUIRE(page);
    return *page;
  };
  auto ids = [](const ExecutionPage& page) {
    std::vector<std::string> out;
    for (const auto& r : page.items) out.push_back(r.id);
    return out;
  };

  ExecutionQuery all;
  all.limit = 100;
  CHECK(ids(list(all)) == std::vector<std::string>{"x-111", "x-110", "x-109", "x-108", "x-107",
                                                   "x-106", "x-105", "x-104", "x-103", "x-102",
                                                   "x-101", "x-100"});

  ExecutionQuery by_workflow;
  by_workflow.workflow = "a";
  CHECK(list(by_workflow).items.size() == 6);

  ExecutionQuery by_status;
  by_status.status = ExecutionStatus::kCompleted;
  CHECK(ids(list(by_status)) == std::vector<std::string>{"x-109", "x-106", "x-103", "x-100"});

  ExecutionQuery combined;
  combined.workflow = "b";
  combined.status = ExecutionStatus::kRunning;
  combined.since = t0 + std::chrono::minutes(6);
  CHECK(ids(list(combined)) == std::vector<std::string>{"x-111", "x-107"});

  // Pages of 5 cover everything once, in order.
  ExecutionQuery paged;
  paged.limit = 5;
  std::vector<std::string> seen;
  int pages = 0;
  for (;;) {
    auto page = list(paged);
    ++pages;
    for (const auto& id : ids(page)) seen.push_back(id);
    if (page.next_page_token.empty()) break;
    paged.page_token = page.next_page_token;
  }
  CHECK(pages == 3);
  CHECK(seen == ids(list(all)));

  ExecutionQuery bad;
  bad.page_token = "garbage";
  auto refused = fx.store->list_executions(bad);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().is(errc::invalid_argument));
}

}  // namespace
}  // namespace flowd::eventstore
