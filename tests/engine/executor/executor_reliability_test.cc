// Reliability: retries with backoff, fallbacks, continueOnError, timeouts, cancellation, pause,
// waiting for input, resume after a restart, sub-workflows.
#include "harness.h"

using flowd::ErrorCode;
using flowd::EventType;
using flowd::ExecutionStatus;
using flowd::Json;
using flowd::StepStatus;
using flowd::test::Harness;

namespace {

std::string wf(const std::string& spec, const std::string& name = "r") {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
         ", version: 1}\nspec:\n" + spec;
}

std::vector<flowd::Event> of_type(const std::vector<flowd::Event>& events, EventType type) {
  std::vector<flowd::Event> out;
  for (const auto& e : events)
    if (e.type == type) out.push_back(e);
  return out;
}

}  // namespace

TEST_CASE("Retries back off exponentially, capped, with jitter within its bound",
          "[engine][retry]") {
  Harness h([] { return 1.0; });  // the largest jitter
  auto s = h.run(wf(R"(
  steps:
    - id: flaky
      type: fail
      with: {times: 3, code: EXTERNAL}
      retry: {maxAttempts: 4, backoff: 2ms, multiplier: 3, maxBackoff: 10ms, jitter: 0.25}
)"));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("flaky").attempts == 4);
  auto retries = of_type(h.log.read(s.id), EventType::kStepRetryScheduled);
  REQUIRE(retries.size() == 3);
  // 2ms, 6ms, min(18ms, 10ms) = 10ms, each plus 25 % jitter.
  CHECK(retries[0].data["delayMs"] == 2);
  CHECK(retries[1].data["delayMs"] == 7);
  CHECK(retries[2].data["delayMs"] == 12);
  CHECK(retries[2].data["nextAttempt"] == 4);
}

TEST_CASE("Retry exhaustion fails the execution with the step's last error", "[engine][retry]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: flaky, type: fail, with: {code: TIMEOUT, message: slow}, retry: {maxAttempts: 3, backoff: 1ms}}
)"));
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(s.failed_step == "flaky");
  CHECK(s.error->code == ErrorCode::kTimeout);
  CHECK(s.error->message == "slow");
  CHECK(s.steps.at("flaky").attempts == 3);
  CHECK(s.steps.at("flaky").status == StepStatus::kFailed);
}

TEST_CASE("Only retryable errors, or the codes listed in retry.on, are retried",
          "[engine][retry]") {
  struct Case {
    const char* step;
    int attempts;
  };
  for (const auto& c : std::vector<Case>{
           {"{id: s, type: fail, with: {code: INVALID_INPUT}, retry: {maxAttempts: 3, backoff: "
            "1ms}}",
            1},
           {"{id: s, type: fail, with: {code: EXTERNAL}, retry: {maxAttempts: 3, backoff: 1ms, on: "
            "[TIMEOUT]}}",
            1},
           {"{id: s, type: fail, with: {code: TIMEOUT}, retry: {maxAttempts: 3, backoff: 1ms, on: "
            "[TIMEOUT]}}",
            3},
           {"{id: s, type: fail, with: {code: NOT_FOUND}, retry: {maxAttempts: 2, backoff: 1ms, "
            "on: [NOT_FOUND]}}",
            2},
       }) {
    Harness h;
    auto s = h.run(wf(std::string("  steps:\n    - ") + c.step + "\n"));
    INFO(c.step);
    CHECK(s.status == ExecutionStatus::kFailed);
    CHECK(s.steps.at("s").attempts == c.attempts);
  }
}

