#include "flowd/api/operations.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "definition_cache.h"
#include "flowd/api/convert.h"
#include "flowd/engine/definition.h"
#include "flowd/engine/duration.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::api {
namespace {

using namespace flowd::eventstore;

constexpr std::size_t kMaxPage = 500;

tl::unexpected<ApiError> fail(std::string_view code, std::string message, std::string hint = {}) {
  return tl::unexpected(ApiError::make(code, std::move(message), std::move(hint)));
}

std::optional<TimePoint> parse_since(const std::string& text) {
  if (auto t = parse_time(text)) return t;
  if (auto d = parse_duration(text)) return Clock::now() - *d;
  return std::nullopt;
}

Json problems_json(const Diagnostics& diagnostics) {
  Json problems = Json::array();
  for (const auto& d : diagnostics) {
    Json p{{"message", d.message}, {"text", d.format()}};
    if (!d.location.pointer.empty()) p["pointer"] = d.location.pointer;
    if (d.location.line > 0) {
      p["line"] = d.location.line;
      p["column"] = d.location.column;
    }
    problems.push_back(std::move(p));
  }
  return problems;
}

// "input does not match ...: /a: required; /b: wrong type" -> ["/a: required", "/b: wrong type"]
Json input_problems(const std::string& message) {
  Json problems = Json::array();
  auto colon = message.find(": ");
  if (colon == std::string::npos) return problems;
  std::string rest = message.substr(colon + 2);
  std::size_t start = 0;
  while (start <= rest.size()) {
    auto end = rest.find("; ", start);
    problems.push_back(rest.substr(start, end == std::string::npos ? end : end - start));
    if (end == std::string::npos) break;
    start = end + 2;
  }
  return problems;
}

Json summary_json(const DefinitionRecord& latest, std::size_t versions) {
  Json j{{"name", latest.name},
         {"latestVersion", latest.version},
         {"versions", versions},
         {"updatedAt", format_time(latest.created_at)}};
  const Json& doc = latest.document;
  if (auto d = doc.value("/metadata/description"_json_pointer, Json()); d.is_string())
    j["description"] = d;
  if (auto t = doc.value("/spec/triggers"_json_pointer, Json()); t.is_array()) j["triggers"] = t;
  return j;
}

bool known_command(const std::string& command) {
  return command == "pause" || command == "resume" || command == "cancel";
}

// since / until of `filter` into `query`.
tl::expected<void, ApiError> time_range(const ExecutionFilter& filter, ExecutionQuery& query) {
  for (auto [text, target, name] : {std::tuple{&filter.since, &query.since, "since"},
                                    std::tuple{&filter.until, &query.until, "until"}}) {
    if (!*text) continue;
    *target = parse_since(**text);
    if (!*target)
      return fail(
          http::codes::kInvalidInput,
          std::string(name) + " '" + **text + "' is neither an RFC 3339 time nor a duration",
          "e.g. 2026-11-21T10:00:00Z or 1h");
  }
  return {};
}

// The page of at most one execution: the one started with `key`, when it also matches the
// query's other filters.
ApiResult execution_by_dedupe_key(EventStore& store, const std::string& key,
                                  const ExecutionQuery& query) {
  Json items = Json::array();
  auto id = store.find_by_dedupe_key(key);
  if (!id) return tl::unexpected(from_store(id.error()));
  if (*id && query.page_token.empty()) {
    auto record = store.get_execution(**id);
    if (!record) return tl::unexpected(from_store(record.error()));
    const auto& r = *record;
    if (r && (!query.workflow || r->workflow == *query.workflow) &&
        (!query.status || r->status == *query.status) &&
        (!query.since || r->started_at >= *query.since) &&
        (!query.until || r->started_at < *query.until))
      items.push_back(execution_summary_json(*r));
  }
  return Reply{Json{{"items", std::move(items)}}};
}

}  // namespace

Operations::Operations(EventStore& store, CommandQueue& commands, OperationsOptions options)
    : store_(store), commands_(commands), options_(std::move(options)) {}

// --- workflows -----------------------------------------------------------------------------------

ApiResult Operations::validate_workflow(const DefinitionText& definition) {
  LoadResult loaded = load_definition(definition.text, definition.source);
  Json body{{"valid", loaded.definition != nullptr},
            {"problems", problems_json(loaded.diagnostics)}};
  if (loaded.definition) {
    body["name"] = loaded.definition->name;
    if (loaded.definition->document.contains("/metadata/version"_json_pointer))
      body["version"] = loaded.definition->version;
  }
  return Reply{std::move(body)};
}

