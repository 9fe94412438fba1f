#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "flowd/api/routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

#include "api_state.h"
#include "flowd/engine/duration.h"

namespace flowd::api {
namespace {

using detail::ApiState;
using http::Request;
using http::Responder;
using http::Verb;
using Call = std::function<ApiResult(const Request&)>;

tl::unexpected<ApiError> invalid(std::string message, std::string hint = {}) {
  return tl::unexpected(ApiError::invalid_input(std::move(message), std::move(hint)));
}

void answer(ApiState& state, std::string_view operation, Responder& res, ApiResult result) {
  if (!result) {
    state.count(operation, result.error().code);
    res.fail(std::move(result.error()));
    return;
  }
  state.count(operation, "OK");
  auto response = http::Response::json(result->body, static_cast<http::Status>(result->status));
  if (!result->location.empty()) response.header("Location", result->location);
  res.send(std::move(response));
}

// A handler that runs `call` on the worker pool and answers with its result.
http::Handler on_worker(std::shared_ptr<ApiState> state, std::string operation, Call call) {
  return [state, operation, call](Request req, Responder res) {
    auto job = [state, operation, call, req = std::move(req), res]() mutable {
      ApiResult result;
      try {
        result = call(req);
      } catch (const std::exception& e) {
        spdlog::error("api {}: {} (request {})", operation, e.what(), req.request_id());
        result = tl::unexpected(ApiError::internal("the operation failed unexpectedly"));
      }
      answer(*state, operation, res, std::move(result));
    };
    if (!state->pool.post(std::move(job))) {
      state->count(operation, http::codes::kUnavailable);
      res.fail(ApiError::unavailable("the API is busy or stopping: no worker took the request",
                                     "try again shortly"));
    }
  };
}

// The actor of what a request causes: its token's name, else the operations' default.
std::string actor_of(const Request& req) {
  return req.principal().authenticated ? req.principal().name : std::string();
}

// --- request parsing -----------------------------------------------------------------------------

tl::expected<Json, ApiError> json_object(const Request& req, bool optional_body) {
  if (optional_body && req.body().empty()) return Json::object();
  auto body = req.json();
  if (!body) return tl::unexpected(body.error());
  if (!body->is_object()) return invalid("the body must be a JSON object");
  return body;
}

tl::expected<void, ApiError> only_fields(const Json& body,
                                         std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, value] : body.items())
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return invalid("unknown field '" + key + "'", "allowed fields: " + list);
    }
  return {};
}

tl::expected<std::optional<std::string>, ApiError> string_field(const Json& body,
                                                                const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) return invalid(std::string(name) + " must be a string");
  return std::optional<std::string>(it->get<std::string>());
}

tl::expected<std::optional<std::int64_t>, ApiError> int_field(const Json& body, const char* name,
                                                              std::int64_t min, std::int64_t max) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::int64_t>();
  if (!it->is_number_integer() || it->get<std::int64_t>() < min || it->get<std::int64_t>() > max)
    return invalid(std::string(name) + " must be an integer in " + std::to_string(min) + ".." +
                   std::to_string(max));
  return std::optional<std::int64_t>(it->get<std::int64_t>());
}

// A definition body: YAML text (Content-Type *yaml*), else JSON.
tl::expected<DefinitionText, ApiError> definition_body(const Request& req) {
  std::string type(req.header("Content-Type"));
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type.find("yaml") != std::string::npos) {
    if (req.body().empty()) return invalid("the body is empty: send a workflow definition");
    return DefinitionText{req.body(), "<request>"};
  }
  auto body = req.json();
  if (!body) return tl::unexpected(body.error());
  if (!body->is_object()) return invalid("the body must be a workflow definition (an object)");
  return DefinitionText{req.body(), "<request>"};
}

