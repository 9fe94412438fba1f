#pragma once
// The `http` step runner: a Boost.Beast HTTP/1.1 client with a circuit breaker per target
// (scheme://host:port). register_builtin_steps() installs one with default HttpOptions; to use
// other options, add make_http_runner(io, options) under "http" afterwards (add() replaces).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "flowd/engine/duration.h"
#include "flowd/engine/step_runner.h"

namespace flowd {

// Closed -> open after `failure_threshold` consecutive counted failures (connect errors, resets,
// timeouts, 5xx, 408, 429; not other 4xx); open fails calls fast for `cool_down`; then half-open
// lets one trial call through: success closes, failure re-opens. A threshold <= 0 disables it.
struct CircuitBreakerOptions {
  int failure_threshold = 5;
  Millis cool_down{30'000};
};

struct HttpOptions {
  CircuitBreakerOptions breaker;
  std::size_t max_body_bytes = 10 * 1024 * 1024;  // response body cap
  std::size_t max_header_bytes = 64 * 1024;       // response header cap
  std::string user_agent = "flowd/0.1";
  // Steady time for the breaker; injectable for tests. Empty: std::chrono::steady_clock::now.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// One runner serves every `http` step of a registry and holds the breakers of all targets. Runs
// on `io`'s single thread; calls may outlive the runner (they share its state).
std::shared_ptr<StepRunner> make_http_runner(boost::asio::io_context& io, HttpOptions options = {});

}  // namespace flowd
