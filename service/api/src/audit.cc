// Operations::audit — the compliance report of one execution, folded from its events, its
// metadata (who caused each event), the command queue and the executions that name it.
// Operations::list_webhooks — the webhooks the stored workflows serve.
#include <algorithm>
#include <map>
#include <set>

#include "definition_cache.h"
#include "flowd/api/convert.h"
#include "flowd/api/operations.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "webhooks/bindings.h"

namespace flowd::api {

namespace {

std::string actor_of(const eventstore::RecordedEvent& e) {
  if (e.metadata.is_object())
    if (auto a = e.metadata.find("actor"); a != e.metadata.end() && a->is_string())
      return a->get<std::string>();
  return "";
}

std::int64_t millis_between(TimePoint a, TimePoint b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace

ApiResult Operations::audit(const std::string& id) {
  auto record = store_.get_execution(id);
  if (!record) return tl::unexpected(from_store(record.error()));
  if (!*record) return tl::unexpected(execution_not_found(id));
  const eventstore::ExecutionRecord& r = **record;

  Json summary = execution_summary_json(r);
  Json started_by = Json::object();
  Json input = nullptr;
  Json steps_by_path = Json::object();  // path -> {status, attempts[], secrets[]}
  std::map<std::string, std::map<int, TimePoint>> attempt_start;
  Json secrets = Json::array(), retries = Json::array(), timeline = Json::array();
  Json fallbacks = Json::array();
  std::map<std::string, std::int64_t> actors;
  Json outcome = nullptr;

  auto step = [&](const std::string& path) -> Json& {
    if (!steps_by_path.contains(path))
      steps_by_path[path] = Json{{"step", path},
                                 {"status", "scheduled"},
                                 {"attempts", Json::array()},
                                 {"secrets", Json::array()}};
    return steps_by_path[path];
  };

  std::int64_t from = 1;
  while (true) {
    auto batch = store_.read_stream(id, from, 1000);
    if (!batch) return tl::unexpected(from_store(batch.error()));
    if (batch->empty()) break;
    for (const auto& re : *batch) {
      const Event& e = re.event;
      const std::string actor = actor_of(re);
      ++actors[actor];
      Json t{{"version", e.version},
             {"type", to_string(e.type)},
             {"time", format_time(e.time)},
             {"actor", actor}};
      if (!e.step.empty()) t["step"] = e.step;
      if (e.attempt > 0) t["attempt"] = e.attempt;
      timeline.push_back(std::move(t));
      switch (e.type) {
        case EventType::kExecutionStarted:
          input = e.data.value("input", Json::object());
          started_by = Json{{"actor", actor}, {"time", format_time(e.time)}};
          for (const char* key : {"causation", "requestId", "traceparent"})
            if (re.metadata.is_object() && re.metadata.contains(key))
              started_by[key] = re.metadata[key];
          for (const char* key : {"dedupeKey", "retryOf", "parent"})
            if (e.data.contains(key)) started_by[key] = e.data[key];
          break;
        case EventType::kStepScheduled:
          step(e.step);
          break;
        case EventType::kStepStarted:
          step(e.step)["status"] = "running";
          attempt_start[e.step][e.attempt] = e.time;
          step(e.step)["attempts"].push_back(
              Json{{"attempt", e.attempt}, {"startedAt", format_time(e.time)}, {"actor", actor}});
          break;
        case EventType::kStepCompleted:
        case EventType::kStepFailed: {
          Json& s = step(e.step);
          const bool failed = e.type == EventType::kStepFailed;
          const bool final = !failed || e.data.value("final", true);
          if (final) s["status"] = failed ? "failed" : "succeeded";
          Json* attempt = nullptr;
          for (auto& a : s["attempts"])
            if (a.value("attempt", 0) == e.attempt) attempt = &a;
          if (attempt == nullptr) {
            s["attempts"].push_back(Json{{"attempt", e.attempt}});
            attempt = &s["attempts"].back();
          }
          (*attempt)["endedAt"] = format_time(e.time);
          (*attempt)["outcome"] = failed ? "failed" : "succeeded";
          if (e.data.contains("durationMs")) {
            (*attempt)["durationMs"] = e.data["durationMs"];
          } else if (auto it = attempt_start[e.step].find(e.attempt);
                     it != attempt_start[e.step].end()) {
            (*attempt)["durationMs"] = millis_between(it->second, e.time);
          }
          if (failed && e.data.contains("error")) (*attempt)["error"] = e.data["error"];
          break;
        }
        case EventType::kStepRetryScheduled:
          step(e.step)["status"] = "retrying";
          retries.push_back(Json{{"step", e.step},
                                 {"failedAttempt", e.attempt},
                                 {"nextAttempt", e.data.value("nextAttempt", e.attempt + 1)},
                                 {"delayMs", e.data.value("delayMs", 0)},
                                 {"time", format_time(e.time)}});
          break;
        case EventType::kStepSkipped:
          step(e.step)["status"] = "skipped";
          step(e.step)["reason"] = e.data.value("reason", "");
          break;
        case EventType::kStepFallbackUsed:
          step(e.step)["fallback"] = e.data.value("kind", "");
          fallbacks.push_back(Json{
              {"step", e.step}, {"kind", e.data.value("kind", "")}, {"time", format_time(e.time)}});
          break;
        case EventType::kSecretAccessed: {
          const std::string name = e.data.value("name", "");
          auto& names = step(e.step)["secrets"];
          if (std::find(names.begin(), names.end(), Json(name)) == names.end())
            names.push_back(name);
          secrets.push_back(Json{{"step", e.step},
                                 {"name", name},
                                 {"time", format_time(e.time)},
                                 {"version", e.version}});
          break;
        }
        case EventType::kExecutionCompleted:
          outcome = Json{{"status", "completed"}, {"time", format_time(e.time)}};
          break;
        case EventType::kExecutionFailed:
          outcome = Json{{"status", "failed"},
                         {"time", format_time(e.time)},
                         {"error", e.data.value("error", Json())},
                         {"step", e.data.value("step", "")}};
          break;
        case EventType::kExecutionCancelled:
          outcome = Json{{"status", "cancelled"},
                         {"time", format_time(e.time)},
                         {"reason", e.data.value("reason", "")},
                         {"actor", actor}};
          break;
        case EventType::kExecutionTimedOut:
          outcome = Json{{"status", "timed_out"}, {"time", format_time(e.time)}};
          break;
        default:
          break;
      }
    }
    from = batch->back().event.version + 1;
  }

  Json commands = Json::array();
  if (auto history = commands_.history(id)) {
    for (const auto& c : *history) {
      Json j{{"id", c.id},
             {"command", c.command},
             {"actor", c.actor},
             {"createdAt", c.created_at},
             {"reason", c.payload.is_object() ? c.payload.value("reason", "") : ""}};
      if (!c.processed_at.empty()) j["processedAt"] = c.processed_at;
      if (!c.result.empty()) j["result"] = c.result;
      commands.push_back(std::move(j));
    }
  } else {
    return tl::unexpected(from_store(history.error()));
  }
  Json children = Json::array();
  Json rerun_by = Json::array();
  if (auto related = commands_.related(id)) {
    for (const auto& [other, relation] : *related)
      (relation == "retry" ? rerun_by : children).push_back(other);
  } else {
    return tl::unexpected(from_store(related.error()));
  }
  Json lineage{{"retryOf", r.retry_of ? Json(*r.retry_of) : Json()},
               {"parent", r.parent ? Json(*r.parent) : Json()},
               {"retries", std::move(rerun_by)},
               {"children", std::move(children)}};

  Json steps = Json::array();
  for (auto& [path, s] : steps_by_path.items()) steps.push_back(std::move(s));
  Json actor_counts = Json::array();
  for (const auto& [a, n] : actors) actor_counts.push_back(Json{{"actor", a}, {"events", n}});

  Json body{{"execution", summary},
            {"startedBy", std::move(started_by)},
            {"input", std::move(input)},
            {"steps", std::move(steps)},
            {"secretsAccessed", std::move(secrets)},
            {"commands", std::move(commands)},
            {"retries", std::move(retries)},
            {"fallbacks", std::move(fallbacks)},
            {"lineage", std::move(lineage)},
            {"actors", std::move(actor_counts)},
            {"events", std::move(timeline)}};
  if (!outcome.is_null()) body["outcome"] = std::move(outcome);
  if (r.purged_at) body["purged"] = true;
  if (options_.dead_letter_audit) {
    // Dead-letter actions (retry, discard, archive, bulk retry, by whom and why) and the letter
    // a retry execution retries: the dead_letters tables, not the execution's events.
    auto letters = options_.dead_letter_audit(id);
    if (!letters) return tl::unexpected(from_error(letters.error()));
    body["deadLetters"] = std::move(*letters);
  }
  return Reply{std::move(body)};
}

ApiResult Operations::list_webhooks() {
  auto records = store_.list_definitions();
  if (!records) return tl::unexpected(from_store(records.error()));
  std::vector<std::shared_ptr<const Definition>> definitions;
  for (const auto& r : *records)
    if (auto d = service::definition_from_document(r.document)) definitions.push_back(*d);
  auto bindings = webhooks::WebhookBindings::build(definitions, std::chrono::seconds(300));
  Json items = Json::array();
  for (const auto& [path, b] : bindings.by_path)
    items.push_back(Json{{"path", path},
                         {"url", "/hooks/" + path},
                         {"workflow", b.definition->name},
                         {"workflowVersion", b.definition->version},
                         {"signature", std::string(webhooks::to_string(b.signature.scheme))},
                         {"secret", b.secret}});
  return Reply{Json{{"items", std::move(items)}, {"problems", bindings.problems}}};
}

}  // namespace flowd::api
