#pragma once
// Engine runs executions of definitions: it schedules steps whose dependencies finished, runs them
// through StepRunners, applies timeouts, retries, fallbacks and cancellation, and writes every
// decision to the EventLog before acting on it. An Engine and its executions live on one
// io_context thread (no locks inside); scale out with one Engine per thread.
// Own block, first: boost/asio/awaitable.hpp (1.74) uses std::exchange without <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "flowd/engine/definition.h"
#include "flowd/engine/event_log.h"
#include "flowd/engine/execution_state.h"
#include "flowd/engine/secrets.h"
#include "flowd/engine/step_runner.h"

namespace flowd {

struct EngineDeps {
  EventLog* log = nullptr;
  const StepRegistry* runners = nullptr;
  const DefinitionResolver* definitions = nullptr;  // for `type: workflow`; may be null
  std::function<TimePoint()> now = [] { return Clock::now(); };
  std::function<double()> random;  // [0,1) for jitter; default: a seeded PRNG
  // Where `{{ secrets.NAME }}` in a step's `with` is resolved when the step runs (null: the fixed
  // map `secrets`). Resolved values are masked in everything the execution appends afterwards.
  std::shared_ptr<const SecretProvider> secret_provider;
  Json secrets = Json::object();  // used when secret_provider is null (tests, local runs)
  // Told every value resolved, so log writers can mask them too; may be null.
  std::shared_ptr<SecretMasker> secret_masker;
  // Called on the engine thread with the state after every `snapshot_every` events became
  // durable (0: never); the service stores it so resume and replay need not refold from zero.
  std::size_t snapshot_every = 0;
  std::function<void(const ExecutionState&)> snapshot;
};

struct StartOptions {
  std::string execution_id;  // empty: a new UUID
  Json input = Json::object();
  Json context = Json::object();
  std::string dedupe_key;
  std::string parent_execution;  // set for sub-workflows
  std::string parent_step;
  int depth = 0;  // sub-workflow nesting
};

using ExecutionDone = std::function<void(const ExecutionState&)>;

class Engine {
 public:
  Engine(boost::asio::io_context& io, EngineDeps deps);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates the input against the definition's input schema and starts an execution; `done`
  // runs on the engine's thread with the final state. Returns the execution id, or
  // INVALID_INPUT without writing anything.
  Result<std::string> start(std::shared_ptr<const Definition> definition, StartOptions options,
                            ExecutionDone done = {});

  // Continues an execution from its events (after a restart): finished steps are not run again,
  // a step started without a result runs as a new attempt.
  Result<std::string> resume(std::shared_ptr<const Definition> definition,
                             std::vector<Event> history, ExecutionDone done = {});
  // The same, with the execution id (and parent, dedupe key) given by the caller.
  Result<std::string> resume(std::shared_ptr<const Definition> definition,
                             std::vector<Event> history, StartOptions options,
                             ExecutionDone done = {});
  // Continues from a folded state (a snapshot plus the events after it); the state's version is
  // the stream's version. A terminal state only calls `done`.
  Result<std::string> resume(std::shared_ptr<const Definition> definition, ExecutionState state,
                             StartOptions options, ExecutionDone done = {});

  // The awaitable form of start(): completes with the final state.
  boost::asio::awaitable<Result<ExecutionState>> run(std::shared_ptr<const Definition> definition,
                                                     StartOptions options);
  // The awaitable form of resume() from a folded state.
  boost::asio::awaitable<Result<ExecutionState>> run_from(
      std::shared_ptr<const Definition> definition, ExecutionState state, StartOptions options);

  // Stops an execution: running steps are signalled, nothing new starts, ExecutionCancelled.
  bool cancel(std::string_view execution_id, std::string reason = "cancelled by request");
  // Pause: running steps finish, nothing new starts until resume_paused().
  bool pause(std::string_view execution_id, std::string reason = {});
  bool resume_paused(std::string_view execution_id, Json input = nullptr);

  std::size_t running() const;
  bool is_running(std::string_view execution_id) const;
  boost::asio::io_context& io() { return io_; }

  class Run;  // one execution in flight (engine/src/run.h)

 private:
  friend class Run;
  void finished(const std::string& id);

  boost::asio::io_context& io_;
  EngineDeps deps_;
  std::unordered_map<std::string, std::shared_ptr<Run>> runs_;
};

// The ExecutionStarted event that starts an execution of `definition` with `options` (also used
// by callers that append it themselves, e.g. a durable start through the event store).
Event started_event(const Definition& definition, const StartOptions& options);

// Validates `input` against the definition's `spec.input` JSON Schema (INVALID_INPUT on failure,
// naming the JSON pointer and the rule).
Result<void> validate_input(const Definition& definition, const Json& input);

std::string new_uuid();

}  // namespace flowd
