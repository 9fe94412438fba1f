#include "durable_runner.h"

#include <boost/asio/post.hpp>
#include <future>

#include "flowd/eventstore/state_json.h"

namespace flowd::service {

namespace asio = boost::asio;

DurableRunner::DurableRunner(eventstore::EventStore& store, eventstore::CommandQueue& commands,
                             DurableRunnerOptions options)
    : store_(store), commands_(commands), options_(std::move(options)), definitions_(store) {
  BuiltinOptions builtin;
  builtin.log_sink = [this](std::string_view step, const std::string& message) {
    log("info", message, {{"step", step}, {"source", "log step"}});
  };
  register_builtin_steps(registry_, io_, builtin);
  EngineDeps deps;
  deps.log = &store_;
  deps.runners = &registry_;
  deps.definitions = &definitions_;
  deps.snapshot_every = options_.snapshot_every;
  deps.snapshot = [this](const ExecutionState& state) {
    enqueue([this, state] {
      if (auto saved = store_.save_snapshot(state); !saved)
        log("warn", "snapshot not saved: " + saved.error().message, {{"execution", state.id}});
    });
  };
  engine_ = std::make_unique<Engine>(io_, std::move(deps));
}

DurableRunner::~DurableRunner() {
  stop(std::chrono::milliseconds(0));
}

void DurableRunner::start() {
  work_.emplace(io_.get_executor());
  io_thread_ = std::thread([this] { io_.run(); });
  worker_ = std::thread([this] { worker_loop(); });
}

bool DurableRunner::stop(std::chrono::milliseconds grace) {
  {
    std::lock_guard lock(mutex_);
    claiming_ = false;
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool drained = in_flight_.load() == 0;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (worker_.joinable()) worker_.join();
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  return drained;
}

void DurableRunner::enqueue(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
}

void DurableRunner::log(std::string_view level, const std::string& message, const Json& fields) {
  if (options_.log) options_.log(level, message, fields);
}

void DurableRunner::worker_loop() {
  recover_owned();
  auto next_renew = std::chrono::steady_clock::now() + options_.lease_ttl / 3;
  while (true) {
    std::deque<std::function<void()>> jobs;
    bool claiming;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.poll_interval, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_ && jobs_.empty()) return;
      jobs.swap(jobs_);
      claiming = claiming_ && !stopping_;
    }
    for (auto& job : jobs) job();
    if (!claiming) continue;
    if (std::chrono::steady_clock::now() >= next_renew) {
      // Renewing also finds executions leased to this instance that it does not run yet (started
      // through a store owned by this instance): resume_all skips those already running.
      recover_owned();
      next_renew = std::chrono::steady_clock::now() +
                   std::min<std::chrono::milliseconds>(options_.lease_ttl / 3,
                                                       std::chrono::milliseconds(1000));
    }
    claim_and_resume();
    process_commands();
  }
}

void DurableRunner::claim_and_resume() {
  const std::size_t running = in_flight_.load();
  if (running >= options_.max_in_flight) return;
  auto claimed =
      store_.claim_resumable(options_.owner, options_.lease_ttl, options_.max_in_flight - running);
  if (!claimed) {
    log("warn", "claiming executions failed: " + claimed.error().message);
    return;
  }
  resume_all(*claimed);
}

void DurableRunner::recover_owned() {
  // Executions this instance id still holds were in flight when it last stopped (or was killed):
  // nobody else may take them before the lease lapses, so resume them at once.
  auto owned = store_.renew_all(options_.owner, options_.lease_ttl);
  if (!owned) {
    log("warn", "cannot list owned executions: " + owned.error().message);
    return;
  }
  resume_all(*owned);
}

void DurableRunner::resume_all(const std::vector<std::string>& ids) {
  // [store] The states of the whole claim are loaded with one query per page of events
  // (EventStore::load_states) instead of two round trips per execution, which made this worker
  // thread the limit of a claim (bench/durable_bench.cc).
  std::vector<std::string> wanted;
  for (const std::string& id : ids) {
    if (!in_flight_ids_.count(id)) wanted.push_back(id);
  }
  if (wanted.empty()) return;
  auto states = store_.load_states(wanted);
  if (!states) {
    log("error", "cannot load executions: " + states.error().message,
        {{"executions", wanted.size()}});
    return;
  }
  for (std::size_t i = 0; i < wanted.size(); ++i) {
    const std::string& id = wanted[i];
    auto& state = (*states)[i];
    if (!state) {
      log("error", "cannot load execution: " + state.error().message, {{"execution", id}});
      continue;
    }
    auto definition = definitions_.ensure(state->workflow, state->workflow_version);
    if (!definition) {
      // The execution cannot run here: fail it durably, so it is not claimed forever.
      Error error = definition.error();
      Event failed = Event::make(EventType::kExecutionFailed, {}, 0,
                                 {{"error", to_json(error)}, {"step", ""}});
      AppendRequest request{id, state->version, {failed}};
      if (auto r = store_.append_sync(std::move(request)); !r)
        log("error", "cannot fail execution: " + r.error().message, {{"execution", id}});
      log("error", "execution failed at resume: " + error.message, {{"execution", id}});
      continue;
    }
    ++in_flight_;
    in_flight_ids_.insert(id);
    asio::post(io_, [this, id, def = *definition, st = std::move(*state)]() mutable {
      if (engine_->is_running(id)) {
        --in_flight_;
        return;
      }
      StartOptions options;
      options.execution_id = id;
      auto resumed = engine_->resume(def, std::move(st), options, [this](const ExecutionState& s) {
        ++completed_;
        --in_flight_;
        enqueue([this, id = s.id] { in_flight_ids_.erase(id); });
        log("info", "execution " + std::string(to_string(s.status)),
            {{"execution", s.id}, {"workflow", s.workflow}});
      });
      if (!resumed) {
        --in_flight_;
        enqueue([this, id] { in_flight_ids_.erase(id); });
        log("error", "cannot resume: " + resumed.error().message, {{"execution", id}});
      }
    });
  }
}

void DurableRunner::process_commands() {
  auto pending = commands_.pending_for(options_.owner);
  if (!pending) {
    log("warn", "reading commands failed: " + pending.error().message);
    return;
  }
  for (const auto& command : *pending) {
    // Apply on the engine thread and wait for the verdict (a few microseconds of work).
    std::promise<std::string> verdict;
    auto future = verdict.get_future();
    asio::post(io_, [this, &command, &verdict] {
      try {
        apply_command(command, verdict);
      } catch (const std::exception& e) {
        verdict.set_value(std::string("rejected: ") + e.what());
      }
    });
    std::string result = future.get();
    if (auto marked = commands_.mark_processed(command.id, result); !marked)
      log("warn", "cannot mark command: " + marked.error().message);
    log("info", command.command + ": " + result, {{"execution", command.execution_id}});
  }
}

void DurableRunner::apply_command(const eventstore::ExecutionCommand& command,
                                  std::promise<std::string>& verdict) {
  {
    {
      bool ok = false;
      const Json payload = command.payload.is_object() ? command.payload : Json::object();
      std::string reason = payload.value("reason", std::string());
      if (command.command == "pause") {
        ok = engine_->pause(command.execution_id, reason);
      } else if (command.command == "resume") {
        ok = engine_->resume_paused(command.execution_id, payload.value("input", Json()));
      } else if (command.command == "cancel") {
        ok = engine_->cancel(command.execution_id,
                             reason.empty() ? "cancelled by " + command.actor : reason);
      }
      verdict.set_value(ok ? "applied" : "not applicable in the execution's current state");
    }
  }
}

}  // namespace flowd::service
