#include "trigger_sink.h"

#include "flowd/engine/actor.h"
#include "flowd/engine/engine.h"

namespace flowd::service {

using triggers::Outcome;
using triggers::PoisonCode;
using triggers::PoisonReason;

// Counters and the gate through which late callbacks (store appender, Kafka delivery thread)
// reach the sink: they hold this by shared_ptr, and `sink` is null once the sink stopped.
struct StoreTriggerSink::Counters {
  std::atomic<std::uint64_t> records{0}, started{0}, duplicates{0}, dead_lettered{0}, retries{0},
      dlq_published{0}, dlq_publish_failures{0};

  std::mutex gate;
  StoreTriggerSink* sink = nullptr;     // GUARDED_BY(gate)
  std::vector<std::int64_t> published;  // GUARDED_BY(gate): rows flowd.dlq took, to mark
};

// One record on its way: `parts` counts the starts and the dead-letter write still outstanding;
// whoever finishes the last part calls the Completion.
struct StoreTriggerSink::Flight {
  std::shared_ptr<const triggers::Record> record;
  triggers::Completion done;
  std::shared_ptr<Counters> counters;
  std::atomic<int> parts{0};
  std::atomic<bool> retry{false};
  std::atomic<bool> started{false};

  void finish_part() {
    if (parts.fetch_sub(1) != 1) return;
    Outcome outcome = Outcome::kDeadLettered;
    if (retry.load()) {
      outcome = Outcome::kRetryLater;
      counters->retries.fetch_add(1);
    } else if (started.load()) {
      outcome = Outcome::kStarted;
    }
    done(outcome);
  }
};

StoreTriggerSink::StoreTriggerSink(eventstore::EventStore& store,
                                   dlq::DeadLetterStore& dead_letters,
                                   std::shared_ptr<triggers::DlqPublisher> dlq,
                                   TriggerSinkOptions options)
    : store_(store),
      dead_letters_(dead_letters),
      dlq_(std::move(dlq)),
      options_(std::move(options)),
      counters_(std::make_shared<Counters>()) {
  if (options_.max_batch == 0) options_.max_batch = 1;
}

StoreTriggerSink::~StoreTriggerSink() {
  stop();
}

void StoreTriggerSink::start() {
  std::lock_guard lock(mutex_);
  if (worker_.joinable() || stopping_) return;
  {
    std::lock_guard gate(counters_->gate);
    counters_->sink = this;
  }
  worker_ = std::thread([this] { worker_loop(); });
}

void StoreTriggerSink::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  {
    std::lock_guard gate(counters_->gate);
    counters_->sink = nullptr;
  }
  // Nothing runs jobs any more: what is left comes again from Kafka.
  std::deque<Job> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& job : left) {
    job.flight->retry = true;
    job.flight->finish_part();
  }
}

void StoreTriggerSink::submit(std::shared_ptr<const triggers::Record> record,
                              triggers::Decoded decoded, triggers::Completion done) {
  counters_->records.fetch_add(1, std::memory_order_relaxed);
  auto flight = std::make_shared<Flight>();
  flight->record = std::move(record);
  flight->done = std::move(done);
  flight->counters = counters_;
  flight->parts = 1;  // the job itself; released when the worker has handed out every part
  enqueue(Job{std::move(flight), std::move(decoded.starts), std::move(decoded.poison)});
}

void StoreTriggerSink::enqueue(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(job));
      job.flight.reset();
    }
  }
  if (job.flight) {  // stopped: deliver again later
    job.flight->retry = true;
    job.flight->finish_part();
    return;
  }
  wake_.notify_one();
}

TriggerSinkStats StoreTriggerSink::stats() const {
  TriggerSinkStats s;
  s.records = counters_->records.load();
  s.started = counters_->started.load();
  s.duplicates = counters_->duplicates.load();
  s.dead_lettered = counters_->dead_lettered.load();
  s.retries = counters_->retries.load();
  s.dlq_published = counters_->dlq_published.load();
  s.dlq_publish_failures = counters_->dlq_publish_failures.load();
  {
    std::lock_guard lock(mutex_);
    s.queued = queue_.size();
  }
  return s;
}

void StoreTriggerSink::worker_loop() {
  auto next_sweep = std::chrono::steady_clock::now();
  std::vector<Job> jobs;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_sweep, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      while (!queue_.empty() && jobs.size() < options_.max_batch) {
        jobs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    if (!jobs.empty()) process(jobs);
    jobs.clear();
    mark_published();
    if (std::chrono::steady_clock::now() >= next_sweep) {
      republish_unpublished();
      next_sweep = std::chrono::steady_clock::now() + options_.republish_interval;
    }
  }
}

