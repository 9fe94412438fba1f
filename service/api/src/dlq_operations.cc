#include "flowd/api/dlq_operations.h"

#include "flowd/api/convert.h"
#include "flowd/dlq/reprocessor.h"
#include "flowd/engine/duration.h"

#include <atomic>
#include <thread>

namespace flowd::api {

namespace {

constexpr std::size_t kBulkThreads = 8;

tl::unexpected<ApiError> invalid(std::string message, std::string hint = {}) {
  return tl::unexpected(ApiError::invalid_input(std::move(message), std::move(hint)));
}

tl::expected<std::optional<TimePoint>, ApiError> time_arg(const std::optional<std::string>& text,
                                                          const char* name) {
  if (!text || text->empty()) return std::optional<TimePoint>();
  if (auto t = parse_time(*text)) return std::optional<TimePoint>(*t);
  if (auto d = parse_duration(*text)) return std::optional<TimePoint>(Clock::now() - *d);
  return invalid(std::string(name) + " '" + *text + "' is neither an RFC 3339 time nor a duration",
                 "2026-12-01T00:00:00Z or 24h");
}

tl::expected<dlq::DeadLetterQuery, ApiError> query_of(const DlqFilter& f) {
  dlq::DeadLetterQuery q;
  q.workflow = f.workflow;
  q.reason_code = f.error_code;
  if (f.kind) {
    q.kind = dlq::parse_dead_letter_kind(*f.kind);
    if (!q.kind) return invalid("kind '" + *f.kind + "' is not trigger or execution");
  }
  if (f.state) {
    q.status = dlq::parse_dead_letter_status(*f.state);
    if (!q.status)
      return invalid("state '" + *f.state + "' is unknown",
                     "pending, retrying, resolved, discarded or archived");
  }
  auto since = time_arg(f.since, "since");
  if (!since) return tl::unexpected(since.error());
  q.since = *since;
  auto until = time_arg(f.until, "until");
  if (!until) return tl::unexpected(until.error());
  q.until = *until;
  if (!f.page_token.empty()) {
    try {
      q.before_id = std::stoll(f.page_token);
    } catch (...) {
      return invalid("pageToken '" + f.page_token + "' is not one this API gave");
    }
  }
  q.limit = std::clamp<std::size_t>(f.limit, 1, 1000);
  return q;
}

dlq::RetryOptions options_of(const DlqRetry& r, const std::string& actor) {
  dlq::RetryOptions o;
  o.input = r.input;
  o.patch = r.patch;
  o.from_failed_step = r.from_failed_step;
  o.version = r.version;
  o.republish = r.republish;
  o.reason = r.reason;
  o.batch = r.batch;
  o.dry_run = r.dry_run;
  o.actor = actor;
  return o;
}

}  // namespace

DlqOperations::DlqOperations(eventstore::EventStore& store, dlq::DeadLetterStore& letters)
    : store_(store),
      letters_(letters),
      reprocessor_(std::make_unique<dlq::Reprocessor>(store, letters)) {}
DlqOperations::~DlqOperations() = default;

ApiResult DlqOperations::list(const DlqFilter& filter) {
  auto q = query_of(filter);
  if (!q) return tl::unexpected(q.error());
  auto rows = letters_.list(*q);
  if (!rows) return tl::unexpected(from_error(rows.error()));
  Json items = Json::array();
  for (const auto& d : *rows) items.push_back(dlq::to_json(d));
  Json body{{"items", std::move(items)}};
  if (rows->size() == q->limit && !rows->empty())
    body["nextPageToken"] = std::to_string(rows->back().id);
  return Reply(std::move(body));
}

ApiResult DlqOperations::get(std::int64_t id) {
  auto shown = reprocessor_->show(id);
  if (!shown) return tl::unexpected(from_error(shown.error()));
  return Reply(std::move(*shown));
}

ApiResult DlqOperations::stats() {
  auto s = reprocessor_->stats();
  if (!s) return tl::unexpected(from_error(s.error()));
  return Reply(std::move(*s));
}

ApiResult DlqOperations::retry(std::int64_t id, const DlqRetry& request, const std::string& actor) {
  auto r = reprocessor_->retry(id, options_of(request, actor));
  if (!r) return tl::unexpected(from_error(r.error()));
  return Reply(dlq::to_json(*r), request.dry_run ? 200 : 202);
}

ApiResult DlqOperations::bulk_retry(const DlqFilter& filter, const DlqRetry& request,
                                    const std::string& actor) {
  DlqFilter pending = filter;
  pending.state = "pending";
  auto q = query_of(pending);
  if (!q) return tl::unexpected(q.error());
  auto rows = letters_.list(*q);
  if (!rows) return tl::unexpected(from_error(rows.error()));
  Json retried = Json::array(), errors = Json::array();
  const auto options = options_of(request, actor);
  // The page's retries run on a few threads at once: each waits on PostgreSQL (its start is a
  // synchronous group commit), so in parallel they share commits.
  std::vector<std::optional<Result<dlq::RetryResult>>> results(rows->size());
  std::atomic<std::size_t> next{0};
  auto work = [&] {
    for (std::size_t i = next++; i < rows->size(); i = next++)
      results[i] = reprocessor_->retry((*rows)[i].id, options);
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < std::min<std::size_t>(kBulkThreads, rows->size()); ++t)
    threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  for (std::size_t i = 0; i < rows->size(); ++i) {
    const auto& r = *results[i];
    if (r) {
      retried.push_back(dlq::to_json(*r));
    } else {
      errors.push_back({{"id", (*rows)[i].id},
                        {"code", to_string(r.error().code)},
                        {"message", r.error().message}});
    }
  }
  Json body{
      {"matched", rows->size()}, {"retried", std::move(retried)}, {"errors", std::move(errors)}};
  if (rows->size() == q->limit && !rows->empty())
    body["nextPageToken"] = std::to_string(rows->back().id);
  return Reply(std::move(body), request.dry_run ? 200 : 202);
}

ApiResult DlqOperations::discard(std::int64_t id, const std::string& reason,
                                 const std::string& actor) {
  auto d = reprocessor_->discard(id, actor, reason);
  if (!d) return tl::unexpected(from_error(d.error()));
  return Reply(dlq::to_json(*d));
}

ApiResult DlqOperations::archive(std::int64_t id, const std::string& reason,
                                 const std::string& actor) {
  auto d = reprocessor_->archive(id, actor, reason);
  if (!d) return tl::unexpected(from_error(d.error()));
  return Reply(dlq::to_json(*d));
}

ApiResult DlqOperations::batch(const std::string& batch) {
  auto b = reprocessor_->batch_progress(batch);
  if (!b) return tl::unexpected(from_error(b.error()));
  return Reply(std::move(*b));
}

}  // namespace flowd::api
