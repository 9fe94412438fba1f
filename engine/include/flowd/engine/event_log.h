#pragma once
// EventLog is where the engine writes every state change before acting on it. The engine knows
// nothing else of storage: tests and `flowctl run --local` use MemoryEventLog, the service uses
// the PostgreSQL event store (eventstore/).
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "flowd/engine/error.h"
#include "flowd/engine/event.h"
#include "flowd/engine/execution_state.h"

namespace flowd {

struct AppendRequest {
  std::string execution_id;
  std::int64_t expected_version = 0;  // stream version before these events; 0 for a new stream
  std::vector<Event> events;          // versions are assigned by the log
};

// Called once, on any thread, when the events are durable (value: the new stream version) or the
// append failed (a conflict is ErrorCode::kInternal with a message naming both versions).
using AppendCallback = std::function<void(Result<std::int64_t>)>;

// Called once, on any thread, with the fold of an execution's events: nullopt when the log has
// no such execution.
using LoadCallback = std::function<void(Result<std::optional<ExecutionState>>)>;

class EventLog {
 public:
  virtual ~EventLog() = default;
  virtual void append(AppendRequest request, AppendCallback done) = 0;
  // Reads an execution back (a resumed parent adopting the sub-workflow execution its interrupted
  // step had started). Must not block the caller's thread for long: the engine calls it on its
  // io_context. A log that cannot read answers with an error.
  virtual void load(const std::string& execution_id, LoadCallback done);
};

// An EventLog in memory: thread-safe, durable for as long as the process lives, checks expected
// versions like the real store. Used by tests, benchmarks and local runs.
class MemoryEventLog : public EventLog {
 public:
  void append(AppendRequest request, AppendCallback done) override;
  void load(const std::string& execution_id, LoadCallback done) override;

  std::vector<Event> read(const std::string& execution_id) const;
  std::vector<std::string> streams() const;
  std::size_t total_events() const;
  // When false, events are counted but not kept, and a stream is forgotten after its terminal
  // event (benchmarks of the engine alone).
  void set_retain(bool retain) { retain_ = retain; }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Event>> streams_;  // GUARDED_BY(mutex_)
  std::unordered_map<std::string, std::int64_t> versions_;       // GUARDED_BY(mutex_)
  std::size_t total_ = 0;                                        // GUARDED_BY(mutex_)
  bool retain_ = true;
};

}  // namespace flowd
