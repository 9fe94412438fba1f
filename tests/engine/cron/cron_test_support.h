#pragma once
// Helpers for the cron tests: instants from RFC 3339 text and fire times as text, so that the
// tables read like the calendars they were written from.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "flowd/engine/cron.h"

namespace cron_test {

inline flowd::SysSeconds at(const std::string& text) {
  auto t = flowd::parse_rfc3339(text);
  INFO(text);
  REQUIRE(t.has_value());
  return *t;
}

inline flowd::CronSchedule schedule(const std::string& expression, const std::string& zone = "") {
  auto s = flowd::CronSchedule::parse(expression, zone);
  INFO(expression << " in " << zone << ": " << (s ? std::string() : s.error().message));
  REQUIRE(s.has_value());
  return *s;
}

// The next `n` fire times after `from` as "2026-03-29T01:00:00Z" strings.
inline std::vector<std::string> fires(const std::string& expression, const std::string& zone,
                                      const std::string& from, std::size_t n) {
  std::vector<std::string> out;
  for (auto t : schedule(expression, zone).next_n(at(from), n)) out.push_back(flowd::format_utc(t));
  return out;
}

}  // namespace cron_test
