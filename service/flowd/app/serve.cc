#include "serve.h"

#include <utility>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "broker.h"
#include "dead_letter_publisher.h"
#include "definition_cache.h"
#include "durable_runner.h"
#include "flowd/api/dlq_routes.h"
#include "flowd/api/operations.h"
#include "flowd/api/routes.h"
#include "flowd/api/schedule_routes.h"
#include "flowd/console/console.h"
#include "flowd/dlq/dead_letter_projector.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/dlq/dlq_outbox.h"
#include "flowd/dlq/reprocessor.h"
#include "flowd/engine/actor.h"
#include "flowd/engine/secrets.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/consumer.h"
#include "flowd/triggers/embedded_broker.h"
#include "flowd/triggers/producer.h"
#include "flowd/triggers/schedule_store.h"
#include "flowd/triggers/scheduler.h"
#include "http/metrics.h"
#include "http/server.h"
#include "outbox_relay.h"
#include "service_metrics.h"
#include "signals.h"
#include "tick_starter.h"
#include "trigger_sink.h"
#include "webhooks/endpoint.h"

namespace flowd::app {
namespace {

using eventstore::EventStore;

// Applies every definition in `dirs` to the registry (changed content = a new version).
bool apply_definitions(EventStore& store, const std::vector<std::string>& dirs, const Log& log) {
  bool ok = true;
  for (const auto& dir : dirs) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      auto ext = entry.path().extension().string();
      if (ext == ".yaml" || ext == ".yml" || ext == ".json") files.push_back(entry.path());
    }
    if (ec) {
      log.write("error", "cannot read workflows folder " + dir + ": " + ec.message());
      ok = false;
      continue;
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      auto loaded = load_definition_file(file.string());
      if (!loaded.definition) {
        for (const auto& d : loaded.diagnostics) log.write("error", d.format());
        ok = false;
        continue;
      }
      auto applied = store.apply_definition(loaded.definition->document);
      if (!applied) {
        log.write("error", "apply " + file.string() + ": " + applied.error().message);
        ok = false;
        continue;
      }
      log.write("info",
                "workflow " + applied->name + "@" + std::to_string(applied->version) +
                    (applied->created ? " applied" : " unchanged"),
                {{"file", file.string()}});
    }
  }
  return ok;
}

// Every stored definition version, loaded (the trigger router takes bindings from the highest).
Result<std::vector<std::shared_ptr<const Definition>>> load_all_definitions(EventStore& store,
                                                                            std::string& key) {
  auto records = store.list_definitions();
  if (!records) return fail(ErrorCode::kExternal, records.error().message);
  std::vector<std::shared_ptr<const Definition>> out;
  std::string seen;
  for (const auto& r : *records) {
    seen += r.name + "@" + std::to_string(r.version) + ";";
    auto def = service::definition_from_document(r.document);
    if (def) out.push_back(*def);
  }
  key = std::move(seen);
  return out;
}

