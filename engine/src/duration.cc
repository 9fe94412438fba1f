// Durations as written in definitions (duration.h): one unsigned integer and one unit.
#include "flowd/engine/duration.h"

#include <array>
#include <cstdint>
#include <limits>
#include <utility>

namespace flowd {
namespace {

// Largest unit first: format_duration picks the first that divides exactly.
constexpr std::array<std::pair<std::string_view, std::int64_t>, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

}  // namespace

std::optional<Millis> parse_duration(std::string_view text) {
  std::size_t i = 0;
  std::uint64_t count = 0;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<Millis::rep>::max());
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (count > (kMax - digit) / 10) return std::nullopt;
    count = count * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;  // empty, sign, space or unit without a number
  const std::string_view unit = text.substr(i);
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const auto f = static_cast<std::uint64_t>(factor);
    if (count > kMax / f) return std::nullopt;
    return Millis(static_cast<Millis::rep>(count * f));
  }
  return std::nullopt;
}

std::string format_duration(Millis d) {
  const std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  for (const auto& [name, factor] : kUnits) {
    if (ms % factor == 0) return std::to_string(ms / factor) + std::string(name);
  }
  return std::to_string(ms) + "ms";  // unreachable: factor 1 always divides
}

}  // namespace flowd
