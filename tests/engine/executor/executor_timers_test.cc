// Durable timers: a sleep, a retry's backoff, a step timeout and the execution timeout are due at
// the absolute times their events recorded, so an execution resumed after a crash waits what is
// left of each (nothing when it has passed), never the whole wait again. The engine's clock is
// faked (EngineDeps::now) to stand for an instance that comes back much later.
#include <atomic>

#include "flowd/engine/timers.h"
#include "harness.h"

using flowd::Clock;
using flowd::ErrorCode;
using flowd::Event;
using flowd::EventType;
using flowd::ExecutionState;
using flowd::ExecutionStatus;
using flowd::Json;
using flowd::TimePoint;
using flowd::test::Harness;
using namespace std::chrono_literals;

namespace {

std::string wf(const std::string& spec, const std::string& name = "timers") {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
         ", version: 1}\nspec:\n" + spec;
}

// The real clock moved by an offset the test sets.
struct FakeClock {
  std::shared_ptr<std::atomic<std::int64_t>> offset_ms =
      std::make_shared<std::atomic<std::int64_t>>(0);
  std::function<TimePoint()> fn() const {
    return [o = offset_ms] { return Clock::now() + std::chrono::milliseconds(o->load()); };
  }
  // From now on the clock reads `at` (and runs on from there).
  void set(TimePoint at) const {
    offset_ms->store(
        std::chrono::duration_cast<std::chrono::milliseconds>(at - Clock::now()).count());
  }
};

// Gives the harness's engine the fake clock.
void use_clock(Harness& h, const FakeClock& clock) {
  flowd::EngineDeps deps;
  deps.log = &h.log;
  deps.runners = &h.registry;
  deps.definitions = &h.definitions;
  deps.random = [] { return 0.0; };
  deps.now = clock.fn();
  h.engine = std::make_unique<flowd::Engine>(h.io, std::move(deps));
}

// Starts `yaml` on a first engine and "crashes" it once an event matching `until` is durable;
// returns the history up to then.
std::vector<Event> run_until_crash(const std::string& yaml, Json input,
                                   const std::function<bool(const Event&)>& until,
                                   std::string* id_out) {
  Harness first;
  auto id = first.start(first.load(yaml), std::move(input));
  first.run_until([&] {
    for (const Event& e : first.log.read(id))
      if (until(e)) return true;
    return false;
  });
  *id_out = id;
  return first.log.read(id);  // the engine and its waits die with `first`
}

const Event& find_event(const std::vector<Event>& events, EventType type, const std::string& step,
                        int nth = 1) {
  for (const Event& e : events)
    if (e.type == type && e.step == step && --nth == 0) return e;
  FAIL("no such event");
  return events.front();
}

// Due times keep milliseconds; event times in memory have more.
bool about(Clock::duration d, Clock::duration expected) {
  return d <= expected && d > expected - 2ms;
}

TimePoint time_in(const Event& e, const char* key) {
  auto t = flowd::time_field(e.data, key);
  REQUIRE(t);
  return *t;
}

struct Resumed {
  ExecutionState state;
  std::chrono::milliseconds waited{};  // real time from resume to the end
};

// Resumes `history` on a second engine whose clock reads `resume_at`; runs it to its end.
Resumed resume_at(Harness& second, const std::string& yaml, const std::string& id,
                  const std::vector<Event>& history, TimePoint resume_at) {
  FakeClock clock;
  use_clock(second, clock);
  auto def = second.load(yaml);
  flowd::AppendRequest seed{id, 0, history};
  second.log.append(seed, [](flowd::Result<std::int64_t> r) { REQUIRE(r); });
  std::optional<ExecutionState> done;
  clock.set(resume_at);
  const auto began = std::chrono::steady_clock::now();
  REQUIRE(second.engine->resume(def, history, [&](const ExecutionState& s) { done = s; }));
  second.run_until([&] { return done.has_value(); });
  return {*done, std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - began)};
}

bool is_step_started(const Event& e, const std::string& step) {
  return e.type == EventType::kStepStarted && e.step == step;
}

}  // namespace

