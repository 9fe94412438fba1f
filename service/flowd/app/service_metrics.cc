#include "service_metrics.h"

namespace flowd::app {

ServiceMetrics::ServiceMetrics(http::MetricsRegistry& registry)
    : started_(registry.counter("flowd_executions_started_total",
                                "Executions that began to run, by workflow", {"workflow"})),
      finished_(registry.counter("flowd_executions_finished_total",
                                 "Executions that reached a terminal state, by workflow and status",
                                 {"workflow", "status"})),
      in_flight_(registry.gauge("flowd_executions_in_flight", "Executions running here").get()),
      step_seconds_(registry.histogram("flowd_step_duration_seconds",
                                       "Duration of durable step attempts", {"outcome"})),
      lag_(registry
               .gauge("flowd_kafka_consumer_lag",
                      "Trigger records not yet started: high watermark minus stored offset, "
                      "summed over assigned partitions")
               .get()),
      records_(
          registry.counter("flowd_kafka_records_total", "Trigger records by outcome", {"outcome"})),
      paused_(registry
                  .gauge("flowd_kafka_partitions_paused",
                         "1 while back-pressure pauses the trigger partitions")
                  .get()),
      batch_events_(registry
                        .gauge("flowd_eventstore_append_batch_events",
                               "Mean events per group-commit transaction since start")
                        .get()),
      dlq_size_(registry.gauge("flowd_dlq_size", "Dead letters waiting for a decision").get()),
      ticks_(registry.counter("flowd_schedule_ticks_total",
                              "Schedule ticks this instance handled, by outcome", {"outcome"})),
      missed_ticks_(registry.gauge("flowd_schedule_missed_ticks",
                                   "Ticks of a schedule that never ran (outside its catch-up "
                                   "window or over maxCatchup), counted in the store",
                                   {"schedule"})) {}

void ServiceMetrics::observe(service::DurableRunnerOptions& options) {
  options.on_taken = [this](const ExecutionState& state, bool fresh) {
    if (fresh) started_.with({state.workflow}).inc();
  };
  options.on_finished = [this](const ExecutionState& state) {
    finished_.with({state.workflow, std::string(to_string(state.status))}).inc();
  };
  options.on_durable = [this](const Event& event) {
    if (event.type != EventType::kStepCompleted && event.type != EventType::kStepFailed) return;
    auto ms = event.data.find("durationMs");
    if (ms == event.data.end() || !ms->is_number()) return;
    step_seconds_.with({event.type == EventType::kStepCompleted ? "completed" : "failed"})
        .observe(ms->get<double>() / 1000.0);
  };
}

void ServiceMetrics::set_consumer(const triggers::ConsumerStats& stats) {
  lag_.set(static_cast<double>(stats.lag));
  paused_.set(stats.paused ? 1 : 0);
  auto grow = [this](std::string_view outcome, std::uint64_t now, std::uint64_t& before) {
    if (now > before) records_.with({outcome}).inc(static_cast<double>(now - before));
    before = now;
  };
  grow("started", stats.started, last_consumer_.started);
  grow("dead_lettered", stats.dead_lettered, last_consumer_.dead_lettered);
  grow("retried", stats.retried, last_consumer_.retried);
  grow("filtered", stats.filtered, last_consumer_.filtered);
}

void ServiceMetrics::set_appender(const eventstore::AppenderStats& stats) {
  if (stats.batches > 0)
    batch_events_.set(static_cast<double>(stats.events) / static_cast<double>(stats.batches));
}

void ServiceMetrics::set_in_flight(std::size_t running) {
  in_flight_.set(static_cast<double>(running));
}

void ServiceMetrics::set_dlq_size(std::int64_t size) {
  dlq_size_.set(static_cast<double>(size));
}

void ServiceMetrics::set_scheduler(const triggers::SchedulerStats& stats) {
  auto grow = [this](const char* outcome, std::uint64_t now, std::uint64_t before) {
    ticks_.with({outcome}).inc(static_cast<double>(now - before));
  };
  grow("fired", stats.fired, last_scheduler_.fired);
  grow("skipped", stats.skipped, last_scheduler_.skipped);
  grow("buffered", stats.buffered, last_scheduler_.buffered);
  grow("missed", stats.missed, last_scheduler_.missed);
  grow("failed", stats.failed, last_scheduler_.failed);
  last_scheduler_ = stats;
}

void ServiceMetrics::set_missed_ticks(
    const std::vector<std::pair<std::string, std::int64_t>>& by_schedule) {
  for (const auto& [schedule, missed] : by_schedule)
    missed_ticks_.with({schedule}).set(static_cast<double>(missed));
}

}  // namespace flowd::app
