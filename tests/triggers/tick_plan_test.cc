// The scheduler's pure decisions: owed ticks under the catch-up window and cap, start and end,
// jitter, overlap, and what a tick's input templates see.
#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "flowd/engine/actor.h"
#include "flowd/triggers/tick_plan.h"

using namespace flowd;
using namespace flowd::triggers;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

SysSeconds at(const std::string& text) {
  auto t = parse_rfc3339(text);
  INFO(text);
  REQUIRE(t.has_value());
  return *t;
}

CronSchedule cron(const std::string& expression, const std::string& zone = "") {
  auto s = CronSchedule::parse(expression, zone);
  REQUIRE(s.has_value());
  return *s;
}

std::vector<std::string> texts(const std::vector<SysSeconds>& times) {
  std::vector<std::string> out;
  for (auto t : times) out.push_back(format_utc(t));
  return out;
}

}  // namespace

TEST_CASE("A schedule owes the ticks since it was last handled, oldest first", "[triggers][cron]") {
  const auto now = at("2026-12-04T10:03:30Z");
  auto due = due_ticks(cron("* * * * *"), TickLimits{}, at("2026-12-04T10:00:00Z"), now);
  CHECK(texts(due.fire) == std::vector<std::string>{"2026-12-04T10:01:00Z", "2026-12-04T10:02:00Z",
                                                    "2026-12-04T10:03:00Z"});
  CHECK(due.missed == 0);
  CHECK_FALSE(due.first_missed);
  REQUIRE(due.next);
  CHECK(format_utc(*due.next) == "2026-12-04T10:04:00Z");

  SECTION("a tick at exactly now is owed; one handled already is not") {
    auto again = due_ticks(cron("* * * * *"), TickLimits{}, at("2026-12-04T10:03:00Z"),
                           at("2026-12-04T10:04:00Z"));
    CHECK(texts(again.fire) == std::vector<std::string>{"2026-12-04T10:04:00Z"});
    CHECK(format_utc(*again.next) == "2026-12-04T10:05:00Z");
  }
}

TEST_CASE("After downtime, ticks older than the catch-up window are missed, not run",
          "[triggers][cron]") {
  TickLimits limits;
  limits.catchup_window = std::chrono::duration_cast<Millis>(hours(2));
  // Hourly, down from 04:30 to 10:15: 05..10 owed; the window reaches back to 08:15.
  auto due =
      due_ticks(cron("0 * * * *"), limits, at("2026-12-04T04:30:00Z"), at("2026-12-04T10:15:00Z"));
  CHECK(texts(due.fire) ==
        std::vector<std::string>{"2026-12-04T09:00:00Z", "2026-12-04T10:00:00Z"});
  CHECK(due.missed == 4);
  CHECK(format_utc(*due.first_missed) == "2026-12-04T05:00:00Z");
  CHECK(format_utc(*due.last_missed) == "2026-12-04T08:00:00Z");
  CHECK_FALSE(due.missed_counting_stopped);
}

TEST_CASE("The catch-up cap keeps the newest owed ticks and counts the rest missed",
          "[triggers][cron]") {
  TickLimits limits;
  limits.max_catchup = 100;
  const auto now = at("2026-12-04T10:00:00Z");
  auto due = due_ticks(cron("* * * * * *"), limits, now - minutes(30), now);  // 1,800 owed
  REQUIRE(due.fire.size() == 100);
  CHECK(due.fire.back() == now);
  CHECK(due.fire.front() == now - seconds(99));
  CHECK(due.missed == 1700);
  CHECK(*due.last_missed == now - seconds(100));
  CHECK(*due.first_missed == now - minutes(30) + seconds(1));
}

TEST_CASE("Counting missed ticks stops at its limit and says so", "[triggers][cron]") {
  TickLimits limits;
  limits.max_missed_counted = 500;
  limits.catchup_window = std::chrono::duration_cast<Millis>(seconds(10));
  const auto now = at("2026-12-04T10:00:00Z");
  auto due = due_ticks(cron("* * * * * *"), limits, now - hours(24), now);
  CHECK(due.missed_counting_stopped);
  CHECK(due.missed == 500);
  // The window's ticks still fire, all of them, in order.
  REQUIRE(due.fire.size() == 11);
  CHECK(due.fire.front() == now - seconds(10));
  CHECK(due.fire.back() == now);
}

