// Compensation (saga) and spec.onFailure: order, nesting, at most once, failed compensations,
// resume after a crash in the middle of compensating.
#include "harness.h"

using flowd::Event;
using flowd::EventType;
using flowd::ExecutionStatus;
using flowd::Json;
using flowd::test::Harness;

namespace {

const char* kHeader = "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: saga, version: 1}\n";

std::string wf(const std::string& spec) {
  return std::string(kHeader) + "spec:\n" + spec;
}

// The compensation events, as "Type:step".
std::vector<std::string> compensations(const Harness& h, const std::string& id) {
  std::vector<std::string> out;
  for (const Event& e : h.log.read(id))
    if (e.type == EventType::kCompensationStarted || e.type == EventType::kCompensationCompleted ||
        e.type == EventType::kCompensationFailed)
      out.push_back(std::string(to_string(e.type)) + ":" + e.step);
  return out;
}

const char* kSaga = R"(
  steps:
    - id: reserve
      type: transform
      with: {sku: "{{ input.sku }}"}
      compensate: {type: log, with: {message: "release {{ self.output.sku }}"}}
    - id: charge
      dependsOn: [reserve]
      type: transform
      with: {amount: 5}
      compensate: {type: log, with: {message: "refund {{ self.input.amount }}"}}
    - id: note
      dependsOn: [charge]
      type: noop
    - id: ship
      dependsOn: [note]
      type: fail
      with: {code: EXTERNAL, message: "carrier down"}
)";

}  // namespace

TEST_CASE("Compensations of completed steps run in reverse completion order, once each",
          "[engine][compensation]") {
  Harness h;
  auto s = h.run(wf(kSaga), Json{{"sku", "A1"}});
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(s.failed_step == "ship");
  CHECK(h.logged == std::vector<std::string>{"refund 5", "release A1"});
  CHECK(compensations(h, s.id) ==
        std::vector<std::string>{"CompensationStarted:charge", "CompensationCompleted:charge",
                                 "CompensationStarted:reserve", "CompensationCompleted:reserve"});
  // ExecutionFailed comes last, with the summary, after every compensation.
  auto events = h.log.read(s.id);
  REQUIRE(events.back().type == EventType::kExecutionFailed);
  CHECK(events.back().data["compensation"]["order"] == Json::array({"charge", "reserve"}));
  CHECK(events.back().data["compensation"]["completed"] == 2);
  CHECK(s.compensations.at("charge") == "completed");
}

TEST_CASE("A failed compensation is recorded and the others still run", "[engine][compensation]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: a
      type: noop
      compensate: {type: log, with: {message: "undo a"}}
    - id: b
      dependsOn: [a]
      type: noop
      compensate: {type: fail, with: {code: EXTERNAL, message: "undo b broke"},
                   retry: {maxAttempts: 2, backoff: 1ms, on: [EXTERNAL]}}
    - {id: c, dependsOn: [b], type: fail, with: {code: INVALID_INPUT}}
)"));
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(compensations(h, s.id) ==
        std::vector<std::string>{"CompensationStarted:b", "CompensationStarted:b",
                                 "CompensationFailed:b", "CompensationStarted:a",
                                 "CompensationCompleted:a"});
  CHECK(h.logged == std::vector<std::string>{"undo a"});
  CHECK(h.log.read(s.id).back().data["compensation"]["failed"] == 1);
}

TEST_CASE("A completed execution compensates nothing, nor does a step without compensate",
          "[engine][compensation]") {
  Harness h;
  auto ok = h.run(wf(R"(
  steps:
    - {id: a, type: noop, compensate: {type: log, with: {message: "undo"}}}
)"));
  CHECK(ok.status == ExecutionStatus::kCompleted);
  CHECK(compensations(h, ok.id).empty());
  CHECK(h.logged.empty());
}

TEST_CASE("forEach items and steps inside groups are compensated each, latest first",
          "[engine][compensation]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: each
      forEach: {items: "{{ input.items }}", maxParallel: 1}
      type: transform
      with: {v: "{{ item }}"}
      compensate: {type: log, with: {message: "undo item {{ index }}={{ item }} {{ self.output.v }}"}}
    - id: grp
      dependsOn: [each]
      steps:
        - {id: inner, type: noop, compensate: {type: log, with: {message: "undo inner"}}}
    - {id: boom, dependsOn: [grp], type: fail, with: {code: EXTERNAL}}
)"),
                 Json{{"items", Json::array({"x", "y"})}});
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(h.logged == std::vector<std::string>{"undo inner", "undo item 1=y y", "undo item 0=x x"});
}

TEST_CASE("spec.onFailure runs a workflow with the failure instead of compensations",
          "[engine][compensation]") {
  Harness h;
  h.load(R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: cleanup, version: 1}
spec:
  steps:
    - {id: say, type: log, with: {message: "cleanup {{ input.step }} {{ input.error.code }}"}}
)");
  auto s = h.run(wf(R"(
  onFailure: {workflow: cleanup@1}
  steps:
    - {id: a, type: noop, compensate: {type: log, with: {message: "not this"}}}
    - {id: b, dependsOn: [a], type: fail, with: {code: TIMEOUT}}
)"));
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(h.logged == std::vector<std::string>{"cleanup b TIMEOUT"});
  CHECK(compensations(h, s.id) ==
        std::vector<std::string>{"CompensationStarted:", "CompensationCompleted:"});
}

