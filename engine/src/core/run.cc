#include "core/run.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <cmath>
#include <unordered_map>

#include "flowd/engine/timers.h"

namespace flowd {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;

namespace {

constexpr int kMaxFallbackDepth = 4;

bool is_done(StepStatus s) {
  return s == StepStatus::kSucceeded || s == StepStatus::kSkipped || s == StepStatus::kFailed;
}

std::int64_t elapsed_ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               since)
      .count();
}

std::string idempotency_key(const std::string& execution, const std::string& path, int attempt) {
  return execution + "/" + path + "/" + std::to_string(attempt);
}

// Registers a CancelSignal in a list for as long as the guard lives.
class ActiveGuard {
 public:
  ActiveGuard(std::list<std::shared_ptr<CancelSignal>>& list, std::shared_ptr<CancelSignal> s)
      : list_(list), it_(list.insert(list.end(), std::move(s))) {}
  ~ActiveGuard() { list_.erase(it_); }
  ActiveGuard(const ActiveGuard&) = delete;
  ActiveGuard& operator=(const ActiveGuard&) = delete;

 private:
  std::list<std::shared_ptr<CancelSignal>>& list_;
  std::list<std::shared_ptr<CancelSignal>>::iterator it_;
};

// Runs an awaitable against a timeout and a CancelSignal; whichever comes first decides. The
// awaitable keeps running detached after a timeout, with the signal raised so it stops early.
awaitable<Result<Json>> race(asio::io_context& io, awaitable<Result<Json>> work, Millis wait,
                             Millis timeout, std::shared_ptr<CancelSignal> cancel,
                             std::string what) {
  struct State {
    explicit State(asio::io_context& io) : timer(io) {}
    std::optional<Result<Json>> result;
    asio::steady_timer timer;
  };
  auto state = std::make_shared<State>(io);
  state->timer.expires_after(wait);  // what is left of `timeout` (less after a resume)
  cancel->on_cancel([state] { state->timer.cancel(); });
  asio::co_spawn(io, std::move(work), [state](std::exception_ptr ep, Result<Json> r) {
    if (state->result) return;
    if (ep) {
      try {
        std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        r = fail(ErrorCode::kInternal, std::string("step runner threw: ") + e.what());
      } catch (...) {
        r = fail(ErrorCode::kInternal, "step runner threw an unknown exception");
      }
    }
    state->result = std::move(r);
    state->timer.cancel();
  });
  boost::system::error_code ec;
  co_await state->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  if (state->result) co_return std::move(*state->result);
  if (!ec) {
    state->result =
        fail(ErrorCode::kTimeout, what + " timed out after " + format_duration(timeout), true);
    cancel->cancel();
    co_return *state->result;
  }
  state->result = fail(ErrorCode::kCancelled, what + " was cancelled");
  co_return *state->result;
}

}  // namespace

Engine::Run::Run(Engine& engine, std::shared_ptr<const Definition> definition, StartOptions options,
                 ExecutionDone done)
    : engine_(engine),
      io_(engine.io_),
      definition_(std::move(definition)),
      options_(std::move(options)),
      done_(std::move(done)),
      durable_(io_),
      changed_(io_),
      slots_(io_, definition_->max_parallel > 0 ? definition_->max_parallel : 1) {
  state_.id = options_.execution_id;
}

Engine::Run::~Run() {
  if (deadlines_) deadlines_->remove(*this);
}

void Engine::Run::deadline_expired() {
  stop(StopKind::kTimedOut, "execution timed out");
}

void Engine::Run::start_new() {
  // The input and context move into the event: the run reads them from its state from now on.
  Event started = detail::started_event_moving(*definition_, options_, engine_.deps_.now());
  emit(started.type, {}, 0, std::move(started.data));
  asio::co_spawn(io_, main(false), asio::detached);
}

void Engine::Run::start_resumed(ExecutionState state) {
  state_ = std::move(state);
  durable_version_ = state_.version;
  paused_ = state_.status == ExecutionStatus::kPaused;
  for (const auto& [path, step] : state_.steps) {
    if (step.status == StepStatus::kRunning && step.attempts > 0)
      interrupted_[path] = step.attempts;
  }
  asio::co_spawn(io_, main(true), asio::detached);
}

awaitable<void> Engine::Run::main(bool resumed) {
  auto self = shared_from_this();
  // The workflow deadline is the one ExecutionStarted recorded (timers.h), also after a resume.
  const TimePoint deadline =
      state_.deadline != TimePoint{} ? state_.deadline : state_.started + definition_->timeout;
  (void)resumed;
  deadlines_ = &asio::use_service<detail::DeadlineQueue>(io_);
  deadlines_->add(*this,
                  std::chrono::steady_clock::now() + time_until(deadline, engine_.deps_.now()));

  Graph top(nullptr, "");
  top.scope.bind("input", &state_.input);
  top.scope.bind("context", &state_.context);

  NodeResult result;
  try {
    result = co_await run_graph(definition_->steps, top);
  } catch (const std::exception& e) {
    result.outcome = Outcome::kFailed;
    result.error = Error{ErrorCode::kInternal, std::string("engine error: ") + e.what(), false};
  }
  deadlines_->remove(*this);

  if (log_failed_) {
    finish();
    co_return;
  }
  if (stop_kind_ == StopKind::kCancelled) {
    emit(EventType::kExecutionCancelled, {}, 0, {{"reason", stop_reason_}});
  } else if (stop_kind_ == StopKind::kTimedOut) {
    // Compensation first (core/compensation.cc); named values only across the co_await (GCC 12
    // destroyed temporaries of a co_await expression twice).
    Json handled;
    if (has_failure_handling()) {
      const Error timed_out = timeout_error();
      handled = co_await handle_failure(top, timed_out, result.step);
    }
    emit(EventType::kExecutionTimedOut, {}, 0, timed_out_data(std::move(handled)));
  } else if (result.outcome == Outcome::kFailed) {
    Json handled;
    if (has_failure_handling()) handled = co_await handle_failure(top, result.error, result.step);
    emit(EventType::kExecutionFailed, {}, 0, failed_data(result, std::move(handled)));
  } else {
    Result<Json> output = Json::object();
    if (definition_->output) {
      output = definition_->output->render(top.scope);
    } else {
      for (const auto& [id, step] : top.steps.items())
        if (auto it = step.find("output"); it != step.end()) (*output)[id] = *it;
    }
    if (output) {
      emit(EventType::kExecutionCompleted, {}, 0,
           {{"output", std::move(*output)}, {"durationMs", state_.duration_ms()}});
    } else {
      Error error = output.error();
      error.message = "workflow output: " + error.message;
      emit(EventType::kExecutionFailed, {}, 0, {{"error", to_json(error)}, {"step", ""}});
    }
  }
  co_await flush();
  finish();
}

