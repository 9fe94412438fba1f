// spec.triggers[].cron: the CronTrigger the loader builds (fields, defaults, default names) and
// the diagnostics for bad schedules, zones, policies, durations and times, with file:line:col.
#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"

namespace {

using flowd::CronTrigger;
using flowd::Millis;
using flowd::OverlapPolicy;

std::string formatted(const flowd::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

// A workflow named `nightly` with the given trigger list (YAML lines under `triggers:`).
std::string with_triggers(const std::string& triggers) {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: nightly, version: 1}\nspec:\n"
         "  steps: []\n  triggers:\n" +
         triggers;
}

std::vector<CronTrigger> crons(const std::string& triggers) {
  auto r = flowd::load_definition(with_triggers(triggers), "t.yaml");
  INFO(formatted(r.diagnostics));
  REQUIRE(r.diagnostics.empty());
  std::vector<CronTrigger> out;
  for (const auto& t : r.definition->triggers) {
    if (t.kind != flowd::TriggerDef::Kind::kCron) continue;
    REQUIRE(t.cron.has_value());
    out.push_back(*t.cron);
  }
  return out;
}

std::string problems(const std::string& triggers) {
  auto r = flowd::load_definition(with_triggers(triggers), "t.yaml");
  CHECK(r.definition == nullptr);
  return formatted(r.diagnostics);
}

}  // namespace