TEST_CASE("No tick before startAt or after endAt", "[triggers][cron]") {
  const auto now = at("2026-12-04T10:00:00Z");
  TickLimits limits;
  SECTION("startAt ahead: nothing owed, the next run is the first at or after it") {
    limits.start_at = at("2026-12-05T00:00:00Z");
    auto due = due_ticks(cron("0 * * * *"), limits, now - hours(3), now);
    CHECK(due.fire.empty());
    CHECK(due.missed == 0);
    CHECK(format_utc(*due.next) == "2026-12-05T00:00:00Z");
  }
  SECTION("endAt passed: only ticks up to it, and no next run") {
    limits.end_at = at("2026-12-04T08:00:00Z");
    limits.catchup_window = std::chrono::duration_cast<Millis>(hours(6));
    auto due = due_ticks(cron("0 * * * *"), limits, now - hours(3), now);
    CHECK(texts(due.fire) == std::vector<std::string>{"2026-12-04T08:00:00Z"});
    CHECK_FALSE(due.next);
  }
}

TEST_CASE("Jitter is the same for a tick everywhere, within bounds, and spreads ticks",
          "[triggers][cron]") {
  const Millis max{30'000};
  const auto t = at("2026-12-04T02:00:00Z");
  CHECK(jitter_for("nightly", t, max) == jitter_for("nightly", t, max));
  CHECK(jitter_for("nightly", t, Millis{0}) == Millis{0});
  std::set<Millis::rep> seen;
  for (int i = 0; i < 50; ++i) {
    const Millis j = jitter_for("nightly", t + minutes(i), max);
    CHECK(j >= Millis{0});
    CHECK(j <= max);
    seen.insert(j.count());
  }
  CHECK(seen.size() > 40);  // 50 draws from 30,001 values rarely collide
  CHECK(jitter_for("nightly", t, max) != jitter_for("hourly", t, max));
}

TEST_CASE("The overlap policy decides what a tick does while the last run goes on",
          "[triggers][cron]") {
  using P = OverlapPolicy;
  using A = OverlapAction;
  // Nothing running and nothing waiting: every policy starts.
  for (auto p : {P::kSkip, P::kAllow, P::kBufferOne, P::kBufferAll, P::kCancelOther})
    CHECK(decide_overlap(p, false, 0) == A::kStart);
  CHECK(decide_overlap(P::kSkip, true, 0) == A::kSkip);
  CHECK(decide_overlap(P::kAllow, true, 0) == A::kStart);
  CHECK(decide_overlap(P::kBufferOne, true, 0) == A::kBuffer);
  CHECK(decide_overlap(P::kBufferOne, true, 1) == A::kSkip);  // one waiting is the most
  CHECK(decide_overlap(P::kBufferAll, true, 7) == A::kBuffer);
  CHECK(decide_overlap(P::kBufferAll, false, 2) == A::kBuffer);  // never overtakes waiting ticks
  CHECK(decide_overlap(P::kCancelOther, true, 0) == A::kCancelThenStart);
}

TEST_CASE("A tick's dedupe key is its actor and its templates see tick and schedule",
          "[triggers][cron]") {
  const auto t = at("2026-06-30T22:30:00Z");
  CHECK(tick_dedupe_key("nightly", t) == actor::cron("nightly", t));
  CHECK(tick_dedupe_key("nightly", t).rfind("cron:nightly@2026-06-30T22:30:00", 0) == 0);
  CHECK(tick_dedupe_key("nightly", t) != tick_dedupe_key("nightly", t + seconds(1)));
  const Json scope = tick_scope("nightly", t, "Europe/Berlin");
  CHECK(scope["tick"]["time"] == "2026-06-30T22:30:00Z");
  CHECK(scope["tick"]["date"] == "2026-07-01");  // already July in Berlin
  CHECK(scope["schedule"]["name"] == "nightly");
  CHECK(tick_scope("nightly", t, "UTC")["tick"]["date"] == "2026-06-30");
}
