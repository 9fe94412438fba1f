// parse_schedule_spec: the API's schedule bodies, their defaults, and errors that name the field.
#include <catch2/catch.hpp>

#include "flowd/triggers/schedule.h"

using namespace flowd;
using namespace flowd::triggers;

namespace {

std::string error_of(const Json& body, std::string_view name = {}) {
  auto spec = parse_schedule_spec(body, name);
  REQUIRE_FALSE(spec);
  CHECK(spec.error().code == ErrorCode::kInvalidInput);
  return spec.error().message;
}

}  // namespace

TEST_CASE("A schedule body gets the documented defaults", "[cron][schedule]") {
  auto spec = parse_schedule_spec(Json{{"name", "n"}, {"workflow", "w"}, {"schedule", "@daily"}});
  REQUIRE(spec);
  CHECK(spec->timezone == "UTC");
  CHECK(spec->overlap == OverlapPolicy::kSkip);
  CHECK(spec->catchup_window == std::chrono::hours(1));
  CHECK(spec->max_catchup == 100);
  CHECK(spec->jitter.count() == 0);
  CHECK_FALSE(spec->version);
  CHECK(spec->input.is_null());
  // Its JSON form reads back as the same spec.
  auto again = parse_schedule_spec(to_json(*spec));
  REQUIRE(again);
  CHECK(*again == *spec);
}

TEST_CASE("Every field of a schedule body is read", "[cron][schedule]") {
  auto spec = parse_schedule_spec(Json::parse(R"({"workflow": "export", "version": 3,
      "schedule": "0 30 2 * * *", "timezone": "Europe/Berlin", "input": {"day": "{{ tick.date }}"},
      "overlap": "bufferAll", "pauseOnFailure": true, "catchupWindow": "6h", "maxCatchup": 7,
      "jitter": "30s", "startAt": "2026-04-01T00:00:00+02:00", "endAt": "2026-12-31T00:00:00Z"})"),
                                  "nightly");
  REQUIRE(spec);
  CHECK(spec->name == "nightly");
  CHECK(spec->version == 3);
  CHECK(spec->overlap == OverlapPolicy::kBufferAll);
  CHECK(spec->pause_on_failure);
  CHECK(spec->catchup_window == std::chrono::hours(6));
  CHECK(spec->max_catchup == 7);
  CHECK(spec->jitter == std::chrono::seconds(30));
  CHECK(format_utc(*spec->start_at) == "2026-03-31T22:00:00Z");
  CHECK(spec->input["day"] == "{{ tick.date }}");
  auto limits = spec->limits();
  CHECK(limits.max_catchup == 7);
  CHECK(limits.end_at == spec->end_at);
}

TEST_CASE("A bad schedule body is refused naming the field", "[cron][schedule]") {
  const Json ok{{"name", "n"}, {"workflow", "w"}, {"schedule", "@daily"}};
  auto with = [&](const char* key, Json value) {
    Json b = ok;
    b[key] = std::move(value);
    return b;
  };
  CHECK(error_of(with("schedule", "0 0 32 * *")) ==
        "schedule: day-of-month: 32 is out of range 1-31");
  CHECK(error_of(with("timezone", "Mars/Base")).find("timezone: unknown time zone 'Mars/Base'") ==
        0);
  CHECK(error_of(with("overlap", "sometimes")).find("overlap must be one of") == 0);
  CHECK(error_of(with("catchupWindow", "soon")).find("catchupWindow: invalid duration 'soon'") ==
        0);
  CHECK(error_of(with("maxCatchup", -1)) == "maxCatchup must be an integer from 0 to 100000");
  CHECK(error_of(with("version", 0)).find("version must be a positive integer") == 0);
  CHECK(error_of(with("startAt", "tomorrow")).find("startAt: invalid time 'tomorrow'") == 0);
  CHECK(error_of(with("name", "bad name")).find("invalid schedule name 'bad name'") == 0);
  CHECK(error_of(with("cron", "@daily")).find("unknown field 'cron'") == 0);
  CHECK(error_of(with("input", Json{{"x", "{{ tick.time"}})).find("input: ") == 0);
  Json no_workflow = ok;
  no_workflow.erase("workflow");
  CHECK(error_of(no_workflow) == "workflow is required");
  Json backwards = with("startAt", "2026-02-01T00:00:00Z");
  backwards["endAt"] = "2026-01-01T00:00:00Z";
  CHECK(error_of(backwards) == "endAt must be after startAt (2026-02-01T00:00:00Z)");
  CHECK(error_of(ok, "other") == "name 'n' does not match the path's 'other'");
}