std::optional<std::string> query_string(const Request& req, std::string_view name) {
  auto value = req.query(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

// --- handlers ------------------------------------------------------------------------------------

ApiResult list_workflows(Operations& ops, const Request& req) {
  WorkflowFilter filter;
  filter.name_prefix = query_string(req, "name");
  auto limit = req.query_int("limit", 1, 500);
  if (!limit) return tl::unexpected(limit.error());
  filter.limit = static_cast<std::size_t>(limit->value_or(50));
  filter.page_token = req.query("pageToken").value_or("");
  return ops.list_workflows(filter);
}

ApiResult get_workflow_version(Operations& ops, const Request& req) {
  std::string text(req.param("version"));
  int version = 0;
  try {
    std::size_t used = 0;
    version = std::stoi(text, &used);
    if (used != text.size() || version < 1) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    return invalid("version '" + text + "' is not a positive integer");
  }
  return ops.get_workflow(std::string(req.param("name")), version);
}

ApiResult start_execution(Operations& ops, const Request& req) {
  auto body = json_object(req, false);
  if (!body) return tl::unexpected(body.error());
  if (auto ok = only_fields(*body, {"workflow", "version", "input", "context", "dedupeKey"}); !ok)
    return tl::unexpected(ok.error());
  StartRequest start;
  auto workflow = string_field(*body, "workflow");
  if (!workflow) return tl::unexpected(workflow.error());
  if (!*workflow || (*workflow)->empty())
    return tl::unexpected(ApiError::make(http::codes::kMissingInput, "workflow is required",
                                         "name the workflow to start: {\"workflow\": \"...\"}"));
  start.workflow = **workflow;
  auto version = int_field(*body, "version", 1, 1'000'000'000);
  if (!version) return tl::unexpected(version.error());
  if (*version) start.version = static_cast<int>(**version);
  if (body->contains("input")) start.input = (*body)["input"];
  if (body->contains("context")) start.context = (*body)["context"];
  auto key = string_field(*body, "dedupeKey");
  if (!key) return tl::unexpected(key.error());
  start.dedupe_key = key->value_or("");
  start.actor = actor_of(req);
  return ops.start_execution(start);
}

ApiResult list_executions(Operations& ops, const Request& req) {
  ExecutionFilter filter;
  filter.workflow = query_string(req, "workflow");
  filter.status = query_string(req, "status");
  filter.since = query_string(req, "since");
  filter.until = query_string(req, "until");
  filter.dedupe_key = query_string(req, "dedupeKey");
  auto limit = req.query_int("limit", 1, 500);
  if (!limit) return tl::unexpected(limit.error());
  filter.limit = static_cast<std::size_t>(limit->value_or(50));
  filter.page_token = req.query("pageToken").value_or("");
  return ops.list_executions(filter);
}

ApiResult get_execution(Operations& ops, const Request& req) {
  auto as_of = req.query_int("asOf", 1, INT64_MAX);
  if (!as_of) return tl::unexpected(as_of.error());
  return ops.get_execution(std::string(req.param("id")), *as_of);
}

ApiResult list_events(Operations& ops, const Request& req) {
  auto after = req.query_int("after", 0, INT64_MAX);
  if (!after) return tl::unexpected(after.error());
  auto limit = req.query_int("limit", 1, 1000);
  if (!limit) return tl::unexpected(limit.error());
  return ops.events(std::string(req.param("id")), after->value_or(0),
                    static_cast<std::size_t>(limit->value_or(500)));
}

ApiResult replay(Operations& ops, const Request& req) {
  auto body = json_object(req, true);
  if (!body) return tl::unexpected(body.error());
  if (auto ok = only_fields(*body, {"upto"}); !ok) return tl::unexpected(ok.error());
  auto upto = int_field(*body, "upto", 1, INT64_MAX);
  if (!upto) return tl::unexpected(upto.error());
  return ops.replay(std::string(req.param("id")), *upto);
}

ApiResult rerun(Operations& ops, const Request& req) {
  auto body = json_object(req, true);
  if (!body) return tl::unexpected(body.error());
  if (auto ok = only_fields(*body, {"input", "version"}); !ok) return tl::unexpected(ok.error());
  RerunRequest rerun;
  if (body->contains("input")) rerun.input = (*body)["input"];
  auto version = int_field(*body, "version", 1, 1'000'000'000);
  if (!version) return tl::unexpected(version.error());
  if (*version) rerun.version = static_cast<int>(**version);
  rerun.actor = actor_of(req);
  return ops.rerun(std::string(req.param("id")), rerun);
}

Call command(Operations& ops, std::string verb) {
  return [&ops, verb](const Request& req) -> ApiResult {
    auto body = json_object(req, true);
    if (!body) return tl::unexpected(body.error());
    auto ok =
        verb == "resume" ? only_fields(*body, {"reason", "input"}) : only_fields(*body, {"reason"});
    if (!ok) return tl::unexpected(ok.error());
    return ops.command(std::string(req.param("id")), verb, *body, actor_of(req));
  };
}

ApiResult retention(Operations& ops, const Request& req) {
  auto body = json_object(req, false);
  if (!body) return tl::unexpected(body.error());
  if (auto ok = only_fields(*body, {"olderThan", "dryRun"}); !ok) return tl::unexpected(ok.error());
  auto older = string_field(*body, "olderThan");
  if (!older) return tl::unexpected(older.error());
  if (!*older)
    return tl::unexpected(ApiError::make(http::codes::kMissingInput, "olderThan is required",
                                         "a duration such as \"30d\""));
  auto duration = parse_duration(**older);
  if (!duration) return invalid("olderThan '" + **older + "' is not a duration (30d, 12h)");
  auto dry = body->find("dryRun");
  if (dry != body->end() && !dry->is_boolean()) return invalid("dryRun must be a boolean");
  return ops.retention(*duration, dry != body->end() && dry->get<bool>());
}

// Every token may act until tokens have roles: one bearer token (or none) gives full access.
// The caller's token name and role; readers cannot act (the console hides its actions).
http::Reply whoami(const Request& req) {
  const auto& who = req.principal();
  return http::Response::json(Json{{"name", who.name},
                                   {"role", std::string(http::to_string(who.role))},
                                   {"canAct", who.role == http::Role::kOperator}});
}

}  // namespace

ApiRoutes::~ApiRoutes() {
  shutdown();
}

void ApiRoutes::shutdown() {
  {
    std::lock_guard lock(state_->mutex);
    state_->shut_down = true;
  }
  detail::stop_all_live_streams(state_);
  state_->pool.stop();
}

std::size_t ApiRoutes::live_streams() const {
  std::lock_guard lock(state_->mutex);
  return state_->live.size();
}

std::unique_ptr<ApiRoutes> register_routes(http::RouteGroup api, Operations& ops,
                                           ApiOptions options) {
  auto state = std::make_shared<ApiState>(ops, std::move(options));
  if (auto& metrics = state->options.metrics) {
    state->operations_total = &metrics->counter(
        "flowd_api_operations_total", "API calls by operation and outcome", {"operation", "code"});
    state->started_total = &metrics->counter("flowd_api_executions_started_total",
                                             "Executions started through the API", {"workflow"});
    state->commands_total = &metrics->counter(
        "flowd_api_commands_total", "Operator commands queued through the API", {"command"});
    state->live_gauge =
        &metrics->gauge("flowd_api_sse_live_streams", "Event streams following a live execution")
             .get();
    auto& depth =
        metrics->gauge("flowd_api_worker_queue_depth", "API calls waiting for a worker").get();
    std::weak_ptr<ApiState> weak = state;
    metrics->on_collect([weak, &depth] {
      if (auto s = weak.lock()) depth.set(static_cast<double>(s->pool.queued()));
    });
  }

  auto add = [&](Verb verb, std::string_view pattern, std::string operation, Call call) {
    api.add(verb, pattern, on_worker(state, std::move(operation), std::move(call)));
  };
  auto bind = [&ops](ApiResult (*f)(Operations&, const Request&)) -> Call {
    return [&ops, f](const Request& req) { return f(ops, req); };
  };

  // workflows
  add(Verb::get, "/workflows", "listWorkflows", bind(list_workflows));
  add(Verb::post, "/workflows", "applyWorkflow", [&ops](const Request& req) -> ApiResult {
    auto text = definition_body(req);
    if (!text) return tl::unexpected(text.error());
    return ops.apply_workflow(*text);
  });
  add(Verb::post, "/workflows/validate", "validateWorkflow",
      [&ops](const Request& req) -> ApiResult {
        auto text = definition_body(req);
        if (!text) return tl::unexpected(text.error());
        return ops.validate_workflow(*text);
      });
  add(Verb::get, "/workflows/{name}", "getWorkflow", [&ops](const Request& req) {
    return ops.get_workflow(std::string(req.param("name")), std::nullopt);
  });
  add(Verb::get, "/workflows/{name}/versions/{version}", "getWorkflowVersion",
      bind(get_workflow_version));

  // executions
  add(Verb::get, "/executions", "listExecutions", bind(list_executions));
  std::weak_ptr<ApiState> weak = state;
  add(Verb::post, "/executions", "startExecution", [&ops, weak](const Request& req) {
    auto result = start_execution(ops, req);
    auto s = weak.lock();
    if (result && s && s->started_total && !result->body.value("duplicate", false))
      s->started_total->with({result->body.value("workflow", std::string())}).inc();
    return result;
  });
  add(Verb::get, "/executions/counts", "countExecutions", [&ops](const Request& req) {
    ExecutionFilter filter;
    filter.workflow = query_string(req, "workflow");
    filter.since = query_string(req, "since");
    filter.until = query_string(req, "until");
    return ops.count_executions(filter);
  });
  add(Verb::get, "/executions/{id}", "getExecution", bind(get_execution));
  add(Verb::get, "/executions/{id}/events", "listExecutionEvents", bind(list_events));
  api.add(Verb::get, "/executions/{id}/events/stream", [state](Request req, Responder res) {
    auto job = [state, req = std::move(req), res]() mutable {
      detail::open_event_stream(state, req, std::move(res));
    };
    if (!state->pool.post(std::move(job))) {
      state->count("streamExecutionEvents", http::codes::kUnavailable);
      res.fail(ApiError::unavailable("the API is busy or stopping", "try again shortly"));
    }
  });
  for (const char* verb : {"pause", "resume", "cancel"}) {
    std::string operation = std::string(verb) + "Execution";
    Call call = command(ops, verb);
    add(Verb::post, std::string("/executions/{id}/") + verb, operation,
        [call, weak, verb = std::string(verb)](const Request& req) {
          auto result = call(req);
          auto s = weak.lock();
          if (result && s && s->commands_total) s->commands_total->with({verb}).inc();
          return result;
        });
  }
  add(Verb::post, "/executions/{id}/replay", "replayExecution", bind(replay));
  add(Verb::post, "/executions/{id}/rerun", "rerunExecution", bind(rerun));

  // administration
  add(Verb::post, "/admin/retention", "purgeRetention", bind(retention));

  // who the caller is and what it may do (the web console hides actions it may not take)
  api.add_sync(Verb::get, "/whoami", [](const Request& req) -> http::Reply { return whoami(req); });

  // audit and webhooks (audit.cc)
  add(Verb::get, "/executions/{id}/audit", "auditExecution",
      [&ops](const Request& req) { return ops.audit(std::string(req.param("id"))); });
  add(Verb::get, "/webhooks", "listWebhooks",
      [&ops](const Request&) { return ops.list_webhooks(); });

  return std::make_unique<ApiRoutes>(state);
}

}  // namespace flowd::api