// The cron triggers of each workflow's latest version (the schedules definitions declare).
std::vector<triggers::DefinitionSchedules> definition_schedules(
    const std::vector<std::shared_ptr<const Definition>>& definitions) {
  std::map<std::string, std::shared_ptr<const Definition>> latest;
  for (const auto& d : definitions) {
    auto& slot = latest[d->name];
    if (!slot || d->version > slot->version) slot = d;
  }
  std::vector<triggers::DefinitionSchedules> out;
  for (const auto& [name, d] : latest) {
    triggers::DefinitionSchedules w{name, d->version, {}};
    for (const auto& t : d->triggers)
      if (t.cron) w.triggers.push_back(*t.cron);
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace

// Owns every part of the running service; members are declared in start order and stopped in
// reverse by stop().
class Service {
 public:
  Service(const config::Config& config, const Log& log) : config_(config), log_(log) {}

  bool start();
  void stop();

 private:
  bool start_store();
  bool start_kafka();
  bool start_http();
  bool start_dead_letters();
  bool start_scheduler();
  void sync_schedules(const std::vector<std::shared_ptr<const Definition>>& definitions);
  void refresh_triggers();
  void housekeeping_loop(std::stop_token stop);

  const config::Config& config_;
  const Log& log_;
  std::shared_ptr<http::MetricsRegistry> metrics_ = std::make_shared<http::MetricsRegistry>();
  std::unique_ptr<ServiceMetrics> service_metrics_;

  std::unique_ptr<EventStore> store_;
  std::unique_ptr<eventstore::CommandQueue> commands_;
  std::unique_ptr<triggers::EmbeddedBroker> broker_;
  triggers::KafkaSettings kafka_;
  std::shared_ptr<triggers::KafkaProducer> producer_;
  std::unique_ptr<dlq::DeadLetterStore> dead_letters_;
  std::unique_ptr<service::StoreTriggerSink> sink_;
  std::unique_ptr<triggers::TriggerConsumer> consumer_;
  std::unique_ptr<service::DurableRunner> runner_;
  std::unique_ptr<service::OutboxRelay> relay_;
  std::unique_ptr<dlq::DeadLetterProjector> dlq_projector_;      // failed executions -> rows
  std::unique_ptr<service::DeadLetterPublisher> dlq_publisher_;  // rows -> flowd.dlq
  std::unique_ptr<triggers::ScheduleStore> schedules_;
  std::unique_ptr<service::StoreTickStarter> tick_starter_;
  std::unique_ptr<triggers::Scheduler> scheduler_;

  boost::asio::io_context http_io_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<api::Operations> operations_;
  std::unique_ptr<api::ApiRoutes> routes_;
  std::unique_ptr<api::DlqOperations> dlq_operations_;
  std::unique_ptr<api::DlqRoutes> dlq_routes_;
  std::unique_ptr<api::ScheduleRoutes> schedule_routes_;
  std::unique_ptr<webhooks::WebhookEndpoint> webhooks_;
  std::thread http_thread_;

  // Secrets: FLOWD_SECRET_<NAME>, then files in secrets.dir; every resolved value is masked in
  // the logs (Log::set_masker).
  std::shared_ptr<const SecretProvider> secrets_;
  std::shared_ptr<SecretMasker> secret_masker_ = std::make_shared<SecretMasker>();

  std::string definitions_key_;  // housekeeping thread only
  std::atomic<bool> database_ok_{true};
  std::atomic<bool> stopping_{false};
  std::jthread housekeeping_;
};

bool Service::start() {
  service_metrics_ = std::make_unique<ServiceMetrics>(*metrics_);
  {
    std::vector<std::shared_ptr<const SecretProvider>> providers{
        std::make_shared<EnvironmentSecrets>()};
    if (!config_.secrets.dir.empty())
      providers.push_back(std::make_shared<DirectorySecrets>(config_.secrets.dir));
    secrets_ = std::make_shared<SecretChain>(std::move(providers));
    Log::set_masker(secret_masker_);
  }
  if (!start_store() || !start_kafka()) return false;
  auto log = [this](std::string_view level, const std::string& message, const Json& fields) {
    log_.write(level, message, fields);
  };

  service::DurableRunnerOptions options;
  options.owner = config_.engine.instance_id;
  options.lease_ttl = config_.engine.lease_duration;
  options.max_in_flight = static_cast<std::size_t>(config_.engine.max_in_flight);
  options.snapshot_every = static_cast<std::size_t>(config_.engine.snapshot_every);
  options.log = log;
  options.secrets = secrets_;
  options.secret_masker = secret_masker_;
  service_metrics_->observe(options);
  runner_ = std::make_unique<service::DurableRunner>(*store_, *commands_, options);
  runner_->start();
  sink_->start();

  if (auto started = consumer_->start(); !started) {
    log_.write("error", "Kafka consumer: " + started.error().message);
    return false;
  }
  service::OutboxRelayOptions relay_options;
  relay_options.url = config_.database.url;
  relay_options.log = log;
  relay_ = std::make_unique<service::OutboxRelay>(
      *store_, std::make_shared<triggers::OutboxPublisher>(producer_, config_.kafka.events_topic),
      relay_options);
  relay_->start();
  if (!start_dead_letters()) return false;
  if (!start_scheduler()) return false;
  if (!start_http()) return false;
  housekeeping_ = std::jthread([this](std::stop_token stop) { housekeeping_loop(stop); });
  return true;
}

bool Service::start_store() {
  eventstore::StoreOptions options;
  options.url = config_.database.url;
  options.owner = config_.engine.instance_id;
  options.actor = actor::engine(config_.engine.instance_id);
  options.lease_ttl = config_.engine.lease_duration;
  options.pool_size = static_cast<std::size_t>(config_.database.pool_size);
  auto store = EventStore::open(options);
  if (!store) {
    log_.write("error", "event store: " + store.error().message,
               {{"hint", "is PostgreSQL running at database.url (FLOWD_DATABASE_URL)?"}});
    return false;
  }
  store_ = std::move(*store);
  auto commands = eventstore::CommandQueue::open(config_.database.url);
  if (!commands) {
    log_.write("error", "command queue: " + commands.error().message);
    return false;
  }
  commands_ = std::move(*commands);
  return apply_definitions(*store_, config_.workflows.dirs, log_);
}

bool Service::start_kafka() {
  if (config_.kafka.embedded()) {
    broker_ = start_embedded_broker(config_, log_);
    if (!broker_) return false;
    kafka_.brokers = broker_->bootstrap();
  } else {
    kafka_.brokers = config_.kafka.brokers;
  }
  for (const auto& [k, v] : config_.kafka.properties) kafka_.properties[k] = v;

  triggers::ProducerConfig producer_config;
  producer_config.kafka = kafka_;
  producer_config.client_id = config_.engine.instance_id;
  auto producer = triggers::KafkaProducer::create(producer_config);
  if (!producer) {
    log_.write("error", "Kafka producer: " + producer.error().message);
    return false;
  }
  producer_ = *producer;

  dlq::DeadLetterStoreOptions dlq_options;
  dlq_options.url = config_.database.url;
  dlq_options.pool_size = 8;  // bulk retries through the API run a page on 8 threads
  auto dead_letters = dlq::DeadLetterStore::open(dlq_options);
  if (!dead_letters) {
    log_.write("error", "dead-letter store: " + dead_letters.error().message);
    return false;
  }
  dead_letters_ = std::move(*dead_letters);
  service::TriggerSinkOptions sink_options;
  sink_options.consumer_group = config_.kafka.group_id;
  sink_options.log = [this](std::string_view level, const std::string& message,
                            const Json& fields) { log_.write(level, message, fields); };
  // Started here, leased here: the runner takes them without reading them back.
  sink_options.on_started = [this](Event started) {
    if (runner_) runner_->offer(std::move(started));
  };
  sink_ = std::make_unique<service::StoreTriggerSink>(
      *store_, *dead_letters_,
      std::make_shared<triggers::DlqPublisher>(producer_, config_.kafka.dlq_topic), sink_options);

  std::string key;
  auto definitions = load_all_definitions(*store_, key);
  if (!definitions) {
    log_.write("error", "loading definitions: " + definitions.error().message);
    return false;
  }
  auto router = triggers::TriggerRouter::build(*definitions);
  if (!router) {
    log_.write("error", "trigger bindings: " + router.error().message);
    return false;
  }
  definitions_key_ = key;
  if (broker_)
    for (const auto& topic : (*router)->topics())
      (void)broker_->create_topic(topic, config_.kafka.partitions);

  triggers::ConsumerConfig consumer_config;
  consumer_config.kafka = kafka_;
  if (broker_) {
    // Short fetch waits suit the in-process broker.
    for (const auto& [k, v] : triggers::EmbeddedBroker::consumer_properties())
      consumer_config.kafka.properties.emplace(k, v);
  }
  // How fast a dead instance's partitions move, and what that costs: docs/durability.md.
  consumer_config.kafka.properties["session.timeout.ms"] =
      std::to_string(config_.kafka.session_timeout.count());
  consumer_config.kafka.properties["heartbeat.interval.ms"] =
      std::to_string(config_.kafka.heartbeat_interval.count());
  if (auto id = config_.kafka.group_instance_id(config_.engine); !id.empty())
    consumer_config.kafka.properties["group.instance.id"] = id;
  consumer_config.group_id = config_.kafka.group_id;
  consumer_config.client_id = config_.engine.instance_id;
  consumer_config.max_in_flight = static_cast<std::size_t>(config_.kafka.max_in_flight);
  consumer_config.revoke_timeout = config_.engine.shutdown_grace;
  auto consumer = triggers::TriggerConsumer::create(consumer_config, *router, *sink_);
  if (!consumer) {
    log_.write("error", "Kafka consumer: " + consumer.error().message);
    return false;
  }
  consumer_ = std::move(*consumer);
  return true;
}

bool Service::start_http() {
  http::ServerOptions options = http::options_from(config_.http);
  options.access_log = log_.access_logger();
  options.quiet_reads = true;  // log.level: debug shows every read
  options.logger = log_.plain_logger();
  options.public_prefixes = {"/hooks/"};  // a webhook's signature is its authentication
  options.reader_routes = {"POST /api/v1/workflows/validate",
                           "POST /api/v1/executions/{id}/replay"};
  server_ = std::make_unique<http::Server>(http_io_, options, metrics_);
  {
    webhooks::WebhookOptions hooks;
    hooks.max_body_bytes = config_.webhooks.max_body_bytes;
    hooks.rate = config_.webhooks.rate;
    hooks.burst = config_.webhooks.burst;
    hooks.tolerance = std::chrono::duration_cast<std::chrono::seconds>(config_.webhooks.tolerance);
    hooks.secrets = secrets_;
    hooks.metrics = metrics_;
    hooks.on_started = [this](Event started) {
      if (runner_) runner_->offer(std::move(started));
    };
    hooks.log = [this](std::string_view level, const std::string& message, const Json& fields) {
      log_.write(level, message, fields);
    };
    webhooks_ = std::make_unique<webhooks::WebhookEndpoint>(*store_, std::move(hooks));
    webhooks_->register_routes(server_->router());
    std::string key;
    if (auto definitions = load_all_definitions(*store_, key))
      webhooks_->set_definitions(*definitions);
  }
  api::OperationsOptions operations_options;
  operations_options.dead_letter_retention = [this](std::chrono::milliseconds older, bool dry) {
    return dlq::purge_dead_letters(*dead_letters_, older, dry);
  };
  operations_options.dead_letter_audit = [this](const std::string& execution_id) {
    return dlq::dead_letters_of_execution(*dead_letters_, execution_id);
  };
  operations_ = std::make_unique<api::Operations>(*store_, *commands_, operations_options);
  api::ApiOptions api_options;
  api_options.metrics = metrics_;
  routes_ = api::register_routes(server_->api(), *operations_, api_options);
  dlq_operations_ = std::make_unique<api::DlqOperations>(*store_, *dead_letters_);
  dlq_routes_ = api::register_dlq_routes(server_->api(), *dlq_operations_);
  schedule_routes_ = api::register_schedule_routes(server_->api(), *schedules_, *scheduler_);
  console::register_routes(server_->router());
  server_->set_readiness([this] {
    http::Readiness r;
    if (stopping_) r.reasons.push_back("stopping");
    if (!database_ok_) r.reasons.push_back("database unreachable");
    r.ready = r.reasons.empty();
    return r;
  });
  metrics_->on_collect([this] {
    if (consumer_) service_metrics_->set_consumer(consumer_->stats());
    if (store_) service_metrics_->set_appender(store_->appender_stats());
    if (runner_) service_metrics_->set_in_flight(runner_->in_flight());
    if (scheduler_) service_metrics_->set_scheduler(scheduler_->stats());
  });
  auto bound = server_->start();
  if (!bound) {
    log_.write("error", "HTTP API: " + bound.error(),
               {{"hint", "set http.listen (FLOWD_HTTP_LISTEN) to a free address"}});
    return false;
  }
  http_thread_ = std::thread([this] { http_io_.run(); });
  log_.write("info", "HTTP API listening",
             {{"url", "http://" + bound->address().to_string() + ":" +
                          std::to_string(bound->port()) + "/api/v1"}});
  return true;
}

// Dead letters of failed executions: the projection of the log, and the flowd.dlq publisher.
bool Service::start_dead_letters() {
  auto log = [this](std::string_view level, const std::string& message, const Json& fields) {
    log_.write(level, message, fields);
  };
  dlq::DeadLetterProjectorOptions options;
  options.url = config_.database.url;
  options.log = log;
  options.masker = secret_masker_;
  auto projector = dlq::DeadLetterProjector::open(options);
  if (!projector) {
    log_.write("error", "dead-letter projection: " + projector.error().message);
    return false;
  }
  dlq_projector_ = std::move(*projector);
  dlq_projector_->start();
  service::DeadLetterPublisherOptions publisher;
  publisher.topic = config_.kafka.dlq_topic;
  publisher.log = log;
  publisher.masker = secret_masker_;
  dlq_publisher_ =
      std::make_unique<service::DeadLetterPublisher>(*dead_letters_, producer_, publisher);
  dlq_publisher_->start();
  return true;
}

// Schedules: the store, definitions' cron triggers as schedules, and this instance's scheduler
// (every instance runs one; ticks are claimed in PostgreSQL, docs/cron.md).
bool Service::start_scheduler() {
  auto schedules = triggers::ScheduleStore::open({config_.database.url, 2});
  if (!schedules) {
    log_.write("error", "schedules: " + schedules.error().message);
    return false;
  }
  schedules_ = std::move(*schedules);
  std::string key;
  if (auto definitions = load_all_definitions(*store_, key)) sync_schedules(*definitions);
  tick_starter_ = std::make_unique<service::StoreTickStarter>(*store_, *commands_, [this](Event e) {
    if (runner_) runner_->offer(std::move(e));
  });
  triggers::SchedulerOptions options;
  options.url = config_.database.url;
  options.instance = config_.engine.instance_id;
  options.log = [this](std::string_view level, const std::string& message, const Json& fields) {
    log_.write(level, message, fields);
  };
  auto scheduler = triggers::Scheduler::open(options, *tick_starter_);
  if (!scheduler) {
    log_.write("error", "scheduler: " + scheduler.error().message);
    return false;
  }
  scheduler_ = std::move(*scheduler);
  scheduler_->start();
  return true;
}

void Service::sync_schedules(const std::vector<std::shared_ptr<const Definition>>& definitions) {
  auto report = schedules_->sync_definitions(definition_schedules(definitions));
  if (!report) {
    log_.write("error", "definition schedules not updated: " + report.error().message);
    return;
  }
  for (const auto& name : report->conflicts)
    log_.write(
        "error", "schedule " + name + " of a definition is not applied: the name is taken",
        {{"schedule", name}, {"hint", "rename the cron trigger (name:) or delete the other"}});
  if (report->changed())
    log_.write(
        "info", "definition schedules updated",
        {{"created", report->created}, {"updated", report->updated}, {"deleted", report->deleted}});
}

// Trigger bindings follow the definition registry (workflows applied through the API).
void Service::refresh_triggers() {
  std::string key;
  auto definitions = load_all_definitions(*store_, key);
  database_ok_ = static_cast<bool>(definitions);
  if (!definitions || key == definitions_key_) return;
  auto router = triggers::TriggerRouter::build(*definitions);
  if (!router) {
    log_.write("error", "trigger bindings not updated: " + router.error().message);
    return;
  }
  if (broker_)
    for (const auto& topic : (*router)->topics())
      (void)broker_->create_topic(topic, config_.kafka.partitions);
  consumer_->set_router(*router);
  if (webhooks_) webhooks_->set_definitions(*definitions);
  if (schedules_) sync_schedules(*definitions);
  definitions_key_ = std::move(key);
  log_.write("info", "trigger bindings updated", {{"topics", (*router)->topics()}});
}

void Service::housekeeping_loop(std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex);
      wake.wait_for(lock, stop, std::chrono::seconds(2), [] { return false; });
    }
    if (stop.stop_requested()) break;
    refresh_triggers();
    if (auto counts = dead_letters_->count_by_status()) {
      std::int64_t waiting = 0;
      for (const auto& [status, n] : *counts)
        if (status == dlq::DeadLetterStatus::kPending || status == dlq::DeadLetterStatus::kRetrying)
          waiting += n;
      service_metrics_->set_dlq_size(waiting);
    }
    if (auto missed = schedules_->missed_counts()) service_metrics_->set_missed_ticks(*missed);
  }
}

