#pragma once
// CronSchedule is a parsed cron expression bound to an IANA time zone: it answers "when does this
// fire next after instant t?" in UTC. Pure and immutable after parse: safe to share between
// threads. It lives in the engine (like durations and conditions) because definitions are validated
// here; the scheduler that fires ticks is triggers/cron.
//
// Syntax: 5 fields (min hour dom month dow) or 6 with a leading seconds field (Quartz / Spring
// order); `*`, lists `a,b`, ranges `a-b`, steps `*/n` `a-b/n` `a/n`, names (JAN..DEC, SUN..SAT),
// `?` as `*` in dom/dow, `L` / `L-n` (last day of month, n days before it), `<dow>L` (last such
// weekday of the month), `<dow>#n` (n-th such weekday), macros @yearly @annually @monthly @weekly
// @daily @midnight @hourly. Day of week 0 and 7 are Sunday. Vixie rule: when both dom and dow are
// restricted, a day matches if either does.
//
// Wall-clock rules, in the schedule's zone: a wall time that does not exist (spring forward) fires
// once, at the first valid instant after the gap; a wall time that happens twice (fall back) fires
// once, at its first occurrence.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/error.h"

namespace flowd {

using SysSeconds = std::chrono::time_point<std::chrono::system_clock, std::chrono::seconds>;

class CronSchedule {
 public:
  // Fails with kInvalidDefinition and a message naming the field and what is wrong
  // ("day-of-month: 32 is out of range 1-31"), or the zone ("unknown time zone 'Mars/Base'").
  // An empty zone means UTC.
  static Result<CronSchedule> parse(std::string_view expression, std::string_view time_zone = {});

  // The first fire time strictly after `after`, or nullopt when there is none (e.g. `0 0 30 2 *`
  // never fires; the search gives up after a bounded number of years).
  std::optional<SysSeconds> next_after(SysSeconds after) const;

  // The next `n` fire times after `after`, in order.
  std::vector<SysSeconds> next_n(SysSeconds after, std::size_t n) const;

  const std::string& expression() const;
  const std::string& time_zone() const;  // "UTC" when none was given
  bool has_seconds() const;              // 6-field form (or a macro mapped to it)

  struct Impl;

 private:
  explicit CronSchedule(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

// Whether `time_zone` names a zone of the IANA database on this machine ("" and "UTC" do).
bool is_known_time_zone(std::string_view time_zone);

// ISO-8601 / RFC 3339 in UTC with a Z: "2026-03-29T01:00:00Z".
std::string format_utc(SysSeconds t);
// The same instant as wall-clock time in `time_zone` with its offset: "2026-03-29T03:00:00+02:00".
std::string format_in_zone(SysSeconds t, std::string_view time_zone);
// Parses RFC 3339 ("2026-03-29T01:00:00Z", "...+02:00", fractional seconds truncated).
Result<SysSeconds> parse_rfc3339(std::string_view text);

}  // namespace flowd