TEST_CASE("RFC 3339 times parse with offsets and fractions; bad ones are refused",
          "[engine][timers]") {
  auto at = [](const char* text) { return flowd::parse_instant(text); };
  const auto base = at("2026-11-21T10:00:00Z");
  REQUIRE(base);
  CHECK(flowd::format_time(*base) == "2026-11-21T10:00:00.000Z");
  CHECK(at("2026-11-21T12:00:00+02:00") == base);
  CHECK(at("2026-11-21T04:30:00-05:30") == base);
  CHECK(at("2026-11-21t10:00:00z") == base);
  CHECK(flowd::format_time(*at("2026-11-21T10:00:00.25Z")) == "2026-11-21T10:00:00.250Z");
  CHECK(at("2028-02-29T00:00:00Z"));
  for (const char* bad :
       {"", "tomorrow", "2026-11-21", "2026-11-21T10:00:00", "2026-13-01T00:00:00Z",
        "2027-02-29T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T10:00:00+2",
        "2026-11-21T10:00:00.Z", "2026-11-21T10:00:00Zjunk"}) {
    INFO(bad);
    CHECK_FALSE(at(bad));
  }
  CHECK(flowd::time_until(*base, *base + 5s) == 0ms);
  CHECK(flowd::time_until(*base + 1500us, *base) == 2ms);  // never early
}

TEST_CASE("A sleep resumed mid-wait waits only what is left of it", "[engine][timers][resume]") {
  const std::string yaml = wf(R"(
  timeout: 2h
  steps:
    - {id: wait, type: sleep, with: {duration: 1h}}
    - {id: after, type: noop, dependsOn: [wait]}
)");
  std::string id;
  auto history = run_until_crash(
      yaml, Json::object(), [](const Event& e) { return is_step_started(e, "wait"); }, &id);
  const Event& started = find_event(history, EventType::kStepStarted, "wait");
  const TimePoint due = time_in(started, "dueAt");
  CHECK(about(due - started.time, 1h));
  CHECK_FALSE(started.data.contains("deadline"));  // a sleep has no step timeout of its own

  Harness second;
  // The instance comes back 400 ms before the hour is up: 400 ms to go, not another hour.
  auto r = resume_at(second, yaml, id, history, due - 400ms);
  REQUIRE(r.state.status == ExecutionStatus::kCompleted);
  CHECK(r.waited >= 350ms);
  CHECK(r.waited < 5s);
  CHECK(r.state.steps.at("wait").attempts == 2);
  CHECK(r.state.steps.at("wait").output == Json{{"sleptMs", 3'600'000}});
  // The new attempt recorded the same due time, so a second crash would not move it either.
  auto events = second.log.read(id);
  CHECK(time_in(find_event(events, EventType::kStepStarted, "wait", 2), "dueAt") == due);
}

TEST_CASE("A sleep whose due time passed during the outage ends at once",
          "[engine][timers][resume]") {
  const std::string yaml = wf(R"(
  timeout: 1d
  steps:
    - {id: wait, type: sleep, with: {duration: 1h}}
)");
  std::string id;
  auto history = run_until_crash(
      yaml, Json::object(), [](const Event& e) { return is_step_started(e, "wait"); }, &id);
  const TimePoint due = time_in(find_event(history, EventType::kStepStarted, "wait"), "dueAt");
  Harness second;
  auto r = resume_at(second, yaml, id, history, due + 2h);
  REQUIRE(r.state.status == ExecutionStatus::kCompleted);
  CHECK(r.waited < 2s);
}

TEST_CASE("A retry backoff resumed mid-wait waits only what is left of it",
          "[engine][timers][resume]") {
  const std::string yaml = wf(R"(
  timeout: 2h
  steps:
    - {id: flaky, type: fail, with: {times: 1, code: EXTERNAL}, retry: {maxAttempts: 2, backoff: 1h}}
)");
  std::string id;
  auto history = run_until_crash(
      yaml, Json::object(), [](const Event& e) { return e.type == EventType::kStepRetryScheduled; },
      &id);
  const Event& scheduled = find_event(history, EventType::kStepRetryScheduled, "flaky");
  const TimePoint due = time_in(scheduled, "dueAt");
  CHECK(about(due - scheduled.time, 1h));

  Harness second;
  auto r = resume_at(second, yaml, id, history, due - 400ms);
  REQUIRE(r.state.status == ExecutionStatus::kCompleted);
  CHECK(r.waited >= 350ms);  // the rest of the backoff, not an immediate retry
  CHECK(r.waited < 5s);      // and not a whole new one
  CHECK(r.state.steps.at("flaky").attempts == 2);
}

TEST_CASE("A step timeout resumed mid-attempt fires at its original deadline",
          "[engine][timers][resume]") {
  const std::string yaml = wf(R"(
  timeout: 2h
  steps:
    - {id: slow, type: gate, timeout: 1h}
)");
  std::string id;
  auto history = run_until_crash(
      yaml, Json::object(), [](const Event& e) { return is_step_started(e, "slow"); }, &id);
  const Event& started = find_event(history, EventType::kStepStarted, "slow");
  const TimePoint deadline = time_in(started, "deadline");
  CHECK(about(deadline - started.time, 1h));

  Harness second;
  auto r = resume_at(second, yaml, id, history, deadline - 400ms);
  REQUIRE(r.state.status == ExecutionStatus::kFailed);
  REQUIRE(r.state.steps.at("slow").error);
  CHECK(r.state.steps.at("slow").error->code == ErrorCode::kTimeout);
  CHECK(r.waited >= 350ms);
  CHECK(r.waited < 5s);
  auto events = second.log.read(id);
  CHECK(time_in(find_event(events, EventType::kStepStarted, "slow", 2), "deadline") == deadline);
}