TEST_CASE("Workflow defaults apply to steps without their own settings", "[engine][retry]") {
  Harness h;
  auto s = h.run(wf(R"(
  defaults: {retry: {maxAttempts: 2, backoff: 1ms}}
  steps:
    - {id: s, type: fail, with: {times: 1}}
)"));
  CHECK(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("s").attempts == 2);
}

TEST_CASE("Fallbacks: a static value, a skip, or an alternative step", "[engine][fallback]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: v, type: fail, fallback: {value: {cached: true}}}
    - {id: k, type: fail, fallback: {skip: true}}
    - {id: primary, type: fail, with: {code: EXTERNAL}, fallback: {step: backup}}
    - {id: backup, type: transform, with: {source: backup}}
    - {id: after, dependsOn: [v, k, primary], type: transform,
       with: {v: "{{ steps.v.output }}", k: "{{ steps.k.status }}", p: "{{ steps.primary.output }}"}}
)"));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("v").fallback == "value");
  CHECK(s.steps.at("k").status == StepStatus::kSkipped);
  CHECK(s.steps.at("primary").fallback == "step");
  CHECK(s.steps.count("backup") == 0);  // runs only as a fallback
  CHECK(s.steps.at("after").output ==
        Json{{"v", {{"cached", true}}}, {"k", "skipped"}, {"p", {{"source", "backup"}}}});
  CHECK(of_type(h.log.read(s.id), EventType::kStepFallbackUsed).size() == 3);
}

TEST_CASE("continueOnError lets the workflow go on past a failed step", "[engine][fallback]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: optional, type: fail, with: {code: INVALID_INPUT, message: nope}, continueOnError: true}
    - {id: next, dependsOn: [optional], type: transform, with: {saw: "{{ steps.optional.status }}"}}
)"));
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("optional").status == StepStatus::kFailed);
  CHECK(s.steps.at("next").output == Json{{"saw", "failed"}});
}

TEST_CASE("A step that exceeds its timeout fails with TIMEOUT and its work is cancelled",
          "[engine][timeout]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  steps:
    - {id: slow, type: gate, timeout: 20ms}
)")));
  h.run_until([&] { return h.final_states.count(id) == 1; });
  const auto& s = h.final_states.at(id);
  REQUIRE(s.status == ExecutionStatus::kFailed);
  CHECK(s.error->code == ErrorCode::kTimeout);
  CHECK(s.error->message.find("timed out after 20ms") != std::string::npos);
  h.run_until([&] { return h.gate->cancelled == 1; });
}

TEST_CASE("The workflow timeout stops running steps and ends the execution as timed out",
          "[engine][timeout]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  timeout: 30ms
  steps:
    - {id: slow, type: gate}
    - {id: never, type: noop, dependsOn: [slow]}
)")));
  h.run_until([&] { return h.final_states.count(id) == 1; });
  const auto& s = h.final_states.at(id);
  CHECK(s.status == ExecutionStatus::kTimedOut);
  CHECK(s.steps.at("slow").error->code == ErrorCode::kCancelled);
  CHECK(s.steps.count("never") == 0);
  // The runner was signalled; its coroutine notices when it next runs (it is not awaited).
  h.run_until([&] { return h.gate->cancelled == 1; });
}

TEST_CASE("Cancellation stops running steps and starts nothing new", "[engine][cancel]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  steps:
    - {id: a, type: gate}
    - {id: b, type: gate}
    - {id: c, type: noop, dependsOn: [a, b]}
)")));
  h.run_until([&] { return h.gate->waiting.size() == 2; });
  REQUIRE(h.engine->cancel(id, "operator said stop"));
  h.run_until([&] { return h.final_states.count(id) == 1; });
  const auto& s = h.final_states.at(id);
  CHECK(s.status == ExecutionStatus::kCancelled);
  CHECK(s.error->message == "operator said stop");
  CHECK(h.gate->cancelled == 2);
  CHECK(s.steps.count("c") == 0);
  CHECK(h.engine->running() == 0);
  CHECK_FALSE(h.engine->cancel(id));
}

