#pragma once
// CircuitBreaker is the health of one call target (scheme://host:port) as seen by the calls made
// to it: closed (calls pass), open (calls fail fast until the cool-down ends) and half-open (one
// trial call decides). CircuitBreakers maps targets to breakers. Both live as long as the runner
// that owns them, are driven by steady time passed in by the caller, and are used on the engine's
// io_context thread only (no locks).
#include <chrono>
#include <map>
#include <string>

#include "flowd/engine/http_step.h"

namespace flowd::steps {

using SteadyTime = std::chrono::steady_clock::time_point;

class CircuitBreaker {
 public:
  enum class State { kClosed, kOpen, kHalfOpen };
  // What admit() granted a call; hand it back to record().
  enum class Admission { kRejected, kAdmitted, kTrial };
  // How an admitted call ended: kAbandoned is neither (cancelled before it could tell).
  enum class Outcome { kSuccess, kFailure, kAbandoned };

  explicit CircuitBreaker(CircuitBreakerOptions options) : options_(options) {}

  // Decides whether a call may go out now. An open circuit whose cool-down has ended turns
  // half-open and admits exactly one trial; others are rejected until the trial reports.
  Admission admit(SteadyTime now);
  // Reports the end of a call admitted by admit(). Results of ordinary calls that finish while the
  // circuit is open or half-open are ignored: only the trial decides then.
  void record(Admission admission, Outcome outcome, SteadyTime now);

  State state() const { return state_; }
  int consecutive_failures() const { return consecutive_failures_; }
  // When an open circuit admits its next trial.
  SteadyTime retry_at() const { return opened_at_ + options_.cool_down; }
  bool enabled() const { return options_.failure_threshold > 0; }

 private:
  void open(SteadyTime now);

  CircuitBreakerOptions options_;
  State state_ = State::kClosed;
  int consecutive_failures_ = 0;
  SteadyTime opened_at_{};
  bool trial_in_flight_ = false;
};

std::string_view to_string(CircuitBreaker::State state);

class CircuitBreakers {
 public:
  explicit CircuitBreakers(CircuitBreakerOptions options) : options_(options) {}
  // The breaker of `target`, made closed on first use.
  CircuitBreaker& at(const std::string& target);
  // Null when no call to `target` was made yet.
  const CircuitBreaker* find(const std::string& target) const;

 private:
  CircuitBreakerOptions options_;
  std::map<std::string, CircuitBreaker, std::less<>> breakers_;
};

}  // namespace flowd::steps
