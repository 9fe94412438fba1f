// What the executor's fast paths must not change: a log that completes later (not inside
// append()) gives the same events, a large forEach folds its items into its own state (live,
// folded and resumed alike), many runs share one deadline timer, and an io_context shut down with
// runs still waiting frees them.
#include <algorithm>
#include <boost/asio/post.hpp>

#include "harness.h"

using flowd::Event;
using flowd::EventType;
using flowd::ExecutionStatus;
using flowd::Json;
using flowd::test::Harness;

namespace {

std::string wf(const std::string& spec, const std::string& name = "hp") {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
         ", version: 1}\nspec:\n" + spec;
}

// An EventLog that completes every append later, from the io_context (as the PostgreSQL store
// completes from its own thread), so the engine must wait for durability instead of finding it.
class DeferredLog : public flowd::EventLog {
 public:
  DeferredLog(boost::asio::io_context& io, flowd::MemoryEventLog& inner) : io_(io), inner_(inner) {}
  void append(flowd::AppendRequest request, flowd::AppendCallback done) override {
    ++appends;
    boost::asio::post(io_, [this, request = std::move(request), done = std::move(done)]() mutable {
      inner_.append(std::move(request), std::move(done));
    });
  }
  int appends = 0;

 private:
  boost::asio::io_context& io_;
  flowd::MemoryEventLog& inner_;
};

std::vector<std::string> types_of(const std::vector<Event>& events) {
  std::vector<std::string> out;
  for (const Event& e : events)
    out.push_back(std::string(flowd::to_string(e.type)) + (e.step.empty() ? "" : ":" + e.step));
  return out;
}

Json items(int count) {
  Json list = Json::array();
  for (int i = 0; i < count; ++i) list.push_back(Json{{"sku", "s" + std::to_string(i)}});
  return Json{{"items", std::move(list)}};
}

const std::string kChain = R"(
  steps:
    - {id: a, type: transform, with: {n: "{{ input.n }}"}}
    - {id: b, type: transform, dependsOn: [a], with: {m: "{{ steps.a.output.n }}"}}
    - {id: c, type: noop, dependsOn: [b]}
    - {id: d, type: noop}
)";

}  // namespace

TEST_CASE("A log that completes appends later yields the same events and state",
          "[engine][hotpath]") {
  Harness sync;
  auto expected = sync.run(wf(kChain), Json{{"n", 7}});
  REQUIRE(expected.status == ExecutionStatus::kCompleted);

  Harness h;
  DeferredLog deferred(h.io, h.log);
  flowd::EngineDeps deps;
  deps.log = &deferred;
  deps.runners = &h.registry;
  flowd::Engine engine(h.io, std::move(deps));
  std::optional<flowd::ExecutionState> done;
  flowd::StartOptions options;
  options.input = Json{{"n", 7}};
  auto id = engine.start(h.load(wf(kChain)), std::move(options),
                         [&](const flowd::ExecutionState& s) { done = s; });
  REQUIRE(id);
  h.run_until([&] { return done.has_value(); });
  REQUIRE(done->status == ExecutionStatus::kCompleted);
  CHECK(deferred.appends >= 3);
  CHECK(done->output == expected.output);
  CHECK(done->steps.at("b").output == Json{{"m", 7}});
  // Same events in the same order (parallel steps may interleave differently: compare sorted).
  auto got = types_of(h.log.read(*id));
  auto want = types_of(sync.log.read(expected.id));
  std::sort(got.begin(), got.end());
  std::sort(want.begin(), want.end());
  CHECK(got == want);
  CHECK(flowd::fold(*id, h.log.read(*id)).to_json()["steps"] == done->to_json()["steps"]);
}

TEST_CASE("A large forEach keeps its items in its own state, not one entry per item",
          "[engine][forEach][hotpath]") {
  const int count = static_cast<int>(flowd::kForEachItemDetailLimit) + 200;
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: each
      forEach: {items: "{{ input.items }}", maxParallel: 4}
      if: "{{ index }} != 3"
      type: transform
      with: {sku: "{{ item.sku }}"}
    - {id: after, type: transform, dependsOn: [each], with: {n: "{{ steps.each.output.itemCount }}"}}
)"),
                 items(count));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  const Json& out = s.steps.at("each").output;
  CHECK(out["itemCount"] == count);
  CHECK(out["successCount"] == count - 1);
  CHECK(out["outputs"][0] == Json{{"sku", "s0"}});
  CHECK(out["outputs"][3].is_null());
  CHECK(out["outputs"][count - 1] == Json{{"sku", "s" + std::to_string(count - 1)}});
  CHECK(s.steps.at("after").output == Json{{"n", count}});
  CHECK(s.steps.size() == 2);  // "each" and "after": no "each[i]" entries
  CHECK(s.steps.at("each").item_status.empty());
  // The fold of the events is the same state.
  auto folded = flowd::fold(s.id, h.log.read(s.id));
  CHECK(folded.steps.size() == 2);
  CHECK(folded.to_json()["steps"] == s.to_json()["steps"]);
  CHECK(folded.output == s.output);
}

