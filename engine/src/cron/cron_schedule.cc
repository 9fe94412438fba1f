// CronSchedule (cron.h): the next-fire search. It walks wall-clock time in the schedule's zone
// field by field (year, month, day, hour, minute, second: never minute by minute), then maps the
// wall time found to an instant with the zone's rules:
//   - a wall time that exists once is that instant;
//   - one that exists twice (fall back) is its first occurrence;
//   - one that does not exist (spring forward) is the first instant after the gap.
// The mapping never decreases as wall time grows, so the first wall time whose instant is after
// `after` gives the next fire time, and wall times that share an instant (all of a gap's) fire
// once.
#include <date/tz.h>

#include <algorithm>
#include <bit>
#include <exception>

#include "cron/civil.h"
#include "cron/cron_fields.h"
#include "flowd/engine/cron.h"

namespace flowd {

struct CronSchedule::Impl {
  std::string expression;
  std::string zone_name;
  cron::CronFields fields;
  const date::time_zone* zone = nullptr;  // null: UTC, whose wall time is the instant
};

namespace {

constexpr std::int64_t kDay = 86'400;
constexpr int kLastYear = 9999;
// The Gregorian calendar repeats every 400 years (146097 days, a whole number of weeks): a
// pattern that matches no date in 400 years matches none ever.
constexpr int kSearchYears = 400;
const std::int64_t kFirstSecond = cron::days_from_civil(1, 1, 1) * kDay;
const std::int64_t kEndSecond = cron::days_from_civil(kLastYear + 1, 1, 1) * kDay;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// The lowest set bit at or above `from` (64 when there is none).
unsigned next_bit(std::uint64_t mask, unsigned from) {
  if (from >= 64) return 64;
  const std::uint64_t rest = mask & (~std::uint64_t{0} << from);
  return rest == 0 ? 64 : static_cast<unsigned>(std::countr_zero(rest));
}

// The earliest wall time (seconds since 1970-01-01T00:00 local) at or after `from` that the
// fields match, or nullopt when there is none within kSearchYears (or before year 9999 ends).
std::optional<std::int64_t> next_wall_time(const cron::CronFields& f, std::int64_t from) {
  const std::int64_t day0 = floor_div(from, kDay);
  const auto second_of_day = static_cast<unsigned>(from - day0 * kDay);
  const cron::CivilDate start = cron::civil_from_days(day0);
  int year = start.year;
  unsigned month = start.month, day = start.day;
  unsigned hour = second_of_day / 3600, minute = second_of_day / 60 % 60,
           second = second_of_day % 60;
  const int last_year = std::min(year + kSearchYears, kLastYear);

  int mask_year = 0;
  unsigned mask_month = 0;
  std::uint32_t days = 0;
  while (year <= last_year) {
    const unsigned m = next_bit(f.months, month);
    if (m > 12) {
      ++year, month = 1, day = 1, hour = minute = second = 0;
      continue;
    }
    if (m != month) month = m, day = 1, hour = minute = second = 0;

    if (mask_year != year || mask_month != month) {
      days = cron::day_mask(f, year, month);
      mask_year = year, mask_month = month;
    }
    const unsigned d = next_bit(days, day - 1) + 1;
    if (d > 31) {
      ++month, day = 1, hour = minute = second = 0;
      continue;
    }
    if (d != day) day = d, hour = minute = second = 0;

    const unsigned h = next_bit(f.hours, hour);
    if (h > 23) {
      ++day, hour = minute = second = 0;
      continue;
    }
    if (h != hour) hour = h, minute = second = 0;

    const unsigned mi = next_bit(f.minutes, minute);
    if (mi > 59) {
      ++hour, minute = second = 0;
      continue;
    }
    if (mi != minute) minute = mi, second = 0;

    const unsigned s = next_bit(f.seconds, second);
    if (s > 59) {
      ++minute, second = 0;
      continue;
    }
    return cron::days_from_civil(year, month, day) * kDay + hour * 3600 + minute * 60 + s;
  }
  return std::nullopt;
}

const date::time_zone* find_zone(std::string_view name, std::string& error) {
  try {
    return date::locate_zone(name);
  } catch (const std::exception&) {
    error = "unknown time zone '" + std::string(name) + "'";
    return nullptr;
  }
}

bool is_utc(std::string_view zone) {
  return zone.empty() || zone == "UTC" || zone == "Etc/UTC";
}

}  // namespace

Result<CronSchedule> CronSchedule::parse(std::string_view expression, std::string_view time_zone) {
  auto fields = cron::parse_cron_fields(expression);
  if (!fields) return tl::unexpected(fields.error());
  if (!next_wall_time(*fields, cron::days_from_civil(2000, 1, 1) * kDay)) {
    return fail(ErrorCode::kInvalidDefinition,
                "the expression never fires: no date matches its day-of-month, month and "
                "day-of-week fields");
  }
  auto impl = std::make_shared<Impl>();
  impl->expression = std::string(expression);
  impl->zone_name = time_zone.empty() ? "UTC" : std::string(time_zone);
  impl->fields = *fields;
  if (!is_utc(time_zone)) {
    std::string error;
    impl->zone = find_zone(time_zone, error);
    if (impl->zone == nullptr) return fail(ErrorCode::kInvalidDefinition, error);
  }
  return CronSchedule(std::move(impl));
}

bool is_known_time_zone(std::string_view time_zone) {
  std::string error;
  return is_utc(time_zone) || find_zone(time_zone, error) != nullptr;
}

std::optional<SysSeconds> CronSchedule::next_after(SysSeconds after) const {
  const std::int64_t a = after.time_since_epoch().count();
  if (a < kFirstSecond || a >= kEndSecond) return std::nullopt;
  const cron::CronFields& f = impl_->fields;
  const date::time_zone* zone = impl_->zone;
  if (zone == nullptr) {
    auto wall = next_wall_time(f, a + 1);
    if (!wall || *wall >= kEndSecond) return std::nullopt;
    return SysSeconds(std::chrono::seconds(*wall));
  }

  // Wall times up to the wall time of `after` map to instants at or before `after`.
  const auto now = zone->get_info(date::sys_seconds(std::chrono::seconds(a)));
  std::int64_t from = a + now.offset.count() + 1;
  for (int round = 0; round < 64; ++round) {
    auto wall = next_wall_time(f, from);
    if (!wall) return std::nullopt;
    const auto info = zone->get_info(date::local_seconds(std::chrono::seconds(*wall)));
    std::int64_t instant = 0;
    switch (info.result) {
      case date::local_info::unique:
      case date::local_info::ambiguous:  // the first occurrence: the earlier offset
        instant = *wall - info.first.offset.count();
        break;
      case date::local_info::nonexistent:  // the first instant after the gap
        instant = info.first.end.time_since_epoch().count();
        break;
    }
    if (instant > a) {
      if (instant >= kEndSecond) return std::nullopt;
      return SysSeconds(std::chrono::seconds(instant));
    }
    from = *wall + 1;
    if (info.result == date::local_info::ambiguous) {
      // `after` lies in the repeated hour's second pass: its wall times all fired in the first
      // pass. Resume at the end of the repeat, where the later offset holds alone.
      const std::int64_t repeat_end =
          info.first.end.time_since_epoch().count() + info.first.offset.count();
      from = std::max(from, repeat_end);
    }
  }
  return std::nullopt;  // unreachable with the zone rules of this world (see the loop's guard)
}

std::vector<SysSeconds> CronSchedule::next_n(SysSeconds after, std::size_t n) const {
  std::vector<SysSeconds> out;
  out.reserve(std::min<std::size_t>(n, 1024));
  while (out.size() < n) {
    auto next = next_after(after);
    if (!next) break;
    out.push_back(*next);
    after = *next;
  }
  return out;
}

const std::string& CronSchedule::expression() const {
  return impl_->expression;
}
const std::string& CronSchedule::time_zone() const {
  return impl_->zone_name;
}
bool CronSchedule::has_seconds() const {
  return impl_->fields.has_seconds;
}

}  // namespace flowd
