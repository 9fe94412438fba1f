#pragma once
// The /api/v1/schedules routes (schemas/openapi.yaml, tag "schedules"), over the ScheduleStore and
// the running Scheduler (backfill starts executions, so it needs this flowd's scheduler):
//   GET    /schedules                        {items:[Schedule]}
//   POST   /schedules                        create (201)
//   GET    /schedules/{name}                 the schedule, recentTicks, events (its audit trail)
//   PUT    /schedules/{name}                 replace a run-time schedule's spec
//   DELETE /schedules/{name}                 delete a run-time schedule
//   POST   /schedules/{name}/pause           {note?}
//   POST   /schedules/{name}/unpause         {note?}
//   GET    /schedules/{name}/next?n=10       {timezone, items:[{utc, local}]}
//   GET    /schedules/{name}/ticks?limit=50  {items:[Tick]}, newest first
//   POST   /schedules/{name}/backfill        {from, to, overlap?} -> {ticks, fired, skipped,
//                                            buffered, alreadyDone, failed, items}
// Readers may GET; the rest needs the operator role. Actors as for dead letters (route_helpers.h).
// Lifecycle as DlqRoutes: shutdown() before the store and scheduler go away.
#include <memory>

#include "http/router.h"

namespace flowd::triggers {
class ScheduleStore;
class Scheduler;
}  // namespace flowd::triggers

namespace flowd::api {

namespace detail {
class WorkerPool;
}

class ScheduleRoutes {
 public:
  explicit ScheduleRoutes(std::shared_ptr<detail::WorkerPool> pool);
  ~ScheduleRoutes();
  void shutdown();

 private:
  std::shared_ptr<detail::WorkerPool> pool_;
};

std::unique_ptr<ScheduleRoutes> register_schedule_routes(http::RouteGroup api,
                                                         triggers::ScheduleStore& store,
                                                         triggers::Scheduler& scheduler,
                                                         std::size_t workers = 2);

}  // namespace flowd::api
