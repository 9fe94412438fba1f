#pragma once
// CronFields is a cron expression compiled to bit sets, one per field, plus the day-of-month and
// day-of-week specials (L, L-n, <dow>L, <dow>#n). Produced by parse_cron_fields, read by the
// next-fire search (cron_schedule.cc). A plain value: copied into CronSchedule::Impl at parse.
#include <cstdint>
#include <string_view>

#include "flowd/engine/error.h"

namespace flowd::cron {

struct CronFields {
  std::uint64_t seconds = 0;  // bit s: second s (0..59)
  std::uint64_t minutes = 0;  // bit m: minute m (0..59)
  std::uint32_t hours = 0;    // bit h: hour h (0..23)
  std::uint32_t months = 0;   // bit m: month m (1..12)

  std::uint32_t days = 0;              // bit d: day-of-month d (1..31)
  std::uint32_t days_before_last = 0;  // bit n: `L-n` (n days before the month's last; L is n=0)

  std::uint8_t weekdays = 0;          // bit w: every weekday w (0 = Sunday .. 6 = Saturday)
  std::uint8_t last_weekdays = 0;     // bit w: `<w>L`, the month's last weekday w
  std::uint8_t nth_weekdays[7] = {};  // bit k of [w]: `<w>#k`, the k-th weekday w (k 1..5)

  // Vixie cron: a field that starts with `*` (or `?`) is unrestricted. When both day fields are
  // restricted a day matches if either does; otherwise both must match.
  bool day_of_month_restricted = false;
  bool day_of_week_restricted = false;

  bool has_seconds = false;  // written with six fields
};

// Parses the five- or six-field form or a macro (@daily, ...). Errors are kInvalidDefinition with
// the field's name and what is wrong: "day-of-month: 32 is out of range 1-31".
Result<CronFields> parse_cron_fields(std::string_view expression);

// Bit d-1 set for each day d of (year, month) the day fields select (month 1..12).
std::uint32_t day_mask(const CronFields& fields, int year, unsigned month);

}  // namespace flowd::cron
