// Cron syntax: fields, lists, ranges, steps, names, macros, L / L-n / <dow>L / <dow>#n, the
// day-of-month / day-of-week rule, and the messages for bad expressions. Expected instants were
// written from the 2026 calendar (1 January 2026 is a Thursday), not taken from the code.
#include <catch2/catch.hpp>

#include "cron_test_support.h"

using cron_test::fires;
using Strings = std::vector<std::string>;

namespace {

struct Case {
  const char* name;
  const char* expression;
  const char* from;
  Strings expected;
};

void run(const Case& c, const std::string& zone = "UTC") {
  INFO(c.name << ": '" << c.expression << "' after " << c.from);
  CHECK(fires(c.expression, zone, c.from, c.expected.size()) == c.expected);
}

}  // namespace

TEST_CASE("Cron fields, lists, ranges, steps and names fire at the instants the calendar says",
          "[engine][cron]") {
  const Case cases[] = {
      {"every minute",
       "* * * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"}},
      {"'after' is exclusive", "0 12 * * *", "2026-01-01T12:00:00Z", {"2026-01-02T12:00:00Z"}},
      {"'after' inside a fire second",
       "0 12 * * *",
       "2026-01-01T11:59:59Z",
       {"2026-01-01T12:00:00Z"}},
      {"list",
       "0 8,12,18 * * *",
       "2026-01-01T09:00:00Z",
       {"2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z", "2026-01-02T08:00:00Z"}},
      {"range",
       "0 9-11 * * *",
       "2026-01-01T10:30:00Z",
       {"2026-01-01T11:00:00Z", "2026-01-02T09:00:00Z"}},
      {"step over the whole field",
       "*/20 * * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:20:00Z", "2026-01-01T00:40:00Z", "2026-01-01T01:00:00Z"}},
      {"step from a start",
       "5/15 * * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:05:00Z", "2026-01-01T00:20:00Z", "2026-01-01T00:35:00Z",
        "2026-01-01T00:50:00Z", "2026-01-01T01:05:00Z"}},
      {"step over a range",
       "10-30/10 6 * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T06:10:00Z", "2026-01-01T06:20:00Z", "2026-01-01T06:30:00Z",
        "2026-01-02T06:10:00Z"}},
      {"month names, any case",
       "0 0 1 JAN,jul *",
       "2026-01-01T00:00:00Z",
       {"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
      {"weekday names: Monday to Friday",
       "0 9 * * MON-FRI",
       "2026-01-02T10:00:00Z",
       {"2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"}},
      {"weekend as a range ending on SUN",
       "0 0 * * FRI-SUN",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
        "2026-01-09T00:00:00Z"}},
      {"7 is Sunday too",
       "0 0 * * 7",
       "2026-01-01T00:00:00Z",
       {"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
      {"0 is Sunday", "0 0 * * 0", "2026-01-01T00:00:00Z", {"2026-01-04T00:00:00Z"}},
      {"year rollover", "0 0 1 1 *", "2026-06-15T00:00:00Z", {"2027-01-01T00:00:00Z"}},
      {"a 31st skips short months",
       "0 0 31 * *",
       "2026-01-31T00:00:00Z",
       {"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
        "2026-08-31T00:00:00Z"}},
      {"tabs and extra spaces", " 0\t0  1 * * ", "2026-01-01T00:00:00Z", {"2026-02-01T00:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Six fields put seconds first, as Quartz and Spring do", "[engine][cron]") {
  const Case cases[] = {
      {"every 20 seconds",
       "*/20 * * * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"}},
      {"one second of the day",
       "30 15 10 * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T10:15:30Z", "2026-01-02T10:15:30Z"}},
      {"seconds list across a minute",
       "10,50 * * * * *",
       "2026-01-01T00:00:30Z",
       {"2026-01-01T00:00:50Z", "2026-01-01T00:01:10Z"}},
      {"every second rolls a year over",
       "* * * * * *",
       "2026-12-31T23:59:59Z",
       {"2027-01-01T00:00:00Z", "2027-01-01T00:00:01Z"}},
      {"the design example: 02:00:00 nightly",
       "0 0 2 * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T02:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
  CHECK(cron_test::schedule("0 0 2 * * *").has_seconds());
  CHECK_FALSE(cron_test::schedule("0 2 * * *").has_seconds());
  CHECK_FALSE(cron_test::schedule("@daily").has_seconds());
}

TEST_CASE("Macros mean the five-field expressions of Vixie cron", "[engine][cron]") {
  const Case cases[] = {
      {"@yearly", "@yearly", "2026-05-05T10:20:00Z", {"2027-01-01T00:00:00Z"}},
      {"@annually", "@annually", "2026-05-05T10:20:00Z", {"2027-01-01T00:00:00Z"}},
      {"@monthly", "@monthly", "2026-05-05T10:20:00Z", {"2026-06-01T00:00:00Z"}},
      {"@weekly is Sunday midnight",
       "@weekly",
       "2026-05-05T10:20:00Z",
       {"2026-05-10T00:00:00Z", "2026-05-17T00:00:00Z"}},
      {"@daily", "@daily", "2026-05-05T10:20:00Z", {"2026-05-06T00:00:00Z"}},
      {"@midnight", "@midnight", "2026-05-05T10:20:00Z", {"2026-05-06T00:00:00Z"}},
      {"@hourly",
       "@hourly",
       "2026-05-05T10:20:00Z",
       {"2026-05-05T11:00:00Z", "2026-05-05T12:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Leap days and month ends: 29 February, L, L-n, <weekday>L and <weekday>#n",
          "[engine][cron]") {
  const Case cases[] = {
      {"29 February waits for a leap year",
       "0 0 29 2 *",
       "2026-01-01T00:00:00Z",
       {"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
      {"2100 is no leap year", "0 0 29 2 *", "2096-03-01T00:00:00Z", {"2104-02-29T00:00:00Z"}},
      {"2000 was one", "0 0 29 2 *", "1997-01-01T00:00:00Z", {"2000-02-29T00:00:00Z"}},
      {"L: the last day of each month",
       "0 0 L * *",
       "2026-01-15T00:00:00Z",
       {"2026-01-31T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z",
        "2026-04-30T00:00:00Z"}},
      {"L in a leap February",
       "0 0 L 2 *",
       "2027-06-01T00:00:00Z",
       {"2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"}},
      {"L-2: two days before the last",
       "0 12 L-2 * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-29T12:00:00Z", "2026-02-26T12:00:00Z", "2026-03-29T12:00:00Z",
        "2026-04-28T12:00:00Z"}},
      {"L with other days",
       "0 0 1,15,L * *",
       "2026-02-02T00:00:00Z",
       {"2026-02-15T00:00:00Z", "2026-02-28T00:00:00Z", "2026-03-01T00:00:00Z"}},
      {"5L: the last Friday",
       "0 0 ? * 5L",
       "2026-01-01T00:00:00Z",
       {"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-27T00:00:00Z",
        "2026-04-24T00:00:00Z"}},
      {"FRIL: the last Friday by name",
       "0 0 * * FRIL",
       "2026-01-01T00:00:00Z",
       {"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z"}},
      {"0L: the last Sunday (a DST day in Europe)",
       "0 0 * * 0L",
       "2026-03-01T00:00:00Z",
       {"2026-03-29T00:00:00Z", "2026-04-26T00:00:00Z"}},
      {"MON#2: the second Monday",
       "0 0 ? * MON#2",
       "2026-01-01T00:00:00Z",
       {"2026-01-12T00:00:00Z", "2026-02-09T00:00:00Z", "2026-03-09T00:00:00Z",
        "2026-04-13T00:00:00Z"}},
      {"1#5: a fifth Monday is rare",
       "0 0 * * 1#5",
       "2026-01-01T00:00:00Z",
       {"2026-03-30T00:00:00Z", "2026-06-29T00:00:00Z"}},
      {"SUN#1 and 7#1 are the first Sunday",
       "0 0 * * SUN#1,7#1",
       "2026-01-05T00:00:00Z",
       {"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-05T00:00:00Z"}},
      {"the first and the last Friday",
       "0 0 * * FRI#1,FRIL",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-30T00:00:00Z", "2026-02-06T00:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Vixie's rule: a restricted day-of-month and day-of-week are OR-ed", "[engine][cron]") {
  const Case cases[] = {
      {"the 13th or any Friday",
       "0 0 13 * FRI",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
        "2026-01-16T00:00:00Z"}},
      {"only the day-of-month restricted",
       "0 0 13 * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}},
      {"only the day-of-week restricted",
       "0 0 * * FRI",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
      {"'?' leaves a field unrestricted",
       "0 0 ? * FRI",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}},
      {"1-7 and MON is not the first Monday: every day 1-7 and every Monday",
       "0 0 1-7 * MON",
       "2026-01-01T00:00:00Z",
       {"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
        "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z",
        "2026-01-12T00:00:00Z"}},
      // Vixie: a field starting with '*' counts as unrestricted, so */10 and MON are AND-ed:
      // days 1, 11, 21, 31 that are Mondays. The first in 2026 is 11 May.
      {"*/10 with MON: both must match",
       "0 0 */10 * MON",
       "2026-01-01T00:00:00Z",
       {"2026-05-11T00:00:00Z"}},
      {"L or the last Friday",
       "0 0 L * 5L",
       "2026-01-01T00:00:00Z",
       {"2026-01-30T00:00:00Z", "2026-01-31T00:00:00Z", "2026-02-27T00:00:00Z",
        "2026-02-28T00:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Bad expressions are refused with the field and what is wrong", "[engine][cron]") {
  struct Bad {
    const char* expression;
    const char* message;
  };
  const Bad cases[] = {
      {"", "expected 5 or 6 fields, got 0"},
      {"1 2 3 4", "expected 5 or 6 fields, got 4"},
      {"1 2 3 4 5 6 7", "expected 5 or 6 fields, got 7"},
      {"0 0 32 * *", "day-of-month: 32 is out of range 1-31"},
      {"0 0 0 * *", "day-of-month: 0 is out of range 1-31"},
      {"0 24 * * *", "hour: 24 is out of range 0-23"},
      {"60 * * * *", "minute: 60 is out of range 0-59"},
      {"60 * * * * *", "second: 60 is out of range 0-59"},
      {"0 0 * 13 *", "month: 13 is out of range 1-12"},
      {"0 0 * * 8", "day-of-week: 8 is out of range 0-7"},
      {"0 0 1 * 99999999999", "day-of-week: 99999999999 is out of range 0-7"},
      {"0 0 * * FUNDAY", "day-of-week: unknown name 'FUNDAY'"},
      {"0 0 * FOO *", "month: unknown name 'FOO'"},
      {"0 MON * * *", "hour: 'MON' is not a number"},
      {"0 0 * * M0N", "day-of-week: 'M0N' is neither a number nor a name"},
      {"*/0 * * * *", "minute: step 0 is out of range 1-60"},
      {"*/61 * * * *", "minute: step 61 is out of range 1-60"},
      {"*/x * * * *", "minute: step 'x' in '*/x' is not a number"},
      {"0 0 5-1 * *", "day-of-month: range 5-1 goes backwards"},
      {"0 0 1,,2 * *", "day-of-month: empty list item"},
      {"0 0 1- * *", "day-of-month: a value is missing"},
      {"? * * * *", "minute: '?' is allowed only in day-of-month and day-of-week"},
      {"0 0 L-31 * *", "day-of-month: 'L-31': 31 days before the last is out of range 0-30"},
      {"0 0 L-x * *", "day-of-month: 'L-x': expected L-n"},
      {"0 0 15W * *", "day-of-month: '15W': 'W' (nearest weekday) is not supported"},
      {"0 0 * * MON#6", "day-of-week: occurrence '6' in 'MON#6' is out of range 1-5"},
      {"0 0 * * MON#0", "day-of-week: occurrence '0' in 'MON#0' is out of range 1-5"},
      {"0 0 * * FUNDAY#1", "day-of-week: unknown name 'FUNDAY'"},
      {"0 0 * * L", "day-of-week: 'L' needs a weekday before it"},
      {"0 0 * * 9L", "day-of-week: 9 is out of range 0-7"},
      {"@fortnightly", "unknown macro '@fortnightly'"},
      {"@daily 0", "expected 5 or 6 fields, got 2"},
      {"0 0 30 2 *", "the expression never fires"},
      {"0 0 31 4,6,9,11 *", "the expression never fires"},
      {"0 0 L-30 2 *", "the expression never fires"},
  };
  for (const auto& c : cases) {
    INFO("'" << c.expression << "'");
    auto s = flowd::CronSchedule::parse(c.expression);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error().code == flowd::ErrorCode::kInvalidDefinition);
    INFO("got: " << s.error().message);
    CHECK(s.error().message.find(c.message) != std::string::npos);
  }
}

TEST_CASE("Time zones are IANA names; an unknown one is refused by name", "[engine][cron]") {
  auto bad = flowd::CronSchedule::parse("0 0 * * *", "Mars/Base");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message == "unknown time zone 'Mars/Base'");
  CHECK_FALSE(flowd::is_known_time_zone("Mars/Base"));
  CHECK_FALSE(flowd::is_known_time_zone("europe/berlin"));
  CHECK(flowd::is_known_time_zone("Europe/Berlin"));
  CHECK(flowd::is_known_time_zone("UTC"));
  CHECK(flowd::is_known_time_zone(""));
  auto s = cron_test::schedule("0 0 * * *");
  CHECK(s.time_zone() == "UTC");
  CHECK(s.expression() == "0 0 * * *");
  CHECK(cron_test::schedule("0 0 * * *", "Asia/Kolkata").time_zone() == "Asia/Kolkata");
}

TEST_CASE("RFC 3339 instants parse and format", "[engine][cron]") {
  using flowd::format_in_zone;
  using flowd::format_utc;
  using flowd::parse_rfc3339;
  const auto t = cron_test::at("2026-03-29T01:00:00Z");
  CHECK(t.time_since_epoch().count() == 1'774'746'000);
  CHECK(format_utc(t) == "2026-03-29T01:00:00Z");
  CHECK(format_in_zone(t, "Europe/Berlin") == "2026-03-29T03:00:00+02:00");
  CHECK(format_in_zone(t, "America/New_York") == "2026-03-28T21:00:00-04:00");
  CHECK(format_in_zone(t, "Asia/Kolkata") == "2026-03-29T06:30:00+05:30");
  CHECK(format_in_zone(t, "UTC") == "2026-03-29T01:00:00+00:00");
  CHECK(format_in_zone(t, "Mars/Base") == "2026-03-29T01:00:00Z");
  CHECK(cron_test::at("2026-03-29T03:00:00+02:00") == t);
  CHECK(cron_test::at("2026-03-28T21:00:00-04:00") == t);
  CHECK(cron_test::at("2026-03-29t01:00:00.999z") == t);
  CHECK(cron_test::at("2026-03-29 01:00:00Z") == t);
  CHECK(format_utc(cron_test::at("1969-12-31T23:59:59Z")) == "1969-12-31T23:59:59Z");
  CHECK(format_utc(cron_test::at("0001-01-01T00:00:00Z")) == "0001-01-01T00:00:00Z");
  CHECK(format_utc(cron_test::at("9999-12-31T23:59:59Z")) == "9999-12-31T23:59:59Z");
  for (const char* bad :
       {"", "2026-03-29", "2026-03-29T01:00:00", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-03-29T24:00:00Z", "2026-03-29T01:00Z", "2026-03-29T01:00:00+2:00",
        "2026-03-29T01:00:00Z ", "tomorrow", "2026-03-29T01:00:00.Z", "0000-12-31T23:00:00Z",
        "0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00"}) {
    INFO("'" << bad << "'");
    auto r = parse_rfc3339(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("is not an RFC 3339 time") != std::string::npos);
  }
}