TEST_CASE("A small forEach keeps one state entry per item", "[engine][forEach][hotpath]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: each, forEach: {items: "{{ input.items }}"}, type: transform, with: {sku: "{{ item.sku }}"}}
)"),
                 items(3));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("each[2]").output == Json{{"sku", "s2"}});
  CHECK(s.steps.at("each").item_status.empty());
}

TEST_CASE("Resuming a large forEach runs only the items that had not finished",
          "[engine][forEach][resume][hotpath]") {
  const int count = static_cast<int>(flowd::kForEachItemDetailLimit) + 10;
  const std::string def_text = wf(R"(
  steps:
    - id: each
      forEach: {items: "{{ input.items }}", maxParallel: 1}
      type: count
      with: {sku: "{{ item.sku }}"}
)");
  Harness first;
  auto s = first.run(def_text, items(count));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  auto events = first.log.read(s.id);
  // Cut after item 600 completed, while the folded state is mid-way.
  std::vector<Event> history;
  for (const auto& e : events) {
    history.push_back(e);
    if (e.type == EventType::kStepCompleted && e.step == "each[600]") break;
  }
  auto partial = flowd::fold(s.id, history);
  REQUIRE(partial.steps.at("each").item_status.size() == static_cast<std::size_t>(count));
  CHECK(partial.steps.at("each").item_status[600] == flowd::StepStatus::kSucceeded);
  CHECK(partial.steps.at("each").item_outputs[600] == Json{{"sku", "s600"}});
  CHECK(partial.steps.count("each[600]") == 0);

  Harness second;
  auto def = second.load(def_text);
  flowd::AppendRequest seed{s.id, 0, history};
  second.log.append(seed, [](flowd::Result<std::int64_t> r) { REQUIRE(r); });
  std::optional<flowd::ExecutionState> done;
  auto id =
      second.engine->resume(def, history, [&](const flowd::ExecutionState& st) { done = st; });
  REQUIRE(id);
  second.run_until([&] { return done.has_value(); });
  REQUIRE(done->status == ExecutionStatus::kCompleted);
  CHECK(second.counter->calls.size() == static_cast<std::size_t>(count - 601));
  CHECK(second.counter->calls.count("each[600]") == 0);
  CHECK(second.counter->calls.count("each[601]") == 1);
  CHECK(done->steps.at("each").output == s.steps.at("each").output);
}

TEST_CASE("Runs with different timeouts share the deadline timer; the loop ends with them",
          "[engine][timeout][hotpath]") {
  Harness h;
  auto slow = h.start(h.load(wf(R"(
  timeout: 40ms
  steps:
    - {id: wait, type: gate}
)",
                                "slow")));
  auto quick = h.start(h.load(wf(R"(
  timeout: 1h
  steps:
    - {id: a, type: noop}
)",
                                 "quick")));
  h.run_until([&] { return h.final_states.size() == 2; });
  CHECK(h.final_states.at(quick).status == ExecutionStatus::kCompleted);
  CHECK(h.final_states.at(slow).status == ExecutionStatus::kTimedOut);
  // Nothing is left to wait for: run() returns at once (no deadline timer kept armed).
  h.run_until([&] { return h.gate->cancelled == 1; });
  h.io.restart();
  auto began = std::chrono::steady_clock::now();
  h.io.run();
  CHECK(std::chrono::steady_clock::now() - began < std::chrono::seconds(5));
}

TEST_CASE("An io_context destroyed while runs wait frees them", "[engine][hotpath]") {
  // Under LeakSanitizer a run kept alive by its own suspended coroutines fails the suite.
  auto h = std::make_unique<Harness>();
  auto paused = h->start(h->load(wf(R"(
  steps:
    - {id: g, type: gate}
    - {id: h, type: noop, dependsOn: [g]}
)",
                                    "paused")));
  auto waiting = h->start(h->load(wf(R"(
  steps:
    - {id: w, type: transform, onMissing: wait, with: {x: "{{ input.later }}"}}
)",
                                     "waiting")));
  auto parallel = h->start(h->load(wf(R"(
  maxParallel: 1
  steps:
    - {id: p1, type: gate}
    - {id: p2, type: gate}
)",
                                      "parallel")));
  h->run_until([&] { return h->gate->waiting.size() == 2; });
  REQUIRE(h->engine->pause(paused));
  h->run_until([&] {
    for (const Event& e : h->log.read(waiting))
      if (e.type == EventType::kExecutionWaiting) return true;
    return false;
  });
  CHECK(h->engine->is_running(parallel));
  h.reset();
}