ApiResult Operations::apply_workflow(const DefinitionText& definition) {
  LoadResult loaded = load_definition(definition.text, definition.source);
  if (!loaded.definition) {
    std::string first = loaded.diagnostics.empty() ? "" : loaded.diagnostics.front().format();
    return tl::unexpected(
        ApiError::make(http::codes::kInvalidDefinition,
                       "the definition has " + std::to_string(loaded.diagnostics.size()) +
                           " problem(s); first: " + first,
                       "fix every problem listed in details (POST /api/v1/workflows/validate "
                       "or `flowctl validate` checks without storing)")
            .with_details(Json{{"problems", problems_json(loaded.diagnostics)}}));
  }
  auto applied = store_.apply_definition(loaded.definition->document);
  if (!applied) return tl::unexpected(from_store(applied.error()));
  Json body = workflow_json(*applied);
  unsigned status = applied->created ? 201 : 200;
  return Reply{
      std::move(body), status,
      "/api/v1/workflows/" + applied->name + "/versions/" + std::to_string(applied->version)};
}

ApiResult Operations::list_workflows(const WorkflowFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxPage)
    return fail(http::codes::kInvalidInput, "limit must be 1.." + std::to_string(kMaxPage));
  auto all = store_.list_definitions(std::nullopt);
  if (!all) return tl::unexpected(from_store(all.error()));
  // By name then version: the last record of each name is its latest version.
  std::map<std::string, std::pair<const DefinitionRecord*, std::size_t>> latest;
  for (const auto& d : *all) {
    if (filter.name_prefix && d.name.rfind(*filter.name_prefix, 0) != 0) continue;
    auto& [record, count] = latest[d.name];
    if (record == nullptr || d.version > record->version) record = &d;
    ++count;
  }
  Json items = Json::array();
  std::string next;
  // The page token is the last name of the previous page (names are unique and ordered).
  for (auto it = latest.upper_bound(filter.page_token); it != latest.end(); ++it) {
    if (items.size() == filter.limit) {
      next = items.back()["name"].get<std::string>();
      break;
    }
    items.push_back(summary_json(*it->second.first, it->second.second));
  }
  Json body{{"items", std::move(items)}};
  if (!next.empty()) body["nextPageToken"] = next;
  return Reply{std::move(body)};
}

ApiResult Operations::get_workflow(const std::string& name, std::optional<int> version) {
  auto record = store_.get_definition(name, version);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record)
    return fail(http::codes::kNotFound,
                version ? "workflow '" + name + "' has no version " + std::to_string(*version)
                        : "no workflow '" + name + "'",
                "GET /api/v1/workflows (flowctl workflows list) shows what is stored");
  Json body = workflow_json(**record);
  if (!version) {
    auto all = store_.list_definitions(name);
    if (!all) return tl::unexpected(from_store(all.error()));
    Json versions = Json::array();
    for (auto it = all->rbegin(); it != all->rend(); ++it)
      versions.push_back(Json{{"version", it->version},
                              {"contentHash", it->content_hash},
                              {"createdAt", format_time(it->created_at)}});
    body["versions"] = std::move(versions);
  }
  return Reply{std::move(body)};
}

// --- executions ----------------------------------------------------------------------------------

ApiResult Operations::start_execution(const StartRequest& request) {
  if (request.workflow.empty()) return fail(http::codes::kInvalidInput, "workflow is required");
  if (!request.context.is_null() && !request.context.is_object())
    return fail(http::codes::kInvalidInput, "context must be a JSON object");
  service::DefinitionCache definitions(store_);
  auto definition = definitions.ensure(request.workflow, request.version);
  if (!definition) {
    ApiError error = from_error(definition.error());
    if (error.code == http::codes::kNotFound)
      error.hint = "apply the workflow first (POST /api/v1/workflows, flowctl workflows apply)";
    return tl::unexpected(std::move(error));
  }
  if (auto valid = validate_input(**definition, request.input); !valid) {
    ApiError error = from_error(valid.error());
    if (error.code == http::codes::kInvalidInput) {
      error.hint = "make the input match spec.input of " + (*definition)->ref();
      error.details = Json{{"problems", input_problems(valid.error().message)}};
    }
    return tl::unexpected(std::move(error));
  }
  StartOptions options;
  options.execution_id = new_uuid();
  options.input = request.input;
  if (request.context.is_object()) options.context = request.context;
  options.dedupe_key = request.dedupe_key;
  Event started = started_event(**definition, options);
  if (!request.retry_of.empty()) started.data["retryOf"] = request.retry_of;
  started.time = Clock::now();
  AppendRequest append{options.execution_id, 0, {started}};
  const std::string& actor = request.actor.empty() ? options_.actor : request.actor;
  auto outcome = store_.start_execution_sync(std::move(append), Json{{"actor", actor}});
  if (!outcome) return tl::unexpected(from_store(outcome.error()));
  Json body{{"id", outcome->execution_id},
            {"workflow", (*definition)->name},
            {"workflowVersion", (*definition)->version},
            {"status", outcome->duplicate ? "running" : "pending"},
            {"duplicate", outcome->duplicate}};
  if (outcome->duplicate) {
    // Report the existing execution's real status.
    if (auto existing = store_.get_execution(outcome->execution_id); existing && *existing) {
      body["status"] = to_string((*existing)->status);
      body["workflow"] = (*existing)->workflow;
      body["workflowVersion"] = (*existing)->workflow_version;
    }
  }
  if (!request.retry_of.empty()) body["retryOf"] = request.retry_of;
  return Reply{std::move(body), outcome->duplicate ? 200u : 201u,
               "/api/v1/executions/" + outcome->execution_id};
}

