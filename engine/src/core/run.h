#pragma once
// Engine::Run is one execution in flight: it walks the definition's step graph, emits every
// decision as an event (applied to its ExecutionState and appended to the EventLog before the
// side effect it announces starts) and finishes with exactly one terminal event.
// Lifecycle: created by Engine::start/resume, kept alive by its own coroutines (shared_from_this)
// until the terminal event is durable. Owned by the engine's io_context thread; never locked.
#include <boost/asio/steady_timer.hpp>
#include <list>
#include <random>
#include <thread>

#include "core/async.h"
#include "core/attempt_times.h"
#include "flowd/engine/engine.h"

namespace flowd {

namespace detail {
// started_event() that moves `options.input` and `options.context` into the event; its
// `deadline` (the execution timeout, timers.h) counts from `now`.
Event started_event_moving(const Definition& definition, StartOptions& options, TimePoint now);
}  // namespace detail

class Engine::Run : public std::enable_shared_from_this<Engine::Run>,
                    private detail::DeadlineQueue::Client {
 public:
  Run(Engine& engine, std::shared_ptr<const Definition> definition, StartOptions options,
      ExecutionDone done);
  ~Run();

  void start_new();
  void start_resumed(ExecutionState state);

  void cancel(std::string reason);
  bool pause(std::string reason);
  bool resume(Json input);
  const std::string& id() const { return state_.id; }

 private:
  // One level of steps (the workflow, or a group body) and what its templates can see.
  struct Graph {
    Graph(const Scope* parent, std::string path_prefix)
        : prefix(std::move(path_prefix)), scope(parent) {
      scope.bind_steps(&steps);
    }
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    std::string prefix;  // "" or "reserve[2]."
    Scope scope;
    Json steps = Json::object();  // id -> {"status","output","attempts","error"?}
  };

  enum class Outcome { kSucceeded, kSkipped, kTolerated, kFailed, kStopped };
  struct NodeResult {
    Outcome outcome = Outcome::kSucceeded;
    Json output;
    Error error;
    std::string step;  // path of the step that failed
  };
  // The shared progress of one forEach step's workers.
  struct ForEachJob {
    const StepDef& step;
    Graph& graph;
    const std::string& path;
    const Json& items;
    StepState& folded;  // the step's state: its items' when there are many (item_status)
    std::vector<Json> outputs;
    std::vector<Outcome> outcomes;
    std::optional<Error> first_error;
    std::size_t next;
    int active;
  };
  static NodeResult stopped_result() {
    NodeResult r;
    r.outcome = Outcome::kStopped;
    return r;
  }
  static NodeResult node_error(const Graph& graph, const StepDef& step);
  enum class StopKind { kNone, kCancelled, kTimedOut, kLogFailed };

  boost::asio::awaitable<void> main(bool resumed);
  boost::asio::awaitable<NodeResult> run_graph(const std::vector<StepDef>& steps, Graph& graph);
  boost::asio::awaitable<NodeResult> run_node(const StepDef& step, Graph& graph);
  boost::asio::awaitable<NodeResult> run_for_each(const StepDef& step, Graph& graph,
                                                  const std::string& path);
  boost::asio::awaitable<void> for_each_worker(ForEachJob& job);
  boost::asio::awaitable<NodeResult> run_body(const StepDef& step, const StepBody& body,
                                              const std::string& path, const Scope& scope,
                                              Json start_data, int fallback_depth);
  boost::asio::awaitable<NodeResult> run_group(const StepDef& step, const StepBody& body,
                                               const std::string& path, const Scope& scope,
                                               Json start_data, int fallback_depth);
  boost::asio::awaitable<NodeResult> after_failure(const StepDef& step, const std::string& path,
                                                   Error error, const Scope& scope,
                                                   int fallback_depth);
  boost::asio::awaitable<Result<Json>> invoke(const StepDef& step, const std::string& type,
                                              const std::string& path, int attempt,
                                              std::string idempotency_key, Json with,
                                              const detail::AttemptTimes& times);
  boost::asio::awaitable<Result<Json>> run_sub_workflow(const std::string& path, int attempt,
                                                        const Json& with,
                                                        std::shared_ptr<CancelSignal> cancel);
  // Reads an execution back through the EventLog; completes on this run's io_context.
  boost::asio::awaitable<Result<std::optional<ExecutionState>>> load_execution(
      const std::string& execution_id);
  void announce_waiting(const std::string& path, const Error& missing);
  // Resolves the secrets `with` names (SecretAccessed each, remembered for masking) into an
  // object {NAME: value}; PERMISSION_DENIED naming the first one missing.
  Result<Json> resolve_secrets(const JsonTemplate& with, const std::string& path);
  boost::asio::awaitable<void> sleep(Millis delay);
  // Failure handling (core/compensation.cc): the compensations of the completed steps, latest
  // first, or spec.onFailure's workflow; a summary for the final event, null when there is none.
  bool has_failure_handling() const;
  Error timeout_error() const;
  Json timed_out_data(Json compensation) const;
  Json failed_data(const NodeResult& result, Json compensation) const;
  boost::asio::awaitable<Json> handle_failure(Graph& top, const Error& error,
                                              const std::string& step);
  boost::asio::awaitable<Json> compensate(Graph& top);
  boost::asio::awaitable<Json> run_on_failure(Graph& top, const Error& error,
                                              const std::string& step);

  // Appends everything emitted so far; true when durable, false when the run must stop.
  boost::asio::awaitable<bool> flush();
  void start_append();
  void appended(Result<std::int64_t> result);  // an append's outcome, on the engine's thread
  struct SyncAppend;
  void emit(EventType type, const std::string& path, int attempt, Json data);
  void record(Graph& graph, const std::string& id, const std::string& path, NodeResult* result);
  void stop(StopKind kind, std::string reason);
  void wake_all();
  void deadline_expired() override;
  const RetryPolicy& retry_policy(const StepDef& step) const;
  Millis retry_delay(const RetryPolicy& policy, int attempt);
  void finish();

  Engine& engine_;
  boost::asio::io_context& io_;
  std::shared_ptr<const Definition> definition_;
  StartOptions options_;
  ExecutionDone done_;
  ExecutionState state_;

  std::vector<Event> pending_;        // emitted, not yet handed to the log
  std::int64_t durable_version_ = 0;  // last version the log confirmed
  bool append_in_flight_ = false;
  detail::Broadcast durable_;  // an append finished
  detail::Broadcast changed_;  // pause/resume/stop: graphs and waiters re-check
  detail::Slots slots_;        // the workflow's maxParallel

  bool paused_ = false;
  StopKind stop_kind_ = StopKind::kNone;
  std::string stop_reason_;
  Error log_error_;
  bool log_failed_ = false;  // an append failed: the run writes nothing more
  std::list<std::shared_ptr<CancelSignal>> active_;  // attempts and waits stop() interrupts
  detail::DeadlineQueue* deadlines_ = nullptr;       // the workflow timeout, once main() runs
  std::unique_ptr<std::mt19937_64> random_;          // when deps give no random source (2.5 kB)
  bool finished_ = false;
  // Values of the secrets this run resolved: masked in everything it appends from then on.
  std::vector<std::string> secret_values_;
  // Steps that were running when the execution was interrupted, with their attempt: a resumed
  // sub-workflow step adopts the child execution that attempt started instead of starting anew.
  std::map<std::string, int, std::less<>> interrupted_;
};

}  // namespace flowd
