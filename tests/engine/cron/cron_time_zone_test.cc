// Wall-clock schedules across daylight-saving changes, from the zone rules of the IANA database
// (2026): a wall time in a gap (spring forward) fires once, at the first instant after the gap; a
// wall time that happens twice (fall back) fires once, at its first occurrence.
//   Europe/Berlin     CET +01 / CEST +02; 29 Mar 01:00Z 02:00->03:00; 25 Oct 01:00Z 03:00->02:00
//   America/New_York  EST -05 / EDT -04;  8 Mar 07:00Z 02:00->03:00;  1 Nov 06:00Z 02:00->01:00
//   Australia/Sydney  AEST +10 / AEDT +11; 4 Apr 16:00Z 03:00->02:00; 3 Oct 16:00Z 02:00->03:00
//   Australia/Lord_Howe +10:30 / +11 (a 30-minute shift); 4 Apr 15:00Z 02:00->01:30;
//                     3 Oct 15:30Z 02:00->02:30
//   Asia/Kolkata      +05:30, no DST
#include <catch2/catch.hpp>

#include "cron_test_support.h"

using cron_test::fires;
using Strings = std::vector<std::string>;

namespace {

struct Case {
  const char* name;
  const char* zone;
  const char* expression;
  const char* from;
  Strings expected;
};

void run(const Case& c) {
  INFO(c.name << ": '" << c.expression << "' in " << c.zone << " after " << c.from);
  CHECK(fires(c.expression, c.zone, c.from, c.expected.size()) == c.expected);
}

}  // namespace

TEST_CASE("Europe/Berlin: the spring gap fires once after it, the autumn repeat once at first",
          "[engine][cron][dst]") {
  const Case cases[] = {
      {"02:30 does not exist on 29 March: 03:00 CEST",
       "Europe/Berlin",
       "30 2 * * *",
       "2026-03-28T12:00:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
      {"02:00 does not exist either",
       "Europe/Berlin",
       "0 2 * * *",
       "2026-03-28T12:00:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
      {"every quarter of the missing hour fires once",
       "Europe/Berlin",
       "*/15 2 * * *",
       "2026-03-29T00:00:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"}},
      {"hourly through the gap: 01:00 CET, (02:00=)03:00 CEST, 04:00 CEST",
       "Europe/Berlin",
       "0 * * * *",
       "2026-03-28T23:30:00Z",
       {"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}},
      {"every 30 s of the missing hour: once",
       "Europe/Berlin",
       "*/30 * 2 * * *",
       "2026-03-29T00:59:00Z",
       {"2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z", "2026-03-30T00:00:30Z"}},
      {"a normal winter day is UTC+1",
       "Europe/Berlin",
       "0 0 2 * * *",
       "2026-01-10T00:00:00Z",
       {"2026-01-10T01:00:00Z"}},
      {"02:30 happens twice on 25 October: the CEST one",
       "Europe/Berlin",
       "30 2 * * *",
       "2026-10-24T12:00:00Z",
       {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}},
      {"hourly at :30 skips the repeated 02:30 CET",
       "Europe/Berlin",
       "0 30 * * * *",
       "2026-10-24T23:00:00Z",
       {"2026-10-24T23:30:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z",
        "2026-10-25T03:30:00Z"}},
      {"from inside the second pass of the repeated hour",
       "Europe/Berlin",
       "0 30 * * * *",
       "2026-10-25T01:10:00Z",
       {"2026-10-25T02:30:00Z"}},
      {"every 30 minutes: 02:00 and 02:30 once each",
       "Europe/Berlin",
       "*/30 * * * *",
       "2026-10-24T23:45:00Z",
       {"2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z",
        "2026-10-25T02:30:00Z"}},
      {"03:00 exists once (CET)",
       "Europe/Berlin",
       "0 3 * * *",
       "2026-10-24T12:00:00Z",
       {"2026-10-25T02:00:00Z", "2026-10-26T02:00:00Z"}},
      {"the last Sunday of March at 02:30 falls in the gap every year",
       "Europe/Berlin",
       "30 2 * 3 0L",
       "2026-01-01T00:00:00Z",
       {"2026-03-29T01:00:00Z", "2027-03-28T01:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("America/New_York: gap on the second Sunday of March, repeat on the first of November",
          "[engine][cron][dst]") {
  const Case cases[] = {
      {"02:30 on 8 March is 03:00 EDT",
       "America/New_York",
       "30 2 * * *",
       "2026-03-07T12:00:00Z",
       {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"}},
      {"01:30 on 1 November: the EDT one",
       "America/New_York",
       "30 1 * * *",
       "2026-10-31T12:00:00Z",
       {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
      {"every 20 minutes through the repeated hour",
       "America/New_York",
       "*/20 1-2 * * *",
       "2026-11-01T05:30:00Z",
       {"2026-11-01T05:40:00Z", "2026-11-01T07:00:00Z", "2026-11-01T07:20:00Z",
        "2026-11-01T07:40:00Z", "2026-11-02T06:00:00Z"}},
      {"weekdays at 09:00 move from UTC-5 to UTC-4",
       "America/New_York",
       "0 9 * * MON-FRI",
       "2026-03-06T15:00:00Z",
       {"2026-03-09T13:00:00Z", "2026-03-10T13:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Australia/Sydney: the southern hemisphere falls back in April, springs in October",
          "[engine][cron][dst]") {
  const Case cases[] = {
      {"02:30 on 5 April happens twice: the AEDT one",
       "Australia/Sydney",
       "30 2 * * *",
       "2026-04-04T00:00:00Z",
       {"2026-04-04T15:30:00Z", "2026-04-05T16:30:00Z"}},
      {"02:30 on 4 October does not exist: 03:00 AEDT",
       "Australia/Sydney",
       "30 2 * * *",
       "2026-10-03T00:00:00Z",
       {"2026-10-03T16:00:00Z", "2026-10-04T15:30:00Z"}},
      {"midnight on New Year's Day is in summer time",
       "Australia/Sydney",
       "@yearly",
       "2026-06-01T00:00:00Z",
       {"2026-12-31T13:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}

TEST_CASE("Half-hour offsets: Asia/Kolkata and Lord Howe Island's 30-minute DST",
          "[engine][cron][dst]") {
  const Case cases[] = {
      {"09:00 IST is 03:30Z",
       "Asia/Kolkata",
       "0 9 * * *",
       "2026-01-01T00:00:00Z",
       {"2026-01-01T03:30:00Z", "2026-01-02T03:30:00Z"}},
      {"the first of the month starts at 18:30Z the day before",
       "Asia/Kolkata",
       "@monthly",
       "2026-01-15T00:00:00Z",
       {"2026-01-31T18:30:00Z", "2026-02-28T18:30:00Z"}},
      {"02:15 on 4 October is in the half-hour gap: 02:30 +11",
       "Australia/Lord_Howe",
       "15 2 * * *",
       "2026-10-03T00:00:00Z",
       {"2026-10-03T15:30:00Z", "2026-10-04T15:15:00Z"}},
      {"01:45 on 5 April happens twice: the +11 one",
       "Australia/Lord_Howe",
       "45 1 * * *",
       "2026-04-04T00:00:00Z",
       {"2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"}},
      {"every half hour through the repeat: 01:30 once, then 02:00 +10:30",
       "Australia/Lord_Howe",
       "0,30 * * * *",
       "2026-04-04T14:20:00Z",
       {"2026-04-04T14:30:00Z", "2026-04-04T15:30:00Z", "2026-04-04T16:00:00Z"}},
  };
  for (const auto& c : cases) run(c);
}
