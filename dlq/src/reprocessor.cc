// Reprocessor: retry / discard / archive of dead letters and their read side (see the header).
#include "flowd/dlq/reprocessor.h"

#include <map>
#include <mutex>

#include "flowd/engine/definition.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/decode.h"
#include "rows.h"

namespace flowd::dlq {

namespace {

Error not_found(std::int64_t id) {
  return Error::make(ErrorCode::kNotFound, "dead letter " + std::to_string(id) + " does not exist");
}

std::optional<std::string> micros_text(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return format_time(TimePoint(std::chrono::duration_cast<Clock::duration>(
      std::chrono::microseconds(f.as<std::int64_t>()))));
}

// A retry's plan: everything step 2 needs to start it, stored in dead_letter_retries.
struct Plan {
  std::string mode;
  std::string workflow;
  int version = 0;
  Json input;
  bool from_failed_step = false;
  bool republish = false;
};

// The retries of a letter (dead_letter_retries), in order.
Json retries_of(pqxx::work& tx, std::int64_t id) {
  Json out = Json::array();
  for (const auto& r :
       tx.exec_params("SELECT retry_number, execution_id, mode, workflow_version, requested_by,"
                      " flowd_micros(requested_at), flowd_micros(started_at), outcome,"
                      " flowd_micros(ended_at), batch FROM dead_letter_retries"
                      " WHERE dead_letter_id = $1 ORDER BY retry_number",
                      id)) {
    Json j{{"retryNumber", r[0].as<int>()},
           {"mode", r[2].as<std::string>()},
           {"requestedBy", r[4].as<std::string>()},
           {"requestedAt", *micros_text(r[5])}};
    if (r[2].as<std::string>() != "republish") j["executionId"] = r[1].as<std::string>();
    if (!r[3].is_null()) j["workflowVersion"] = r[3].as<int>();
    if (auto t = micros_text(r[6])) j["startedAt"] = *t;
    j["outcome"] = r[7].is_null() ? Json("running") : Json(r[7].as<std::string>());
    if (auto t = micros_text(r[8])) j["endedAt"] = *t;
    if (!r[9].is_null()) j["batch"] = r[9].as<std::string>();
    out.push_back(std::move(j));
  }
  return out;
}

// Every action on a letter (dead_letter_events: who, what, why, when), oldest first.
Json actions_of(pqxx::work& tx, std::int64_t id) {
  Json out = Json::array();
  for (const auto& r :
       tx.exec_params("SELECT position, type, actor, reason, data::text, flowd_micros(occurred_at)"
                      " FROM dead_letter_events WHERE dead_letter_id = $1 ORDER BY position",
                      id)) {
    Json j{{"position", r[0].as<std::int64_t>()},
           {"type", r[1].as<std::string>()},
           {"actor", r[2].as<std::string>()},
           {"time", *micros_text(r[5])},
           {"data", Json::parse(r[4].as<std::string>())}};
    if (!r[3].is_null()) j["reason"] = r[3].as<std::string>();
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace

Json to_json(const DeadLetter& d) {
  Json j{{"id", d.id},
         {"kind", to_string(d.kind)},
         {"state", to_string(d.status)},
         {"errorCode", d.reason_code},
         {"errorMessage", d.reason_message},
         {"attempts", d.attempts},
         {"retries", d.retries},
         {"createdAt", format_time(d.created_at)},
         {"updatedAt", format_time(d.updated_at)}};
  if (!d.workflow.empty()) j["workflow"] = d.workflow;
  if (d.workflow_version) j["workflowVersion"] = *d.workflow_version;
  if (!d.execution_id.empty()) j["executionId"] = d.execution_id;
  if (!d.failed_step.empty()) j["failedStep"] = d.failed_step;
  if (!d.input.is_null()) j["input"] = d.input;
  if (!d.last_error.is_null()) j["lastError"] = d.last_error;
  if (!d.retry_execution_id.empty()) j["retryExecutionId"] = d.retry_execution_id;
  if (!d.trace_id.empty()) j["traceId"] = d.trace_id;
  if (!d.resolution.empty()) j["resolution"] = d.resolution;
  j["firstFailedAt"] = format_time(d.first_failed_at.value_or(d.created_at));
  j["lastFailedAt"] = format_time(d.last_failed_at.value_or(d.created_at));
  if (d.published_at) j["publishedAt"] = format_time(*d.published_at);
  if (d.source) {
    const SourceRecord& s = *d.source;
    Json headers = Json::array();
    for (const auto& h : s.headers)
      headers.push_back({{"name", h.name}, {"value", h.value ? Json(*h.value) : Json()}});
    j["record"] = {{"topic", s.topic},   {"partition", s.partition},
                   {"offset", s.offset}, {"key", s.key ? Json(*s.key) : Json()},
                   {"value", s.value},   {"headers", std::move(headers)}};
    if (s.timestamp_ms >= 0) j["record"]["timestamp"] = s.timestamp_ms;
    if (!s.consumer_group.empty()) j["record"]["consumerGroup"] = s.consumer_group;
    // The bytes may not be text: the JSON dump replaces what is not UTF-8.
  }
  return j;
}

Json to_json(const RetryResult& r) {
  Json j{{"deadLetterId", r.dead_letter_id},
         {"retryNumber", r.retry_number},
         {"mode", r.mode},
         {"workflow", r.workflow},
         {"workflowVersion", r.workflow_version},
         {"input", r.input},
         {"reusedSteps", r.reused_steps},
         {"alreadyRequested", r.already_requested},
         {"dryRun", r.dry_run}};
  if (!r.execution_id.empty()) j["executionId"] = r.execution_id;
  return j;
}

class Reprocessor::Impl {
 public:
  Impl(eventstore::EventStore& store, DeadLetterStore& letters)
      : store_(store), letters_(letters) {}

  eventstore::EventStore& store_;
  DeadLetterStore& letters_;

  std::mutex mutex_;  // guards the router cache
  std::shared_ptr<const triggers::TriggerRouter> router_;
  std::chrono::steady_clock::time_point router_at_{};

  // Versions are immutable: a loaded name@version is kept (bulk retries load it once).
  std::map<std::pair<std::string, int>, std::shared_ptr<const Definition>> definitions_;

  Result<std::shared_ptr<const Definition>> definition(const std::string& name,
                                                       std::optional<int> version) {
    if (version) {
      std::lock_guard lock(mutex_);
      if (auto it = definitions_.find({name, *version}); it != definitions_.end())
        return it->second;
    }
    auto loaded_def = load_stored(name, version);
    if (loaded_def) {
      std::lock_guard lock(mutex_);
      definitions_[{name, (*loaded_def)->version}] = *loaded_def;
    }
    return loaded_def;
  }

  Result<std::shared_ptr<const Definition>> load_stored(const std::string& name,
                                                        std::optional<int> version) {
    auto record = store_.get_definition(name, version);
    if (!record) return fail(ErrorCode::kExternal, record.error().message, true);
    if (!*record)
      return fail(ErrorCode::kNotFound,
                  "no workflow " + name + (version ? "@" + std::to_string(*version) : ""));
    auto loaded = load_definition((*record)->document.dump(),
                                  name + "@" + std::to_string((*record)->version));
    if (!loaded.definition)
      return fail(ErrorCode::kInvalidDefinition,
                  "stored definition " + name + " does not load: " +
                      (loaded.diagnostics.empty() ? "" : loaded.diagnostics[0].format()));
    return loaded.definition;
  }

  // The trigger bindings of the registry, rebuilt at most every 5 s (bulk retries of records).
  Result<std::shared_ptr<const triggers::TriggerRouter>> router() {
    std::lock_guard lock(mutex_);
    if (router_ && std::chrono::steady_clock::now() - router_at_ < std::chrono::seconds(5))
      return router_;
    auto records = store_.list_definitions();
    if (!records) return fail(ErrorCode::kExternal, records.error().message, true);
    std::vector<std::shared_ptr<const Definition>> defs;
    for (const auto& r : *records) {
      auto loaded = load_definition(r.document.dump(), r.name);
      if (loaded.definition) defs.push_back(loaded.definition);
    }
    auto built = triggers::TriggerRouter::build(defs);
    if (!built) return tl::unexpected(built.error());
    router_ = *built;
    router_at_ = std::chrono::steady_clock::now();
    return router_;
  }

  // What a new retry of `d` runs, decided before anything is written.
  Result<Plan> plan(const DeadLetter& d, const RetryOptions& o) {
    Plan p;
    if (o.republish) {
      if (d.kind != DeadLetterKind::kTrigger || !d.source)
        return fail(ErrorCode::kInvalidInput,
                    "dead letter " + std::to_string(d.id) +
                        " is no trigger record: only records can be republished");
      if (o.input || o.patch || o.from_failed_step || o.version)
        return fail(ErrorCode::kInvalidInput,
                    "--republish puts the original record back unchanged: it takes no input, "
                    "patch, version or --from-failed-step");
      p.mode = "republish";
      p.republish = true;
      p.workflow = d.workflow;
      return p;
    }
    if (o.input && o.patch)
      return fail(ErrorCode::kInvalidInput, "give either a new input or a patch, not both");
    if (o.from_failed_step && d.kind != DeadLetterKind::kExecution)
      return fail(ErrorCode::kInvalidInput,
                  "--from-failed-step needs a failed execution; dead letter " +
                      std::to_string(d.id) + " is a trigger record");
    Json original = d.input;
    std::string workflow = d.workflow;
    std::optional<int> version = o.version ? o.version : d.workflow_version;
    p.mode = "same-input";
    if (d.kind == DeadLetterKind::kTrigger) {
      // Decoding and routing again with today's definitions: the original bytes, or a corrected
      // record value (--input: the new value as JSON; --patch: a merge patch of the value).
      auto r = router();
      if (!r) return tl::unexpected(r.error());
      triggers::Record record;
      record.topic = d.source->topic;
      record.partition = d.source->partition;
      record.offset = d.source->offset;
      record.key = d.source->key;
      record.value = d.source->value;
      record.timestamp_ms = d.source->timestamp_ms;
      for (const auto& h : d.source->headers) record.headers.push_back({h.name, h.value});
      p.mode = "redecode";
      if (o.input) {
        record.value = o.input->dump();
        p.mode = "input";
      } else if (o.patch) {
        Json value = Json::parse(record.value, nullptr, false);
        if (value.is_discarded())
          return fail(ErrorCode::kInvalidInput,
                      "the record of dead letter " + std::to_string(d.id) +
                          " is not JSON: it cannot be patched; give the whole value with --input");
        value.merge_patch(*o.patch);
        record.value = value.dump();
        p.mode = "patch";
      }
      triggers::Decoded decoded = (*r)->route(record);
      const triggers::TriggerRequest* start = nullptr;
      for (const auto& s : decoded.starts)
        if (d.workflow.empty() || s.workflow == d.workflow) {
          start = &s;
          break;
        }
      if (!start) {
        std::string why = decoded.poison.empty() ? "no binding starts anything for it"
                                                 : decoded.poison[0].message;
        return fail(ErrorCode::kInvalidInput,
                    "the record of dead letter " + std::to_string(d.id) +
                        " still cannot start: " + why +
                        " (retry with a corrected value: --input JSON, or fix the definition)");
      }
      auto def = definition(start->workflow, o.version ? o.version
                                             : start->definition
                                                 ? std::optional<int>(start->definition->version)
                                                 : start->version);
      if (!def) return tl::unexpected(def.error());
      if (auto valid = validate_input(**def, start->input); !valid)
        return tl::unexpected(valid.error());
      p.workflow = start->workflow;
      p.version = (*def)->version;
      p.input = start->input;
      return p;
    }
    if (workflow.empty())
      return fail(ErrorCode::kInvalidInput,
                  "dead letter " + std::to_string(d.id) +
                      " names no workflow: retry it with --input and a record that names one");
    Json input = original.is_null() ? Json::object() : original;
    if (o.input) {
      input = *o.input;
      p.mode = "input";
    } else if (o.patch) {
      input.merge_patch(*o.patch);
      p.mode = "patch";
    }
    if (o.from_failed_step) p.mode = "from-failed-step";
    auto def = definition(workflow, version);
    if (!def) return tl::unexpected(def.error());
    if (auto valid = validate_input(**def, input); !valid) {
      Error e = valid.error();
      e.message = workflow + "@" + std::to_string((*def)->version) + ": " + e.message;
      return tl::unexpected(e);
    }
    p.workflow = workflow;
    p.version = (*def)->version;
    p.input = std::move(input);
    p.from_failed_step = o.from_failed_step;
    return p;
  }

  // Step 2: the start, idempotent by its dedupe key.
  Result<RetryResult> start(const DeadLetter& d, int number, const std::string& execution_id,
                            const Plan& p, const RetryOptions& o, RetryResult result) {
    if (p.republish) return result;  // the daemon's publisher does it
    auto def = definition(p.workflow, p.version);
    if (!def) return tl::unexpected(def.error());
    StartOptions start;
    start.execution_id = execution_id;
    start.input = p.input;
    start.dedupe_key = "dlq:" + std::to_string(d.id) + ":" + std::to_string(number);
    Event started = started_event(**def, start);
    Json retry_of{{"deadLetter", d.id}, {"retry", number}};
    if (!d.execution_id.empty()) {
      retry_of["execution"] = d.execution_id;
    } else {
      retry_of["id"] = "dlq:" + std::to_string(d.id);
    }
    started.data["retryOf"] = retry_of;
    AppendRequest request{execution_id, 0, {std::move(started)}};
    if (p.from_failed_step) {
      auto state = store_.load_state(d.execution_id);
      if (!state)
        return fail(ErrorCode::kNotFound, "the failed execution " + d.execution_id +
                                              " cannot be read (retention may have removed its "
                                              "events): retry without --from-failed-step");
      for (const auto& step : (*def)->steps) {
        auto it = state->steps.find(step.id);
        if (it == state->steps.end() || it->second.status != StepStatus::kSucceeded) continue;
        request.events.push_back(Event::make(
            EventType::kStepCompleted, step.id, it->second.attempts,
            Json{{"output", it->second.output}, {"reused", true}, {"reusedFrom", d.execution_id}}));
        ++result.reused_steps;
      }
    }
    Json metadata{{"actor", o.actor}, {"deadLetter", d.id}, {"retry", number}};
    auto outcome = store_.start_execution_sync(std::move(request), metadata);
    if (!outcome) {
      Error e = eventstore::to_error(outcome.error());
      if (!e.retryable) rejected(d.id, number, o.actor, e);
      return tl::unexpected(e);
    }
    (void)letters_.transact("retry started", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      tx.exec_params(
          "UPDATE dead_letter_retries SET started_at = COALESCE(started_at, now())"
          " WHERE dead_letter_id = $1 AND retry_number = $2",
          d.id, number);
    });
    return result;
  }

  // A start the store refused for good: the retry is over, the letter is pending again.
  void rejected(std::int64_t id, int number, const std::string& actor, const Error& e) {
    (void)letters_.transact("retry rejected", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      tx.exec_params(
          "UPDATE dead_letter_retries SET outcome = 'failed', ended_at = now()"
          " WHERE dead_letter_id = $1 AND retry_number = $2",
          id, number);
      tx.exec_params(
          "UPDATE dead_letters SET status = 'pending', updated_at = now() WHERE id = $1"
          " AND status = 'retrying'",
          id);
      record_action(tx, id, "RetryRejected", actor, e.message, Json{{"retry", number}});
    });
  }

  Result<RetryResult> retry(std::int64_t id, const RetryOptions& o) {
    auto current = letters_.get(id);
    if (!current) return tl::unexpected(current.error());
    if (!*current) return tl::unexpected(not_found(id));
    const DeadLetter& d = **current;
    std::optional<Plan> fresh;
    if (d.status == DeadLetterStatus::kPending) {
      auto p = plan(d, o);
      if (!p) return tl::unexpected(p.error());
      fresh = std::move(*p);
    }
    RetryResult result;
    result.dead_letter_id = id;
    if (o.dry_run) {
      if (!fresh)
        return fail(ErrorCode::kInvalidInput, "dead letter " + std::to_string(id) + " is " +
                                                  std::string(to_string(d.status)) +
                                                  ": nothing to retry");
      result.dry_run = true;
      result.retry_number = d.retries + 1;
      result.mode = fresh->mode;
      result.workflow = fresh->workflow;
      result.workflow_version = fresh->version;
      result.input = fresh->input;
      return result;
    }
    // Step 1: number and plan the retry under the row's lock.
    Plan plan_used;
    int number = 0;
    std::string execution_id;
    std::optional<Error> refused;
    auto locked = letters_.transact("retry", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      auto row =
          tx.exec_params("SELECT status, retries FROM dead_letters WHERE id = $1 FOR UPDATE", id);
      if (row.empty()) {
        refused = not_found(id);
        return;
      }
      const std::string status = row[0][0].as<std::string>();
      const int retries = row[0][1].as<int>();
      if (status == "retrying" && retries > 0) {
        // Someone else's retry (or ours, interrupted): the current one, started again below.
        auto r = tx.exec_params(
            "SELECT execution_id, mode, workflow_version, input::text, from_failed_step"
            " FROM dead_letter_retries WHERE dead_letter_id = $1 AND retry_number = $2",
            id, retries);
        if (r.empty()) {
          refused = Error::make(ErrorCode::kInternal, "retry row missing");
          return;
        }
        number = retries;
        execution_id = r[0][0].as<std::string>();
        plan_used.mode = r[0][1].as<std::string>();
        plan_used.republish = plan_used.mode == "republish";
        plan_used.version = r[0][2].is_null() ? 0 : r[0][2].as<int>();
        plan_used.input = r[0][3].is_null() ? Json() : Json::parse(r[0][3].as<std::string>());
        plan_used.from_failed_step = r[0][4].as<bool>();
        plan_used.workflow = d.workflow;
        result.already_requested = true;
        return;
      }
      if (status != "pending" || !fresh) {
        refused = Error::make(ErrorCode::kInvalidInput, "dead letter " + std::to_string(id) +
                                                            " is " + status + ": nothing to retry");
        return;
      }
      plan_used = *fresh;
      number = retries + 1;
      execution_id = plan_used.republish
                         ? "republish:" + std::to_string(id) + ":" + std::to_string(number)
                         : new_uuid();
      tx.exec_params(
          "INSERT INTO dead_letter_retries (dead_letter_id, retry_number, execution_id, mode,"
          " workflow_version, input, from_failed_step, batch, requested_by)"
          " VALUES ($1, $2, $3, $4, NULLIF($5, 0), $6::jsonb, $7, NULLIF($8, ''), $9)",
          id, number, execution_id, plan_used.mode, plan_used.version,
          plan_used.input.dump(-1, ' ', false, Json::error_handler_t::replace),
          plan_used.from_failed_step, o.batch, o.actor);
      tx.exec_params(
          "UPDATE dead_letters SET status = 'retrying', retries = $2,"
          " retry_execution_id = CASE WHEN $4 THEN retry_execution_id ELSE $3 END,"
          " republish_requested_at = CASE WHEN $4 THEN now() END, updated_at = now()"
          " WHERE id = $1",
          id, number, execution_id, plan_used.republish);
      record_action(tx, id, plan_used.republish ? "RepublishRequested" : "RetryRequested", o.actor,
                    o.reason,
                    Json{{"retry", number},
                         {"mode", plan_used.mode},
                         {"execution", plan_used.republish ? Json() : Json(execution_id)},
                         {"workflowVersion", plan_used.version},
                         {"batch", o.batch.empty() ? Json() : Json(o.batch)}});
    });
    if (!locked) return tl::unexpected(locked.error());
    if (refused) return tl::unexpected(*refused);
    result.retry_number = number;
    result.mode = plan_used.mode;
    result.workflow = plan_used.workflow;
    result.workflow_version = plan_used.version;
    result.input = plan_used.input;
    if (!plan_used.republish) result.execution_id = execution_id;
    // Step 2.
    return start(d, number, execution_id, plan_used, o, std::move(result));
  }

