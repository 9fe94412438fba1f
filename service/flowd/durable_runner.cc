#include "durable_runner.h"

#include <boost/asio/post.hpp>
#include <future>

#include "flowd/eventstore/state_json.h"
#include "trace.h"

namespace flowd::service {

namespace asio = boost::asio;

// The engine's view of the store: appends go straight to it (group-committed, answered on the
// appender's thread) and tell on_durable about each event once durable; reads, which block, run
// on the worker thread. It counts the appends the store has not answered yet: their callbacks
// reach into this runner (its io_context), so stop() waits for them.
class DurableRunner::RunnerLog : public EventLog {
 public:
  explicit RunnerLog(DurableRunner& runner) : runner_(runner) {}

  void append(AppendRequest request, AppendCallback done) override {
    {
      std::lock_guard lock(mutex_);
      ++unanswered_;
    }
    // Only what the observers read (type, step, attempt, data's durationMs) is kept.
    std::shared_ptr<std::vector<Event>> copies;
    if (runner_.options_.on_durable) {
      copies = std::make_shared<std::vector<Event>>();
      copies->reserve(request.events.size());
      for (const auto& e : request.events) {
        Event copy = Event::make(e.type, e.step, e.attempt, Json::object());
        if (auto d = e.data.find("durationMs"); d != e.data.end()) copy.data["durationMs"] = *d;
        copies->push_back(std::move(copy));
      }
    }
    runner_.store_.append(std::move(request),
                          [this, copies, done = std::move(done)](auto result) mutable {
                            if (result && copies)
                              for (const auto& e : *copies) runner_.options_.on_durable(e);
                            // The engine's callback holds its run, whose destructor needs the
                            // io_context: release it before stop() may go on to destroy them.
                            AppendCallback answer = std::move(done);
                            answer(std::move(result));
                            answer = nullptr;
                            std::lock_guard lock(mutex_);
                            if (--unanswered_ == 0) answered_.notify_all();
                          });
  }

  // Blocks until the store answered every append (it answers each one, if only with an error).
  void wait_answered() {
    std::unique_lock lock(mutex_);
    answered_.wait(lock, [&] { return unanswered_ == 0; });
  }

  void load(const std::string& execution_id, LoadCallback done) override {
    runner_.enqueue([this, execution_id, done = std::move(done)] {
      // The parent's run takes the child's lease too, so that commands to it reach this instance.
      if (auto claimed = runner_.store_.claim(execution_id, runner_.options_.owner,
                                              runner_.options_.lease_ttl);
          !claimed && !claimed.error().is(eventstore::errc::not_found)) {
        return done(tl::unexpected(eventstore::to_error(claimed.error())));
      }
      auto state = runner_.store_.load_state(execution_id);
      if (state) return done(std::optional<ExecutionState>(std::move(*state)));
      if (state.error().is(eventstore::errc::not_found))
        return done(std::optional<ExecutionState>());
      done(tl::unexpected(eventstore::to_error(state.error())));
    });
  }

