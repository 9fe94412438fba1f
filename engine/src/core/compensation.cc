// Failure handling of Engine::Run (docs/dlq.md): when an execution fails for good (a step failed
// after its retries and fallbacks, or the workflow timed out), the `compensate:` actions of the
// steps that completed run in the reverse order of their completion — a saga — or, when the
// workflow names `spec.onFailure`, that workflow runs instead with the failure as its input.
//
// Every compensation is write-ahead like a step: CompensationStarted is durable before the
// action runs, CompensationCompleted / CompensationFailed after. The fold keeps each one's state
// (ExecutionState::compensations), so a resumed run skips those that ended and runs an
// interrupted one again as its next attempt. A failed compensation is recorded and the others
// still run. The final ExecutionFailed / ExecutionTimedOut follows, with a summary.
#include <algorithm>

#include "core/attempt_times.h"
#include "core/run.h"

namespace flowd {

namespace asio = boost::asio;
using asio::awaitable;

namespace {

// "id" or "id[3]" -> (id, index)
std::pair<std::string_view, std::optional<std::size_t>> split_segment(std::string_view seg) {
  if (seg.empty() || seg.back() != ']') return {seg, std::nullopt};
  const auto open = seg.find('[');
  if (open == std::string_view::npos) return {seg, std::nullopt};
  std::size_t n = 0;
  for (std::size_t i = open + 1; i + 1 < seg.size(); ++i) {
    if (seg[i] < '0' || seg[i] > '9') return {seg, std::nullopt};
    n = n * 10 + static_cast<std::size_t>(seg[i] - '0');
  }
  return {seg.substr(0, open), n};
}

const StepDef* find_in(const std::vector<StepDef>& level, std::string_view id) {
  for (const auto& s : level)
    if (s.id == id) return &s;
  return nullptr;
}

// The steps one level below `step`: its group body, or the groups of its switch cases.
const StepDef* find_below(const StepDef& step, std::string_view id) {
  if (const StepDef* s = find_in(step.body.steps, id)) return s;
  if (step.switch_def) {
    for (const auto& c : step.switch_def->cases)
      if (const StepDef* s = find_in(c.body.steps, id)) return s;
    if (step.switch_def->default_body)
      if (const StepDef* s = find_in(step.switch_def->default_body->steps, id)) return s;
  }
  return nullptr;
}

// The definition of a step path ("a", "a[3]", "g.inner", "each[2].check") and the forEach item
// index of its last segment. Fallback paths ("a~alt") have none: a fallback is not compensated.
std::pair<const StepDef*, std::optional<std::size_t>> resolve(const Definition& def,
                                                              std::string_view path) {
  if (path.find('~') != std::string_view::npos) return {nullptr, std::nullopt};
  const StepDef* current = nullptr;
  std::optional<std::size_t> index;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto dot = path.find('.', start);
    std::string_view seg = path.substr(start, dot == std::string_view::npos ? dot : dot - start);
    auto [id, n] = split_segment(seg);
    current = current ? find_below(*current, id) : find_in(def.steps, id);
    if (!current) return {nullptr, std::nullopt};
    index = n;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return {current, index};
}

bool should_retry(const RetryPolicy& policy, const Error& e, int attempt) {
  if (attempt >= policy.max_attempts) return false;
  if (policy.on.empty()) return e.retryable;
  return std::find(policy.on.begin(), policy.on.end(), e.code) != policy.on.end();
}

// One compensation to run: a completed step (or forEach item) whose definition has `compensate:`.
struct CompensationItem {
  std::int64_t version;  // its StepCompleted's stream version
  std::size_t order;     // item index within one forEach completion
  std::string path;
  const StepDef* def;
  std::optional<std::size_t> index;
  Json output;
};

// The compensations of a failed execution, latest completion first. (Not a coroutine: GCC 12
// mishandles lambdas and structured bindings inside coroutines.)
std::vector<CompensationItem> compensation_plan(const Definition& definition,
                                                const ExecutionState& state) {
  std::vector<CompensationItem> items;
  for (const auto& [path, s] : state.steps) {
    if (s.status != StepStatus::kSucceeded || s.completed_version == 0) continue;
    auto [def, index] = resolve(definition, path);
    if (!def || !def->compensate) continue;
    if (def->for_each && !index) {
      // The forEach step itself: its items are compensated, each once. Items folded into the
      // step's state (more than kForEachItemDetailLimit) have no entries of their own: take them
      // from the step's output, in reverse index order, at the step's completion.
      const Json outputs = s.output.is_object() ? s.output.value("outputs", Json()) : Json();
      if (!outputs.is_array()) continue;
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        const std::string item_path = path + "[" + std::to_string(i) + "]";
        if (state.steps.count(item_path) || outputs[i].is_null()) continue;
        items.push_back({s.completed_version, i, item_path, def, i, outputs[i]});
      }
      continue;
    }
    items.push_back({s.completed_version, index.value_or(0), path, def, index, s.output});
  }
  std::sort(items.begin(), items.end(), [](const CompensationItem& a, const CompensationItem& b) {
    return a.version != b.version ? a.version > b.version : a.order > b.order;
  });
  return items;
}

// Built outside the coroutine: GCC 12 rejects some braced JSON initialisers inside one.
Json on_failure_summary(const std::string& ref, const std::string& child,
                        const std::string& status) {
  Json j = Json::object();
  j["onFailure"] = ref;
  if (!child.empty()) j["execution"] = child;
  j["status"] = status;
  return j;
}

Json failure_input(const std::string& id, const Definition& def, const Error& error,
                   const std::string& step, const Json& input) {
  Json j = Json::object();
  j["executionId"] = id;
  j["workflow"] = def.name;
  j["version"] = def.version;
  j["error"] = to_json(error);
  j["step"] = step;
  j["input"] = input;
  return j;
}

Json on_failure_with(const std::string& ref, Json input) {
  Json j = Json::object();
  j["ref"] = ref;
  j["input"] = std::move(input);
  return j;
}

Json started_data(const std::string& ref, const std::string& child) {
  Json j = Json::object();
  j["type"] = "workflow";
  j["onFailure"] = ref;
  j["execution"] = child;
  return j;
}

bool has_compensation(const Definition& definition, const ExecutionState& state) {
  for (const auto& [path, s] : state.steps) {
    if (s.status != StepStatus::kSucceeded || s.completed_version == 0) continue;
    auto [def, index] = resolve(definition, path);
    if (def && def->compensate) return true;
  }
  return false;
}

}  // namespace