ApiResult Operations::list_executions(const ExecutionFilter& filter) {
  if (filter.limit < 1 || filter.limit > kMaxPage)
    return fail(http::codes::kInvalidInput, "limit must be 1.." + std::to_string(kMaxPage));
  ExecutionQuery query;
  query.workflow = filter.workflow;
  if (filter.status) {
    query.status = parse_execution_status(*filter.status);
    if (!query.status)
      return fail(http::codes::kInvalidInput,
                  "unknown status '" + *filter.status +
                      "' (pending, running, paused, waiting, completed, failed, cancelled, "
                      "timed_out)");
  }
  if (auto range = time_range(filter, query); !range) return tl::unexpected(range.error());
  query.limit = filter.limit;
  query.page_token = filter.page_token;
  if (filter.dedupe_key) return execution_by_dedupe_key(store_, *filter.dedupe_key, query);
  auto page = store_.list_executions(query);
  if (!page) return tl::unexpected(from_store(page.error()));
  Json items = Json::array();
  for (const auto& r : page->items) items.push_back(execution_summary_json(r));
  Json body{{"items", std::move(items)}};
  if (!page->next_page_token.empty()) body["nextPageToken"] = page->next_page_token;
  return Reply{std::move(body)};
}

ApiResult Operations::count_executions(const ExecutionFilter& filter) {
  ExecutionQuery query;
  query.workflow = filter.workflow;
  if (auto range = time_range(filter, query); !range) return tl::unexpected(range.error());
  auto counts = store_.count_executions(query);
  if (!counts) return tl::unexpected(from_store(counts.error()));
  Json by_status = Json::object();
  for (const char* status :
       {"pending", "running", "paused", "waiting", "completed", "failed", "cancelled", "timed_out"})
    by_status[status] = 0;
  std::int64_t total = 0;
  for (const auto& [status, n] : *counts) {
    by_status[status] = n;
    total += n;
  }
  return Reply{Json{{"counts", std::move(by_status)}, {"total", total}}};
}

ApiResult Operations::get_execution(const std::string& id, std::optional<std::int64_t> as_of) {
  auto record = store_.get_execution(id);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record) return tl::unexpected(execution_not_found(id));
  const ExecutionRecord& r = **record;
  if (as_of && *as_of > r.version)
    return fail(http::codes::kInvalidInput, "asOf " + std::to_string(*as_of) +
                                                " is beyond the execution's " +
                                                std::to_string(r.version) + " events");
  Json body;
  if (r.purged_at) {
    if (as_of)
      return fail(http::codes::kConflict,
                  "the events of execution " + id + " were removed by retention; no time travel");
    body = execution_summary_json(r);
    body["steps"] = Json::object();
  } else {
    auto state = store_.load_state(id, as_of);
    if (!state) return tl::unexpected(from_store(state.error()));
    body = state->to_json();
  }
  Json summary = execution_summary_json(r);
  for (const char* key : {"currentStep", "dedupeKey", "owner", "leaseUntil", "retryOf", "parent",
                          "purgedAt", "updatedAt"})
    if (summary.contains(key)) body[key] = summary[key];
  if (as_of) body["asOf"] = *as_of;
  return Reply{std::move(body)};
}

ApiResult Operations::events(const std::string& id, std::int64_t after, std::size_t limit) {
  if (limit < 1 || limit > 1000) return fail(http::codes::kInvalidInput, "limit must be 1..1000");
  if (after < 0) return fail(http::codes::kInvalidInput, "after must be >= 0");
  auto batch = store_.read_stream(id, after + 1, limit + 1);
  if (!batch) return tl::unexpected(from_store(batch.error()));
  if (batch->empty()) {
    auto record = store_.get_execution(id);
    if (!record) return tl::unexpected(from_store(record.error()));
    if (!*record) return tl::unexpected(execution_not_found(id));
  }
  Json items = Json::array();
  bool more = batch->size() > limit;
  for (std::size_t i = 0; i < batch->size() && i < limit; ++i)
    items.push_back(event_json((*batch)[i]));
  Json body{{"items", std::move(items)}};
  if (more) body["nextAfter"] = (*batch)[limit - 1].event.version;
  return Reply{std::move(body)};
}

