// Snapshots and replay: the state from a snapshot plus the remaining events equals the fold of
// every event, at any version.
#include "flowd/eventstore/state_json.h"
#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

// A realistic history: started, two steps (one retried), a forEach item, completed.
std::vector<Event> history(TimePoint t0) {
  auto at = [&](int ms) { return t0 + std::chrono::milliseconds(ms); };
  const Json error{{"code", "TIMEOUT"}, {"message", "slow"}, {"retryable", true}};
  std::vector<Event> events = {
      started("order", 2, "", at(0)),
      step_event(EventType::kStepScheduled, "fetch", 0, Json::object(), at(1)),
      step_event(EventType::kStepStarted, "fetch", 1, {{"idempotencyKey", "x/fetch/1"}}, at(2)),
      step_event(EventType::kStepFailed, "fetch", 1,
                 {{"error", error}, {"durationMs", 30}, {"final", false}}, at(32)),
      step_event(EventType::kStepRetryScheduled, "fetch", 1, {{"delayMs", 100}, {"nextAttempt", 2}},
                 at(33)),
      step_event(EventType::kStepStarted, "fetch", 2, {{"idempotencyKey", "x/fetch/2"}}, at(133)),
      step_event(EventType::kStepCompleted, "fetch", 2,
                 {{"output", {{"body", {{"method", "card"}}}}}, {"durationMs", 12}}, at(145)),
      step_event(EventType::kStepScheduled, "reserve[0]", 0, Json::object(), at(146)),
      step_event(EventType::kStepSkipped, "gift", 0, {{"reason", "condition false"}}, at(146)),
      step_event(EventType::kStepStarted, "reserve[0]", 1, Json::object(), at(147)),
      step_event(EventType::kStepCompleted, "reserve[0]", 1,
                 {{"output", {{"sku", "a"}}}, {"durationMs", 1}}, at(148)),
      completed(at(150)),
  };
  for (std::size_t i = 0; i < events.size(); ++i) {
    events[i].version = static_cast<std::int64_t>(i) + 1;
  }
  return events;
}

