#include "webhooks/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace flowd::webhooks {

RateLimiter::Decision RateLimiter::take(const std::string& key, double rate, double burst,
                                        Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto [it, created] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  if (!created) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    if (elapsed > 0) b.tokens = std::min(burst, b.tokens + elapsed * rate);
    b.updated = std::max(b.updated, now);
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {};
  }
  double wait = (1.0 - b.tokens) / rate;
  auto seconds = static_cast<std::int64_t>(std::ceil(wait));
  return Decision{false, std::chrono::seconds(std::max<std::int64_t>(1, seconds))};
}

}  // namespace flowd::webhooks
