// RFC 3339 instants (cron.h): format_utc, format_in_zone, parse_rfc3339.
#include <date/tz.h>

#include <cstdio>
#include <exception>

#include "cron/civil.h"
#include "flowd/engine/cron.h"

namespace flowd {
namespace {

constexpr std::int64_t kDay = 86'400;

std::string format_wall(std::int64_t wall) {
  const std::int64_t days = wall / kDay - (wall % kDay < 0);
  const auto second_of_day = static_cast<unsigned>(wall - days * kDay);
  const cron::CivilDate d = cron::civil_from_days(days);
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02u-%02uT%02u:%02u:%02u", d.year, d.month, d.day,
                second_of_day / 3600, second_of_day / 60 % 60, second_of_day % 60);
  return text;
}

std::string format_offset(std::int64_t offset) {
  const char sign = offset < 0 ? '-' : '+';
  const std::int64_t magnitude = offset < 0 ? -offset : offset;
  char text[16];
  if (magnitude % 60 == 0) {
    std::snprintf(text, sizeof text, "%c%02d:%02d", sign, static_cast<int>(magnitude / 3600),
                  static_cast<int>(magnitude / 60 % 60));
  } else {  // local mean time offsets of old dates have seconds
    std::snprintf(text, sizeof text, "%c%02d:%02d:%02d", sign, static_cast<int>(magnitude / 3600),
                  static_cast<int>(magnitude / 60 % 60), static_cast<int>(magnitude % 60));
  }
  return text;
}

// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view text, std::size_t& pos, std::size_t width, int& value) {
  if (pos + width > text.size()) return false;
  value = 0;
  for (std::size_t i = 0; i < width; ++i) {
    const char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool expect(std::string_view text, std::size_t& pos, std::string_view one_of) {
  if (pos >= text.size() || one_of.find(text[pos]) == std::string_view::npos) return false;
  ++pos;
  return true;
}

}  // namespace

std::string format_utc(SysSeconds t) {
  return format_wall(t.time_since_epoch().count()) + "Z";
}

std::string format_in_zone(SysSeconds t, std::string_view time_zone) {
  if (time_zone.empty() || time_zone == "UTC" || time_zone == "Etc/UTC") {
    return format_wall(t.time_since_epoch().count()) + "+00:00";
  }
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(time_zone);
  } catch (const std::exception&) {
    return format_utc(t);  // unknown zone: the instant still reads right
  }
  const std::int64_t offset = zone->get_info(t).offset.count();
  return format_wall(t.time_since_epoch().count() + offset) + format_offset(offset);
}

Result<SysSeconds> parse_rfc3339(std::string_view text) {
  const auto bad = [&](std::string_view what) {
    return fail(ErrorCode::kInvalidInput, "'" + std::string(text) + "' is not an RFC 3339 time (" +
                                              std::string(what) +
                                              "; expected e.g. 2026-03-29T01:00:00Z)");
  };
  std::size_t pos = 0;
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, pos, 4, year) || !expect(text, pos, "-") ||
      !read_digits(text, pos, 2, month) || !expect(text, pos, "-") ||
      !read_digits(text, pos, 2, day)) {
    return bad("the date must be YYYY-MM-DD");
  }
  if (!expect(text, pos, "Tt ")) return bad("a T must separate date and time");
  if (!read_digits(text, pos, 2, hour) || !expect(text, pos, ":") ||
      !read_digits(text, pos, 2, minute) || !expect(text, pos, ":") ||
      !read_digits(text, pos, 2, second)) {
    return bad("the time must be HH:MM:SS");
  }
  if (month < 1 || month > 12 || day < 1 ||
      static_cast<unsigned>(day) > cron::days_in_month(year, static_cast<unsigned>(month))) {
    return bad("no such date");
  }
  if (hour > 23 || minute > 59 || second > 59) return bad("no such time of day");
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    const std::size_t digits = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
    if (pos == digits) return bad("a fraction needs digits");
  }
  std::int64_t offset = 0;
  if (expect(text, pos, "Zz")) {
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    const bool negative = text[pos] == '-';
    ++pos;
    int offset_hours = 0, offset_minutes = 0;
    if (!read_digits(text, pos, 2, offset_hours) || !expect(text, pos, ":") ||
        !read_digits(text, pos, 2, offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return bad("the offset must be Z or +HH:MM");
    }
    offset = (offset_hours * 3600 + offset_minutes * 60) * (negative ? -1 : 1);
  } else {
    return bad("the offset is missing: end with Z or +HH:MM");
  }
  if (pos != text.size()) return bad("unexpected text after the offset");
  const std::int64_t wall =
      cron::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kDay +
      hour * 3600 + minute * 60 + second;
  const std::int64_t instant = wall - offset;
  // Years 0001-9999 in UTC too, so that format_utc writes it back in the same form.
  if (instant < cron::days_from_civil(1, 1, 1) * kDay ||
      instant >= cron::days_from_civil(10000, 1, 1) * kDay) {
    return bad("outside the years 0001-9999 in UTC");
  }
  return SysSeconds(std::chrono::seconds(instant));
}

}  // namespace flowd