bool Engine::Run::has_failure_handling() const {
  return definition_->on_failure.has_value() || has_compensation(*definition_, state_);
}

Error Engine::Run::timeout_error() const {
  return Error{ErrorCode::kTimeout, "the execution timed out", false};
}

Json Engine::Run::timed_out_data(Json compensation) const {
  Json data{{"timeoutMs", definition_->timeout.count()}};
  if (!compensation.is_null()) data["compensation"] = std::move(compensation);
  return data;
}

Json Engine::Run::failed_data(const NodeResult& result, Json compensation) const {
  Json data{{"error", to_json(result.error)}, {"step", result.step}};
  if (!compensation.is_null()) data["compensation"] = std::move(compensation);
  return data;
}

awaitable<Json> Engine::Run::handle_failure(Graph& top, const Error& error,
                                            const std::string& step) {
  if (log_failed_ || !has_failure_handling()) co_return Json();
  if (definition_->on_failure) co_return co_await run_on_failure(top, error, step);
  co_return co_await compensate(top);
}

awaitable<Json> Engine::Run::compensate(Graph& top) {
  const std::vector<CompensationItem> items = compensation_plan(*definition_, state_);
  int completed = 0, failed = 0, skipped = 0;
  Json order = Json::array();
  for (const CompensationItem& item : items) {
    if (log_failed_) break;
    order.push_back(item.path);
    if (auto it = state_.compensations.find(item.path);
        it != state_.compensations.end() && it->second != "started") {
      ++skipped;  // ended before a restart: at most once
      continue;
    }
    const CompensateDef& c = *item.def->compensate;
    // Templates: the step's scope plus `self` (its `with` rendered again, its output) and, for a
    // forEach item, `item` / `index` (items rendered again from the top-level scope).
    Scope scope(&top.scope);
    Json items_value, item_value, index_value;
    if (item.index && item.def->for_each) {
      if (auto rendered = item.def->for_each->items.render(top.scope);
          rendered && rendered->is_array()) {
        items_value = std::move(*rendered);
        if (*item.index < items_value.size()) item_value = items_value[*item.index];
      }
      index_value = *item.index;
      scope.bind(item.def->for_each->as, &item_value);
      scope.bind("index", &index_value);
    }
    Json self{{"output", item.output}, {"input", Json()}};
    if (auto with = item.def->body.with.render(scope, MissingPolicy::kNull)) self["input"] = *with;
    scope.bind("self", &self);
    StepDef shape;
    shape.id = item.def->id;
    shape.timeout = c.timeout;
    const RetryPolicy policy = c.retry.value_or(RetryPolicy{});
    int attempt = state_.compensation_attempts[item.path];
    for (;;) {
      ++attempt;
      emit(EventType::kCompensationStarted, item.path, attempt, {{"type", c.type}});
      if (!co_await flush()) co_return Json();
      // Secrets exist only for the attempt, as for a step (run_body): resolved now (audited as
      // SecretAccessed of the compensated step), bound for this `with` alone, masked in every
      // event appended afterwards.
      Result<Json> secrets = resolve_secrets(c.with, item.path);
      Result<Json> r = fail(ErrorCode::kInternal, "compensation did not run");
      if (!secrets) {
        r = tl::unexpected(secrets.error());
      } else {
        Scope with_scope(&scope);
        with_scope.bind("secrets", &*secrets);
        Result<Json> with = c.with.render(with_scope);
        if (!with) {
          Error e = with.error();
          e.message = "compensate of step '" + item.path + "': " + e.message;
          r = tl::unexpected(e);
        } else {
          const std::string path = "compensate:" + item.path;
          Result<detail::AttemptTimes> times = detail::plan_attempt(
              engine_.deps_.runners ? engine_.deps_.runners->find(c.type) : nullptr, path, *with,
              engine_.deps_.now(), c.timeout, definition_->default_step_timeout, std::nullopt);
          if (!times) {
            r = tl::unexpected(times.error());
          } else {
            std::string key = state_.id + "/" + path + "/" + std::to_string(attempt);
            r = co_await invoke(shape, c.type, path, attempt, std::move(key), std::move(*with),
                                *times);
          }
        }
      }
      if (r) {
        emit(EventType::kCompensationCompleted, item.path, attempt, {{"output", std::move(*r)}});
        ++completed;
        break;
      }
      if (should_retry(policy, r.error(), attempt)) {
        co_await sleep(retry_delay(policy, attempt));
        continue;
      }
      emit(EventType::kCompensationFailed, item.path, attempt, {{"error", to_json(r.error())}});
      ++failed;
      break;
    }
  }
  co_return Json{{"order", std::move(order)},
                 {"completed", completed},
                 {"failed", failed},
                 {"skipped", skipped}};
}

