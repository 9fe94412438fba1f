#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "flowd/api/schedule_routes.h"

#include "flowd/triggers/schedule_store.h"
#include "flowd/triggers/scheduler.h"
#include "route_helpers.h"

namespace flowd::api {

namespace {

using http::Request;
using http::Verb;
using triggers::ScheduleErrc;
using triggers::ScheduleError;

ApiError api_error(const ScheduleError& e) {
  switch (e.code) {
    case ScheduleErrc::kInvalid:
      return ApiError::invalid_input(e.message, e.hint);
    case ScheduleErrc::kNotFound:
      return ApiError::not_found(e.message, e.hint);
    case ScheduleErrc::kConflict:
      return ApiError::conflict(e.message, e.hint);
    case ScheduleErrc::kUnavailable:
      return ApiError::unavailable(e.message, e.hint);
    case ScheduleErrc::kInternal:
      break;
  }
  return ApiError::internal(e.message, e.hint);
}

template <class T>
tl::expected<T, ApiError> checked(triggers::ScheduleResult<T> r) {
  if (!r) return tl::unexpected(api_error(r.error()));
  return std::move(*r);
}

std::string name_of(const Request& req) {
  return std::string(req.param("name"));
}

ApiResult spec_body(const Request& req, std::string_view name, bool create,
                    triggers::ScheduleStore& store) {
  auto body = detail::body_of(req);
  if (!body) return tl::unexpected(body.error());
  auto spec = triggers::parse_schedule_spec(*body, name);
  if (!spec) return detail::invalid(spec.error().message);
  auto saved = checked(create ? store.create(*spec, detail::actor_of(req))
                              : store.update(*spec, detail::actor_of(req)));
  if (!saved) return tl::unexpected(saved.error());
  return Reply{triggers::to_json(*saved), create ? 201u : 200u,
               create ? "/api/v1/schedules/" + spec->name : ""};
}

Json events_json(const std::vector<triggers::ScheduleEvent>& events) {
  Json items = Json::array();
  for (const auto& e : events)
    items.push_back(Json{{"position", e.position},
                         {"type", e.type},
                         {"actor", e.actor},
                         {"data", e.data},
                         {"at", format_time(e.at)}});
  return items;
}

Json ticks_json(const std::vector<triggers::TickRecord>& ticks) {
  Json items = Json::array();
  for (const auto& t : ticks) items.push_back(triggers::to_json(t));
  return items;
}

tl::expected<SysSeconds, ApiError> time_of(const Json& body, const char* name) {
  auto t = detail::text(body, name);
  if (!t) return tl::unexpected(t.error());
  if (t->empty()) return detail::invalid(std::string(name) + " is required (RFC 3339)");
  auto parsed = parse_rfc3339(*t);
  if (!parsed)
    return detail::invalid(std::string(name) + ": invalid time '" + *t +
                           "': use RFC 3339, e.g. 2026-03-29T01:00:00Z");
  return *parsed;
}

}  // namespace

ScheduleRoutes::ScheduleRoutes(std::shared_ptr<detail::WorkerPool> pool) : pool_(std::move(pool)) {}
ScheduleRoutes::~ScheduleRoutes() {
  shutdown();
}
void ScheduleRoutes::shutdown() {
  if (pool_) pool_->stop();
}

std::unique_ptr<ScheduleRoutes> register_schedule_routes(http::RouteGroup api,
                                                         triggers::ScheduleStore& store,
                                                         triggers::Scheduler& scheduler,
                                                         std::size_t workers) {
  auto pool = std::make_shared<detail::WorkerPool>(workers, 256);
  auto add = [&](Verb verb, std::string_view pattern, std::string operation, detail::Call call) {
    detail::add_pooled(api, pool, verb, pattern, std::move(operation), std::move(call));
  };
  auto* s = &store;

  add(Verb::get, "/schedules", "listSchedules", [s](const Request&) -> ApiResult {
    auto all = checked(s->list());
    if (!all) return tl::unexpected(all.error());
    Json items = Json::array();
    for (const auto& one : *all) items.push_back(triggers::to_json(one));
    return Reply{Json{{"items", std::move(items)}}};
  });
  add(Verb::post, "/schedules", "createSchedule",
      [s](const Request& req) { return spec_body(req, {}, true, *s); });
  add(Verb::get, "/schedules/{name}", "getSchedule", [s](const Request& req) -> ApiResult {
    auto one = checked(s->get(name_of(req)));
    if (!one) return tl::unexpected(one.error());
    auto ticks = checked(s->ticks(name_of(req), 20));
    if (!ticks) return tl::unexpected(ticks.error());
    auto events = checked(s->events(name_of(req), 50));
    if (!events) return tl::unexpected(events.error());
    Json body = triggers::to_json(*one);
    body["recentTicks"] = ticks_json(*ticks);
    body["events"] = events_json(*events);
    return Reply{std::move(body)};
  });
  add(Verb::put, "/schedules/{name}", "updateSchedule",
      [s](const Request& req) { return spec_body(req, name_of(req), false, *s); });
  add(Verb::delete_, "/schedules/{name}", "deleteSchedule", [s](const Request& req) -> ApiResult {
    auto done = s->remove(name_of(req), detail::actor_of(req));
    if (!done) return tl::unexpected(api_error(done.error()));
    return Reply{Json{{"deleted", name_of(req)}}};
  });
  for (bool pause : {true, false}) {
    add(Verb::post, pause ? "/schedules/{name}/pause" : "/schedules/{name}/unpause",
        pause ? "pauseSchedule" : "unpauseSchedule", [s, pause](const Request& req) -> ApiResult {
          auto body = detail::body_of(req);
          if (!body) return tl::unexpected(body.error());
          if (auto ok = detail::only(*body, {"note"}); !ok) return tl::unexpected(ok.error());
          auto note = detail::text(*body, "note");
          if (!note) return tl::unexpected(note.error());
          auto changed = checked(s->set_paused(name_of(req), pause, *note, detail::actor_of(req)));
          if (!changed) return tl::unexpected(changed.error());
          return Reply{triggers::to_json(*changed)};
        });
  }
  add(Verb::get, "/schedules/{name}/next", "nextScheduleRuns",
      [s](const Request& req) -> ApiResult {
        auto n = req.query_int("n", 1, 1000);
        if (!n) return tl::unexpected(n.error());
        auto one = checked(s->get(name_of(req)));
        if (!one) return tl::unexpected(one.error());
        auto cron = CronSchedule::parse(one->spec.expression, one->spec.timezone);
        if (!cron) return tl::unexpected(ApiError::internal(cron.error().message));
        Json items = Json::array();
        const SysSeconds now = std::chrono::floor<std::chrono::seconds>(Clock::now());
        SysSeconds after = std::max(one->last_tick, now);
        if (one->spec.start_at && *one->spec.start_at - std::chrono::seconds(1) > after)
          after = *one->spec.start_at - std::chrono::seconds(1);
        for (SysSeconds t : cron->next_n(after, static_cast<std::size_t>(n->value_or(10)))) {
          if (one->spec.end_at && t > *one->spec.end_at) break;
          items.push_back(
              Json{{"utc", format_utc(t)}, {"local", format_in_zone(t, one->spec.timezone)}});
        }
        return Reply{Json{{"schedule", one->spec.name},
                          {"timezone", one->spec.timezone},
                          {"paused", one->paused},
                          {"items", std::move(items)}}};
      });
  add(Verb::get, "/schedules/{name}/ticks", "listScheduleTicks",
      [s](const Request& req) -> ApiResult {
        auto limit = req.query_int("limit", 1, 1000);
        if (!limit) return tl::unexpected(limit.error());
        if (auto one = checked(s->get(name_of(req))); !one) return tl::unexpected(one.error());
        auto ticks = checked(s->ticks(name_of(req), static_cast<std::size_t>(limit->value_or(50))));
        if (!ticks) return tl::unexpected(ticks.error());
        return Reply{Json{{"items", ticks_json(*ticks)}}};
      });
  add(Verb::post, "/schedules/{name}/backfill", "backfillSchedule",
      [&scheduler](const Request& req) -> ApiResult {
        auto body = detail::body_of(req);
        if (!body) return tl::unexpected(body.error());
        if (auto ok = detail::only(*body, {"from", "to", "overlap"}); !ok)
          return tl::unexpected(ok.error());
        triggers::BackfillRequest r;
        r.schedule = name_of(req);
        r.actor = detail::actor_of(req);
        auto from = time_of(*body, "from");
        if (!from) return tl::unexpected(from.error());
        auto to = time_of(*body, "to");
        if (!to) return tl::unexpected(to.error());
        r.from = *from;
        r.to = *to;
        auto overlap = detail::text(*body, "overlap");
        if (!overlap) return tl::unexpected(overlap.error());
        if (!overlap->empty()) {
          r.overlap = parse_overlap_policy(*overlap);
          if (!r.overlap)
            return detail::invalid(
                "overlap must be one of skip, allow, bufferOne, bufferAll, "
                "cancelOther, got '" +
                *overlap + "'");
        }
        auto report = checked(scheduler.backfill(r));
        if (!report) return tl::unexpected(report.error());
        Json items = Json::array();
        for (const auto& t : report->items) {
          Json j{{"fireTime", format_utc(t.fire_time)}, {"outcome", t.outcome}};
          j["executionId"] = t.execution_id.empty() ? Json(nullptr) : Json(t.execution_id);
          items.push_back(std::move(j));
        }
        return Reply{Json{{"schedule", r.schedule},
                          {"ticks", report->ticks},
                          {"fired", report->fired},
                          {"skipped", report->skipped},
                          {"buffered", report->buffered},
                          {"alreadyDone", report->already_done},
                          {"failed", report->failed},
                          {"items", std::move(items)}}};
      });
  return std::make_unique<ScheduleRoutes>(std::move(pool));
}

}  // namespace flowd::api
