#pragma once
// RateLimiter: one token bucket per key (a webhook's path). Each bucket holds up to `burst`
// tokens and refills at `rate` per second; a request takes one token or is refused with the time
// until the next one. Thread-safe (one mutex; buckets are tiny and the critical section is a few
// arithmetic operations). Buckets live as long as the limiter; keys are the configured webhooks,
// so their number is bounded.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace flowd::webhooks {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  RateLimiter(double rate_per_second, double burst) : rate_(rate_per_second), burst_(burst) {}

  struct Decision {
    bool allowed = true;
    std::chrono::seconds retry_after{
        0};  // when refused: whole seconds until a token is back (>= 1)
  };
  Decision take(const std::string& key, Clock::time_point now = Clock::now()) {
    return take(key, rate_, burst_, now);
  }
  // With this key's own rate and burst (a webhook's rateLimit).
  Decision take(const std::string& key, double rate, double burst,
                Clock::time_point now = Clock::now());

 private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  const double rate_;
  const double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mutex_)
};

}  // namespace flowd::webhooks
