#pragma once
// WebhookEndpoint serves `POST /hooks/<path>` (1 to 4 segments) on flowd's HTTP server, beside
// /api/v1 and outside its bearer tokens: a delivery authenticates itself by its signature. Per
// request, in this order (the first that fails answers):
//
//   404 NOT_FOUND              no workflow has a webhook at <path>
//   413 PAYLOAD_TOO_LARGE      body over WebhookOptions::max_body_bytes
//   401 UNAUTHORIZED           signature missing, malformed, stale or wrong (nothing stored);
//                              also when the webhook's secret is not available
//   429 TOO_MANY_REQUESTS      over the webhook's token bucket (Retry-After); after the signature
//                              check, so forged requests cannot spend a sender's budget
//   415 UNSUPPORTED_MEDIA_TYPE Content-Type not JSON, or a body that is not JSON
//   200 {"status":"ignored"}   the filter is false
//   400 INVALID_INPUT          the rendered input fails the workflow's input schema
//   202 {"id"}                 ExecutionStarted committed (dedupe key webhook:<path>/<delivery>)
//   200 {"id","duplicate"}     a redelivery: the execution its first delivery started
//
// The delivery id is `webhook-id`, else `X-GitHub-Delivery`, else `Idempotency-Key`, else the
// SHA-256 of the body. Metrics: flowd_webhook_requests_total{webhook,outcome}.
//
// Lifecycle: construct, register_routes() before the server starts, set_definitions() whenever
// the registry changes (any thread). Handlers run on the connection's strand and never block:
// the start is the store's asynchronous, group-committed start_execution, answered from its
// callback. The endpoint must outlive the server's handling (stop the server first).
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>

#include "flowd/engine/event.h"
#include "flowd/engine/json.h"
#include "flowd/engine/secrets.h"
#include "http/metrics.h"
#include "http/router.h"
#include "webhooks/bindings.h"
#include "webhooks/rate_limiter.h"

namespace flowd::eventstore {
class EventStore;
}

namespace flowd::webhooks {

struct WebhookOptions {
  std::size_t max_body_bytes = 256 * 1024;
  double rate = 50;  // deliveries per second per webhook
  double burst = 100;
  std::chrono::seconds tolerance{300};
  std::shared_ptr<const SecretProvider> secrets;  // resolves each webhook's `secret`
  std::shared_ptr<http::MetricsRegistry> metrics;
  // A started execution (after commit): the daemon hands it to its runner.
  std::function<void(Event)> on_started;
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
  std::function<std::int64_t()> now_seconds;  // Unix time; default: the system clock
};

class WebhookEndpoint {
 public:
  WebhookEndpoint(eventstore::EventStore& store, WebhookOptions options);
  ~WebhookEndpoint();

  // POST /hooks/{a}, /hooks/{a}/{b}, ... (4 segments). The list (GET /api/v1/webhooks) is
  // flowd_api's: Operations::list_webhooks.
  void register_routes(http::Router& router);
  // Rebuilds the bindings from every stored definition version; problems are logged.
  void set_definitions(const std::vector<std::shared_ptr<const Definition>>& definitions);
  // {"items":[{"path","url","workflow","workflowVersion","signature","secret"}]} (the secret's
  // name, never its value).
  Json list() const;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace flowd::webhooks