void Engine::Run::finish() {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();
  if (done_) done_(state_);
  engine_.finished(state_.id);
}

// ---- the step graph -------------------------------------------------------------------------

namespace {

// The dependencies of each step of one level as indexes into it (flat: deps[first[i]..first[i+1])),
// so that readiness checks compare integers, not names. Names outside the level are ignored.
struct DependencyIndex {
  std::vector<std::uint32_t> first;
  std::vector<std::uint32_t> deps;

  explicit DependencyIndex(const std::vector<StepDef>& steps) {
    const std::size_t n = steps.size();
    first.reserve(n + 1);
    std::unordered_map<std::string_view, std::uint32_t> by_id;
    if (n > 8) {
      by_id.reserve(n);
      for (std::size_t i = 0; i < n; ++i) by_id.emplace(steps[i].id, static_cast<std::uint32_t>(i));
    }
    for (std::size_t i = 0; i < n; ++i) {
      first.push_back(static_cast<std::uint32_t>(deps.size()));
      for (const std::string& dep : steps[i].depends_on)
        if (auto j = find(steps, by_id, dep)) deps.push_back(*j);
    }
    first.push_back(static_cast<std::uint32_t>(deps.size()));
  }

  static std::optional<std::uint32_t> find(
      const std::vector<StepDef>& steps,
      const std::unordered_map<std::string_view, std::uint32_t>& by_id, std::string_view id) {
    if (!by_id.empty()) {
      auto it = by_id.find(id);
      return it == by_id.end() ? std::nullopt : std::optional<std::uint32_t>(it->second);
    }
    for (std::size_t i = 0; i < steps.size(); ++i)
      if (steps[i].id == id) return static_cast<std::uint32_t>(i);
    return std::nullopt;
  }
};

}  // namespace

awaitable<Engine::Run::NodeResult> Engine::Run::run_graph(const std::vector<StepDef>& steps,
                                                          Graph& graph) {
  const std::size_t n = steps.size();
  const DependencyIndex index(steps);
  std::vector<char> started(n, 0), done(n, 0);
  std::size_t done_count = 0;
  // A step named by another's `fallback.step` runs only in that role, never on its own.
  for (const StepDef& s : steps)
    if (s.fallback.kind == Fallback::Kind::kStep)
      if (auto j = DependencyIndex::find(steps, {}, s.fallback.step); j && !done[*j]) {
        started[*j] = done[*j] = 1;
        ++done_count;
      }

  int running = 0;
  std::optional<NodeResult> failure;

  auto ready = [&](std::size_t i) {
    for (std::uint32_t k = index.first[i]; k < index.first[i + 1]; ++k)
      if (!done[index.deps[k]]) return false;
    return true;
  };
  auto finished = [&](std::size_t i, NodeResult r) {
    done[i] = 1;
    ++done_count;
    if (r.outcome == Outcome::kFailed && !failure) failure = std::move(r);
  };

  while (true) {
    if (!paused_ && stop_kind_ == StopKind::kNone && !failure) {
      // The ready steps; when exactly one is ready and none runs, it is awaited here rather than
      // spawned (a sequential chain then costs no coroutine spawn and no wake-up per step).
      std::size_t first_ready = n, ready_count = 0;
      for (std::size_t i = 0; i < n && (running > 0 || ready_count < 2); ++i) {
        if (started[i] || !ready(i)) continue;
        if (ready_count++ == 0) first_ready = i;
      }
      if (running == 0 && ready_count == 1) {
        started[first_ready] = 1;
        NodeResult r;
        bool threw = false;
        try {
          r = co_await run_node(steps[first_ready], graph);
        } catch (...) {
          threw = true;
        }
        if (threw) r = node_error(graph, steps[first_ready]);
        finished(first_ready, std::move(r));
        continue;
      }
      for (std::size_t i = first_ready; ready_count > 0 && i < n; ++i) {
        if (started[i] || !ready(i)) continue;
        started[i] = 1;
        ++running;
        asio::co_spawn(io_, run_node(steps[i], graph), [&, i](std::exception_ptr ep, NodeResult r) {
          if (ep) r = node_error(graph, steps[i]);
          --running;
          finished(i, std::move(r));
          changed_.notify_all();
        });
      }
    }
    bool halted = failure || stop_kind_ != StopKind::kNone;
    if (running == 0 && (done_count == n || halted)) break;
    // Woken by a finished node, or by pause/resume/stop.
    co_await changed_.wait();
  }
  if (failure) co_return std::move(*failure);
  NodeResult ok;
  if (stop_kind_ != StopKind::kNone) ok.outcome = Outcome::kStopped;
  co_return ok;
}