void StoreTriggerSink::process(std::vector<Job>& jobs) {
  // Inputs failing their schema are poison; the rest go to the appender (asynchronous).
  for (auto& job : jobs) {
    for (auto& request : job.starts) {
      if (!request.definition) {
        job.poison.push_back(PoisonReason{PoisonCode::kUnknownWorkflow,
                                          "workflow " + request.workflow + " is not known",
                                          request.workflow});
        continue;
      }
      if (auto valid = validate_input(*request.definition, request.input); !valid) {
        job.poison.push_back(
            PoisonReason{PoisonCode::kInvalidInput,
                         "input of " + request.definition->ref() + ": " + valid.error().message,
                         request.workflow});
        continue;
      }
      job.flight->parts.fetch_add(1);
      start_one(job.flight, std::move(request));
    }
    job.starts.clear();
  }
  write_dead_letters(jobs);
  for (auto& job : jobs) job.flight->finish_part();  // the job's own part
}

namespace {

// The appender's answer to one start. A named struct, not a lambda with init-captures.
struct StartDone {
  std::shared_ptr<StoreTriggerSink::Flight> flight;
  std::shared_ptr<const Definition> definition;
  std::string workflow;
  std::string dedupe_key;
  std::function<void(PoisonReason)> late_poison;  // valid while the sink lives (gate)
  std::function<void(Event)> on_started;
  std::shared_ptr<const Event> started;  // set with on_started

  void operator()(eventstore::StoreResult<eventstore::StartOutcome> result) const;
};

}  // namespace

void StoreTriggerSink::start_one(const std::shared_ptr<Flight>& flight,
                                 triggers::TriggerRequest request) {
  StartOptions options;
  options.execution_id = new_uuid();
  options.input = std::move(request.input);
  options.context = request.context.is_object() ? std::move(request.context) : Json::object();
  options.dedupe_key = request.dedupe_key;
  Json metadata = Json::object();
  if (!request.trace.empty()) {
    Json trace{{"traceparent", request.trace.traceparent}};
    if (!request.trace.tracestate.empty()) trace["tracestate"] = request.trace.tracestate;
    if (!options.context.contains("trace")) options.context["trace"] = trace;
    metadata.update(trace);
  }
  metadata["causation"] = "kafka:" + flight->record->coordinates();
  metadata["actor"] =
      actor::kafka(flight->record->topic, flight->record->partition, flight->record->offset);
  Event started = started_event(*request.definition, options);
  started.time = Clock::now();

  auto counters = counters_;
  auto job_flight = flight;
  StartDone done{flight,
                 request.definition,
                 request.workflow,
                 request.dedupe_key,
                 [counters, job_flight](PoisonReason reason) {
                   std::lock_guard gate(counters->gate);
                   if (counters->sink == nullptr) {
                     job_flight->retry = true;
                     job_flight->finish_part();
                     return;
                   }
                   // One more pass of the worker writes this record's dead letter.
                   job_flight->parts.fetch_add(1);
                   counters->sink->enqueue(Job{job_flight, {}, {std::move(reason)}});
                   job_flight->finish_part();
                 },
                 {},
                 {}};
  if (options_.on_started) {
    done.on_started = options_.on_started;
    done.started = std::make_shared<const Event>(started);
  }
  store_.start_execution(AppendRequest{options.execution_id, 0, {std::move(started)}},
                         std::move(metadata), std::move(done));
}

void StartDone::operator()(eventstore::StoreResult<eventstore::StartOutcome> result) const {
  if (result) {
    (result->duplicate ? flight->counters->duplicates : flight->counters->started).fetch_add(1);
    if (!result->duplicate && on_started) on_started(*started);
    flight->started = true;
    flight->finish_part();
    return;
  }
  const auto& error = result.error();
  if (error.is(eventstore::errc::invalid_argument)) {
    // PostgreSQL refuses the data itself (e.g. \u0000 in jsonb): retrying cannot help.
    late_poison(PoisonReason{
        PoisonCode::kStartFailed,
        "start of " + definition->ref() + " (dedupe key " + dedupe_key + "): " + error.message,
        workflow});
    return;
  }
  // Unavailable, shutting down, unknown outcome (the dedupe key makes the retry safe), ...
  flight->retry = true;
  flight->finish_part();
}

