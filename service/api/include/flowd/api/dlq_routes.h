#pragma once
// The /api/v1/dlq routes over DlqOperations (schemas/openapi.yaml, tag "dead letters"):
//   GET  /dlq                      list (workflow, errorCode, kind, state, since, until, limit,
//                                  pageToken)
//   GET  /dlq/stats                counts, oldest pending, retry success rate, resolution time
//   GET  /dlq/{id}                 the letter, its retries, audit trail and execution timeline
//   POST /dlq/{id}/retry           {input?, patch?, fromFailedStep?, version?, republish?,
//                                  reason?, batch?, dryRun?}
//   POST /dlq/{id}/discard         {reason}
//   POST /dlq/{id}/archive         {reason?}
//   POST /dlq/retry                bulk: {workflow?, errorCode?, kind?, since?, until?, limit?,
//                                  pageToken?, dryRun?, batch?, reason?, input?/patch?...}
//   GET  /dlq/batches/{batch}      a bulk retry's progress
// Readers may GET; every POST needs the operator role (http::Server: a non-GET route is not one of
// ServerOptions::reader_routes). The actor of audit events is the API token's name; a server
// without tokens takes the X-Flowd-Actor header (flowctl sends the user), else "api".
// Handlers run on a worker pool of their own; DlqRoutes owns it. Lifecycle as ApiRoutes:
// shutdown() (or the destructor) before the operations and stores go away.
#include <memory>

#include "flowd/api/dlq_operations.h"
#include "http/router.h"

namespace flowd::api {

namespace detail {
class WorkerPool;
}

class DlqRoutes {
 public:
  explicit DlqRoutes(std::shared_ptr<detail::WorkerPool> pool);
  ~DlqRoutes();
  void shutdown();

 private:
  std::shared_ptr<detail::WorkerPool> pool_;
};

std::unique_ptr<DlqRoutes> register_dlq_routes(http::RouteGroup api, DlqOperations& operations,
                                               std::size_t workers = 2);

}  // namespace flowd::api