TEST_CASE("The execution timeout resumed fires at the deadline ExecutionStarted recorded",
          "[engine][timers][resume]") {
  const std::string yaml = wf(R"(
  timeout: 1h
  steps:
    - {id: slow, type: gate, timeout: 2h}
)");
  std::string id;
  auto history = run_until_crash(
      yaml, Json::object(), [](const Event& e) { return is_step_started(e, "slow"); }, &id);
  const Event& started = history.front();
  REQUIRE(started.type == EventType::kExecutionStarted);
  const TimePoint deadline = time_in(started, "deadline");
  CHECK(about(deadline - started.time, 1h));

  Harness second;
  auto r = resume_at(second, yaml, id, history, deadline - 400ms);
  CHECK(r.state.status == ExecutionStatus::kTimedOut);
  CHECK(r.waited >= 350ms);
  CHECK(r.waited < 5s);
  CHECK(flowd::fold(id, history).deadline == deadline);
}

TEST_CASE("sleep until a time: past ends at once, future waits, templates resolve at run time",
          "[engine][timers][sleep]") {
  const std::string yaml = wf(R"(
  steps:
    - {id: wait, type: sleep, with: {until: "{{ input.at }}"}}
)");
  SECTION("a past time completes at once") {
    Harness h;
    auto began = std::chrono::steady_clock::now();
    auto s = h.run(yaml, Json{{"at", "2001-01-01T00:00:00Z"}});
    REQUIRE(s.status == ExecutionStatus::kCompleted);
    CHECK(s.steps.at("wait").output == Json{{"until", "2001-01-01T00:00:00.000Z"}, {"sleptMs", 0}});
    CHECK(std::chrono::steady_clock::now() - began < 2s);
  }
  SECTION("a future time waits until then, on the engine's clock") {
    Harness h;
    FakeClock clock;
    use_clock(h, clock);
    const TimePoint at = *flowd::parse_instant("2030-06-01T12:00:00+02:00");
    clock.set(at - 400ms);
    auto began = std::chrono::steady_clock::now();
    auto s = h.run(yaml, Json{{"at", "2030-06-01T12:00:00+02:00"}});
    REQUIRE(s.status == ExecutionStatus::kCompleted);
    CHECK(std::chrono::steady_clock::now() - began >= 350ms);
    CHECK(s.steps.at("wait").output.at("until") == "2030-06-01T10:00:00.000Z");
    CHECK(time_in(find_event(h.log.read(s.id), EventType::kStepStarted, "wait"), "dueAt") == at);
  }
  SECTION("a bad value fails the step with INVALID_INPUT naming it") {
    Harness h;
    auto s = h.run(yaml, Json{{"at", "next tuesday"}});
    REQUIRE(s.status == ExecutionStatus::kFailed);
    REQUIRE(s.steps.at("wait").error);
    CHECK(s.steps.at("wait").error->code == ErrorCode::kInvalidInput);
    CHECK(s.steps.at("wait").error->message.find("sleep step 'wait'") != std::string::npos);
    CHECK(s.steps.at("wait").error->message.find("next tuesday") != std::string::npos);
    CHECK(s.steps.at("wait").attempts == 0);  // refused before an attempt began
  }
}

TEST_CASE("sleep.until is checked when the definition loads", "[engine][timers][definition]") {
  auto diagnostics = [](const std::string& with) {
    auto loaded = flowd::load_definition(
        wf("  steps:\n    - {id: wait, type: sleep, with: " + with + "}\n"), "t.yaml");
    std::string out;
    for (const auto& d : loaded.diagnostics) out += d.format() + "\n";
    return out;
  };
  CHECK(diagnostics("{until: '2026-11-21T10:00:00Z'}").empty());
  CHECK(diagnostics("{until: '{{ input.at }}'}").empty());
  INFO(diagnostics("{until: 'soon'}"));
  CHECK(diagnostics("{until: 'soon'}").find("with.until") != std::string::npos);
  CHECK(diagnostics("{until: 'soon'}").find("RFC 3339") != std::string::npos);
  CHECK(diagnostics("{until: 5}").find("with.until") != std::string::npos);
  CHECK(diagnostics("{until: '2026-11-21T10:00:00Z', duration: 5s}").find("not both") !=
        std::string::npos);
  CHECK_FALSE(diagnostics("{}").empty());
}
