// DirectBackend: flowctl's durable commands straight against the event store in PostgreSQL.
#include <fmt/format.h>

#include "../flowd/definition_cache.h"
#include "backend.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

namespace flowctl {
namespace {

using namespace flowd::eventstore;

flowd::Error store_error(const StoreError& e) {
  return to_error(e);
}

Json record_json(const ExecutionRecord& r) {
  Json j{{"id", r.id},
         {"workflow", r.workflow},
         {"workflowVersion", r.workflow_version},
         {"status", flowd::to_string(r.status)},
         {"version", r.version},
         {"startedAt", flowd::format_time(r.started_at)},
         {"currentStep", r.current_step},
         {"error", r.error}};
  if (r.ended_at) j["endedAt"] = flowd::format_time(*r.ended_at);
  if (r.dedupe_key) j["dedupeKey"] = *r.dedupe_key;
  if (r.owner) j["owner"] = *r.owner;
  if (r.lease_until) j["leaseUntil"] = flowd::format_time(*r.lease_until);
  if (r.retry_of) j["retryOf"] = *r.retry_of;
  if (r.parent) j["parent"] = *r.parent;
  return j;
}

Json definition_json(const DefinitionRecord& d) {
  return Json{{"name", d.name},
              {"version", d.version},
              {"contentHash", d.content_hash},
              {"createdAt", flowd::format_time(d.created_at)},
              {"created", d.created}};
}

std::optional<flowd::TimePoint> parse_since(const std::string& text) {
  if (auto t = flowd::parse_time(text)) return t;
  if (auto d = flowd::parse_duration(text)) return flowd::Clock::now() - *d;
  return std::nullopt;
}

class DirectBackend : public Backend {
 public:
  DirectBackend(std::unique_ptr<EventStore> store, std::unique_ptr<CommandQueue> commands)
      : store_(std::move(store)), commands_(std::move(commands)), definitions_(*store_) {}

  Result<Json> apply_workflow(const Json& document) override {
    auto definition = flowd::service::definition_from_document(document);
    if (!definition) return tl::unexpected(definition.error());
    auto applied = store_->apply_definition((*definition)->document);
    if (!applied) return tl::unexpected(store_error(applied.error()));
    return definition_json(*applied);
  }

  Result<Json> list_workflows(const std::optional<std::string>& name) override {
    auto list = store_->list_definitions(name);
    if (!list) return tl::unexpected(store_error(list.error()));
    Json items = Json::array();
    for (const auto& d : *list) items.push_back(definition_json(d));
    return Json{{"items", items}};
  }

  Result<Json> start_execution(const std::string& workflow, std::optional<int> version,
                               const Json& input, const std::string& dedupe_key,
                               const std::string& retry_of) override {
    auto definition = definitions_.ensure(workflow, version);
    if (!definition) return tl::unexpected(definition.error());
    if (auto valid = flowd::validate_input(**definition, input); !valid)
      return tl::unexpected(valid.error());
    flowd::StartOptions options;
    options.execution_id = flowd::new_uuid();
    options.input = input;
    options.dedupe_key = dedupe_key;
    flowd::Event started = flowd::started_event(**definition, options);
    if (!retry_of.empty()) started.data["retryOf"] = retry_of;
    started.time = flowd::Clock::now();
    flowd::AppendRequest request{options.execution_id, 0, {started}};
    auto outcome = store_->start_execution_sync(std::move(request), Json{{"actor", "flowctl"}});
    if (!outcome) return tl::unexpected(store_error(outcome.error()));
    return Json{{"executionId", outcome->execution_id},
                {"duplicate", outcome->duplicate},
                {"workflow", (*definition)->ref()}};
  }

  Result<Json> list_executions(const ListFilter& filter) override {
    ExecutionQuery query;
    query.workflow = filter.workflow;
    if (filter.status) {
      query.status = flowd::parse_execution_status(*filter.status);
      if (!query.status)
        return flowd::fail(flowd::ErrorCode::kInvalidInput,
                           "unknown status '" + *filter.status +
                               "' (pending, running, paused, waiting, completed, failed, "
                               "cancelled, timed_out)");
    }
    if (filter.since) {
      query.since = parse_since(*filter.since);
      if (!query.since)
        return flowd::fail(flowd::ErrorCode::kInvalidInput,
                           "--since '" + *filter.since + "' is neither a time nor a duration");
    }
    query.limit = filter.limit;
    query.page_token = filter.page_token;
    auto page = store_->list_executions(query);
    if (!page) return tl::unexpected(store_error(page.error()));
    Json items = Json::array();
    for (const auto& r : page->items) items.push_back(record_json(r));
    return Json{{"items", items}, {"nextPageToken", page->next_page_token}};
  }

  Result<Json> get_execution(const std::string& id) override {
    auto record = store_->get_execution(id);
    if (!record) return tl::unexpected(store_error(record.error()));
    if (!*record) return flowd::fail(flowd::ErrorCode::kNotFound, "no execution " + id);
    Json j = record_json(**record);
    if (auto state = store_->load_state(id)) j["state"] = state->to_json();
    return j;
  }

  Result<Json> events(const std::string& id) override {
    Json items = Json::array();
    std::int64_t from = 1;
    while (true) {
      auto batch = store_->read_stream(id, from, 1000);
      if (!batch) return tl::unexpected(store_error(batch.error()));
      for (const auto& e : *batch) {
        Json j = flowd::to_json(e.event);
        j["metadata"] = e.metadata;
        j["globalPosition"] = e.position.global_position;
        items.push_back(std::move(j));
      }
      if (batch->size() < 1000) break;
      from = batch->back().event.version + 1;
    }
    if (items.empty()) return flowd::fail(flowd::ErrorCode::kNotFound, "no execution " + id);
    return Json{{"items", items}};
  }

  Result<Json> replay(const std::string& id, std::optional<std::int64_t> at) override {
    auto state = store_->load_state(id, at);
    if (!state) return tl::unexpected(store_error(state.error()));
    return Json{{"state", state->to_json()}, {"at", state->version}};
  }

  Result<Json> command(const std::string& id, const std::string& command,
                       const Json& payload) override {
    auto queued = commands_->enqueue(id, command, payload, "flowctl");
    if (!queued) return tl::unexpected(store_error(queued.error()));
    return Json{{"commandId", *queued}, {"execution", id}, {"command", command}};
  }

  Result<Json> retention(std::chrono::milliseconds older_than, bool dry_run) override {
    RetentionRequest request;
    request.older_than = older_than;
    request.dry_run = dry_run;
    auto report = store_->purge(request);
    if (!report) return tl::unexpected(store_error(report.error()));
    return Json{{"executions", report->executions},
                {"events", report->events},
                {"snapshots", report->snapshots},
                {"batches", report->batches},
                {"dryRun", report->dry_run}};
  }

 private:
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<CommandQueue> commands_;
  flowd::service::DefinitionCache definitions_;
};

}  // namespace

Result<std::unique_ptr<Backend>> open_backend(const std::string& database_url) {
  if (database_url.empty())
    return flowd::fail(flowd::ErrorCode::kInvalidInput,
                       "no database: pass --database URL or set FLOWD_DATABASE_URL");
  StoreOptions options;
  options.url = database_url;
  options.pool_size = 1;
  auto store = EventStore::open(options);
  if (!store) return tl::unexpected(store_error(store.error()));
  auto commands = CommandQueue::open(database_url);
  if (!commands) return tl::unexpected(store_error(commands.error()));
  return std::unique_ptr<Backend>(new DirectBackend(std::move(*store), std::move(*commands)));
}

}  // namespace flowctl