  Result<DeadLetter> close(std::int64_t id, const std::string& state, const std::string& type,
                           const std::string& actor, const std::string& reason) {
    std::optional<Error> refused;
    auto done = letters_.transact(type, [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      auto row = tx.exec_params("SELECT status FROM dead_letters WHERE id = $1 FOR UPDATE", id);
      if (row.empty()) {
        refused = not_found(id);
        return;
      }
      const std::string status = row[0][0].as<std::string>();
      if (status == state) return;  // again: a no-op
      if (state == "discarded" && (status == "resolved" || status == "archived")) {
        refused = Error::make(ErrorCode::kInvalidInput,
                              "dead letter " + std::to_string(id) + " is " + status +
                                  ": only pending or retrying letters can be discarded");
        return;
      }
      tx.exec_params(
          "UPDATE dead_letters SET status = $2, resolved_at = COALESCE(resolved_at, now()),"
          " resolved_by = COALESCE(resolved_by, $3), resolution = COALESCE(NULLIF($4, ''),"
          " resolution, $2), updated_at = now() WHERE id = $1",
          id, state, actor, reason);
      record_action(tx, id, type, actor, reason, Json{{"from", status}});
    });
    if (!done) return tl::unexpected(done.error());
    if (refused) return tl::unexpected(*refused);
    auto letter = letters_.get(id);
    if (!letter) return tl::unexpected(letter.error());
    if (!*letter) return tl::unexpected(not_found(id));
    return **letter;
  }