void Service::stop() {
  stopping_ = true;
  housekeeping_ = {};  // requests stop and joins
  const auto grace = config_.engine.shutdown_grace;
  if (scheduler_) scheduler_->stop();  // no new ticks; another instance takes the next ones
  // Stop taking triggers first; their in-flight starts finish and offsets are committed.
  if (consumer_) consumer_->stop(grace);
  if (sink_) sink_->stop();
  bool drained = true;
  if (runner_) drained = runner_->stop(grace);
  if (relay_) relay_->stop();
  if (dlq_projector_) dlq_projector_->stop();
  if (dlq_publisher_) dlq_publisher_->stop();
  if (server_) {
    // Open requests get two seconds; SSE streams end. The io thread then runs out of work.
    auto stopped = std::make_shared<std::promise<void>>();
    server_->stop(std::chrono::milliseconds(2000), [stopped] { stopped->set_value(); });
    if (stopped->get_future().wait_for(std::chrono::seconds(5)) != std::future_status::ready)
      log_.write("warn", "HTTP server did not stop in time; closing it");
    http_io_.stop();
  }
  if (http_thread_.joinable()) http_thread_.join();
  if (routes_) routes_->shutdown();
  if (dlq_routes_) dlq_routes_->shutdown();
  if (schedule_routes_) schedule_routes_->shutdown();
  if (producer_) (void)producer_->flush(std::chrono::milliseconds(5000));
  consumer_.reset();
  sink_.reset();
  producer_.reset();
  broker_.reset();
  if (store_) store_->close();
  log_.write("info", drained ? "stopped" : "stopped; unfinished executions resume on next start",
             {{"completed", runner_ ? runner_->completed() : 0}});
}

int serve(const config::Config& config, const Log& log) {
  Service service(config, log);
  if (!service.start()) {
    service.stop();
    return 1;
  }
  log.write("info", "flowd running", {{"instance", config.engine.instance_id}});
  const int signal = wait_for_stop_signal();
  log.write("info", std::string("stopping on ") + signal_name(signal));
  service.stop();
  return 0;
}

}  // namespace flowd::app
