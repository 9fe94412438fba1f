#include <utility>  // before Asio headers: Boost 1.74 uses std::exchange without it

#include "webhooks/endpoint.h"

#include <algorithm>
#include <cctype>

#include "flowd/engine/actor.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::webhooks {

using http::ApiError;
using http::Request;
using http::Responder;
using http::Response;

struct WebhookEndpoint::State {
  State(eventstore::EventStore& s, WebhookOptions o)
      : store(s), options(std::move(o)), limiter(options.rate, options.burst) {}

  eventstore::EventStore& store;
  WebhookOptions options;
  RateLimiter limiter;
  http::Family<http::Counter>* requests = nullptr;

  mutable std::mutex mutex;
  std::shared_ptr<const WebhookBindings> bindings =
      std::make_shared<WebhookBindings>();  // GUARDED_BY(mutex)

  std::shared_ptr<const WebhookBindings> current() const {
    std::lock_guard lock(mutex);
    return bindings;
  }
  void count(const std::string& webhook, std::string_view outcome) {
    if (requests) requests->with({webhook, std::string(outcome)}).inc();
  }
  void log(std::string_view level, const std::string& message, const Json& fields) {
    if (options.log) options.log(level, message, fields);
  }
};

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool json_media_type(std::string_view content_type) {
  auto type = lower(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type == "application/json" || type.ends_with("+json");
}

// A delivery id as sent: 1..200 visible ASCII characters.
bool valid_delivery_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > 32 && c < 127; });
}

std::string join_path(const Request& req) {
  // The segments after "hooks".
  std::string path;
  const auto& segments = req.segments();
  for (std::size_t i = 1; i < segments.size(); ++i) path += (i > 1 ? "/" : "") + segments[i];
  return path;
}

// request.body, request.headers (lower-case names), request.query: what filter and input see.
Json request_json(const Request& req, Json body) {
  Json headers = Json::object();
  for (const auto& field : req.raw()) {
    std::string name = lower(http::to_std(field.name_string()));
    std::string value(http::to_std(field.value()));
    if (headers.contains(name))
      headers[name] = headers[name].get<std::string>() + ", " + value;
    else
      headers[name] = value;
  }
  Json query = Json::object();
  for (const auto& [k, v] : req.query_params())
    if (!query.contains(k)) query[k] = v;
  return Json{
      {"body", std::move(body)}, {"headers", std::move(headers)}, {"query", std::move(query)}};
}

ApiError error(std::string_view code, std::string message, std::string hint = {}) {
  return ApiError::make(code, std::move(message), std::move(hint));
}

struct Started {
  std::shared_ptr<WebhookEndpoint::State> state;
  Responder responder;
  std::string path;
  std::string workflow;
  std::shared_ptr<const Event> event;

  void operator()(eventstore::StoreResult<eventstore::StartOutcome> result) {
    if (!result) {
      state->count(path, "error");
      state->log("warn", "webhook delivery not started: " + result.error().message,
                 {{"webhook", path}});
      bool data = result.error().is(eventstore::errc::invalid_argument);
      responder.fail(data ? error(http::codes::kInvalidInput,
                                  "the delivery cannot be stored: " + result.error().message)
                          : error(http::codes::kUnavailable, "the delivery was not stored",
                                  "deliver it again later"));
      return;
    }
    Json body{{"id", result->execution_id}, {"workflow", workflow}};
    if (result->duplicate) {
      state->count(path, "duplicate");
      body["duplicate"] = true;
      responder.send(Response::json(body, http::Status::ok));
      return;
    }
    state->count(path, "started");
    if (state->options.on_started) state->options.on_started(*event);
    responder.send(Response::json(body, http::Status::accepted));
  }
};

