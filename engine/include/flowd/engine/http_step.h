#pragma once
// The `http` step runner: a Boost.Beast HTTP/1.1 client with a circuit breaker per target
// (scheme://host:port). register_builtin_steps() installs one with default HttpOptions; to use
// other options, add make_http_runner(io, options) under "http" afterwards (add() replaces).
//
// with: url (http:// only), method (default GET), headers (object of strings/numbers/booleans),
// body (a string is sent as is; other JSON is serialized with content-type application/json),
// timeout (duration, capped by StepCall::timeout). Sends `Idempotency-Key: <call key>` unless set.
// Output: {"status", "headers" (names lower-cased, repeats joined with ", "), "body" (parsed when
// the content type is JSON and the body parses, else text; invalid UTF-8 becomes U+FFFD)}.
// Errors: status >= 500, 408, 429, connect/reset -> EXTERNAL retryable; timeout -> TIMEOUT
// retryable; other 4xx and oversized responses -> EXTERNAL not retryable; bad input ->
// INVALID_INPUT not retryable; open circuit -> EXTERNAL retryable "circuit open for <target>".
// Statuses below 400 are outputs (redirects are not followed).
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
