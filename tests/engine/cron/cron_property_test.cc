// Properties of the next-fire search around every DST transition of the zones we test, checked
// against a brute force that walks every wall-clock minute (or second) of the window, keeps those
// the predicate matches, and maps each to an instant with date-tz's own rule (the earliest
// instant of a repeated wall time; the end of the gap for a missing one). The search must give
// exactly that set: strictly increasing, no valid wall time skipped, each wall time once.
#include <catch2/catch.hpp>

#include <date/tz.h>

#include <functional>
#include <set>

#include "cron_test_support.h"

namespace {

using flowd::SysSeconds;

struct Wall {
  int year;
  unsigned month, day, hour, minute, second, weekday;  // weekday 0 = Sunday
};

Wall wall_of(std::int64_t local) {
  const auto tp = date::local_seconds(std::chrono::seconds(local));
  const auto days = date::floor<date::days>(tp);
  const date::year_month_day ymd(days);
  const date::hh_mm_ss<std::chrono::seconds> tod(tp - days);
  return {int(ymd.year()),
          unsigned(ymd.month()),
          unsigned(ymd.day()),
          unsigned(tod.hours().count()),
          unsigned(tod.minutes().count()),
          unsigned(tod.seconds().count()),
          date::weekday(days).c_encoding()};
}

struct Property {
  const char* expression;
  std::function<bool(const Wall&)> matches;  // written from the expression, independently
};

// Every matching wall time of [from, to] (UTC instants) mapped to its instant, in order.
std::vector<std::int64_t> brute_force(const Property& p, const date::time_zone* zone,
                                      std::int64_t from, std::int64_t to, int step) {
  std::set<std::int64_t> instants;
  const std::int64_t first = from + 14 * 3600 - 30 * 3600;  // covers every offset in use
  for (std::int64_t local = first - first % 60; local <= to + 14 * 3600; local += step) {
    if (!p.matches(wall_of(local))) continue;
    const auto instant =
        zone->to_sys(date::local_seconds(std::chrono::seconds(local)), date::choose::earliest);
    const std::int64_t t = instant.time_since_epoch().count();
    if (t > from && t <= to) instants.insert(t);
  }
  return {instants.begin(), instants.end()};
}

}  // namespace

TEST_CASE("Around DST transitions the search gives exactly the brute-force fire set",
          "[engine][cron][dst][property]") {
  const std::vector<Property> properties = {
      {"*/15 * * * *", [](const Wall& w) { return w.minute % 15 == 0 && w.second == 0; }},
      {"0 * * * *", [](const Wall& w) { return w.minute == 0 && w.second == 0; }},
      {"30 2 * * *", [](const Wall& w) { return w.hour == 2 && w.minute == 30 && w.second == 0; }},
      {"* 2 * * *", [](const Wall& w) { return w.hour == 2 && w.second == 0; }},
      {"*/7 1-3 * * *",
       [](const Wall& w) { return w.hour >= 1 && w.hour <= 3 && w.minute % 7 == 0 && !w.second; }},
      {"0,30 * * * *", [](const Wall& w) { return w.minute % 30 == 0 && w.second == 0; }},
      {"45 1,2 * * *",
       [](const Wall& w) { return (w.hour == 1 || w.hour == 2) && w.minute == 45 && !w.second; }},
      {"59 1 * * *", [](const Wall& w) { return w.hour == 1 && w.minute == 59 && !w.second; }},
      {"0 3 * * SUN",
       [](const Wall& w) { return w.hour == 3 && !w.minute && !w.second && !w.weekday; }},
      {"*/20 * 1-3 * * *",
       [](const Wall& w) { return w.hour >= 1 && w.hour <= 3 && w.second % 20 == 0; }},
      {"15,45 */10 1,2 * * *",
       [](const Wall& w) {
         return (w.hour == 1 || w.hour == 2) && w.minute % 10 == 0 &&
                (w.second == 15 || w.second == 45);
       }},
  };
  struct Transition {
    const char* zone;
    const char* instant;
  };
  const Transition transitions[] = {
      {"Europe/Berlin", "2026-03-29T01:00:00Z"},
      {"Europe/Berlin", "2026-10-25T01:00:00Z"},
      {"America/New_York", "2026-03-08T07:00:00Z"},
      {"America/New_York", "2026-11-01T06:00:00Z"},
      {"Australia/Sydney", "2026-04-04T16:00:00Z"},
      {"Australia/Sydney", "2026-10-03T16:00:00Z"},
      {"Australia/Lord_Howe", "2026-04-04T15:00:00Z"},
      {"Australia/Lord_Howe", "2026-10-03T15:30:00Z"},
      {"Asia/Kolkata", "2026-03-29T01:00:00Z"},
  };
  for (const auto& tr : transitions) {
    const date::time_zone* zone = date::locate_zone(tr.zone);
    const std::int64_t t = cron_test::at(tr.instant).time_since_epoch().count();
    const std::int64_t from = t - 20 * 3600, to = t + 20 * 3600;
    for (const auto& p : properties) {
      INFO(p.expression << " in " << tr.zone << " around " << tr.instant);
      const auto s = cron_test::schedule(p.expression, tr.zone);
      const auto expected = brute_force(p, zone, from, to, s.has_seconds() ? 1 : 60);
      REQUIRE_FALSE(expected.empty());

      std::vector<std::int64_t> got;
      for (auto next = s.next_after(SysSeconds(std::chrono::seconds(from)));
           next && next->time_since_epoch().count() <= to; next = s.next_after(*next)) {
        got.push_back(next->time_since_epoch().count());
      }
      CHECK(got == expected);

      // Each wall time fires once: no two fire times show the same wall clock.
      std::set<std::int64_t> walls;
      for (std::int64_t g : got) {
        const auto info = zone->get_info(date::sys_seconds(std::chrono::seconds(g)));
        CHECK(walls.insert(g + info.offset.count()).second);
      }

      // From any instant in the window, the next fire is the first of the set after it.
      for (std::int64_t after = from; after < expected.back(); after += 397) {
        const auto next = s.next_after(SysSeconds(std::chrono::seconds(after)));
        REQUIRE(next.has_value());
        CHECK(next->time_since_epoch().count() > after);
        CHECK(next->time_since_epoch().count() ==
              *std::upper_bound(expected.begin(), expected.end(), after));
      }
    }
  }
}

TEST_CASE("next_n is next_after repeated; a schedule with no date left ends", "[engine][cron]") {
  const auto s = cron_test::schedule("0 0 29 2 *", "Europe/Berlin");
  const auto from = cron_test::at("2026-01-01T00:00:00Z");
  const auto five = s.next_n(from, 5);
  REQUIRE(five.size() == 5);
  auto t = from;
  for (const auto& f : five) {
    t = *s.next_after(t);
    CHECK(t == f);
  }
  // The search covers years up to 9999.
  CHECK(cron_test::schedule("0 0 1 1 *").next_n(cron_test::at("9998-06-01T00:00:00Z"), 3).size() ==
        1);
  CHECK_FALSE(cron_test::schedule("* * * * *").next_after(cron_test::at("9999-12-31T23:59:00Z")));
  CHECK(s.next_n(from, 0).empty());
}
