#include "flowd/engine/event_log.h"

namespace flowd {

void EventLog::load(const std::string& execution_id, LoadCallback done) {
  done(fail(ErrorCode::kInternal, "this event log cannot read execution " + execution_id));
}

void MemoryEventLog::load(const std::string& execution_id, LoadCallback done) {
  std::vector<Event> events = read(execution_id);
  if (events.empty()) {
    if (!retain_) return EventLog::load(execution_id, std::move(done));
    return done(std::optional<ExecutionState>());
  }
  done(std::optional<ExecutionState>(fold(execution_id, events)));
}

void MemoryEventLog::append(AppendRequest request, AppendCallback done) {
  Result<std::int64_t> result;
  {
    std::lock_guard lock(mutex_);
    std::int64_t& version = versions_[request.execution_id];
    if (version != request.expected_version) {
      result = fail(ErrorCode::kInternal, "append conflict on execution " + request.execution_id +
                                              ": expected version " +
                                              std::to_string(request.expected_version) +
                                              ", stream is at " + std::to_string(version));
    } else {
      total_ += request.events.size();
      if (retain_) {
        auto& stream = streams_[request.execution_id];
        for (Event& e : request.events) {
          e.version = ++version;
          stream.push_back(std::move(e));
        }
        result = version;
      } else {
        version += static_cast<std::int64_t>(request.events.size());
        result = version;
        // Nothing follows a terminal event: forget the stream so that a log that only counts
        // stays small however many executions pass through it.
        if (!request.events.empty() && is_terminal(request.events.back().type))
          versions_.erase(request.execution_id);
      }
    }
  }
  done(std::move(result));
}

std::vector<Event> MemoryEventLog::read(const std::string& execution_id) const {
  std::lock_guard lock(mutex_);
  auto it = streams_.find(execution_id);
  return it == streams_.end() ? std::vector<Event>{} : it->second;
}

std::vector<std::string> MemoryEventLog::streams() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> ids;
  for (const auto& [id, events] : streams_) ids.push_back(id);
  return ids;
}

std::size_t MemoryEventLog::total_events() const {
  std::lock_guard lock(mutex_);
  return total_;
}

}  // namespace flowd
