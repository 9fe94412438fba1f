#pragma once
// Durations as written in definitions: 250ms, 5s, 10m, 1h, 7d (one integer and one unit).
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace flowd {

using Millis = std::chrono::milliseconds;

// Empty when the text is not a valid duration (no sign, no fraction, no mixed units).
std::optional<Millis> parse_duration(std::string_view text);
// The shortest exact spelling of d in the units above ("1500ms", "90s" becomes "90s").
std::string format_duration(Millis d);

}  // namespace flowd
