#pragma once
// DurableRunner runs executions durably on one instance: it claims executions nobody runs
// (new ones started through the store, and those whose owner's lease lapsed), folds their events
// (from the newest snapshot), and continues them on an Engine whose EventLog is the PostgreSQL
// event store. It renews its leases, stores snapshots, and applies operator commands (pause,
// resume, cancel) to the executions it owns. Sub-workflow executions left running after their
// parent ended (an instance died in between) it cancels, so every execution reaches an end.
//
// Threads: one io_context thread drives the Engine (never blocks); one worker thread makes every
// blocking store call (claim, load, renew, snapshot, commands) and posts results to the engine.
// Lifecycle: start() → stop(grace): stops claiming, lets running executions finish within the
// grace period, then stops both threads; what is still running resumes on the next start (its
// events are durable; the lease lapses or is reclaimed by the same instance id).
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <future>
#include <set>
#include <thread>

#include "definition_cache.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::service {

struct DurableRunnerOptions {
  std::string owner;  // this instance's id (leases)
  std::chrono::milliseconds lease_ttl{15'000};
  std::chrono::milliseconds poll_interval{100};
  std::size_t max_in_flight = 1000;
  std::size_t snapshot_every = 200;  // events between snapshots
  std::size_t max_waiting = 10'000;  // offered executions held while the in-flight limit is hit
  std::function<void(std::string_view level, const std::string& message, const Json& fields)> log;
  // Observers (metrics), called on the engine thread; keep them short. on_taken: an execution
  // begins to run here (`fresh`: nothing of it ran anywhere before); on_finished: it reached a
  // terminal state here; on_durable: an event of a running execution is durable.
  std::function<void(const ExecutionState& state, bool fresh)> on_taken;
  std::function<void(const ExecutionState& state)> on_finished;
  std::function<void(const Event& event)> on_durable;
  // Secrets for `{{ secrets.NAME }}` in steps (null: none), and who is told every resolved value.
  std::shared_ptr<const SecretProvider> secrets;
  std::shared_ptr<SecretMasker> secret_masker;
};

class DurableRunner {
 public:
  DurableRunner(eventstore::EventStore& store, eventstore::CommandQueue& commands,
                DurableRunnerOptions options);
  ~DurableRunner();

  void start();
  // Returns true when every execution finished within `grace`.
  bool stop(std::chrono::milliseconds grace);

  // An execution this instance just started (its ExecutionStarted is durable and leased to this
  // instance): run it without reading it back from the store. Executions beyond the in-flight
  // limit wait in memory up to `max_waiting`; past that they are left to the lease renewal,
  // which finds them in the store. Thread-safe, never blocks.
  void offer(Event started);

  std::size_t in_flight() const { return in_flight_.load(); }
  std::uint64_t completed() const { return completed_.load(); }
  boost::asio::io_context& io() { return io_; }

 private:
  void worker_loop();
  void claim_and_resume();
  void recover_owned();
  void close_orphans();
  void resume_all(const std::vector<std::string>& ids);
  // Starts `state` on the engine (worker thread); false when the definition cannot be had.
  bool run_state(ExecutionState state);
  void admit_waiting();
  std::size_t capacity() const;
  void process_commands();
  // On the engine thread; value() throws on a non-string reason: the caller turns it into a
  // verdict.
  void apply_command(const eventstore::ExecutionCommand& command,
                     std::promise<std::string>& verdict);
  void enqueue(std::function<void()> job);
  void log(std::string_view level, const std::string& message, const Json& fields = {});

  class RunnerLog;

  eventstore::EventStore& store_;
  std::unique_ptr<RunnerLog> log_;  // the engine's: store_, observed, reads on the worker
  eventstore::CommandQueue& commands_;
  DurableRunnerOptions options_;
  DefinitionCache definitions_;
  StepRegistry registry_;

  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<Engine> engine_;  // used on io_ only
  std::thread io_thread_;
  std::thread worker_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                   // GUARDED_BY(mutex_)
  bool claiming_ = true;                    // GUARDED_BY(mutex_)

  std::set<std::string> in_flight_ids_;  // resumed here and not finished; worker thread only
  std::deque<ExecutionState> waiting_;   // offered, beyond the in-flight limit; worker only
  std::set<std::string> spare_;  // leased here, not run here at the last renewal; worker only
  std::atomic<std::size_t> in_flight_{0};
  std::atomic<std::uint64_t> completed_{0};
};

}  // namespace flowd::service
