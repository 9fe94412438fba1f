#include "steps/circuit_breaker.h"

namespace flowd::steps {

CircuitBreaker::Admission CircuitBreaker::admit(SteadyTime now) {
  if (!enabled()) return Admission::kAdmitted;
  switch (state_) {
    case State::kClosed:
      return Admission::kAdmitted;
    case State::kOpen:
      if (now < retry_at()) return Admission::kRejected;
      state_ = State::kHalfOpen;
      trial_in_flight_ = true;
      return Admission::kTrial;
    case State::kHalfOpen:
      if (trial_in_flight_) return Admission::kRejected;
      trial_in_flight_ = true;
      return Admission::kTrial;
  }
  return Admission::kRejected;
}

void CircuitBreaker::record(Admission admission, Outcome outcome, SteadyTime now) {
  if (!enabled() || admission == Admission::kRejected) return;
  if (admission == Admission::kTrial) {
    if (state_ != State::kHalfOpen) return;
    trial_in_flight_ = false;
    if (outcome == Outcome::kSuccess) {
      state_ = State::kClosed;
      consecutive_failures_ = 0;
    } else if (outcome == Outcome::kFailure) {
      open(now);
    }
    return;
  }
  if (state_ != State::kClosed) return;
  if (outcome == Outcome::kSuccess) {
    consecutive_failures_ = 0;
  } else if (outcome == Outcome::kFailure) {
    if (++consecutive_failures_ >= options_.failure_threshold) open(now);
  }
}

void CircuitBreaker::open(SteadyTime now) {
  state_ = State::kOpen;
  opened_at_ = now;
  trial_in_flight_ = false;
}

std::string_view to_string(CircuitBreaker::State state) {
  switch (state) {
    case CircuitBreaker::State::kClosed:
      return "closed";
    case CircuitBreaker::State::kOpen:
      return "open";
    case CircuitBreaker::State::kHalfOpen:
      return "half-open";
  }
  return "unknown";
}

CircuitBreaker& CircuitBreakers::at(const std::string& target) {
  auto it = breakers_.find(target);
  if (it == breakers_.end()) it = breakers_.emplace(target, CircuitBreaker(options_)).first;
  return it->second;
}

const CircuitBreaker* CircuitBreakers::find(const std::string& target) const {
  auto it = breakers_.find(target);
  return it == breakers_.end() ? nullptr : &it->second;
}

}  // namespace flowd::steps