Engine::Run::NodeResult Engine::Run::node_error(const Graph& graph, const StepDef& step) {
  NodeResult r;
  r.outcome = Outcome::kFailed;
  r.error = Error{ErrorCode::kInternal, "engine error in step", false};
  r.step = graph.prefix + step.id;
  return r;
}

// Makes the step's result visible to later templates as `steps.<id>`. `output` is the node's own
// output, moved in when it is the state's (a success) to save a copy.
void Engine::Run::record(Graph& graph, const std::string& id, const std::string& path,
                         NodeResult* result) {
  auto it = state_.steps.find(path);
  if (it == state_.steps.end()) return;
  const StepState& s = it->second;
  Json j = Json::object();
  j["status"] = to_string(s.status);
  if (result && result->outcome == Outcome::kSucceeded && s.status == StepStatus::kSucceeded)
    j["output"] = std::move(result->output);
  else
    j["output"] = s.output;
  j["attempts"] = s.attempts;
  if (s.error && s.status == StepStatus::kFailed) j["error"] = to_json(*s.error);
  graph.steps[id] = std::move(j);
}

awaitable<Engine::Run::NodeResult> Engine::Run::run_node(const StepDef& step, Graph& graph) {
  auto self = shared_from_this();
  const std::string path = graph.prefix + step.id;
  NodeResult result;

  auto existing = state_.steps.find(path);
  if (existing != state_.steps.end() && is_done(existing->second.status)) {
    // Finished before a restart: its result stands, it does not run again.
    record(graph, step.id, path, nullptr);
    const StepState& s = existing->second;
    if (s.status == StepStatus::kSkipped) result.outcome = Outcome::kSkipped;
    if (s.status == StepStatus::kFailed) {
      result.outcome = step.continue_on_error ? Outcome::kTolerated : Outcome::kFailed;
      result.error = s.error.value_or(Error{});
      result.step = path;
    }
    result.output = s.output;
    co_return result;
  }
  if (existing == state_.steps.end()) emit(EventType::kStepScheduled, path, 0, Json::object());

  if (step.for_each) {
    result = co_await run_for_each(step, graph, path);
  } else {
    const StepBody* body = &step.body;
    Json start_data = Json::object();
    bool skipped = false;
    std::optional<Error> error;
    if (step.condition) {
      auto truth = step.condition->evaluate(graph.scope);
      if (!truth) {
        error = truth.error();
        error->message = "step '" + path + "' condition: " + error->message;
      } else if (!*truth) {
        emit(EventType::kStepSkipped, path, 0,
             {{"reason", "condition is false: " + step.condition->text()}});
        skipped = true;
      }
    }
    if (!error && !skipped && step.switch_def) {
      auto value = step.switch_def->value.value(graph.scope);
      if (!value) {
        error = value.error();
        error->message = "step '" + path + "' switch value: " + error->message;
      } else {
        body = nullptr;
        for (std::size_t c = 0; c < step.switch_def->cases.size(); ++c) {
          const SwitchCase& sc = step.switch_def->cases[c];
          auto eq = [](const Json& a, const Json& b) {
            if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
            return a == b;
          };
          if (eq(sc.match, *value)) {
            body = &sc.body;
            start_data["case"] = c;
            start_data["match"] = sc.match;
            break;
          }
        }
        if (!body && step.switch_def->default_body) {
          body = &*step.switch_def->default_body;
          start_data["case"] = "default";
        }
        if (!body)
          error = Error{ErrorCode::kInvalidInput,
                        "step '" + path + "': switch value " + value->dump() +
                            " matches no case and there is no default",
                        false};
      }
    }
    if (skipped) {
      result.outcome = Outcome::kSkipped;
    } else if (error) {
      emit(EventType::kStepFailed, path, 0, {{"error", to_json(*error)}, {"final", true}});
      result = co_await after_failure(step, path, *error, graph.scope, 0);
    } else {
      result = co_await run_body(step, *body, path, graph.scope, std::move(start_data), 0);
    }
  }
  record(graph, step.id, path, &result);
  co_return result;
}

