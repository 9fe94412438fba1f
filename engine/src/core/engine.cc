#include "flowd/engine/engine.h"

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <random>

#include "core/run.h"

namespace flowd {

namespace asio = boost::asio;

Engine::Engine(asio::io_context& io, EngineDeps deps) : io_(io), deps_(std::move(deps)) {
  if (!deps_.log) throw std::invalid_argument("Engine needs an EventLog");
  if (!deps_.now) deps_.now = [] { return Clock::now(); };
  if (!deps_.secret_provider) deps_.secret_provider = StaticSecrets::from_json(deps_.secrets);
}

Engine::~Engine() = default;

Result<std::string> Engine::start(std::shared_ptr<const Definition> definition,
                                  StartOptions options, ExecutionDone done) {
  if (!definition) return fail(ErrorCode::kInvalidDefinition, "no definition given");
  if (auto valid = validate_input(*definition, options.input); !valid)
    return tl::unexpected(valid.error());
  if (options.execution_id.empty()) options.execution_id = new_uuid();
  if (runs_.count(options.execution_id))
    return fail(ErrorCode::kInternal, "execution " + options.execution_id + " is already running");
  std::string id = options.execution_id;
  auto run =
      std::make_shared<Run>(*this, std::move(definition), std::move(options), std::move(done));
  runs_.emplace(id, run);
  run->start_new();
  return id;
}

Result<std::string> Engine::resume(std::shared_ptr<const Definition> definition,
                                   std::vector<Event> history, ExecutionDone done) {
  if (!definition) return fail(ErrorCode::kInvalidDefinition, "no definition given");
  if (history.empty() || history.front().type != EventType::kExecutionStarted)
    return fail(ErrorCode::kInternal, "history does not begin with ExecutionStarted");
  StartOptions options;
  const Json& started = history.front().data;
  if (auto p = started.find("parent"); p != started.end() && p->is_object()) {
    options.parent_execution = p->value("execution", "");
    options.parent_step = p->value("step", "");
  }
  options.dedupe_key = started.value("dedupeKey", "");
  options.execution_id = started.value("executionId", "");
  return resume(std::move(definition), std::move(history), std::move(options), std::move(done));
}

Result<std::string> Engine::resume(std::shared_ptr<const Definition> definition,
                                   std::vector<Event> history, StartOptions options,
                                   ExecutionDone done) {
  if (options.execution_id.empty())
    return fail(ErrorCode::kInternal, "resume needs the execution id");
  return resume(std::move(definition), fold(options.execution_id, history), std::move(options),
                std::move(done));
}

Result<std::string> Engine::resume(std::shared_ptr<const Definition> definition,
                                   ExecutionState state, StartOptions options, ExecutionDone done) {
  if (!definition) return fail(ErrorCode::kInvalidDefinition, "no definition given");
  if (options.execution_id.empty()) options.execution_id = state.id;
  state.id = options.execution_id;
  if (state.version == 0) return fail(ErrorCode::kInternal, "resume needs a started execution");
  if (state.terminal()) {
    if (done) done(state);
    return options.execution_id;
  }
  options.input = state.input;
  options.context = state.context;
  std::string id = options.execution_id;
  if (runs_.count(id)) return fail(ErrorCode::kInternal, "execution " + id + " is already running");
  auto run =
      std::make_shared<Run>(*this, std::move(definition), std::move(options), std::move(done));
  runs_.emplace(id, run);
  run->start_resumed(std::move(state));
  return id;
}

namespace {

// Starts the execution (or continues it from `from`) and completes the awaiting coroutine with
// its final state. A named type rather than a lambda with init-captures: GCC 12 miscompiled that
// form inside coroutines.
struct RunInitiation {
  Engine* engine;
  std::shared_ptr<const Definition> definition;
  StartOptions options;
  std::optional<ExecutionState> from;

  template <class Handler>
  void operator()(Handler handler) {
    auto shared = std::make_shared<Handler>(std::move(handler));
    asio::io_context& io = engine->io();
    auto done = [&io, shared](const ExecutionState& state) {
      asio::post(
          io, [shared, state]() mutable { (*shared)(Result<ExecutionState>(std::move(state))); });
    };
    auto started = from ? engine->resume(std::move(definition), std::move(*from),
                                         std::move(options), std::move(done))
                        : engine->start(std::move(definition), std::move(options), std::move(done));
    if (!started)
      asio::post(io, [shared, error = started.error()]() mutable {
        (*shared)(Result<ExecutionState>(tl::unexpected(std::move(error))));
      });
  }
};

}  // namespace

asio::awaitable<Result<ExecutionState>> Engine::run(std::shared_ptr<const Definition> definition,
                                                    StartOptions options) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<ExecutionState>)>(
      RunInitiation{this, std::move(definition), std::move(options), std::nullopt},
      asio::use_awaitable);
}

asio::awaitable<Result<ExecutionState>> Engine::run_from(
    std::shared_ptr<const Definition> definition, ExecutionState state, StartOptions options) {
  return asio::async_initiate<decltype(asio::use_awaitable), void(Result<ExecutionState>)>(
      RunInitiation{this, std::move(definition), std::move(options), std::move(state)},
      asio::use_awaitable);
}

bool Engine::cancel(std::string_view execution_id, std::string reason) {
  auto it = runs_.find(std::string(execution_id));
  if (it == runs_.end()) return false;
  it->second->cancel(std::move(reason));
  return true;
}

bool Engine::pause(std::string_view execution_id, std::string reason) {
  auto it = runs_.find(std::string(execution_id));
  return it != runs_.end() && it->second->pause(std::move(reason));
}

bool Engine::resume_paused(std::string_view execution_id, Json input) {
  auto it = runs_.find(std::string(execution_id));
  return it != runs_.end() && it->second->resume(std::move(input));
}

std::size_t Engine::running() const {
  return runs_.size();
}

bool Engine::is_running(std::string_view execution_id) const {
  return runs_.count(std::string(execution_id)) > 0;
}

void Engine::finished(const std::string& id) {
  runs_.erase(id);
}

Event detail::started_event_moving(const Definition& definition, StartOptions& options,
                                   TimePoint now) {
  Json data{{"executionId", options.execution_id},
            {"workflow", definition.name},
            {"version", definition.version},
            {"input", std::move(options.input)},
            {"context", std::move(options.context)}};
  if (!options.dedupe_key.empty()) data["dedupeKey"] = options.dedupe_key;
  if (!options.parent_execution.empty())
    data["parent"] = {{"execution", options.parent_execution}, {"step", options.parent_step}};
  data["deadline"] = format_time(now + definition.timeout);
  return Event::make(EventType::kExecutionStarted, {}, 0, std::move(data));
}

Event started_event(const Definition& definition, const StartOptions& options) {
  StartOptions copy = options;
  return detail::started_event_moving(definition, copy, Clock::now());
}

std::string new_uuid() {
  thread_local std::mt19937_64 rng(
      std::random_device{}() ^ static_cast<std::uint64_t>(Clock::now().time_since_epoch().count()));
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // variant 1
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xffff), static_cast<unsigned>(hi & 0xffff),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

}  // namespace flowd
