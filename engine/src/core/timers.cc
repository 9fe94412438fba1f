#include "flowd/engine/timers.h"

namespace flowd {

Millis time_until(TimePoint due, TimePoint now) {
  if (due <= now) return Millis(0);
  // Rounded up: a wait never ends before its time.
  return std::chrono::ceil<Millis>(due - now);
}

std::optional<TimePoint> time_field(const Json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || !it->is_string()) return std::nullopt;
  auto at = parse_rfc3339_ms(it->get_ref<const std::string&>());
  if (!at) return std::nullopt;
  return *at;
}

}  // namespace flowd