awaitable<Engine::Run::NodeResult> Engine::Run::run_for_each(const StepDef& step, Graph& graph,
                                                             const std::string& path) {
  NodeResult result;
  const ForEachDef& fe = *step.for_each;
  auto items_value = fe.items.render(graph.scope);
  Json items;
  std::optional<Error> error;
  if (!items_value) {
    error = items_value.error();
  } else if (!items_value->is_array()) {
    error = Error{ErrorCode::kInvalidInput,
                  "forEach.items of step '" + path + "' is " +
                      std::string(items_value->type_name()) + ", not an array",
                  false};
  } else {
    items = std::move(*items_value);
  }
  if (error) {
    emit(EventType::kStepFailed, path, 0, {{"error", to_json(*error)}, {"final", true}});
    co_return co_await after_failure(step, path, *error, graph.scope, 0);
  }

  if (state_.steps[path].attempts == 0)
    emit(EventType::kStepStarted, path, 1, {{"itemCount", items.size()}});
  ForEachJob job{step, graph, path, items, state_.steps[path], {}, {}, {}, 0, 0};
  const std::size_t count = items.size();
  job.outputs.resize(count);
  job.outcomes.resize(count, Outcome::kSucceeded);
  // Workers pull items in order; their number is the forEach's own limit.
  std::size_t limit = fe.max_parallel > 0 ? static_cast<std::size_t>(fe.max_parallel) : count;
  std::size_t workers = std::min(limit, count);
  job.active = static_cast<int>(workers);
  for (std::size_t w = 0; w < workers; ++w)
    asio::co_spawn(io_, for_each_worker(job), [this, &job](std::exception_ptr ep) {
      if (!ep) return;
      // A worker that threw never counted itself out: do it here so the step cannot hang.
      if (!job.first_error) job.first_error = Error{ErrorCode::kInternal, "forEach worker error"};
      if (--job.active == 0) changed_.notify_all();
    });
  while (job.active > 0) co_await changed_.wait();
  std::vector<Json>& outputs = job.outputs;
  std::vector<Outcome>& outcomes = job.outcomes;
  std::optional<Error>& first_error = job.first_error;
  // Items folded into the step's state (a large forEach) left their outputs there; they move
  // into the step's output, which the next event gives the state in their place.
  if (stop_kind_ == StopKind::kNone && job.folded.item_outputs.size() == count)
    for (std::size_t i = 0; i < count; ++i)
      if (job.folded.item_status[i] != StepStatus::kPending)
        outputs[i] = std::move(job.folded.item_outputs[i]);

  if (stop_kind_ != StopKind::kNone) {
    result.outcome = Outcome::kStopped;
    co_return result;
  }
  std::size_t successes = 0, failures = 0;
  for (Outcome o : outcomes) {
    if (o == Outcome::kSucceeded) ++successes;
    if (o == Outcome::kFailed || o == Outcome::kTolerated) ++failures;
  }
  Json output{{"outputs", std::move(outputs)},
              {"itemCount", count},
              {"successCount", successes},
              {"failureCount", failures}};
  if (failures > 0) {
    Error error = *first_error;
    error.message = "forEach step '" + path + "': " + std::to_string(failures) + " of " +
                    std::to_string(count) + " items failed; " + error.message;
    error.retryable = false;
    emit(EventType::kStepFailed, path, 1,
         {{"error", to_json(error)}, {"final", true}, {"output", output}});
    result = co_await after_failure(step, path, error, graph.scope, 0);
    if (result.outcome == Outcome::kTolerated) result.output = std::move(output);
    co_return result;
  }
  emit(EventType::kStepCompleted, path, 1, {{"output", output}});
  result.output = std::move(output);
  co_return result;
}

awaitable<void> Engine::Run::for_each_worker(ForEachJob& job) {
  auto self = shared_from_this();
  const StepDef& step = job.step;
  const ForEachDef& fe = *step.for_each;
  while (job.next < job.items.size() && stop_kind_ == StopKind::kNone) {
    while (paused_ && stop_kind_ == StopKind::kNone) co_await changed_.wait();
    if (stop_kind_ != StopKind::kNone) break;
    const std::size_t i = job.next++;
    const std::string item_path = job.path + "[" + std::to_string(i) + "]";
    Json index_value = i;
    Scope item_scope(&job.graph.scope);
    item_scope.bind(fe.as, &job.items[i]);
    item_scope.bind("index", &index_value);

    auto existing = state_.steps.find(item_path);
    NodeResult r;
    if (i < job.folded.item_status.size() && job.folded.item_status[i] != StepStatus::kPending) {
      // Finished before a restart, folded into the step's state with its output.
      r.outcome = job.folded.item_status[i] == StepStatus::kSucceeded ? Outcome::kSucceeded
                                                                      : Outcome::kSkipped;
    } else if (existing != state_.steps.end() && is_done(existing->second.status)) {
      const StepState& s = existing->second;
      r.output = s.output;
      r.outcome = s.status == StepStatus::kSucceeded ? Outcome::kSucceeded
                  : s.status == StepStatus::kSkipped ? Outcome::kSkipped
                                                     : Outcome::kTolerated;
      if (s.error) r.error = *s.error;
    } else {
      if (existing == state_.steps.end())
        emit(EventType::kStepScheduled, item_path, 0, Json::object());
      bool skip = false;
      std::optional<Error> cond_error;
      if (step.condition) {
        auto truth = step.condition->evaluate(item_scope);
        if (!truth)
          cond_error = truth.error();
        else
          skip = !*truth;
      }
      if (cond_error) {
        emit(EventType::kStepFailed, item_path, 0,
             {{"error", to_json(*cond_error)}, {"final", true}});
        r.outcome = Outcome::kTolerated;
        r.error = *cond_error;
      } else if (skip) {
        emit(EventType::kStepSkipped, item_path, 0,
             {{"reason", "condition is false: " + step.condition->text()}});
        r.outcome = Outcome::kSkipped;
      } else {
        Json start_data{{"index", i}};
        r = co_await run_body(step, step.body, item_path, item_scope, std::move(start_data),
                              kMaxFallbackDepth);
      }
    }
    // A folded item's output is in the step's state already (gathered when all items ran).
    if (i >= job.folded.item_status.size() || job.folded.item_status[i] == StepStatus::kPending)
      job.outputs[i] = std::move(r.output);
    job.outcomes[i] = r.outcome;
    if ((r.outcome == Outcome::kFailed || r.outcome == Outcome::kTolerated) && !job.first_error) {
      job.first_error = r.error;
      job.first_error->message = "item " + std::to_string(i) + ": " + job.first_error->message;
    }
  }
  if (--job.active == 0) changed_.notify_all();
}

// ---- one step body: action with retries, or group ------------------------------------------