ApiResult Operations::replay(const std::string& id, std::optional<std::int64_t> upto) {
  if (upto && *upto < 1) return fail(http::codes::kInvalidInput, "upto must be >= 1");
  auto record = store_.get_execution(id);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record) return tl::unexpected(execution_not_found(id));
  if ((*record)->purged_at)
    return fail(http::codes::kConflict,
                "the events of execution " + id + " were removed by retention",
                "replay needs the event log; nothing can be replayed");
  if (upto && *upto > (*record)->version)
    return fail(http::codes::kInvalidInput, "upto " + std::to_string(*upto) +
                                                " is beyond the execution's " +
                                                std::to_string((*record)->version) + " events");
  // A fresh fold of every event (no snapshot): the audit view, one timeline entry per event.
  ExecutionState state;
  state.id = id;
  Json timeline = Json::array();
  std::int64_t from = 1;
  const std::int64_t last = upto.value_or((*record)->version);
  while (from <= last) {
    auto batch = store_.read_stream(id, from, 1000);
    if (!batch) return tl::unexpected(from_store(batch.error()));
    if (batch->empty()) break;
    for (const auto& e : *batch) {
      if (e.event.version > last) break;
      state.apply(e.event);
      Json t{{"version", e.event.version},
             {"type", to_string(e.event.type)},
             {"status", to_string(state.status)}};
      if (!e.event.step.empty()) t["step"] = e.event.step;
      timeline.push_back(std::move(t));
    }
    from = batch->back().event.version + 1;
  }
  return Reply{Json{{"state", state.to_json()},
                    {"eventsApplied", state.version},
                    {"timeline", std::move(timeline)}}};
}

ApiResult Operations::rerun(const std::string& id, const RerunRequest& request) {
  auto record = store_.get_execution(id);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record) return tl::unexpected(execution_not_found(id));
  StartRequest start;
  start.workflow = (*record)->workflow;
  start.version = request.version ? request.version : (*record)->workflow_version;
  start.retry_of = id;
  start.actor = request.actor;
  if (request.input) {
    start.input = *request.input;
  } else {
    auto original = store_.read_stream(id, 1, 1);
    if (!original) return tl::unexpected(from_store(original.error()));
    if (original->empty())
      return fail(http::codes::kConflict,
                  "the events of execution " + id + " were removed by retention",
                  "pass the input to use (flowctl executions rerun ID --input JSON)");
    const Json& data = original->front().event.data;
    start.input = data.value("input", Json::object());
    if (auto c = data.find("context"); c != data.end() && c->is_object() && !c->empty())
      start.context = *c;
  }
  return start_execution(start);
}

ApiResult Operations::command(const std::string& id, const std::string& command,
                              const Json& payload, const std::string& actor) {
  if (!known_command(command))
    return fail(http::codes::kInvalidInput,
                "unknown command '" + command + "' (pause, resume, cancel)");
  if (!payload.is_object()) return fail(http::codes::kInvalidInput, "the body must be an object");
  if (auto r = payload.find("reason"); r != payload.end() && !r->is_string())
    return fail(http::codes::kInvalidInput, "reason must be a string");
  if (command != "resume" && payload.contains("input"))
    return fail(http::codes::kInvalidInput, "only resume takes an input");
  auto record = store_.get_execution(id);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record) return tl::unexpected(execution_not_found(id));
  if ((*record)->terminal())
    return fail(http::codes::kConflict,
                "execution " + id + " already ended (" + std::string(to_string((*record)->status)) +
                    "); it cannot " + command,
                "rerun it to start a new execution (POST /api/v1/executions/{id}/rerun)");
  auto queued = commands_.enqueue(id, command, payload, actor.empty() ? options_.actor : actor);
  if (!queued) return tl::unexpected(from_store(queued.error()));
  return Reply{Json{{"executionId", id}, {"command", command}, {"commandId", *queued}}, 202};
}

ApiResult Operations::retention(std::chrono::milliseconds older_than, bool dry_run) {
  if (older_than.count() <= 0)
    return fail(http::codes::kInvalidInput, "olderThan must be a positive duration");
  RetentionRequest request;
  request.older_than = older_than;
  request.dry_run = dry_run;
  auto report = store_.purge(request);
  if (!report) return tl::unexpected(from_store(report.error()));
  Json body{{"executions", report->executions},
            {"events", report->events},
            {"snapshots", report->snapshots},
            {"batches", report->batches},
            {"dryRun", report->dry_run}};
  if (options_.dead_letter_retention) {
    auto letters = options_.dead_letter_retention(older_than, dry_run);
    if (!letters) return tl::unexpected(from_error(letters.error()));
    body["deadLetters"] = *letters;
  }
  return Reply{std::move(body)};
}

}  // namespace flowd::api
