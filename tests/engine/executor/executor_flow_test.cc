// Control flow of the executor: sequencing, templates, conditions, switch, events, replay.
#include "harness.h"

using flowd::Json;
using flowd::test::Harness;

namespace {

const char* kHeader = "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: t, version: 1}\n";

std::string wf(const std::string& spec) {
  return std::string(kHeader) + "spec:\n" + spec;
}

}  // namespace

TEST_CASE("Sequential steps pass typed outputs through templates", "[engine][executor]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: a
      type: transform
      with: {n: "{{ input.n }}", label: "n={{ input.n }}"}
    - id: b
      dependsOn: [a]
      type: transform
      with: {doubled: "{{ steps.a.output.n }}", from: "{{ steps.a.status }}"}
    - id: c
      dependsOn: [b]
      type: log
      with: {message: "done {{ steps.b.output.doubled }}"}
  output: {n: "{{ steps.b.output.doubled }}", label: "{{ steps.a.output.label }}"}
)"),
                 Json{{"n", 21}});
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(s.output == Json{{"n", 21}, {"label", "n=21"}});
  CHECK(s.output["n"].is_number_integer());
  CHECK(s.steps.at("b").output["from"] == "succeeded");
  REQUIRE(h.logged == std::vector<std::string>{"done 21"});
  for (const char* id : {"a", "b", "c"}) CHECK(s.steps.at(id).attempts == 1);
}

TEST_CASE("Every state change is an event, in order, with gap-free versions",
          "[engine][executor]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: a, type: noop}
    - {id: b, type: noop, dependsOn: [a]}
)"));
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(h.event_types(s.id) == std::vector<std::string>{"ExecutionStarted", "StepScheduled:a",
                                                        "StepStarted:a", "StepCompleted:a",
                                                        "StepScheduled:b", "StepStarted:b",
                                                        "StepCompleted:b", "ExecutionCompleted"});
  auto events = h.log.read(s.id);
  for (std::size_t i = 0; i < events.size(); ++i) {
    CHECK(events[i].version == static_cast<std::int64_t>(i + 1));
    CHECK(events[i].time.time_since_epoch().count() > 0);
  }
  CHECK(events[2].attempt == 1);
  CHECK(events[2].data["idempotencyKey"] == s.id + "/a/1");
}

TEST_CASE("Replaying the event log rebuilds exactly the state the engine had", "[engine][replay]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: a, type: transform, with: {x: 1}}
    - {id: b, type: fail, with: {times: 1}, retry: {maxAttempts: 2, backoff: 1ms}, dependsOn: [a]}
    - {id: c, type: noop, if: "1 == 2", dependsOn: [a]}
)"));
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  auto events = h.log.read(s.id);
  auto replayed = flowd::fold(s.id, events);
  CHECK(replayed.to_json().dump() == s.to_json().dump());
  // Time travel: as of the first three events only `a` has started.
  auto early = flowd::fold(s.id, events, 3);
  CHECK(early.version == 3);
  CHECK(early.steps.at("a").status == flowd::StepStatus::kRunning);
  CHECK(early.status == flowd::ExecutionStatus::kRunning);
  // Events survive a JSON round trip unchanged.
  for (const auto& e : events) {
    auto back = flowd::event_from_json(flowd::to_json(e));
    REQUIRE(back);
    CHECK(flowd::to_json(*back) == flowd::to_json(e));
  }
}

TEST_CASE("An empty workflow completes at once with an empty output", "[engine][executor]") {
  Harness h;
  auto s = h.run(wf("  steps: []\n"));
  CHECK(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(s.output == Json::object());
  CHECK(h.event_types(s.id) == std::vector<std::string>{"ExecutionStarted", "ExecutionCompleted"});
}

TEST_CASE("A false condition skips the step; dependants still run and see the skip",
          "[engine][executor][condition]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: check
      if: "{{ input.vip }} == true"
      type: transform
      with: {vip: true}
    - id: after
      dependsOn: [check]
      type: transform
      with: {status: "{{ steps.check.status }}", out: "{{ steps.check.output }}"}
)"),
                 Json{{"vip", false}});
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(s.steps.at("check").status == flowd::StepStatus::kSkipped);
  CHECK(s.steps.at("check").skip_reason.find("condition is false") != std::string::npos);
  CHECK(s.steps.at("after").output == Json{{"status", "skipped"}, {"out", nullptr}});
}

TEST_CASE("Data in a condition cannot inject expression syntax", "[engine][executor][condition]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: guarded, if: "{{ input.name }} == 'admin'", type: noop}
)"),
                 Json{{"name", "x' || 'a' == 'a"}});
  CHECK(s.steps.at("guarded").status == flowd::StepStatus::kSkipped);
}

