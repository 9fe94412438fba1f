#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "flowd/api/dlq_routes.h"

#include <spdlog/spdlog.h>

#include "route_helpers.h"

namespace flowd::api {

namespace {

using detail::actor_of;
using detail::body_of;
using detail::flag;
using detail::invalid;
using detail::only;
using detail::query;
using detail::text;
using http::Request;
using http::Responder;
using http::Verb;

tl::expected<std::int64_t, ApiError> id_of(const Request& req) {
  std::string text(req.param("id"));
  try {
    std::size_t used = 0;
    const auto id = std::stoll(text, &used);
    if (used == text.size() && id > 0) return id;
  } catch (...) {
  }
  return invalid("dead letter id '" + text + "' is not a positive integer");
}

tl::expected<DlqRetry, ApiError> retry_of(const Json& body) {
  DlqRetry r;
  if (auto it = body.find("input"); it != body.end()) r.input = *it;
  if (auto it = body.find("patch"); it != body.end()) r.patch = *it;
  if (auto it = body.find("version"); it != body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
      return invalid("version must be a positive integer");
    r.version = it->get<int>();
  }
  auto ffs = flag(body, "fromFailedStep");
  auto rep = flag(body, "republish");
  auto dry = flag(body, "dryRun");
  auto reason = text(body, "reason");
  auto batch = text(body, "batch");
  for (auto* e : {&ffs, &rep, &dry})
    if (!*e) return tl::unexpected(e->error());
  if (!reason) return tl::unexpected(reason.error());
  if (!batch) return tl::unexpected(batch.error());
  r.from_failed_step = *ffs;
  r.republish = *rep;
  r.dry_run = *dry;
  r.reason = *reason;
  r.batch = *batch;
  return r;
}

}  // namespace

DlqRoutes::DlqRoutes(std::shared_ptr<detail::WorkerPool> pool) : pool_(std::move(pool)) {}
DlqRoutes::~DlqRoutes() {
  shutdown();
}
void DlqRoutes::shutdown() {
  if (pool_) pool_->stop();
}

std::unique_ptr<DlqRoutes> register_dlq_routes(http::RouteGroup api, DlqOperations& ops,
                                               std::size_t workers) {
  auto pool = std::make_shared<detail::WorkerPool>(workers, 256);
  auto add = [&](Verb verb, std::string_view pattern, std::string operation, detail::Call call) {
    detail::add_pooled(api, pool, verb, pattern, std::move(operation), std::move(call));
  };

  add(Verb::get, "/dlq", "listDeadLetters", [&ops](const Request& req) -> ApiResult {
    DlqFilter f;
    f.workflow = query(req, "workflow");
    f.error_code = query(req, "errorCode");
    f.kind = query(req, "kind");
    f.state = query(req, "state");
    f.since = query(req, "since");
    f.until = query(req, "until");
    auto limit = req.query_int("limit", 1, 1000);
    if (!limit) return tl::unexpected(limit.error());
    f.limit = static_cast<std::size_t>(limit->value_or(50));
    f.page_token = req.query("pageToken").value_or("");
    return ops.list(f);
  });
  add(Verb::get, "/dlq/stats", "deadLetterStats", [&ops](const Request&) { return ops.stats(); });
  add(Verb::get, "/dlq/batches/{batch}", "deadLetterBatch",
      [&ops](const Request& req) { return ops.batch(std::string(req.param("batch"))); });
  add(Verb::get, "/dlq/{id}", "getDeadLetter", [&ops](const Request& req) -> ApiResult {
    auto id = id_of(req);
    if (!id) return tl::unexpected(id.error());
    return ops.get(*id);
  });
  add(Verb::post, "/dlq/{id}/retry", "retryDeadLetter", [&ops](const Request& req) -> ApiResult {
    auto id = id_of(req);
    if (!id) return tl::unexpected(id.error());
    auto body = body_of(req);
    if (!body) return tl::unexpected(body.error());
    if (auto ok = only(*body, {"input", "patch", "fromFailedStep", "version", "republish", "reason",
                               "batch", "dryRun"});
        !ok)
      return tl::unexpected(ok.error());
    auto r = retry_of(*body);
    if (!r) return tl::unexpected(r.error());
    return ops.retry(*id, *r, actor_of(req));
  });
  add(Verb::post, "/dlq/retry", "bulkRetryDeadLetters", [&ops](const Request& req) -> ApiResult {
    auto body = body_of(req);
    if (!body) return tl::unexpected(body.error());
    if (auto ok = only(
            *body, {"workflow", "errorCode", "kind", "since", "until", "limit", "pageToken",
                    "input", "patch", "fromFailedStep", "version", "reason", "batch", "dryRun"});
        !ok)
      return tl::unexpected(ok.error());
    DlqFilter f;
    for (auto [name, field] :
         {std::pair{"workflow", &f.workflow}, std::pair{"errorCode", &f.error_code},
          std::pair{"kind", &f.kind}, std::pair{"since", &f.since}, std::pair{"until", &f.until}}) {
      auto t = text(*body, name);
      if (!t) return tl::unexpected(t.error());
      if (!t->empty()) *field = *t;
    }
    auto token = text(*body, "pageToken");
    if (!token) return tl::unexpected(token.error());
    f.page_token = *token;
    if (auto it = body->find("limit"); it != body->end()) {
      if (!it->is_number_integer() || *it < 1 || *it > 1000)
        return invalid("limit must be an integer in 1..1000");
      f.limit = it->get<std::size_t>();
    }
    auto r = retry_of(*body);
    if (!r) return tl::unexpected(r.error());
    return ops.bulk_retry(f, *r, actor_of(req));
  });
  for (const char* verb : {"discard", "archive"}) {
    const std::string v = verb;
    add(Verb::post, "/dlq/{id}/" + v, v == "discard" ? "discardDeadLetter" : "archiveDeadLetter",
        [&ops, v](const Request& req) -> ApiResult {
          auto id = id_of(req);
          if (!id) return tl::unexpected(id.error());
          auto body = body_of(req);
          if (!body) return tl::unexpected(body.error());
          if (auto ok = only(*body, {"reason"}); !ok) return tl::unexpected(ok.error());
          auto reason = text(*body, "reason");
          if (!reason) return tl::unexpected(reason.error());
          return v == "discard" ? ops.discard(*id, *reason, actor_of(req))
                                : ops.archive(*id, *reason, actor_of(req));
        });
  }
  return std::make_unique<DlqRoutes>(std::move(pool));
}

}  // namespace flowd::api
