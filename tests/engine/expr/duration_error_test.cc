// Durations (duration.h) and error code spellings (error.h).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"

namespace flowd {
namespace {

TEST_CASE("Valid durations parse to milliseconds", "[engine][expr][duration]") {
  struct Case {
    const char* text;
    std::int64_t ms;
  };
  const std::vector<Case> cases = {
      {"250ms", 250},
      {"0ms", 0},
      {"5s", 5000},
      {"10m", 600000},
      {"1h", 3600000},
      {"7d", 604800000},
      {"0s", 0},
      {"007s", 7000},
      {"1500ms", 1500},
      {"90s", 90000},
      {"36h", 129600000},
      {"9223372036854775807ms", INT64_MAX},
      {"106751991167d", 106751991167 * 86400000},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto d = parse_duration(c.text);
    REQUIRE(d);
    CHECK(d->count() == c.ms);
  }
}

TEST_CASE("Invalid durations are rejected", "[engine][expr][duration]") {
  const std::vector<const char*> cases = {
      "",
      "s",
      "ms",
      "5",
      "-5s",
      "+5s",
      "1.5s",
      ".5s",
      "5 s",
      " 5s",
      "5s ",
      "5sec",
      "5S",
      "5MS",
      "5y",
      "5w",
      "1h30m",
      "5ss",
      "5msx",
      "five s",
      "0x10s",
      "1e3ms",
      "5µs",
      "5us",
      "9223372036854775808ms",
      "106751991168d",
      "99999999999999999999999s",
      "9223372036854776s",
      "18446744073709551616ms",
  };
  for (const char* text : cases) {
    INFO("'" << text << "'");
    CHECK_FALSE(parse_duration(text));
  }
  CHECK_FALSE(parse_duration(std::string_view("5\0s", 3)));
}

TEST_CASE("format_duration uses the largest exact unit", "[engine][expr][duration]") {
  struct Case {
    std::int64_t ms;
    const char* text;
  };
  const std::vector<Case> cases = {
      {0, "0s"},         {1, "1ms"},        {250, "250ms"},   {1000, "1s"},    {1500, "1500ms"},
      {90000, "90s"},    {60000, "1m"},     {5400000, "90m"}, {3600000, "1h"}, {86400000, "1d"},
      {90000000, "25h"}, {604800000, "7d"}, {-5000, "-5s"},
  };
  for (const auto& c : cases) {
    INFO(c.ms);
    CHECK(format_duration(Millis(c.ms)) == c.text);
    if (c.ms >= 0) CHECK(parse_duration(format_duration(Millis(c.ms)))->count() == c.ms);
  }
}

TEST_CASE("Error codes round-trip through their stable spellings", "[engine][error]") {
  const std::vector<std::pair<ErrorCode, const char*>> cases = {
      {ErrorCode::kInvalidDefinition, "INVALID_DEFINITION"},
      {ErrorCode::kInvalidInput, "INVALID_INPUT"},
      {ErrorCode::kMissingInput, "MISSING_INPUT"},
      {ErrorCode::kTimeout, "TIMEOUT"},
      {ErrorCode::kExternal, "EXTERNAL"},
      {ErrorCode::kNotFound, "NOT_FOUND"},
      {ErrorCode::kPermissionDenied, "PERMISSION_DENIED"},
      {ErrorCode::kCancelled, "CANCELLED"},
      {ErrorCode::kInternal, "INTERNAL"},
  };
  for (const auto& [code, text] : cases) {
    INFO(text);
    CHECK(to_string(code) == text);
    CHECK(parse_error_code(text) == code);
  }
  for (const char* bad : {"", "timeout", "TIMEOUT ", "UNKNOWN", "INVALID"}) {
    INFO(bad);
    CHECK_FALSE(parse_error_code(bad));
  }
}

}  // namespace
}  // namespace flowd
