#pragma once
// Server is flowd's HTTP/1.1 API server on Boost.Beast: it accepts on a configured address (port 0
// picks a free one), keeps connections alive, reads each request within the body limit, gives it
// a request id, checks the bearer token, routes it and writes the handler's answer, with a JSON
// access log line and request metrics. Built in: GET /healthz (200 while the process serves),
// GET /readyz (200 when the readiness check says so, 503 with reasons otherwise, and while
// stopping), GET /metrics (Prometheus text from the registry). With a token configured every path
// but /healthz and /readyz needs `Authorization: Bearer <token>`.
//
// Lifecycle: construct, add routes (router(), api()), set_readiness(), start(); stop(grace) stops
// accepting, answers what is in flight (with Connection: close), closes idle connections and SSE
// streams at once, and force-closes whatever is left when `grace` runs out; then on_stopped runs.
// Threads: runs on the io_context it is given (any number of threads may run it; each connection
// has its own strand). start() and the route setup are for the owning thread before the
// io_context serves; stop() and the readiness check may be called from any thread. Destroy the
// Server after stop() completed or after the io_context stopped.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "http/auth.h"
#include "http/metrics.h"
#include "http/request.h"
#include "http/responder.h"
#include "http/router.h"

namespace spdlog {
class logger;
}

namespace flowd::config {
struct HttpConfig;
}

namespace flowd::http {

using Millis = std::chrono::milliseconds;

struct ServerOptions {
  std::string host = "127.0.0.1";    // IP literal
  std::uint16_t port = 8080;         // 0: any free port (see Server::port())
  std::optional<std::string> token;  // bearer token (role operator, named "token"); unset: none
  // Named tokens by role, stored as the SHA-256 of the token (auth.h). With any token configured
  // (here or `token`), every path but /healthz, /readyz and `public_prefixes` needs one.
  std::vector<ApiToken> tokens;
  // Paths that authenticate themselves (webhooks: their signature), e.g. "/hooks/".
  std::vector<std::string> public_prefixes;
  // Requests that need only the reader role although their method is not GET/HEAD:
  // "POST /api/v1/workflows/validate" (method and route pattern). Everything else not GET/HEAD
  // needs operator.
  std::vector<std::string> reader_routes;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 * 1024;
  Millis idle_timeout{60'000};   // keep-alive wait for the next request, and reading it
  Millis write_timeout{30'000};  // writing one response or SSE frame
  Millis sse_heartbeat{15'000};  // a comment frame this often on idle SSE streams
  std::size_t sse_max_queued_bytes = 4 << 20;  // a client further behind is disconnected
  // One JSON object per request (ts, level, msg, method, path, route, status, durationMs,
  // requestId, remote, bytes); null: no access log. Give it a sink whose pattern is "%v".
  std::shared_ptr<spdlog::logger> access_log;
  // Successful GET/HEAD requests (not SSE streams) are logged at debug instead of info.
  bool quiet_reads = false;
  // Server errors (handler exceptions, accept failures); null: spdlog's default logger.
  std::shared_ptr<spdlog::logger> logger;
};

// The options for a loaded configuration section.
ServerOptions options_from(const config::HttpConfig& http);

struct Readiness {
  bool ready = true;
  std::vector<std::string> reasons;  // why not ready
};
// Must be quick and thread-safe (it runs on a connection's strand): read flags, do not query.
using ReadinessCheck = std::function<Readiness()>;

namespace detail {
struct ServerState;
}

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options,
         std::shared_ptr<MetricsRegistry> metrics = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  Router& router();
  // Routes under /api/v1.
  RouteGroup api() { return RouteGroup(router(), std::string(kApiPrefix)); }
  void set_readiness(ReadinessCheck check);
  MetricsRegistry& metrics();
  std::shared_ptr<MetricsRegistry> metrics_ptr();

  // Binds, listens and starts accepting; the bound endpoint (with the real port when 0 was
  // asked), or why it could not bind ("127.0.0.1:8080: Address already in use").
  tl::expected<boost::asio::ip::tcp::endpoint, std::string> start();
  std::uint16_t port() const;

  // Graceful stop (any thread, idempotent): see the class comment. `on_stopped` runs on the
  // io_context once every connection is closed.
  void stop(Millis grace, std::function<void()> on_stopped = {});
  bool stopping() const;
  // Open connections right now (for tests and metrics).
  std::size_t connections() const;

 private:
  std::shared_ptr<detail::ServerState> state_;
};

// Constant-time comparison of two secrets (the time depends only on their lengths).
bool constant_time_equals(std::string_view a, std::string_view b);
// A well-formed incoming X-Request-Id (1..128 of A-Z a-z 0-9 - _ . : / + = @) is kept as is.
bool valid_request_id(std::string_view id);
// A new random request id (UUID v4 text).
std::string new_request_id();

}  // namespace flowd::http