TEST_CASE("Pause lets running steps finish and starts no new ones until resumed",
          "[engine][pause]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  steps:
    - {id: a, type: gate}
    - {id: b, type: gate, dependsOn: [a]}
)")));
  h.run_until([&] { return h.gate->waiting.size() == 1; });
  REQUIRE(h.engine->pause(id, "maintenance"));
  h.gate->release_all();
  h.run_until([&] { return h.gate->order.size() == 2; });  // a ended
  // Drain everything that is ready: b must not start while paused.
  h.io.restart();
  h.io.poll();
  CHECK(h.gate->calls.count("b") == 0);
  auto events = h.log.read(id);
  CHECK(of_type(events, EventType::kExecutionPaused).size() == 1);
  REQUIRE(h.engine->resume_paused(id));
  h.run_until([&] { return h.gate->waiting.size() == 1; });
  CHECK(h.gate->calls.count("b") == 1);
  h.gate->release_all();
  h.run_until([&] { return h.final_states.count(id) == 1; });
  CHECK(h.final_states.at(id).status == ExecutionStatus::kCompleted);
}

TEST_CASE("A step may wait for missing input; resume with input continues it",
          "[engine][pause][template]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  steps:
    - {id: ask, type: transform, onMissing: wait, with: {approved: "{{ input.approval.ok }}"}}
)")),
                    Json{{"order", 1}});
  h.run_until([&] {
    auto events = h.log.read(id);
    return !of_type(events, EventType::kExecutionWaiting).empty();
  });
  CHECK(h.final_states.count(id) == 0);
  REQUIRE(h.engine->resume_paused(id, Json{{"approval", {{"ok", true}}}}));
  h.run_until([&] { return h.final_states.count(id) == 1; });
  const auto& s = h.final_states.at(id);
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("ask").output == Json{{"approved", true}});
  CHECK(s.input == Json{{"order", 1}, {"approval", {{"ok", true}}}});
}

TEST_CASE("Resume after a crash: finished steps are not re-run, a started one retries",
          "[engine][resume]") {
  const std::string def_text = wf(R"(
  steps:
    - {id: a, type: count, with: {n: 1}}
    - {id: b, type: count, dependsOn: [a], with: {prev: "{{ steps.a.output.n }}"}}
    - {id: c, type: count, dependsOn: [b]}
)");
  Harness first;
  auto s = first.run(def_text);
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  auto events = first.log.read(s.id);
  // Cut the history right after b's StepStarted: b's side effect may or may not have happened.
  std::vector<flowd::Event> history;
  for (const auto& e : events) {
    history.push_back(e);
    if (e.type == EventType::kStepStarted && e.step == "b") break;
  }

  Harness second;
  auto def = second.load(def_text);
  // The store still holds the truncated stream.
  flowd::AppendRequest seed{s.id, 0, history};
  second.log.append(seed, [](flowd::Result<std::int64_t> r) { REQUIRE(r); });
  std::optional<flowd::ExecutionState> done;
  auto id =
      second.engine->resume(def, history, [&](const flowd::ExecutionState& st) { done = st; });
  REQUIRE(id);
  CHECK(*id == s.id);
  second.run_until([&] { return done.has_value(); });
  REQUIRE(done->status == ExecutionStatus::kCompleted);
  CHECK(second.counter->calls.count("a") == 0);
  CHECK(second.counter->calls["b"] == 1);
  CHECK(second.counter->calls["c"] == 1);
  CHECK(done->steps.at("b").attempts == 2);
  CHECK(second.counter->keys.front() == s.id + "/b/2");
  CHECK(done->steps.at("b").output == Json{{"prev", 1}});
}