awaitable<Json> Engine::Run::run_on_failure(Graph& top, const Error& error,
                                            const std::string& step) {
  const OnFailureDef& f = *definition_->on_failure;
  const std::string ref = f.workflow + (f.version ? "@" + std::to_string(*f.version) : "");
  const auto previous = state_.compensations.find("");
  if (previous != state_.compensations.end() && previous->second != "started")
    co_return on_failure_summary(ref, {}, previous->second);
  Json failure = failure_input(state_.id, *definition_, error, step, state_.input);
  Json input = failure;
  if (f.input) {
    Scope scope(&top.scope);
    scope.bind("failure", &failure);
    auto rendered = f.input->render(scope);
    if (rendered) input = std::move(*rendered);
  }
  int attempt = state_.compensation_attempts[""];
  if (previous != state_.compensations.end()) {
    interrupted_["onFailure"] = attempt;  // adopt the child the interrupted attempt started
  } else {
    ++attempt;
  }
  const std::string child = state_.id + ".onFailure." + std::to_string(attempt);
  emit(EventType::kCompensationStarted, "", attempt, started_data(ref, child));
  if (!co_await flush()) co_return Json();
  StepDef shape;
  shape.id = "onFailure";
  shape.timeout = definition_->timeout;
  Json with = on_failure_with(ref, std::move(input));
  Result<detail::AttemptTimes> times =
      detail::plan_attempt(nullptr, "onFailure", with, engine_.deps_.now(), definition_->timeout,
                           definition_->default_step_timeout, std::nullopt);
  Result<Json> r = fail(ErrorCode::kInternal, "onFailure did not run");
  if (!times) {
    r = tl::unexpected(times.error());
  } else {
    std::string key = state_.id + "/onFailure/" + std::to_string(attempt);
    r = co_await invoke(shape, "workflow", "onFailure", attempt, std::move(key), std::move(with),
                        *times);
  }
  if (r) {
    Json data = Json::object();
    data["output"] = std::move(*r);
    emit(EventType::kCompensationCompleted, "", attempt, std::move(data));
    co_return on_failure_summary(ref, child, "completed");
  }
  Json data = Json::object();
  data["error"] = to_json(r.error());
  emit(EventType::kCompensationFailed, "", attempt, std::move(data));
  co_return on_failure_summary(ref, child, "failed");
}

}  // namespace flowd