void handle(const std::shared_ptr<WebhookEndpoint::State>& state, Request req, Responder res) {
  const std::string path = join_path(req);
  auto bindings = state->current();
  auto found = bindings->by_path.find(path);
  auto refuse = [&](std::string_view outcome, ApiError e, std::string label) {
    state->count(label, outcome);
    state->log("info", "webhook delivery refused: " + e.message,
               {{"webhook", label}, {"outcome", outcome}, {"requestId", req.request_id()}});
    res.fail(std::move(e));
  };
  if (found == bindings->by_path.end())
    return refuse("not_found",
                  error(http::codes::kNotFound, "no webhook at /hooks/" + path,
                        "GET /api/v1/webhooks (flowctl webhooks list) shows the served paths"),
                  "unknown");
  const WebhookBinding& hook = found->second;
  const std::string& body = req.body();
  if (body.size() > state->options.max_body_bytes)
    return refuse("too_large",
                  error(http::codes::kPayloadTooLarge,
                        "the delivery is larger than " +
                            std::to_string(state->options.max_body_bytes) + " bytes"),
                  path);

  // The signature: nothing about the request is trusted before it checks out.
  auto secret = state->options.secrets ? state->options.secrets->lookup(hook.secret)
                                       : std::optional<std::string>();
  if (!secret) {
    state->log("error",
               "webhook /hooks/" + path + ": its secret '" + hook.secret +
                   "' is not available; every delivery is refused",
               {{"webhook", path}});
    return refuse("unauthorized",
                  error(http::codes::kUnauthorized, "the webhook cannot verify signatures now"),
                  path);
  }
  auto now = state->options.now_seconds ? state->options.now_seconds()
                                        : std::chrono::duration_cast<std::chrono::seconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count();
  auto verdict = verify(
      hook.signature, *secret, [&](std::string_view name) { return req.header(name); }, body, now);
  if (!verdict.valid())
    return refuse(verdict.verdict == Verdict::kStale ? "stale" : "unauthorized",
                  error(http::codes::kUnauthorized,
                        "signature verification failed (" +
                            std::string(to_string(hook.signature.scheme)) + "): " + verdict.reason),
                  path);

  auto decision = state->limiter.take(path, hook.rate.value_or(state->options.rate),
                                      hook.burst.value_or(state->options.burst));
  if (!decision.allowed) {
    state->count(path, "rate_limited");
    auto e =
        error(http::codes::kTooManyRequests, "webhook /hooks/" + path + " is over its rate limit",
              "deliver again after Retry-After seconds");
    auto response = http::error_response(e, req.request_id());
    response.header("Retry-After", std::to_string(decision.retry_after.count()));
    return res.send(std::move(response));
  }

  if (!json_media_type(req.header("Content-Type")))
    return refuse("unsupported_media_type",
                  error(http::codes::kUnsupportedMediaType,
                        "a webhook delivery must be JSON, got Content-Type '" +
                            std::string(req.header("Content-Type")) + "'"),
                  path);
  Json parsed;
  try {
    parsed = Json::parse(body);
  } catch (const Json::parse_error& e) {
    return refuse("unsupported_media_type",
                  error(http::codes::kUnsupportedMediaType,
                        "the delivery is not valid JSON (at byte " + std::to_string(e.byte) + ")"),
                  path);
  }

  std::string delivery(req.header("webhook-id"));
  if (delivery.empty()) delivery = std::string(req.header("X-GitHub-Delivery"));
  if (delivery.empty()) delivery = std::string(req.header("Idempotency-Key"));
  if (delivery.empty()) delivery = sha256_hex(body);
  if (!valid_delivery_id(delivery))
    return refuse("invalid_input",
                  error(http::codes::kInvalidInput,
                        "the delivery id must be 1..200 visible ASCII characters"),
                  path);

  Json request = request_json(req, std::move(parsed));
  Scope scope;
  scope.bind("request", &request);
  if (hook.filter) {
    auto pass = hook.filter->evaluate(scope);
    if (!pass)
      return refuse("invalid_input",
                    error(http::codes::kInvalidInput, "filter: " + pass.error().message), path);
    if (!*pass) {
      state->count(path, "filtered");
      return res.send(Response::json(Json{{"status", "ignored"}, {"reason", "filter is false"}}));
    }
  }
  Json input = request["body"];
  if (hook.input) {
    auto rendered = hook.input->render(scope);
    if (!rendered)
      return refuse("invalid_input",
                    error(http::codes::kInvalidInput, "input: " + rendered.error().message), path);
    input = std::move(*rendered);
  }
  if (auto valid = validate_input(*hook.definition, input); !valid)
    return refuse("invalid_input",
                  error(http::codes::kInvalidInput, valid.error().message,
                        "the webhook's input must match spec.input of " + hook.definition->ref()),
                  path);

  const std::string actor = actor::webhook(path, delivery);
  StartOptions options;
  options.execution_id = new_uuid();
  options.input = std::move(input);
  options.context = Json{{"webhook", {{"path", path}, {"deliveryId", delivery}}}};
  options.dedupe_key = actor;
  Event started = started_event(*hook.definition, options);
  started.time = Clock::now();
  Json metadata{{"actor", actor}, {"causation", actor}, {"requestId", req.request_id()}};
  Started done{state, res, path, hook.definition->name, std::make_shared<const Event>(started)};
  state->store.start_execution(AppendRequest{options.execution_id, 0, {std::move(started)}},
                               std::move(metadata), std::move(done));
}

Json list_json(const WebhookBindings& bindings) {
  Json items = Json::array();
  for (const auto& [path, b] : bindings.by_path)
    items.push_back(Json{{"path", path},
                         {"url", "/hooks/" + path},
                         {"workflow", b.definition->name},
                         {"workflowVersion", b.definition->version},
                         {"signature", std::string(to_string(b.signature.scheme))},
                         {"secret", b.secret}});
  return Json{{"items", std::move(items)}};
}

}  // namespace

WebhookEndpoint::WebhookEndpoint(eventstore::EventStore& store, WebhookOptions options)
    : state_(std::make_shared<State>(store, std::move(options))) {
  if (state_->options.metrics)
    state_->requests = &state_->options.metrics->counter(
        "flowd_webhook_requests_total", "Webhook deliveries by webhook path and outcome",
        {"webhook", "outcome"});
}

WebhookEndpoint::~WebhookEndpoint() = default;

void WebhookEndpoint::register_routes(http::Router& router) {
  auto state = state_;
  http::Handler handler = [state](Request req, Responder res) {
    handle(state, std::move(req), std::move(res));
  };
  std::string pattern = "/hooks";
  for (char name : std::string("abcd")) {
    pattern += std::string("/{") + name + "}";
    router.add(http::Verb::post, pattern, handler);
  }
}

void WebhookEndpoint::set_definitions(
    const std::vector<std::shared_ptr<const Definition>>& definitions) {
  auto built = std::make_shared<WebhookBindings>(
      WebhookBindings::build(definitions, state_->options.tolerance));
  for (const auto& p : built->problems) state_->log("error", p, Json::object());
  std::lock_guard lock(state_->mutex);
  state_->bindings = std::move(built);
}

Json WebhookEndpoint::list() const {
  return list_json(*state_->current());
}

}  // namespace flowd::webhooks
