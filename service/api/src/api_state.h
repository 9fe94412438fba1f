#pragma once
// ApiState: what the registered handlers share — the operations, the worker pool, the metrics
// and the live event streams (so shutdown can end them). Private to flowd_api.
#include <memory>
#include <mutex>
#include <set>

#include "flowd/api/routes.h"
#include "http/responder.h"
#include "worker_pool.h"

namespace flowd::api::detail {

struct LiveStream;

struct ApiState {
  ApiState(Operations& ops, ApiOptions opts)
      : operations(ops), options(std::move(opts)), pool(options.workers, options.max_queued) {}

  Operations& operations;
  ApiOptions options;
  WorkerPool pool;

  // Metric families (null without a registry).
  http::Family<http::Counter>* operations_total = nullptr;
  http::Family<http::Counter>* started_total = nullptr;
  http::Family<http::Counter>* commands_total = nullptr;
  http::Gauge* live_gauge = nullptr;

  std::mutex mutex;
  std::set<std::shared_ptr<LiveStream>> live;  // GUARDED_BY(mutex)
  bool shut_down = false;                      // GUARDED_BY(mutex)

  void count(std::string_view operation, std::string_view code) {
    if (operations_total) operations_total->with({operation, code}).inc();
  }
};

// GET /executions/{id}/events/stream, on a worker: answers 404 or starts the stream.
void open_event_stream(const std::shared_ptr<ApiState>& state, const http::Request& request,
                       http::Responder responder);
// Ends one live stream's subscription (on a worker, or during shutdown).
void stop_live_stream(const std::shared_ptr<ApiState>& state,
                      const std::shared_ptr<LiveStream>& live);
// Ends every live stream (shutdown).
void stop_all_live_streams(const std::shared_ptr<ApiState>& state);

}  // namespace flowd::api::detail