  Result<Json> show(std::int64_t id) {
    auto letter = letters_.get(id);
    if (!letter) return tl::unexpected(letter.error());
    if (!*letter) return tl::unexpected(not_found(id));
    const DeadLetter& d = **letter;
    Json out{{"deadLetter", to_json(d)}, {"retries", Json::array()}, {"audit", Json::array()}};
    auto read = letters_.transact("show", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      out["retries"] = retries_of(tx, id);
      out["audit"] = actions_of(tx, id);
    });
    if (!read) return tl::unexpected(read.error());
    if (d.kind == DeadLetterKind::kExecution && !d.execution_id.empty()) {
      Json timeline = Json::array();
      std::int64_t from = 1;
      int attempts = 0;
      std::optional<Json> step_error;
      for (;;) {
        auto events = store_.read_stream(d.execution_id, from, 1000);
        if (!events || events->empty()) break;
        for (const auto& re : *events) {
          const Event& e = re.event;
          Json j{
              {"version", e.version}, {"type", to_string(e.type)}, {"time", format_time(e.time)}};
          if (!e.step.empty()) j["step"] = e.step;
          if (e.attempt > 0) j["attempt"] = e.attempt;
          if (auto it = e.data.find("error"); it != e.data.end()) j["error"] = *it;
          timeline.push_back(std::move(j));
          if (e.step == d.failed_step) {
            if (e.type == EventType::kStepStarted) attempts = std::max(attempts, e.attempt);
            if (e.type == EventType::kStepFailed && e.data.contains("error"))
              step_error = e.data["error"];
          }
        }
        from = events->back().event.version + 1;
      }
      out["timeline"] = std::move(timeline);
      if (!d.failed_step.empty()) {
        Json fs{{"id", d.failed_step}, {"attempts", attempts}};
        if (step_error) fs["error"] = *step_error;
        // The step's input: its `with` as the definition writes it (templates over the
        // execution's input, shown beside it).
        if (d.workflow_version) {
          if (auto def = definition(d.workflow, *d.workflow_version); def) {
            if (const StepDef* s = (*def)->find_step(d.failed_step)) {
              fs["type"] = s->body.type;
            }
            auto record = store_.get_definition(d.workflow, *d.workflow_version);
            if (record && *record) {
              for (const auto& s : (*record)->document["spec"]["steps"])
                if (s.value("id", "") == d.failed_step && s.contains("with"))
                  fs["with"] = s["with"];
            }
          }
        }
        fs["executionInput"] = d.input;
        out["failedStep"] = std::move(fs);
      }
    }
    return out;
  }

