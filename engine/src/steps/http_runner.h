#pragma once
// Internals of the `http` step runner, visible to its tests: URL parsing and the runner class
// with access to its circuit breakers.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <string_view>

#include "flowd/engine/http_step.h"
#include "steps/circuit_breaker.h"

namespace flowd::steps {

// An http:// URL split for a request. IPv6 hosts are kept without brackets.
struct HttpUrl {
  std::string host;    // lower-cased
  std::string port;    // "80" when absent
  std::string target;  // path and query as sent ("/" when empty); no fragment
  bool ipv6 = false;

  // "http://host:port": the circuit breaker's key.
  std::string origin() const;
  // The Host header: host, plus ":port" unless it is 80.
  std::string host_header() const;
  // origin() + path without the query, for messages (queries may carry secrets).
  std::string for_messages() const;
};

// INVALID_INPUT (not retryable) for anything but a well-formed http:// URL; https:// says that
// it is not supported yet.
Result<HttpUrl> parse_http_url(std::string_view url);

// The runner behind make_http_runner(). State shared with calls in flight lives in `Shared`, so a
// call can outlive the runner; everything runs on the io_context's thread.
class HttpRunner final : public StepRunner {
 public:
  struct Shared;

  HttpRunner(boost::asio::io_context::executor_type executor, HttpOptions options);
  boost::asio::awaitable<Result<Json>> run(StepCall call) override;
  const CircuitBreakers& breakers() const;

 private:
  std::shared_ptr<Shared> shared_;
};

}  // namespace flowd::steps