TEST_CASE("A run resumed in the middle of compensating skips the finished compensations",
          "[engine][compensation][replay]") {
  // The first run's events up to the first completed compensation are the "crash": a new engine
  // resumes from them and must run only the remaining one, then fail the execution.
  Harness first;
  auto s = first.run(wf(kSaga), Json{{"sku", "A1"}});
  REQUIRE(s.status == ExecutionStatus::kFailed);
  auto events = first.log.read(s.id);
  std::vector<Event> cut;
  for (const auto& e : events) {
    cut.push_back(e);
    if (e.type == EventType::kCompensationCompleted) break;
  }
  // ... and a crash in the middle of the second one (started, not ended).
  for (const auto& e : events)
    if (e.type == EventType::kCompensationStarted && e.step == "reserve") cut.push_back(e);
  REQUIRE(cut.back().type == EventType::kCompensationStarted);

  Harness second;
  auto def = second.load(wf(kSaga));
  for (std::size_t i = 0; i < cut.size(); ++i) {
    flowd::AppendRequest r{s.id, static_cast<std::int64_t>(i), {cut[i]}};
    second.log.append(r, [](flowd::Result<std::int64_t> v) { REQUIRE(v); });
  }
  flowd::StartOptions options;
  options.execution_id = s.id;
  auto id = second.engine->resume(
      def, second.log.read(s.id), options,
      [&](const flowd::ExecutionState& st) { second.final_states[st.id] = st; });
  REQUIRE(id);
  second.run_until([&] { return second.final_states.count(s.id) > 0; });
  const auto& done = second.final_states.at(s.id);
  CHECK(done.status == ExecutionStatus::kFailed);
  // charge's refund is not repeated; reserve's interrupted attempt runs again as attempt 2.
  CHECK(second.logged == std::vector<std::string>{"release A1"});
  auto after = second.log.read(s.id);
  CHECK(after[cut.size()].type == EventType::kCompensationStarted);
  CHECK(after[cut.size()].attempt == 2);
  CHECK(after.back().type == EventType::kExecutionFailed);
  CHECK(after.back().data["compensation"]["skipped"] == 1);
}

TEST_CASE("Definitions check compensate, deadLetter and onFailure", "[engine][compensation]") {
  struct Case {
    const char* spec;
    const char* problem;  // "" = valid
  };
  const Case cases[] = {
      {"  deadLetter: {enabled: false}\n  steps: [{id: a, type: noop}]\n", ""},
      {"  deadLetter: {errorCodes: [TIMEOUT, EXTERNAL]}\n  steps: [{id: a, type: noop}]\n", ""},
      {"  deadLetter: {errorCodes: [NOPE]}\n  steps: [{id: a, type: noop}]\n",
       "unknown error code"},
      {"  deadLetter: {keep: true}\n  steps: [{id: a, type: noop}]\n", "unknown field"},
      {"  onFailure: {workflow: cleanup@2}\n  steps: [{id: a, type: noop}]\n", ""},
      {"  onFailure: {}\n  steps: [{id: a, type: noop}]\n", "workflow"},
      {"  steps: [{id: a, type: noop, compensate: {type: log, with: {message: x}}}]\n", ""},
      {"  steps: [{id: a, type: noop, compensate: {with: {}}}]\n", "type"},
      {"  steps: [{id: a, type: noop, compensate: {type: nosuch}}]\n", "unknown step type"},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    auto loaded = flowd::load_definition(wf(c.spec), "t.yaml");
    if (std::string(c.problem).empty()) {
      for (const auto& d : loaded.diagnostics) UNSCOPED_INFO(d.format());
      CHECK(loaded.definition);
    } else {
      REQUIRE_FALSE(loaded.diagnostics.empty());
      CHECK(loaded.diagnostics[0].format().find(c.problem) != std::string::npos);
    }
  }
}

TEST_CASE("A compensation resolves its secrets for its attempt only, audited and masked",
          "[engine][compensation][secrets]") {
  Harness h;  // secrets: TOKEN = s3cret
  auto s = h.run(wf(R"(
  steps:
    - id: a
      type: noop
      compensate: {type: fail, with: {code: EXTERNAL, message: "undo refused {{ secrets.TOKEN }}"}}
    - {id: b, dependsOn: [a], type: fail, with: {code: EXTERNAL, message: "b broke"}}
)"),
                 Json::object());
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(compensations(h, s.id) ==
        std::vector<std::string>{"CompensationStarted:a", "CompensationFailed:a"});
  bool accessed = false;
  for (const Event& e : h.log.read(s.id)) {
    INFO(to_string(e.type) << " " << e.data.dump());
    CHECK(e.data.dump().find("s3cret") == std::string::npos);
    if (e.type == EventType::kSecretAccessed) {
      accessed = true;
      CHECK(e.step == "a");
      CHECK(e.data["name"] == "TOKEN");
    }
    if (e.type == EventType::kCompensationFailed)
      CHECK(e.data["error"]["message"] == "undo refused ***");
  }
  CHECK(accessed);
}