  Result<Json> stats() {
    Json out = Json::object();
    auto read = letters_.transact("stats", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      Json by_state = Json::object();
      std::int64_t total = 0;
      for (const auto& r : tx.exec("SELECT status, count(*) FROM dead_letters GROUP BY status")) {
        by_state[r[0].as<std::string>()] = r[1].as<std::int64_t>();
        total += r[1].as<std::int64_t>();
      }
      out["total"] = total;
      out["byState"] = by_state;
      auto group = [&](const char* column) {
        Json j = Json::array();
        for (const auto& r :
             tx.exec(std::string("SELECT COALESCE(") + column +
                     ", ''), count(*), count(*) FILTER (WHERE status = 'pending') FROM dead_letters"
                     " GROUP BY 1 ORDER BY 2 DESC LIMIT 50"))
          j.push_back({{"key", r[0].as<std::string>()},
                       {"count", r[1].as<std::int64_t>()},
                       {"pending", r[2].as<std::int64_t>()}});
        return j;
      };
      out["byWorkflow"] = group("workflow");
      out["byErrorCode"] = group("reason_code");
      auto age = tx.exec(
          "SELECT count(*) FILTER (WHERE created_at > now() - interval '1 hour'),"
          " count(*) FILTER (WHERE created_at <= now() - interval '1 hour'"
          "   AND created_at > now() - interval '1 day'),"
          " count(*) FILTER (WHERE created_at <= now() - interval '1 day'"
          "   AND created_at > now() - interval '7 days'),"
          " count(*) FILTER (WHERE created_at <= now() - interval '7 days')"
          " FROM dead_letters WHERE status IN ('pending', 'retrying')")[0];
      out["byAge"] = {{"lt1h", age[0].as<std::int64_t>()},
                      {"1hTo1d", age[1].as<std::int64_t>()},
                      {"1dTo7d", age[2].as<std::int64_t>()},
                      {"gt7d", age[3].as<std::int64_t>()}};
      auto oldest = tx.exec(
          "SELECT id, flowd_micros(created_at) FROM dead_letters WHERE status = 'pending'"
          " ORDER BY created_at, id LIMIT 1");
      if (!oldest.empty())
        out["oldestPending"] = {{"id", oldest[0][0].as<std::int64_t>()},
                                {"createdAt", *micros_text(oldest[0][1])}};
      auto retries = tx.exec(
          "SELECT count(*), count(*) FILTER (WHERE outcome = 'completed'),"
          " count(*) FILTER (WHERE outcome = 'failed'), count(*) FILTER (WHERE outcome IS NULL)"
          " FROM dead_letter_retries")[0];
      const auto completed = retries[1].as<std::int64_t>();
      const auto failed = retries[2].as<std::int64_t>();
      out["retries"] = {
          {"started", retries[0].as<std::int64_t>()},
          {"completed", completed},
          {"failed", failed},
          {"running", retries[3].as<std::int64_t>()},
          {"successRate", completed + failed == 0 ? Json()
                                                  : Json(static_cast<double>(completed) /
                                                         static_cast<double>(completed + failed))}};
      auto res = tx.exec(
          "SELECT count(*), avg(extract(epoch FROM resolved_at - created_at)),"
          " max(extract(epoch FROM resolved_at - created_at))"
          " FROM dead_letters WHERE status = 'resolved' AND resolved_at IS NOT NULL")[0];
      out["resolution"] = {{"resolved", res[0].as<std::int64_t>()},
                           {"avgSeconds", res[1].is_null() ? Json() : Json(res[1].as<double>())},
                           {"maxSeconds", res[2].is_null() ? Json() : Json(res[2].as<double>())}};
    });
    if (!read) return tl::unexpected(read.error());
    return out;
  }

  Result<Json> batch_progress(const std::string& batch) {
    Json out{{"batch", batch}};
    auto read = letters_.transact("batch", [&](void* w) {
      auto& tx = *static_cast<pqxx::work*>(w);
      auto r = tx.exec_params(
          "SELECT count(*), count(*) FILTER (WHERE outcome = 'completed'),"
          " count(*) FILTER (WHERE outcome = 'failed'), count(*) FILTER (WHERE outcome IS NULL)"
          " FROM dead_letter_retries WHERE batch = $1",
          batch)[0];
      out["started"] = r[0].as<std::int64_t>();
      out["completed"] = r[1].as<std::int64_t>();
      out["failed"] = r[2].as<std::int64_t>();
      out["running"] = r[3].as<std::int64_t>();
    });
    if (!read) return tl::unexpected(read.error());
    return out;
  }
};