awaitable<Engine::Run::NodeResult> Engine::Run::run_body(const StepDef& step, const StepBody& body,
                                                         const std::string& path,
                                                         const Scope& scope, Json start_data,
                                                         int fallback_depth) {
  if (!body.steps.empty())
    co_return co_await run_group(step, body, path, scope, std::move(start_data), fallback_depth);

  const RetryPolicy& policy = retry_policy(step);
  int attempt = state_.steps[path].attempts;
  // Durable timers (timers.h): a step resumed mid-attempt keeps that attempt's due time and
  // deadline; one resumed during a retry's backoff waits only what is left of it.
  std::optional<detail::AttemptTimes> inherited = detail::interrupted_times(state_.steps[path]);
  if (const TimePoint retry_at = state_.steps[path].retry_due;
      state_.steps[path].status == StepStatus::kRetrying && retry_at != TimePoint{}) {
    co_await sleep(time_until(retry_at, engine_.deps_.now()));
    if (stop_kind_ != StopKind::kNone) co_return stopped_result();
  }
  const MissingPolicy missing =
      step.on_missing == OnMissing::kNull ? MissingPolicy::kNull : MissingPolicy::kError;
  while (true) {
    // Secrets exist only here, for the attempt: resolved now, bound for this `with` alone.
    auto secrets = resolve_secrets(body.with, path);
    if (!secrets) {
      emit(EventType::kStepFailed, path, attempt,
           {{"error", to_json(secrets.error())}, {"final", true}});
      co_return co_await after_failure(step, path, secrets.error(), scope, fallback_depth);
    }
    Scope with_scope(&scope);
    with_scope.bind("secrets", &*secrets);
    auto with = body.with.render(with_scope, missing);
    if (!with && with.error().code == ErrorCode::kMissingInput &&
        step.on_missing == OnMissing::kWait) {
      // Inline rather than a helper coroutine: GCC 12 resumed such a helper's frame at a wrong
      // address under ASan (-O1); keeping the loop here sidesteps that miscompilation.
      announce_waiting(path, with.error());
      if (!co_await flush()) co_return stopped_result();
      while (state_.status == ExecutionStatus::kWaiting && stop_kind_ == StopKind::kNone)
        co_await changed_.wait();
      if (stop_kind_ != StopKind::kNone) co_return stopped_result();
      continue;
    }
    if (!with) {
      Error error = with.error();
      error.message = "step '" + path + "' input: " + error.message;
      error.retryable = false;
      emit(EventType::kStepFailed, path, attempt, {{"error", to_json(error)}, {"final", true}});
      co_return co_await after_failure(step, path, error, scope, fallback_depth);
    }

    // A slot of the workflow's maxParallel is taken before the attempt is announced.
    if (!slots_.try_acquire()) co_await slots_.acquire();
    if (stop_kind_ != StopKind::kNone) {
      slots_.release();
      co_return stopped_result();
    }
    auto times = detail::plan_attempt(
        engine_.deps_.runners ? engine_.deps_.runners->find(body.type) : nullptr, path, *with,
        engine_.deps_.now(), step.timeout, definition_->default_step_timeout, inherited);
    inherited.reset();
    if (!times) {
      slots_.release();
      emit(EventType::kStepFailed, path, attempt,
           {{"error", to_json(times.error())}, {"final", true}});
      co_return co_await after_failure(step, path, times.error(), scope, fallback_depth);
    }
    ++attempt;
    std::string key = idempotency_key(state_.id, path, attempt);
    Json data = start_data;
    data["idempotencyKey"] = key;
    detail::record_times(*times, data);
    emit(EventType::kStepStarted, path, attempt, std::move(data));
    if (!co_await flush() || stop_kind_ != StopKind::kNone) {
      slots_.release();
      if (stop_kind_ != StopKind::kLogFailed && !log_failed_) {
        Error stopped{ErrorCode::kCancelled, stop_reason_, false};
        emit(EventType::kStepFailed, path, attempt, {{"error", to_json(stopped)}, {"final", true}});
      }
      co_return stopped_result();
    }
    auto began = std::chrono::steady_clock::now();
    Result<Json> outcome =
        co_await invoke(step, body.type, path, attempt, std::move(key), std::move(*with), *times);
    std::int64_t took = elapsed_ms(began);
    slots_.release();
    if (!secret_values_.empty()) {
      // A called system may echo a secret back (in a body, an error): it is masked here, so
      // neither the log nor the steps downstream ever see it.
      if (outcome)
        mask_values(*outcome, secret_values_);
      else
        outcome.error().message = mask_values(std::move(outcome.error().message), secret_values_);
    }

    if (outcome) {
      emit(EventType::kStepCompleted, path, attempt, {{"output", *outcome}, {"durationMs", took}});
      NodeResult r;
      r.output = std::move(*outcome);
      co_return r;
    }
    Error error = outcome.error();
    if (stop_kind_ != StopKind::kNone) {
      if (stop_kind_ != StopKind::kLogFailed) {
        Error stopped{ErrorCode::kCancelled, stop_reason_, false};
        emit(EventType::kStepFailed, path, attempt,
             {{"error", to_json(stopped)}, {"durationMs", took}, {"final", true}});
      }
      co_return stopped_result();
    }
    bool retry = attempt < policy.max_attempts &&
                 (policy.on.empty() ? error.retryable
                                    : std::find(policy.on.begin(), policy.on.end(), error.code) !=
                                          policy.on.end());
    if (retry) {
      Millis delay = retry_delay(policy, attempt);
      const TimePoint retry_at = engine_.deps_.now() + delay;
      emit(EventType::kStepFailed, path, attempt,
           {{"error", to_json(error)}, {"durationMs", took}, {"final", false}});
      emit(EventType::kStepRetryScheduled, path, attempt,
           {{"delayMs", delay.count()},
            {"nextAttempt", attempt + 1},
            {"dueAt", format_time(retry_at)}});
      if (!co_await flush() || stop_kind_ != StopKind::kNone) co_return stopped_result();
      co_await sleep(time_until(retry_at, engine_.deps_.now()));
      if (stop_kind_ != StopKind::kNone) co_return stopped_result();
      continue;
    }
    emit(EventType::kStepFailed, path, attempt,
         {{"error", to_json(error)}, {"durationMs", took}, {"final", true}});
    co_return co_await after_failure(step, path, error, scope, fallback_depth);
  }
}