void StoreTriggerSink::write_dead_letters(std::vector<Job>& jobs) {
  std::vector<dlq::DeadLetter> letters;
  std::vector<std::size_t> owner;  // job index of each letter
  for (std::size_t j = 0; j < jobs.size(); ++j) {
    const auto& record = *jobs[j].flight->record;
    for (const auto& reason : jobs[j].poison) {
      dlq::DeadLetter d;
      d.kind = dlq::DeadLetterKind::kTrigger;
      d.dedupe_key =
          dlq::trigger_dedupe_key(record.topic, record.partition, record.offset, reason.workflow);
      d.reason_code = std::string(triggers::to_string(reason.code));
      d.reason_message = reason.message;
      d.workflow = reason.workflow;
      dlq::SourceRecord s;
      s.topic = record.topic;
      s.partition = record.partition;
      s.offset = record.offset;
      s.timestamp_ms = record.timestamp_ms;
      s.key = record.key;
      s.value = record.value;
      for (const auto& h : record.headers) s.headers.push_back(dlq::RecordHeader{h.name, h.value});
      s.consumer_group = options_.consumer_group;
      d.source = std::move(s);
      letters.push_back(std::move(d));
      owner.push_back(j);
    }
  }
  if (letters.empty()) return;
  auto written = dead_letters_.insert_batch(letters);
  if (!written && !written.error().retryable && letters.size() > 1) {
    // One row is refused as data: write them one by one so only its record waits.
    written = std::vector<dlq::InsertOutcome>{};
    for (std::size_t i = 0; i < letters.size(); ++i) {
      auto single = dead_letters_.insert(letters[i]);
      if (!single) {
        log("error", "dead letter not stored: " + single.error().message,
            {{"dedupeKey", letters[i].dedupe_key}});
        jobs[owner[i]].flight->retry = true;
        written->push_back(dlq::InsertOutcome{});
        continue;
      }
      written->push_back(*single);
    }
  } else if (!written) {
    log("warn",
        "dead letters not stored, records will be delivered again: " + written.error().message,
        {{"records", jobs.size()}});
    for (std::size_t i = 0; i < letters.size(); ++i) jobs[owner[i]].flight->retry = true;
    return;
  }
  for (std::size_t i = 0; i < letters.size(); ++i) {
    const auto& outcome = (*written)[i];
    if (outcome.id == 0) continue;
    counters_->dead_lettered.fetch_add(1);
    if (outcome.created) {
      letters[i].id = outcome.id;
      log("warn", "trigger record dead-lettered: " + letters[i].reason_message,
          {{"reason", letters[i].reason_code},
           {"record", jobs[owner[i]].flight->record->coordinates()},
           {"deadLetter", outcome.id}});
      publish_dead_letter(letters[i]);
    }
  }
}

namespace {

struct DlqDelivered {
  std::shared_ptr<StoreTriggerSink::Counters> counters;
  std::int64_t id = 0;
  void operator()(Result<triggers::Delivery> delivery) const;
};

}  // namespace

void StoreTriggerSink::publish_dead_letter(const dlq::DeadLetter& letter) {
  if (!dlq_ || !letter.source) return;
  triggers::Record record;
  record.topic = letter.source->topic;
  record.partition = letter.source->partition;
  record.offset = letter.source->offset;
  record.key = letter.source->key;
  record.value = letter.source->value;
  record.timestamp_ms = letter.source->timestamp_ms;
  for (const auto& h : letter.source->headers) record.headers.push_back({h.name, h.value});
  auto sent = dlq_->publish(record, letter.reason_code, letter.reason_message,
                            DlqDelivered{counters_, letter.id});
  if (!sent) {
    counters_->dlq_publish_failures.fetch_add(1);
    log("warn", "dead letter " + std::to_string(letter.id) +
                    " not queued for flowd.dlq (published again later): " + sent.error().message);
  }
}

void DlqDelivered::operator()(Result<triggers::Delivery> delivery) const {
  if (!delivery) {
    counters->dlq_publish_failures.fetch_add(1);
    return;
  }
  counters->dlq_published.fetch_add(1);
  std::lock_guard gate(counters->gate);
  counters->published.push_back(id);
}

void StoreTriggerSink::mark_published() {
  std::vector<std::int64_t> ids;
  {
    std::lock_guard gate(counters_->gate);
    ids.swap(counters_->published);
  }
  if (ids.empty()) return;
  if (auto marked = dead_letters_.mark_published(ids); !marked) {
    // The sweep publishes them again; consumers of flowd.dlq see a duplicate at worst.
    log("warn", "dead letters not marked published: " + marked.error().message);
  }
}

void StoreTriggerSink::republish_unpublished() {
  if (!dlq_) return;
  auto letters = dead_letters_.list_unpublished(options_.republish_after, 500);
  if (!letters) {
    log("warn", "dead letters to publish not listed: " + letters.error().message);
    return;
  }
  for (const auto& letter : *letters) publish_dead_letter(letter);
}

void StoreTriggerSink::log(std::string_view level, const std::string& message, const Json& fields) {
  if (options_.log) options_.log(level, message, fields);
}

}  // namespace flowd::service