Reprocessor::Reprocessor(eventstore::EventStore& store, DeadLetterStore& letters)
    : impl_(std::make_unique<Impl>(store, letters)) {}
Reprocessor::~Reprocessor() = default;

Result<RetryResult> Reprocessor::retry(std::int64_t id, const RetryOptions& options) {
  try {
    return impl_->retry(id, options);
  } catch (const std::exception& e) {
    return tl::unexpected(translate_database_error(e, "retry"));
  }
}

Result<DeadLetter> Reprocessor::discard(std::int64_t id, const std::string& actor,
                                        const std::string& reason) {
  if (reason.empty())
    return fail(ErrorCode::kInvalidInput, "discarding needs a reason (--reason): it is audited");
  return impl_->close(id, "discarded", "Discarded", actor, reason);
}

Result<DeadLetter> Reprocessor::archive(std::int64_t id, const std::string& actor,
                                        const std::string& reason) {
  return impl_->close(id, "archived", "Archived", actor, reason);
}

Result<Json> Reprocessor::show(std::int64_t id) {
  return impl_->show(id);
}
Result<Json> Reprocessor::stats() {
  return impl_->stats();
}
Result<Json> Reprocessor::batch_progress(const std::string& batch) {
  return impl_->batch_progress(batch);
}

Result<Json> dead_letters_of_execution(DeadLetterStore& letters, const std::string& execution_id) {
  Json out = Json::array();
  auto read = letters.transact("execution audit", [&](void* w) {
    auto& tx = *static_cast<pqxx::work*>(w);
    // The letter its failure made, and the letter it is a retry of (with that retry's number).
    for (const auto& ref :
         tx.exec_params("SELECT id, NULL::int FROM dead_letters WHERE execution_id = $1 UNION ALL"
                        " SELECT dead_letter_id, retry_number FROM dead_letter_retries"
                        " WHERE execution_id = $1 ORDER BY 1",
                        execution_id)) {
      auto rows = tx.exec_params(
          std::string("SELECT ") + dead_letter_columns() + " FROM dead_letters WHERE id = $1",
          ref[0].as<std::int64_t>());
      if (rows.empty()) continue;
      const DeadLetter d = read_dead_letter_row(rows[0]);
      const auto number = ref[1];
      Json j{{"id", d.id},
             {"relation", number.is_null() ? "failed" : "retry"},
             {"kind", to_string(d.kind)},
             {"state", to_string(d.status)},
             {"errorCode", d.reason_code},
             {"errorMessage", d.reason_message},
             {"attempts", d.attempts},
             {"createdAt", format_time(d.created_at)}};
      if (!number.is_null()) j["retryNumber"] = number.as<int>();
      if (!d.execution_id.empty()) j["executionId"] = d.execution_id;
      if (!d.failed_step.empty()) j["failedStep"] = d.failed_step;
      if (!d.resolution.empty()) j["resolution"] = d.resolution;
      j["retries"] = retries_of(tx, d.id);
      j["actions"] = actions_of(tx, d.id);
      out.push_back(std::move(j));
    }
  });
  if (!read) return tl::unexpected(read.error());
  return out;
}

}  // namespace flowd::dlq