awaitable<Engine::Run::NodeResult> Engine::Run::run_group(const StepDef& step, const StepBody& body,
                                                          const std::string& path,
                                                          const Scope& scope, Json start_data,
                                                          int fallback_depth) {
  if (state_.steps[path].attempts == 0) emit(EventType::kStepStarted, path, 1, start_data);
  Graph inner(&scope, path + ".");
  NodeResult r = co_await run_graph(body.steps, inner);
  if (r.outcome == Outcome::kStopped) co_return r;
  if (r.outcome == Outcome::kFailed) {
    Error error = r.error;
    error.message = "in step '" + r.step + "': " + error.message;
    emit(EventType::kStepFailed, path, 1, {{"error", to_json(error)}, {"final", true}});
    co_return co_await after_failure(step, path, error, scope, fallback_depth);
  }
  Result<Json> output = Json();
  if (body.output) {
    output = body.output->render(inner.scope);
  } else if (!body.steps.empty()) {
    const Json& last = inner.steps[body.steps.back().id];
    output = last.is_object() ? last.value("output", Json()) : Json();
  }
  if (!output) {
    Error error = output.error();
    error.message = "group output of step '" + path + "': " + error.message;
    emit(EventType::kStepFailed, path, 1, {{"error", to_json(error)}, {"final", true}});
    co_return co_await after_failure(step, path, error, scope, fallback_depth);
  }
  emit(EventType::kStepCompleted, path, 1, {{"output", *output}});
  NodeResult ok;
  ok.output = std::move(*output);
  co_return ok;
}

awaitable<Engine::Run::NodeResult> Engine::Run::after_failure(const StepDef& step,
                                                              const std::string& path, Error error,
                                                              const Scope& scope,
                                                              int fallback_depth) {
  NodeResult r;
  const Fallback& fb = step.fallback;
  if (fallback_depth < kMaxFallbackDepth) {
    if (fb.kind == Fallback::Kind::kValue) {
      emit(EventType::kStepFallbackUsed, path, 0,
           {{"kind", "value"}, {"output", fb.value}, {"error", to_json(error)}});
      r.output = fb.value;
      co_return r;
    }
    if (fb.kind == Fallback::Kind::kSkip) {
      emit(EventType::kStepFallbackUsed, path, 0, {{"kind", "skip"}, {"error", to_json(error)}});
      r.outcome = Outcome::kSkipped;
      co_return r;
    }
    if (fb.kind == Fallback::Kind::kStep) {
      const StepDef* alt = definition_->find_step(fb.step);
      if (alt) {
        std::string alt_path = path + "~" + alt->id;
        Json start_data = Json::object();
        start_data["fallbackFor"] = path;
        NodeResult ar = co_await run_body(*alt, alt->body, alt_path, scope, std::move(start_data),
                                          fallback_depth + 1);
        if (ar.outcome == Outcome::kStopped) co_return ar;
        if (ar.outcome == Outcome::kSucceeded) {
          emit(EventType::kStepFallbackUsed, path, 0,
               {{"kind", "step"},
                {"step", alt->id},
                {"output", ar.output},
                {"error", to_json(error)}});
          r.output = std::move(ar.output);
          co_return r;
        }
        error.message += "; fallback step '" + alt->id + "' failed too: " + ar.error.message;
      }
    }
  }
  r.outcome = step.continue_on_error ? Outcome::kTolerated : Outcome::kFailed;
  r.error = std::move(error);
  r.step = path;
  co_return r;
}

awaitable<Result<Json>> Engine::Run::invoke(const StepDef& step, const std::string& type,
                                            const std::string& path, int attempt,
                                            std::string idempotency_key, Json with,
                                            const detail::AttemptTimes& times) {
  (void)step;
  auto what = [&] { return "step '" + path + "' (" + type + ")"; };
  const TimePoint now = engine_.deps_.now();
  const Millis wait = detail::time_left(times, now);
  auto cancel = std::make_shared<CancelSignal>();
  ActiveGuard guard(active_, cancel);
  if (type == "workflow") {
    co_return co_await race(io_, run_sub_workflow(path, attempt, with, cancel), wait, times.timeout,
                            cancel, what());
  }
  StepRunner* runner = engine_.deps_.runners ? engine_.deps_.runners->find(type) : nullptr;
  if (!runner)
    co_return fail(ErrorCode::kInvalidDefinition, "unknown step type '" + type + "' in " + what());
  StepCall call{.execution_id = state_.id,
                .step = path,
                .attempt = attempt,
                .idempotency_key = std::move(idempotency_key),
                .type = type,
                .with = std::move(with),
                .timeout = wait,
                .cancel = cancel,
                .now = now,
                .due_at = times.due_at};
  if (runner->instant()) {
    // Finishes without waiting on anything: no timeout timer to race it against.
    try {
      co_return co_await runner->run(std::move(call));
    } catch (const std::exception& e) {
      co_return fail(ErrorCode::kInternal, what() + " threw: " + e.what());
    }
  }
  co_return co_await race(io_, runner->run(std::move(call)), wait, times.timeout, cancel, what());
}