TEST_CASE("The snapshot encoding round-trips every field of ExecutionState",
          "[eventstore][snapshot]") {
  const auto events = history(at_micros(1'790'000'000'000'000));
  for (std::size_t n = 1; n <= events.size(); ++n) {
    INFO("after " << n << " events");
    const ExecutionState state = fold("x", events, static_cast<std::int64_t>(n));
    auto decoded = snapshot_from_json(snapshot_to_json(state));
    REQUIRE(decoded);
    CHECK(snapshot_to_json(*decoded) == snapshot_to_json(state));
  }
  CHECK_FALSE(snapshot_from_json(Json{{"format", 99}}));
  CHECK_FALSE(snapshot_from_json(Json::array()));
}

TEST_CASE("A snapshot keeps a large forEach's finished items", "[eventstore][snapshot]") {
  // Above kForEachItemDetailLimit items, finished items live only in the forEach's StepState:
  // a snapshot without them would make a resume run those items again.
  const std::size_t count = kForEachItemDetailLimit + 5;
  std::vector<Event> events = {
      started("big"),
      step_event(EventType::kStepStarted, "each", 1, {{"itemCount", count}}),
  };
  for (int i : {0, 7, 1003}) {
    const std::string item = "each[" + std::to_string(i) + "]";
    events.push_back(step_event(EventType::kStepStarted, item, 1));
    events.push_back(step_event(EventType::kStepCompleted, item, 1, {{"output", {{"n", i}}}}));
  }
  const ExecutionState state = fold("x", events);
  const StepState& each = state.steps.at("each");
  REQUIRE(each.item_status.size() == count);
  REQUIRE(each.item_status[7] == StepStatus::kSucceeded);

  auto decoded = snapshot_from_json(snapshot_to_json(state));
  REQUIRE(decoded);
  const StepState& back = decoded->steps.at("each");
  CHECK(back.item_status == each.item_status);
  CHECK(back.item_outputs == each.item_outputs);
  CHECK(back.item_outputs[1003] == Json{{"n", 1003}});
  CHECK(back.item_status[8] == StepStatus::kPending);

  Json broken = snapshot_to_json(state);
  broken["steps"]["each"]["itemOutputs"] = Json::array();
  CHECK_FALSE(snapshot_from_json(broken));
}

TEST_CASE("Replay from snapshots equals the fold of all events, at every version",
          "[eventstore][snapshot][integration]") {
  StoreFixture fx;
  const auto events = history(at_micros(1'790'000'000'000'000));
  std::vector<Event> to_append = events;
  for (auto& e : to_append) e.version = 0;
  REQUIRE(fx.store->append_sync(request("x", 0, to_append)) ==
          static_cast<std::int64_t>(events.size()));

  auto check_all_versions = [&] {
    for (std::int64_t n = 1; n <= static_cast<std::int64_t>(events.size()); ++n) {
      INFO("as of event " << n);
      auto replayed = fx.store->load_state("x", n);
      REQUIRE(replayed);
      CHECK(replayed->version == n);
      CHECK(snapshot_to_json(*replayed) == snapshot_to_json(fold("x", events, n)));
    }
    auto latest = fx.store->load_state("x");
    REQUIRE(latest);
    CHECK(latest->to_json() == fold("x", events).to_json());
  };
  check_all_versions();  // no snapshots: folds from event 1

  // Snapshots at 4 and 9; replays at or after them start there, earlier ones from zero.
  REQUIRE(fx.store->save_snapshot(fold("x", events, 4)));
  REQUIRE(fx.store->save_snapshot(fold("x", events, 9)));
  REQUIRE(fx.store->save_snapshot(fold("x", events, 9)));  // same version again: no-op
  CHECK(fx.count("SELECT count(*) FROM snapshots") == 2);
  auto snap = fx.store->load_snapshot("x", 8);
  REQUIRE(snap);
  REQUIRE(snap->has_value());
  CHECK((*snap)->version == 4);
  CHECK((*fx.store->load_snapshot("x"))->version == 9);
  CHECK_FALSE(fx.store->load_snapshot("x", 3)->has_value());
  check_all_versions();

  // The snapshot is really used: a (deliberately wrong) snapshot shows through.
  ExecutionState forged = fold("x", events, 10);
  forged.workflow = "forged";
  REQUIRE(fx.store->save_snapshot(forged));
  CHECK(fx.store->load_state("x")->workflow == "forged");
  CHECK(fx.store->load_state("x", 9)->workflow == "order");

  auto missing = fx.store->load_state("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(errc::not_found));
}

TEST_CASE("Replay pages through long histories", "[eventstore][snapshot][integration]") {
  StoreFixture fx;
  // 12,000 events (more than two replay pages) of one forEach step.
  std::vector<Event> events = {started("big")};
  for (int i = 0; i < 4'000; ++i) {
    const std::string step = "items[" + std::to_string(i) + "]";
    events.push_back(step_event(EventType::kStepScheduled, step, 0));
    events.push_back(step_event(EventType::kStepStarted, step, 1));
    events.push_back(step_event(EventType::kStepCompleted, step, 1, {{"output", i}}));
  }
  events.pop_back();
  REQUIRE(fx.store->append_sync(request("big", 0, events)));
  auto state = fx.store->load_state("big");
  REQUIRE(state);
  CHECK(state->version == static_cast<std::int64_t>(events.size()));
  CHECK(state->steps.size() == 4'000);
  CHECK(state->steps["items[3998]"].status == StepStatus::kSucceeded);
  CHECK(state->steps["items[3999]"].status == StepStatus::kRunning);
}

TEST_CASE("load_states folds many executions at once, like load_state one by one",
          "[eventstore][snapshot][integration]") {
  StoreFixture fx;
  const auto events = history(at_micros(1'790'000'000'000'000));
  std::vector<Event> to_append = events;
  for (auto& e : to_append) e.version = 0;
  // Ids whose byte order differs from many collations' order; one with a snapshot.
  const std::vector<std::string> ids = {"b", "A", "a-1", "a_2", "Z"};
  for (const auto& id : ids) REQUIRE(fx.store->append_sync(request(id, 0, to_append)));
  ExecutionState forged = fold("a-1", events, 6);
  forged.workflow = "from-snapshot";
  REQUIRE(fx.store->save_snapshot(forged));
  // One long history: several pages, the query's page ending inside it.
  std::vector<Event> long_history = {started("big")};
  for (int i = 0; i < 6'000; ++i) {
    long_history.push_back(
        step_event(EventType::kStepScheduled, "items[" + std::to_string(i) + "]", 0));
  }
  REQUIRE(fx.store->append_sync(request("m-long", 0, long_history)));

  std::vector<std::string> wanted = ids;
  wanted.insert(wanted.begin() + 2, "m-long");
  wanted.push_back("nope");
  wanted.push_back("b");  // repeated
  auto states = fx.store->load_states(wanted);
  REQUIRE(states);
  REQUIRE(states->size() == wanted.size());
  for (std::size_t i = 0; i < ids.size() + 1; ++i) {
    INFO(wanted[i]);
    const auto& state = (*states)[i];
    REQUIRE(state);
    auto one = fx.store->load_state(wanted[i]);
    REQUIRE(one);
    CHECK(snapshot_to_json(*state) == snapshot_to_json(*one));
    CHECK(state->id == wanted[i]);
  }
  CHECK((*states)[3]->workflow == "from-snapshot");
  CHECK((*states)[2]->version == static_cast<std::int64_t>(long_history.size()));
  CHECK((*states)[2]->steps.size() == 6'000);
  REQUIRE_FALSE((*states)[wanted.size() - 2]);
  CHECK((*states)[wanted.size() - 2].error().is(errc::not_found));
  REQUIRE_FALSE((*states)[wanted.size() - 1]);
  CHECK((*states)[wanted.size() - 1].error().is(errc::invalid_argument));

  auto none = fx.store->load_states({});
  REQUIRE(none);
  CHECK(none->empty());
}

}  // namespace
}  // namespace flowd::eventstore
