#pragma once
// The service's Prometheus metrics (served at /metrics with the HTTP server's own):
//   flowd_executions_started_total{workflow}       executions that began to run (first time)
//   flowd_executions_finished_total{workflow,status}  completed / failed / cancelled / timed_out
//   flowd_executions_in_flight                      running on this instance
//   flowd_step_duration_seconds{outcome}            durable StepCompleted / StepFailed attempts
//   flowd_kafka_consumer_lag                        high watermark - committed, summed
//   flowd_kafka_records_total{outcome}              started / dead_lettered / retried / filtered
//   flowd_kafka_partitions_paused                   1 while back-pressure pauses the consumer
//   flowd_eventstore_append_batch_events            events per committed group-commit batch
//   flowd_dlq_size                                  dead letters not yet reprocessed
//   flowd_schedule_ticks_total{outcome}             ticks this instance handled: fired / skipped /
//                                                   buffered / missed / failed
//   flowd_schedule_missed_ticks{schedule}           ticks of a schedule that never ran (outside
//                                                   its catch-up window or over maxCatchup), from
//                                                   the store: the same on every instance
#include "durable_runner.h"
#include "flowd/eventstore/types.h"
#include "flowd/triggers/consumer.h"
#include "flowd/triggers/scheduler.h"
#include "http/metrics.h"

namespace flowd::app {

class ServiceMetrics {
 public:
  explicit ServiceMetrics(http::MetricsRegistry& registry);

  // Points the runner's observers at these metrics.
  void observe(service::DurableRunnerOptions& options);
  void set_consumer(const triggers::ConsumerStats& stats);
  void set_appender(const eventstore::AppenderStats& stats);
  void set_in_flight(std::size_t running);
  void set_dlq_size(std::int64_t size);
  void set_scheduler(const triggers::SchedulerStats& stats);
  void set_missed_ticks(const std::vector<std::pair<std::string, std::int64_t>>& by_schedule);

 private:
  http::Family<http::Counter>& started_;
  http::Family<http::Counter>& finished_;
  http::Gauge& in_flight_;
  http::Family<http::Histogram>& step_seconds_;
  http::Gauge& lag_;
  http::Family<http::Counter>& records_;
  triggers::ConsumerStats last_consumer_;  // counters grow by the difference to these
  http::Gauge& paused_;
  http::Gauge& batch_events_;
  http::Gauge& dlq_size_;
  http::Family<http::Counter>& ticks_;
  triggers::SchedulerStats last_scheduler_;
  http::Family<http::Gauge>& missed_ticks_;
};

}  // namespace flowd::app
