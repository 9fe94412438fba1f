#pragma once
// The /api/v1 routes of flowd over Operations: workflows (apply, validate, list, get), executions
// (start, list, get, events, live SSE stream, pause, resume, cancel, replay, rerun) and admin
// retention, as described in schemas/openapi.yaml. Handlers never block the server's io threads:
// each call runs on a small worker pool and answers through its Responder.
//
// How the daemon wires it (service/flowd/main.cc), after opening the store and command queue:
//
//   auto metrics = std::make_shared<flowd::http::MetricsRegistry>();
//   flowd::http::Server server(io, flowd::http::options_from(config.http), metrics);
//   flowd::api::Operations operations(**store, **commands);            // actor "api"
//   flowd::api::ApiOptions api_options;
//   api_options.metrics = metrics;                                      // flowd_api_* metrics
//   std::unique_ptr<flowd::api::ApiRoutes> routes =
//       flowd::api::register_routes(server.api(), operations, api_options);
//   server.start();
//   ...                                                                  // serve
//   server.stop(grace, on_stopped);     // ends SSE streams, answers what is in flight
//   /* after on_stopped */ routes->shutdown();   // joins the workers; then close the store
//
// Order of destruction: routes (or routes->shutdown()) before `operations`, the store and the
// command queue; the Server may outlive the routes (requests then get 503 UNAVAILABLE).
//
// Metrics (when ApiOptions::metrics is set), besides the server's own flowd_http_*:
//   flowd_api_operations_total{operation,code}  calls by operationId and outcome ("OK" or the
//                                               error code)
//   flowd_api_executions_started_total{workflow} new executions started through the API
//   flowd_api_commands_total{command}            pause / resume / cancel queued
//   flowd_api_worker_queue_depth                 calls waiting for a worker
//   flowd_api_sse_live_streams                   event streams following live executions
#include <chrono>
#include <cstddef>
#include <memory>

#include "flowd/api/operations.h"
#include "http/metrics.h"
#include "http/router.h"

namespace flowd::api {

struct ApiOptions {
  std::size_t workers = 4;                         // threads making the blocking store calls
  std::size_t max_queued = 512;                    // calls waiting beyond this get 503 UNAVAILABLE
  std::shared_ptr<http::MetricsRegistry> metrics;  // null: no flowd_api_* metrics
  // A following event stream re-reads its execution this often, besides waking on the store's
  // subscription (a safety net for events the global order delivers before the stream's start).
  std::chrono::milliseconds sse_poll{2'000};
};

namespace detail {
struct ApiState;
}

// Owns the worker pool and the live event streams of the registered routes.
// Lifecycle: made by register_routes(); shutdown() (or the destructor) ends the live streams,
// finishes the queued calls and joins the workers; afterwards the routes answer 503.
// Thread-safe.
class ApiRoutes {
 public:
  explicit ApiRoutes(std::shared_ptr<detail::ApiState> state) : state_(std::move(state)) {}
  ~ApiRoutes();
  ApiRoutes(const ApiRoutes&) = delete;
  ApiRoutes& operator=(const ApiRoutes&) = delete;

  void shutdown();
  // Event streams currently following an execution.
  std::size_t live_streams() const;

 private:
  std::shared_ptr<detail::ApiState> state_;
};

// Registers every /api/v1 route on `api` (server.api()). `operations` must outlive the result.
std::unique_ptr<ApiRoutes> register_routes(http::RouteGroup api, Operations& operations,
                                           ApiOptions options = {});

}  // namespace flowd::api