awaitable<Result<Json>> Engine::Run::run_sub_workflow(const std::string& path, int attempt,
                                                      const Json& with,
                                                      std::shared_ptr<CancelSignal> cancel) {
  const std::string where = "sub-workflow step '" + path + "'";
  auto ref_it = with.find("ref");
  if (ref_it == with.end() || !ref_it->is_string())
    co_return fail(ErrorCode::kInvalidDefinition, where + " needs with.ref: name@version");
  std::string ref = *ref_it;
  std::string name = ref;
  std::optional<int> version;
  if (auto at = ref.find('@'); at != std::string::npos) {
    name = ref.substr(0, at);
    try {
      version = std::stoi(ref.substr(at + 1));
    } catch (...) {
      co_return fail(ErrorCode::kInvalidDefinition, where + ": bad ref '" + ref + "'");
    }
  }
  auto child =
      engine_.deps_.definitions ? engine_.deps_.definitions->resolve(name, version) : nullptr;
  if (!child) co_return fail(ErrorCode::kNotFound, where + ": no workflow " + ref);
  if (options_.depth + 1 > kMaxSubWorkflowDepth)
    co_return fail(ErrorCode::kInvalidDefinition, where + ": sub-workflows nest deeper than " +
                                                      std::to_string(kMaxSubWorkflowDepth));
  // The child of an attempt is `<parent>.<step>.<attempt>`. The first attempt after a resume
  // belongs to the interrupted one's child, which may have run (and done its side effects) already.
  int child_attempt = attempt;
  bool adopting = false;
  if (auto it = interrupted_.find(path); it != interrupted_.end()) {
    child_attempt = it->second;
    adopting = true;
    interrupted_.erase(it);
  }
  StartOptions child_options;
  child_options.execution_id = state_.id + "." + path + "." + std::to_string(child_attempt);
  child_options.input = with.value("input", Json::object());
  child_options.parent_execution = state_.id;
  child_options.parent_step = path;
  child_options.depth = options_.depth + 1;
  const std::string child_id = child_options.execution_id;
  Engine& engine = engine_;
  cancel->on_cancel([&engine, child_id] { engine.cancel(child_id, "parent step cancelled"); });
  std::optional<ExecutionState> existing;
  if (adopting) {
    auto loaded = co_await load_execution(child_id);
    if (!loaded) {
      Error error = loaded.error();
      error.message = where + ": cannot read child execution " + child_id + ": " + error.message;
      co_return tl::unexpected(error);
    }
    existing = std::move(*loaded);
    if (existing && existing->workflow_version != child->version) {
      // It runs on the version it started with.
      auto started_on = engine_.deps_.definitions->resolve(name, existing->workflow_version);
      if (!started_on)
        co_return fail(ErrorCode::kNotFound, where + ": no workflow " + name + "@" +
                                                 std::to_string(existing->workflow_version) +
                                                 " for child execution " + child_id);
      child = std::move(started_on);
    }
  }
  // Two statements, not a conditional expression: GCC 12 destroyed the awaited result of a
  // `c ? co_await x : co_await y` before it was read.
  Result<ExecutionState> finished = fail(ErrorCode::kInternal, "sub-workflow did not run");
  if (existing) {
    finished = co_await engine_.run_from(child, std::move(*existing), std::move(child_options));
  } else {
    finished = co_await engine_.run(child, std::move(child_options));
  }
  if (!finished) co_return tl::unexpected(finished.error());
  const ExecutionState& s = *finished;
  if (s.status == ExecutionStatus::kCompleted) co_return s.output;
  Error error = s.error.value_or(Error{ErrorCode::kInternal, "sub-workflow did not complete"});
  error.message = where + ": " + child->ref() + " (execution " + s.id + ") " +
                  std::string(to_string(s.status)) +
                  (s.failed_step.empty() ? "" : " at step '" + s.failed_step + "'") + ": " +
                  error.message;
  error.retryable = false;
  co_return tl::unexpected(error);
}

namespace {

// Hands the log's answer (on any thread) back to the awaiting coroutine on `io`. A named type:
// GCC 12 mishandled lambdas created inside coroutine code.
struct LoadInitiation {
  EventLog* log;
  asio::io_context* io;
  std::string execution_id;

  template <class Handler>
  void operator()(Handler handler) {
    auto shared = std::make_shared<Handler>(std::move(handler));
    log->load(execution_id, [io = io, shared](Result<std::optional<ExecutionState>> result) {
      asio::post(*io,
                 [shared, result = std::move(result)]() mutable { (*shared)(std::move(result)); });
    });
  }
};

}  // namespace

awaitable<Result<std::optional<ExecutionState>>> Engine::Run::load_execution(
    const std::string& execution_id) {
  return asio::async_initiate<decltype(use_awaitable), void(Result<std::optional<ExecutionState>>)>(
      LoadInitiation{engine_.deps_.log, &io_, execution_id}, use_awaitable);
}

void Engine::Run::announce_waiting(const std::string& path, const Error& missing) {
  emit(EventType::kExecutionWaiting, {}, 0, {{"step", path}, {"missing", missing.message}});
}

awaitable<void> Engine::Run::sleep(Millis delay) {
  auto cancel = std::make_shared<CancelSignal>();
  ActiveGuard guard(active_, cancel);
  asio::steady_timer timer(io_);
  timer.expires_after(delay);
  cancel->on_cancel([&timer] { timer.cancel(); });
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
}

// ---- events ---------------------------------------------------------------------------------