TEST_CASE("A cron trigger loads into a CronTrigger with every field",
          "[engine][definition][cron]") {
  const auto c = crons(
      "    - cron:\n"
      "        name: nightly-berlin\n"
      "        schedule: \"0 30 2 * * MON-FRI\"\n"
      "        timezone: Europe/Berlin\n"
      "        overlap: bufferAll\n"
      "        catchupWindow: 6h\n"
      "        maxCatchup: 7\n"
      "        jitter: 30s\n"
      "        input: {day: \"{{ tick.date }}\", at: \"{{ tick.time }}\", by: "
      "\"{{ schedule.name }}\"}\n"
      "        pauseOnFailure: true\n"
      "        startAt: \"2026-04-01T00:00:00+02:00\"\n"
      "        endAt: 2026-12-31T23:00:00Z\n");
  REQUIRE(c.size() == 1);
  CHECK(c[0].name == "nightly-berlin");
  CHECK(c[0].schedule == "0 30 2 * * MON-FRI");
  CHECK(c[0].timezone == "Europe/Berlin");
  CHECK(c[0].overlap == OverlapPolicy::kBufferAll);
  CHECK(c[0].catchup_window == Millis(6 * 3'600'000));
  CHECK(c[0].max_catchup == 7);
  CHECK(c[0].jitter == Millis(30'000));
  CHECK(c[0].input["by"] == "{{ schedule.name }}");
  CHECK(c[0].pause_on_failure);
  REQUIRE(c[0].start_at.has_value());
  CHECK(flowd::format_utc(*c[0].start_at) == "2026-03-31T22:00:00Z");
  REQUIRE(c[0].end_at.has_value());
  CHECK(flowd::format_utc(*c[0].end_at) == "2026-12-31T23:00:00Z");
}

TEST_CASE("Cron trigger defaults and default names", "[engine][definition][cron]") {
  const auto c = crons(
      "    - cron: {schedule: \"@daily\"}\n"
      "    - kafka: {topic: t}\n"
      "    - cron: {schedule: \"*/5 * * * *\", overlap: cancelOther}\n"
      "    - cron: {schedule: \"0 0 L * *\", overlap: allow, name: month-end}\n"
      "    - cron: {schedule: \"0 0 ? * MON#2\", overlap: bufferOne}\n"
      "    - cron: {schedule: \"0 0 * * 5L\", overlap: skip}\n");
  REQUIRE(c.size() == 5);
  CHECK(c[0].name == "nightly-cron-0");
  CHECK(c[0].timezone == "UTC");
  CHECK(c[0].overlap == OverlapPolicy::kSkip);
  CHECK(c[0].catchup_window == Millis(3'600'000));
  CHECK(c[0].max_catchup == 100);
  CHECK(c[0].jitter == Millis(0));
  CHECK(c[0].input.is_null());
  CHECK_FALSE(c[0].pause_on_failure);
  CHECK_FALSE(c[0].start_at.has_value());
  CHECK_FALSE(c[0].end_at.has_value());
  CHECK(c[1].name == "nightly-cron-1");  // counts cron triggers only
  CHECK(c[1].overlap == OverlapPolicy::kCancelOther);
  CHECK(c[2].name == "month-end");
  CHECK(c[2].overlap == OverlapPolicy::kAllow);
  CHECK(c[3].name == "nightly-cron-3");
  CHECK(c[3].overlap == OverlapPolicy::kBufferOne);
  CHECK(c[4].overlap == OverlapPolicy::kSkip);
  for (auto p : {OverlapPolicy::kSkip, OverlapPolicy::kAllow, OverlapPolicy::kBufferOne,
                 OverlapPolicy::kBufferAll, OverlapPolicy::kCancelOther}) {
    CHECK(flowd::parse_overlap_policy(flowd::to_string(p)) == p);
  }
  CHECK_FALSE(flowd::parse_overlap_policy("Skip").has_value());
}

TEST_CASE("Bad cron triggers are refused naming the field, with line and column",
          "[engine][definition][cron]") {
  struct Case {
    const char* name;
    std::string triggers;
    std::string expected;
  };
  const Case cases[] = {
      {"day out of range", "    - cron: {schedule: \"0 0 32 * *\"}\n",
       "t.yaml:7:24: spec.triggers[0].cron.schedule: day-of-month: 32 is out of range 1-31"},
      {"unknown weekday", "    - cron: {schedule: \"0 0 * * FUNDAY\"}\n",
       "spec.triggers[0].cron.schedule: day-of-week: unknown name 'FUNDAY'"},
      {"field count", "    - cron: {schedule: \"1 2 3 4\"}\n",
       "spec.triggers[0].cron.schedule: expected 5 or 6 fields, got 4"},
      {"never fires", "    - cron: {schedule: \"0 0 30 2 *\"}\n", "the expression never fires"},
      {"schedule missing", "    - cron: {timezone: UTC}\n",
       "spec.triggers[0].cron: missing required field 'schedule'"},
      {"unknown zone", "    - cron: {schedule: \"@daily\", timezone: Mars/Base}\n",
       "t.yaml:7:44: spec.triggers[0].cron.timezone: unknown time zone 'Mars/Base'"},
      {"zone with a space", "    - cron: {schedule: \"@daily\", timezone: \"Europe Berlin\"}\n",
       "spec.triggers[0].cron.timezone: invalid time zone 'Europe Berlin'"},
      {"overlap", "    - cron: {schedule: \"@daily\", overlap: queue}\n",
       "spec.triggers[0].cron.overlap: must be one of skip, allow, bufferOne, bufferAll, "
       "cancelOther, got 'queue'"},
      {"catchupWindow", "    - cron: {schedule: \"@daily\", catchupWindow: 1w}\n",
       "spec.triggers[0].cron.catchupWindow: invalid duration '1w'"},
      {"maxCatchup negative", "    - cron: {schedule: \"@daily\", maxCatchup: -1}\n",
       "spec.triggers[0].cron.maxCatchup: must be between 0 and 100000, got -1"},
      {"maxCatchup type", "    - cron: {schedule: \"@daily\", maxCatchup: many}\n",
       "spec.triggers[0].cron.maxCatchup: must be an integer"},
      {"jitter", "    - cron: {schedule: \"@daily\", jitter: -5s}\n",
       "spec.triggers[0].cron.jitter: invalid duration '-5s'"},
      {"pauseOnFailure", "    - cron: {schedule: \"@daily\", pauseOnFailure: yes please}\n",
       "spec.triggers[0].cron.pauseOnFailure: must be true or false"},
      {"startAt", "    - cron: {schedule: \"@daily\", startAt: tomorrow}\n",
       "spec.triggers[0].cron.startAt: invalid time 'tomorrow': use RFC 3339"},
      {"endAt without offset",
       "    - cron: {schedule: \"@daily\", endAt: \"2026-01-01T00:00:00\"}\n",
       "spec.triggers[0].cron.endAt: invalid time '2026-01-01T00:00:00'"},
      {"endAt before startAt",
       "    - cron: {schedule: \"@daily\", startAt: \"2026-02-01T00:00:00Z\", endAt: "
       "\"2026-01-01T00:00:00Z\"}\n",
       "spec.triggers[0].cron.endAt: must be after startAt (2026-02-01T00:00:00Z)"},
      {"name", "    - cron: {schedule: \"@daily\", name: \"my schedule\"}\n",
       "spec.triggers[0].cron.name: invalid schedule name 'my schedule'"},
      {"duplicate names",
       "    - cron: {schedule: \"@daily\", name: a}\n    - cron: {schedule: \"@hourly\", name: "
       "a}\n",
       "t.yaml:8:13: spec.triggers[1].cron: two cron triggers are named 'a' (the first at line 7)"},
      {"explicit name taking a default one",
       "    - cron: {schedule: \"@daily\"}\n    - cron: {schedule: \"@hourly\", name: "
       "nightly-cron-0}\n",
       "two cron triggers are named 'nightly-cron-0'"},
      {"unknown field", "    - cron: {schedule: \"@daily\", timeZone: UTC}\n",
       "unknown field 'timeZone' (did you mean 'timezone'?)"},
      {"templates see tick and schedule only",
       "    - cron: {schedule: \"@daily\", input: {x: \"{{ event.id }}\"}}\n",
       "{{ event.id }}: a cron trigger sees only 'tick' and 'schedule'"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string found = problems(c.triggers);
    INFO(found);
    CHECK(found.find(c.expected) != std::string::npos);
  }
}