TEST_CASE("Switch runs the matching case, else the default, else fails clearly",
          "[engine][executor][switch]") {
  const std::string def = wf(R"(
  steps:
    - id: route
      switch:
        value: "{{ input.method }}"
        cases:
          - {match: card, type: transform, with: {charged: true}}
          - {match: 3, type: transform, with: {three: true}}
        default: {type: transform, with: {manual: "{{ input.method }}"}}
)");
  struct Case {
    Json input;
    Json output;
  };
  for (const auto& c : std::vector<Case>{{{{"method", "card"}}, {{"charged", true}}},
                                         {{{"method", 3.0}}, {{"three", true}}},
                                         {{{"method", "cash"}}, {{"manual", "cash"}}}}) {
    Harness h;
    auto s = h.run(def, c.input);
    REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
    CHECK(s.steps.at("route").output == c.output);
  }

  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: route
      switch:
        value: "{{ input.method }}"
        cases:
          - {match: card, type: noop}
)"),
                 Json{{"method", "cash"}});
  REQUIRE(s.status == flowd::ExecutionStatus::kFailed);
  REQUIRE(s.error);
  CHECK(s.error->code == flowd::ErrorCode::kInvalidInput);
  CHECK(s.error->message.find("matches no case") != std::string::npos);
  CHECK(s.failed_step == "route");
}

TEST_CASE("Missing template data is a clear error, or null when the step allows it",
          "[engine][executor][template]") {
  Harness h;
  auto failed = h.run(wf(R"(
  steps:
    - {id: a, type: transform, with: {v: "{{ input.customer.email }}"}}
)"),
                      Json{{"customer", Json::object()}});
  REQUIRE(failed.status == flowd::ExecutionStatus::kFailed);
  CHECK(failed.error->code == flowd::ErrorCode::kMissingInput);
  CHECK(failed.error->message.find("email") != std::string::npos);
  CHECK(failed.steps.at("a").attempts == 0);

  Harness h2;
  auto ok = h2.run(wf(R"(
  steps:
    - {id: a, type: transform, onMissing: "null", with: {v: "{{ input.customer.email }}"}}
)"),
                   Json{{"customer", Json::object()}});
  REQUIRE(ok.status == flowd::ExecutionStatus::kCompleted);
  CHECK(ok.steps.at("a").output == Json{{"v", nullptr}});
}

TEST_CASE("Secrets reach the step's with, are audited by name and masked in what is appended",
          "[engine][executor][secrets]") {
  Harness h;
  // `count` echoes its `with`: the runner saw the value, the log keeps "***".
  auto def = h.load(wf(R"(
  steps:
    - {id: a, type: count, with: {auth: "Bearer {{ secrets.TOKEN }}"}}
    - {id: b, type: fail, dependsOn: [a], with: {message: "refused {{ secrets.TOKEN }}"}}
)"));
  auto id = h.start(def);
  h.run_until([&] { return h.final_states.count(id) > 0; });
  const auto& s = h.final_states.at(id);
  CHECK(s.steps.at("a").output == Json{{"auth", "Bearer ***"}});
  REQUIRE(s.error);
  CHECK(s.error->message == "refused ***");
  std::string all;
  int accessed = 0;
  for (const auto& e : h.log.read(id)) {
    all += to_json(e).dump();
    if (e.type == flowd::EventType::kSecretAccessed) {
      ++accessed;
      CHECK(e.data == Json{{"name", "TOKEN"}});
    }
  }
  CHECK(accessed == 2);
  CHECK(all.find("s3cret") == std::string::npos);
}

TEST_CASE("A missing secret fails its step with PERMISSION_DENIED naming it",
          "[engine][executor][secrets]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: a, type: count, with: {key: "{{ secrets.NOPE }}"}}
)"));
  CHECK(s.status == flowd::ExecutionStatus::kFailed);
  REQUIRE(s.error);
  CHECK(s.error->code == flowd::ErrorCode::kPermissionDenied);
  CHECK(s.error->message.find("'NOPE'") != std::string::npos);
  CHECK(h.counter->calls.count("a") == 0);
}

TEST_CASE("Input failing the workflow's input schema is rejected before anything is written",
          "[engine][executor]") {
  Harness h;
  auto def = h.load(wf(R"(
  input: {type: object, required: [orderId], properties: {orderId: {type: string}}}
  steps: [{id: a, type: noop}]
)"));
  flowd::StartOptions options;
  options.input = Json{{"orderId", 5}};
  auto id = h.engine->start(def, options);
  REQUIRE_FALSE(id);
  CHECK(id.error().code == flowd::ErrorCode::kInvalidInput);
  CHECK(h.log.total_events() == 0);
}