Result<Json> Engine::Run::resolve_secrets(const JsonTemplate& with, const std::string& path) {
  Json values = Json::object();
  for (const auto& [pointer, reference] : with.references()) {
    const auto& segments = reference->path.segments;
    if (segments.size() < 2 || !std::holds_alternative<std::string>(segments[0]) ||
        std::get<std::string>(segments[0]) != "secrets" ||
        !std::holds_alternative<std::string>(segments[1]))
      continue;
    const std::string& name = std::get<std::string>(segments[1]);
    if (values.contains(name)) continue;
    auto value = engine_.deps_.secret_provider->lookup(name);
    if (!value)
      return fail(ErrorCode::kPermissionDenied,
                  "step '" + path + "': secret '" + name + "' is not available (looked for " +
                      engine_.deps_.secret_provider->describe() + ")");
    if (std::find(secret_values_.begin(), secret_values_.end(), *value) == secret_values_.end())
      secret_values_.push_back(*value);
    if (engine_.deps_.secret_masker) engine_.deps_.secret_masker->remember(*value);
    emit(EventType::kSecretAccessed, path, 0, {{"name", name}});
    values[name] = std::move(*value);
  }
  return values;
}

void Engine::Run::emit(EventType type, const std::string& path, int attempt, Json data) {
  if (!secret_values_.empty()) mask_values(data, secret_values_);
  // Aggregate initialisation: Event's default `data` (an empty object) would cost an allocation.
  Event e{type, path, attempt, std::move(data), engine_.deps_.now(), state_.version + 1};
  state_.apply(e);
  pending_.push_back(std::move(e));
}

// What an append's callback found when it ran on the engine's thread before append() returned
// (MemoryEventLog and other synchronous logs): the result is then handled inline, with no post and
// no wake-up of the flushing coroutine.
struct Engine::Run::SyncAppend {
  std::thread::id caller = std::this_thread::get_id();
  bool inside = true;  // read only on the caller's thread
  std::optional<Result<std::int64_t>> result;
};

void Engine::Run::start_append() {
  while (!append_in_flight_ && !pending_.empty() && !log_failed_) {
    append_in_flight_ = true;
    AppendRequest request;
    request.execution_id = state_.id;
    request.expected_version = durable_version_;
    request.events = std::move(pending_);
    pending_.clear();
    pending_.reserve(8);
    auto sync = std::make_shared<SyncAppend>();
    auto self = shared_from_this();
    engine_.deps_.log->append(std::move(request), [self, sync](Result<std::int64_t> result) {
      if (std::this_thread::get_id() == sync->caller && sync->inside) {
        sync->result = std::move(result);
        return;
      }
      asio::post(self->io_, [self, result = std::move(result)]() mutable {
        self->appended(std::move(result));
        self->start_append();
        self->durable_.notify_all();
      });
    });
    sync->inside = false;
    if (!sync->result) return;  // completes later, through the io_context
    appended(std::move(*sync->result));
  }
}

void Engine::Run::appended(Result<std::int64_t> result) {
  append_in_flight_ = false;
  if (result) {
    const auto every = static_cast<std::int64_t>(engine_.deps_.snapshot_every);
    if (every > 0 && engine_.deps_.snapshot && *result / every > durable_version_ / every &&
        *result == state_.version)
      engine_.deps_.snapshot(state_);
    durable_version_ = *result;
  } else {
    log_error_ = result.error();
    log_failed_ = true;  // even when already stopping: nothing more may be written
    stop(StopKind::kLogFailed, "event log append failed: " + result.error().message);
  }
}

awaitable<bool> Engine::Run::flush() {
  const std::int64_t target = state_.version;
  start_append();
  while (durable_version_ < target && !log_failed_) {
    co_await durable_.wait();
    start_append();
  }
  co_return !log_failed_;
}

// ---- control --------------------------------------------------------------------------------

void Engine::Run::stop(StopKind kind, std::string reason) {
  if (stop_kind_ != StopKind::kNone || finished_) return;
  stop_kind_ = kind;
  stop_reason_ = std::move(reason);
  auto signals = active_;  // cancel handlers may finish attempts and edit the list
  for (auto& s : signals) s->cancel();
  wake_all();
}

void Engine::Run::wake_all() {
  changed_.notify_all();
}

void Engine::Run::cancel(std::string reason) {
  stop(StopKind::kCancelled, std::move(reason));
}

bool Engine::Run::pause(std::string reason) {
  if (finished_ || paused_ || state_.terminal() || stop_kind_ != StopKind::kNone) return false;
  paused_ = true;
  Json data = Json::object();
  if (!reason.empty()) data["reason"] = reason;
  emit(EventType::kExecutionPaused, {}, 0, std::move(data));
  start_append();
  return true;
}

bool Engine::Run::resume(Json input) {
  bool waiting = state_.status == ExecutionStatus::kWaiting;
  if (finished_ || (!paused_ && !waiting) || stop_kind_ != StopKind::kNone) return false;
  paused_ = false;
  Json data = Json::object();
  if (input.is_object()) data["input"] = std::move(input);
  emit(EventType::kExecutionResumed, {}, 0, std::move(data));
  start_append();
  wake_all();
  return true;
}

// ---- policies -------------------------------------------------------------------------------

const RetryPolicy& Engine::Run::retry_policy(const StepDef& step) const {
  return step.retry ? *step.retry : definition_->default_retry;
}

Millis Engine::Run::retry_delay(const RetryPolicy& policy, int attempt) {
  double delay = static_cast<double>(policy.backoff.count()) *
                 std::pow(policy.multiplier, static_cast<double>(attempt - 1));
  delay = std::min(delay, static_cast<double>(policy.max_backoff.count()));
  if (policy.jitter > 0) {
    if (!engine_.deps_.random && !random_)  // seeded on first use: 2.5 kB of state per run
      random_ = std::make_unique<std::mt19937_64>(
          std::hash<std::string>{}(state_.id) ^
          static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
    double r = engine_.deps_.random ? engine_.deps_.random()
                                    : std::uniform_real_distribution<double>(0.0, 1.0)(*random_);
    delay += delay * policy.jitter * r;
  }
  return Millis(static_cast<std::int64_t>(delay));
}

}  // namespace flowd