 private:
  DurableRunner& runner_;
  std::mutex mutex_;
  std::condition_variable answered_;
  std::size_t unanswered_ = 0;  // GUARDED_BY(mutex_)
};

DurableRunner::DurableRunner(eventstore::EventStore& store, eventstore::CommandQueue& commands,
                             DurableRunnerOptions options)
    : store_(store), commands_(commands), options_(std::move(options)), definitions_(store) {
  BuiltinOptions builtin;
  builtin.log_sink = [this](std::string_view step, const std::string& message) {
    log("info", message, {{"step", step}, {"source", "log step"}});
  };
  register_builtin_steps(registry_, io_, builtin);
  EngineDeps deps;
  log_ = std::make_unique<RunnerLog>(*this);
  deps.log = log_.get();
  deps.runners = &registry_;
  deps.definitions = &definitions_;
  deps.snapshot_every = options_.snapshot_every;
  deps.secret_provider = options_.secrets;
  deps.secret_masker = options_.secret_masker;
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
  // Runs that did not finish in time still have appends in the store, whose callbacks post to
  // io_: the store may outlive this runner.
  log_->wait_answered();
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
  using SteadyClock = std::chrono::steady_clock;
  auto next_renew = SteadyClock::now() + std::min<std::chrono::milliseconds>(
                                             options_.lease_ttl / 3, std::chrono::seconds(1));
  auto next_poll = SteadyClock::now();
  while (true) {
    std::deque<std::function<void()>> jobs;
    bool claiming;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, std::min(next_poll, next_renew),
                       [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_ && jobs_.empty()) return;
      jobs.swap(jobs_);
      claiming = claiming_ && !stopping_;
    }
    // Jobs: offered executions, finished ones (freeing capacity), snapshots.
    for (auto& job : jobs) job();
    if (!claiming) continue;
    admit_waiting();
    const auto now = SteadyClock::now();
    if (now >= next_renew) {
      // Renewing also finds executions leased to this instance that it does not run yet (started
      // through a store owned by this instance and not offered, or offered beyond max_waiting).
      recover_owned();
      close_orphans();
      next_renew = now + std::min<std::chrono::milliseconds>(options_.lease_ttl / 3,
                                                             std::chrono::milliseconds(1000));
    }
    // The store is polled on a clock, not on every wake-up: under load, finished executions wake
    // this loop thousands of times a second.
    if (now >= next_poll) {
      claim_and_resume();
      process_commands();
      next_poll = SteadyClock::now() + options_.poll_interval;
    }
  }
}

std::size_t DurableRunner::capacity() const {
  const std::size_t running = in_flight_.load();
  return running >= options_.max_in_flight ? 0 : options_.max_in_flight - running;
}

void DurableRunner::offer(Event started) {
  enqueue([this, started = std::move(started)]() mutable {
    const std::string id = started.data.value("executionId", std::string());
    if (id.empty() || in_flight_ids_.count(id)) return;
    ExecutionState state = fold(id, {std::move(started)});
    if (capacity() > 0 && waiting_.empty()) {
      (void)run_state(std::move(state));
    } else if (waiting_.size() < options_.max_waiting) {
      waiting_.push_back(std::move(state));
    }
  });
}

