// The circuit breaker's state machine, driven by a fake steady clock.
#include <catch2/catch.hpp>
#include <chrono>

#include "steps/circuit_breaker.h"

namespace flowd::steps {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;
using Admission = CircuitBreaker::Admission;
using Outcome = CircuitBreaker::Outcome;

struct Fixture {
  SteadyTime now = SteadyTime{} + 1h;
  CircuitBreaker breaker{CircuitBreakerOptions{3, Millis(30'000)}};

  // One call admitted now that ends with `outcome`.
  Admission call(Outcome outcome) {
    auto admission = breaker.admit(now);
    if (admission != Admission::kRejected) breaker.record(admission, outcome, now);
    return admission;
  }
  void trip() {
    for (int i = 0; i < 3; ++i) REQUIRE(call(Outcome::kFailure) == Admission::kAdmitted);
    REQUIRE(breaker.state() == State::kOpen);
  }
};

TEST_CASE("Breaker stays closed below the failure threshold", "[engine][steps][breaker]") {
  Fixture f;
  CHECK(f.call(Outcome::kFailure) == Admission::kAdmitted);
  CHECK(f.call(Outcome::kFailure) == Admission::kAdmitted);
  CHECK(f.breaker.state() == State::kClosed);
  CHECK(f.breaker.consecutive_failures() == 2);
  CHECK(f.call(Outcome::kSuccess) == Admission::kAdmitted);  // success resets the count
  CHECK(f.breaker.consecutive_failures() == 0);
  CHECK(f.call(Outcome::kFailure) == Admission::kAdmitted);
  CHECK(f.call(Outcome::kFailure) == Admission::kAdmitted);
  CHECK(f.breaker.state() == State::kClosed);
}

TEST_CASE("Breaker abandoned calls neither count nor reset", "[engine][steps][breaker]") {
  Fixture f;
  f.call(Outcome::kFailure);
  f.call(Outcome::kFailure);
  f.call(Outcome::kAbandoned);
  CHECK(f.breaker.consecutive_failures() == 2);
  CHECK(f.breaker.state() == State::kClosed);
  f.call(Outcome::kFailure);
  CHECK(f.breaker.state() == State::kOpen);
}

TEST_CASE("Breaker opens after N consecutive failures and fails fast for the cool-down",
          "[engine][steps][breaker]") {
  Fixture f;
  f.trip();
  CHECK(f.breaker.retry_at() == f.now + 30s);
  CHECK(f.breaker.admit(f.now) == Admission::kRejected);
  f.now += 29'999ms;
  CHECK(f.breaker.admit(f.now) == Admission::kRejected);
  CHECK(f.breaker.state() == State::kOpen);
}

TEST_CASE("Breaker half-opens after the cool-down and admits exactly one trial",
          "[engine][steps][breaker]") {
  Fixture f;
  f.trip();
  f.now += 30s;
  auto trial = f.breaker.admit(f.now);
  CHECK(trial == Admission::kTrial);
  CHECK(f.breaker.state() == State::kHalfOpen);
  CHECK(f.breaker.admit(f.now) == Admission::kRejected);  // the trial is still out
  CHECK(f.breaker.admit(f.now + 1h) == Admission::kRejected);
}

TEST_CASE("Breaker trial success closes the circuit", "[engine][steps][breaker]") {
  Fixture f;
  f.trip();
  f.now += 30s;
  auto trial = f.breaker.admit(f.now);
  REQUIRE(trial == Admission::kTrial);
  f.breaker.record(trial, Outcome::kSuccess, f.now);
  CHECK(f.breaker.state() == State::kClosed);
  CHECK(f.breaker.consecutive_failures() == 0);
  CHECK(f.breaker.admit(f.now) == Admission::kAdmitted);
  CHECK(f.breaker.admit(f.now) == Admission::kAdmitted);  // no limit once closed
}

TEST_CASE("Breaker trial failure re-opens for a new cool-down", "[engine][steps][breaker]") {
  Fixture f;
  f.trip();
  f.now += 45s;
  auto trial = f.breaker.admit(f.now);
  REQUIRE(trial == Admission::kTrial);
  f.breaker.record(trial, Outcome::kFailure, f.now);
  CHECK(f.breaker.state() == State::kOpen);
  CHECK(f.breaker.retry_at() == f.now + 30s);
  CHECK(f.breaker.admit(f.now + 29s) == Admission::kRejected);
  CHECK(f.breaker.admit(f.now + 30s) == Admission::kTrial);
}

TEST_CASE("Breaker abandoned trial lets another trial through", "[engine][steps][breaker]") {
  Fixture f;
  f.trip();
  f.now += 30s;
  auto trial = f.breaker.admit(f.now);
  REQUIRE(trial == Admission::kTrial);
  f.breaker.record(trial, Outcome::kAbandoned, f.now);
  CHECK(f.breaker.state() == State::kHalfOpen);
  CHECK(f.breaker.admit(f.now) == Admission::kTrial);
}

TEST_CASE("Breaker ignores ordinary calls that finish while open or half-open",
          "[engine][steps][breaker]") {
  Fixture f;
  auto early_success = f.breaker.admit(f.now);
  auto early_failure = f.breaker.admit(f.now);
  f.trip();
  f.breaker.record(early_success, Outcome::kSuccess, f.now);
  CHECK(f.breaker.state() == State::kOpen);  // only a trial can close it
  f.now += 30s;
  auto trial = f.breaker.admit(f.now);
  REQUIRE(trial == Admission::kTrial);
  f.breaker.record(early_failure, Outcome::kFailure, f.now);
  CHECK(f.breaker.state() == State::kHalfOpen);  // nor re-open it
  f.breaker.record(trial, Outcome::kSuccess, f.now);
  CHECK(f.breaker.state() == State::kClosed);
}

TEST_CASE("Breaker with a threshold of zero never opens", "[engine][steps][breaker]") {
  SteadyTime now{};
  CircuitBreaker breaker(CircuitBreakerOptions{0, Millis(1000)});
  for (int i = 0; i < 100; ++i) {
    auto admission = breaker.admit(now);
    REQUIRE(admission == Admission::kAdmitted);
    breaker.record(admission, Outcome::kFailure, now);
  }
  CHECK(breaker.state() == State::kClosed);
}

TEST_CASE("Breakers keep one state per target", "[engine][steps][breaker]") {
  SteadyTime now{};
  CircuitBreakers breakers(CircuitBreakerOptions{1, Millis(1000)});
  CHECK(breakers.find("http://a:80") == nullptr);
  auto& a = breakers.at("http://a:80");
  a.record(a.admit(now), Outcome::kFailure, now);
  CHECK(breakers.find("http://a:80")->state() == State::kOpen);
  CHECK(breakers.at("http://b:80").state() == State::kClosed);
  CHECK(breakers.at("http://a:8080").admit(now) == Admission::kAdmitted);
  CHECK(&breakers.at("http://a:80") == &a);
  CHECK(to_string(State::kHalfOpen) == "half-open");
}

}  // namespace
}  // namespace flowd::steps
