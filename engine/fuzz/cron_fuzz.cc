// libFuzzer target: CronSchedule::parse on arbitrary text in one of a few zones chosen by the
// first byte (those with DST gaps, repeats, half-hour and 45-minute offsets, a skipped day), then
// next_n from an instant taken from the next four bytes (1970..2106). Checks the invariants the
// unit tests state: errors name a field or the expression's shape; fire times strictly increase
// and are after `after`; nothing fires between two consecutive ones; RFC 3339 round trips.
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flowd/engine/cron.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

constexpr std::array<std::string_view, 10> kZones{"UTC",
                                                  "Europe/Berlin",
                                                  "America/New_York",
                                                  "Australia/Lord_Howe",
                                                  "Asia/Kolkata",
                                                  "Pacific/Chatham",
                                                  "Pacific/Apia",
                                                  "Europe/Dublin",
                                                  "Antarctica/Troll",
                                                  "America/Santiago"};

constexpr std::array<std::string_view, 9> kPrefixes{"second: ",
                                                    "minute: ",
                                                    "hour: ",
                                                    "day-of-month: ",
                                                    "month: ",
                                                    "day-of-week: ",
                                                    "expected 5 or 6 fields",
                                                    "unknown macro",
                                                    "the expression "};

void check_error(const flowd::Error& e) {
  require(e.code == flowd::ErrorCode::kInvalidDefinition);
  bool known = false;
  for (auto prefix : kPrefixes) known = known || e.message.starts_with(prefix);
  require(known);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  const std::string_view zone = kZones[data[0] % kZones.size()];
  const std::int64_t after_seconds = std::int64_t{data[1]} | std::int64_t{data[2]} << 8 |
                                     std::int64_t{data[3]} << 16 | std::int64_t{data[4]} << 24;
  const std::string_view text(reinterpret_cast<const char*>(data + 5), size - 5);

  auto rfc = flowd::parse_rfc3339(text);
  if (rfc) require(flowd::parse_rfc3339(flowd::format_utc(*rfc)) == *rfc);

  auto schedule = flowd::CronSchedule::parse(text, zone);
  if (!schedule) {
    check_error(schedule.error());
    return 0;
  }
  require(schedule->time_zone() == zone);
  const flowd::SysSeconds after{std::chrono::seconds(after_seconds)};
  const auto fires = schedule->next_n(after, 6);
  require(!fires.empty());  // parse refuses expressions that never fire; 2106 is far from 9999
  flowd::SysSeconds previous = after;
  for (const auto& t : fires) {
    require(t > previous);
    // Nothing fires in (previous, t): the search from just before t finds t.
    require(schedule->next_after(t - std::chrono::seconds(1)) == t);
    require(flowd::parse_rfc3339(flowd::format_utc(t)) == t);
    (void)flowd::format_in_zone(t, zone);
    previous = t;
  }
  return 0;
}