TEST_CASE("Sub-workflows run with isolated input and pass back output or errors",
          "[engine][subworkflow]") {
  Harness h;
  h.load(wf(R"(
  steps:
    - {id: calc, type: transform, with: {total: "{{ input.amount }}", leaked: "{{ input.secret | default('none') }}"}}
  output: "{{ steps.calc.output }}"
)",
            "child"));
  h.load(wf(R"(
  steps:
    - {id: boom, type: fail, with: {code: INVALID_INPUT, message: "bad amount"}}
)",
            "broken"));
  auto s = h.run(wf(R"(
  steps:
    - {id: call, type: workflow, with: {ref: child@1, input: {amount: "{{ input.amount }}"}}}
    - {id: bad, type: workflow, with: {ref: broken}, continueOnError: true}
)",
                    "parent"),
                 Json{{"amount", 12}, {"secret", "x"}});
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  CHECK(s.steps.at("call").output == Json{{"total", 12}, {"leaked", "none"}});
  REQUIRE(s.steps.at("bad").error);
  CHECK(s.steps.at("bad").error->code == ErrorCode::kInvalidInput);
  CHECK(s.steps.at("bad").error->message.find("broken@1") != std::string::npos);
  CHECK(s.steps.at("bad").error->message.find("boom") != std::string::npos);
  // The child has a stream of its own.
  CHECK(h.log.streams().size() == 3);
}

TEST_CASE("A resumed sub-workflow step adopts the child its interrupted attempt started",
          "[engine][subworkflow][resume]") {
  const std::string child_text = wf(R"(
  steps:
    - {id: a, type: count, with: {n: 1}}
    - {id: b, type: count, dependsOn: [a], with: {n: 2}}
  output: {n: "{{ steps.b.output.n }}"}
)",
                                    "child");
  const std::string parent_text = wf(R"(
  steps:
    - {id: call, type: workflow, with: {ref: child@1}}
  output: "{{ steps.call.output }}"
)",
                                     "parent");
  Harness first;
  first.load(child_text);
  auto s = first.run(parent_text);
  REQUIRE(s.status == ExecutionStatus::kCompleted);
  const std::string child_id = s.id + ".call.1";
  // The crash: the parent's call step has started; the child finished step a, started b.
  auto cut = [](const std::vector<flowd::Event>& events, const std::string& step) {
    std::vector<flowd::Event> out;
    for (const auto& e : events) {
      out.push_back(e);
      if (e.type == EventType::kStepStarted && e.step == step) break;
    }
    return out;
  };
  const auto parent_history = cut(first.log.read(s.id), "call");
  const auto child_history = cut(first.log.read(child_id), "b");
  REQUIRE(child_history.back().step == "b");

  // A restarted engine whose log holds `child` and the cut parent; resumes the parent to its end.
  auto restart = [&](Harness& h, const std::vector<flowd::Event>& child) {
    h.load(child_text);
    auto def = h.load(parent_text);
    h.log.append({child_id, 0, child}, [](flowd::Result<std::int64_t> r) { REQUIRE(r); });
    h.log.append({s.id, 0, parent_history}, [](flowd::Result<std::int64_t> r) { REQUIRE(r); });
    std::optional<flowd::ExecutionState> end;
    REQUIRE(
        h.engine->resume(def, parent_history, [&](const flowd::ExecutionState& st) { end = st; }));
    h.run_until([&] { return end.has_value(); });
    return *end;
  };
  Harness second;
  const auto done = restart(second, child_history);
  REQUIRE(done.status == ExecutionStatus::kCompleted);
  CHECK(done.output == Json{{"n", 2}});
  CHECK(done.steps.at("call").attempts == 2);
  // The interrupted child went on: a is not run again, b runs as its attempt 2, no second child.
  CHECK(second.counter->calls.count("a") == 0);
  CHECK(second.counter->calls["b"] == 1);
  CHECK(second.counter->keys == std::vector<std::string>{child_id + "/b/2"});
  CHECK(second.log.streams().size() == 2);
  CHECK(second.log.read(child_id).back().type == EventType::kExecutionCompleted);

  SECTION("a child that already finished is not run at all") {
    Harness third;
    const auto end = restart(third, first.log.read(child_id));
    REQUIRE(end.status == ExecutionStatus::kCompleted);
    CHECK(end.output == Json{{"n", 2}});
    CHECK(third.counter->calls.empty());
  }
}