void DurableRunner::admit_waiting() {
  while (!waiting_.empty() && capacity() > 0) {
    ExecutionState state = std::move(waiting_.front());
    waiting_.pop_front();
    if (!in_flight_ids_.count(state.id)) (void)run_state(std::move(state));
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
  // Leases held here on executions this instance has no room for go back to the pool, so that an
  // idle instance takes them instead of this one renewing them while they wait (hoarding). Only
  // those spare at two renewals in a row: one just started here may not have been offered yet.
  std::set<std::string> held;
  for (const auto& state : waiting_) held.insert(state.id);
  std::set<std::string> spare;
  std::vector<std::string> give_back;
  for (const std::string& id : *owned) {
    if (in_flight_ids_.count(id) || held.count(id)) continue;
    if (spare_.count(id)) {
      give_back.push_back(id);
    } else {
      spare.insert(id);
    }
  }
  spare_ = std::move(spare);
  if (give_back.empty()) return;
  if (auto released = store_.release(give_back, options_.owner); !released) {
    log("warn", "cannot give back leases: " + released.error().message);
  } else {
    log("info", "gave back leases of executions waiting for room",
        {{"executions", give_back.size()}});
  }
}

void DurableRunner::close_orphans() {
  // A child's parent ended without it: nobody will run the child again (children run inside their
  // parent's run), and its result has nowhere to go. End it as the parent's run would have.
  auto orphans = store_.claim_orphans(options_.owner, options_.lease_ttl);
  if (!orphans) {
    log("warn", "cannot look for orphaned sub-workflows: " + orphans.error().message);
    return;
  }
  for (const std::string& id : *orphans) {
    auto version = store_.stream_version(id);
    if (!version) {
      log("warn", "cannot read orphaned sub-workflow: " + version.error().message,
          {{"execution", id}});
      continue;
    }
    Event cancelled = Event::make(EventType::kExecutionCancelled, {}, 0,
                                  {{"reason", "its parent execution ended before it did"}});
    if (auto r = store_.append_sync(AppendRequest{id, *version, {cancelled}}); !r) {
      log("warn", "cannot cancel orphaned sub-workflow: " + r.error().message, {{"execution", id}});
      continue;
    }
    log("info", "cancelled a sub-workflow execution whose parent had ended", {{"execution", id}});
  }
}

void DurableRunner::resume_all(const std::vector<std::string>& ids) {
  // The states of the whole claim are loaded with one query per page of events
  // (EventStore::load_states) instead of two round trips per execution, which made this worker
  // thread the limit of a claim (bench/durable_bench.cc). Only as many as there is room for: the
  // rest stays leased here and the next renewal comes back for it.
  std::vector<std::string> wanted;
  for (const std::string& id : ids) {
    if (wanted.size() >= capacity()) break;
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
    auto& state = (*states)[i];
    if (!state) {
      log("error", "cannot load execution: " + state.error().message, {{"execution", wanted[i]}});
      continue;
    }
    (void)run_state(std::move(*state));
  }
}

bool DurableRunner::run_state(ExecutionState state) {
  const std::string id = state.id;
  auto definition = definitions_.ensure(state.workflow, state.workflow_version);
  if (!definition) {
    Error error = definition.error();
    if (error.retryable) {  // the database is away: try again at the next renewal
      log("warn", "cannot load definition: " + error.message,
          execution_fields(id, state.workflow, state.context));
      return false;
    }
    // The execution cannot run here: fail it durably, so it is not claimed forever.
    Event failed =
        Event::make(EventType::kExecutionFailed, {}, 0, {{"error", to_json(error)}, {"step", ""}});
    AppendRequest request{id, state.version, {failed}};
    if (auto r = store_.append_sync(std::move(request)); !r)
      log("error", "cannot fail execution: " + r.error().message,
          execution_fields(id, state.workflow, state.context));
    log("error", "execution failed at resume: " + error.message,
        execution_fields(id, state.workflow, state.context));
    return false;
  }
  ++in_flight_;
  in_flight_ids_.insert(id);
  asio::post(io_, [this, id, def = *definition, st = std::move(state)]() mutable {
    if (engine_->is_running(id)) {
      --in_flight_;
      return;
    }
    StartOptions options;
    options.execution_id = id;
    if (options_.on_taken) options_.on_taken(st, st.version == 1);
    auto resumed = engine_->resume(def, std::move(st), options, [this](const ExecutionState& s) {
      ++completed_;
      --in_flight_;
      if (options_.on_finished && s.terminal()) options_.on_finished(s);
      enqueue([this, id = s.id] { in_flight_ids_.erase(id); });
      if (s.terminal())
        log(s.status == ExecutionStatus::kCompleted ? "debug" : "info",
            "execution " + std::string(to_string(s.status)),
            execution_fields(s.id, s.workflow, s.context));
    });
    if (!resumed) {
      --in_flight_;
      enqueue([this, id] { in_flight_ids_.erase(id); });
      log("error", "cannot resume: " + resumed.error().message, {{"execution", id}});
    }
  });
  return true;
}

void DurableRunner::process_commands() {
  auto pending = commands_.pending_for(options_.owner);
  if (!pending) {
    log("warn", "reading commands failed: " + pending.error().message);
    return;
  }
  for (const auto& command : *pending) {
    // A live execution leased here that this instance does not run yet (started through this
    // instance's store, waiting for capacity or for the lease renewal to find it) gets the
    // command once it runs; only a terminal one is answered at once.
    // A sub-workflow execution is not in in_flight_ids_ (its parent is): the engine knows.
    const bool terminal =
        command.execution_status == "completed" || command.execution_status == "failed" ||
        command.execution_status == "cancelled" || command.execution_status == "timed_out";
    const bool ours = in_flight_ids_.count(command.execution_id) > 0;
    // Apply on the engine thread and wait for the verdict (a few microseconds of work); an empty
    // verdict defers the command.
    std::promise<std::string> verdict;
    auto future = verdict.get_future();
    asio::post(io_, [this, &command, &verdict, terminal, ours] {
      try {
        if (!terminal && !engine_->is_running(command.execution_id) && !ours) {
          verdict.set_value(std::string());  // not here (yet): another instance, or later
        } else {
          apply_command(command, verdict);
        }
      } catch (const std::exception& e) {
        verdict.set_value(std::string("rejected: ") + e.what());
      }
    });
    std::string result = future.get();
    if (result.empty()) continue;
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
