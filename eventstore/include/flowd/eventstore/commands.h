#pragma once
// CommandQueue carries operator commands (pause, resume, cancel) to the instance that runs an
// execution: flowctl / the API enqueue, the owning flowd takes its pending ones, applies them
// through its engine (which appends the audited event) and marks them processed.
// Owns one connection; thread-safe (a mutex serialises calls); blocking: never call it from an
// engine thread.
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "flowd/engine/json.h"
#include "flowd/eventstore/errc.h"

namespace flowd::eventstore {

struct ExecutionCommand {
  std::int64_t id = 0;
  std::string execution_id;
  std::string command;  // pause | resume | cancel
  Json payload;         // {"reason"?, "input"?}
  std::string actor;
  std::string execution_status;  // the execution's status when the command was read
};

// A command as recorded, for audits.
struct CommandRecord {
  std::int64_t id = 0;
  std::string command;
  Json payload;
  std::string actor;
  std::string created_at;    // RFC 3339
  std::string processed_at;  // "" while pending
  std::string result;
};

class CommandQueue {
 public:
  static StoreResult<std::unique_ptr<CommandQueue>> open(const std::string& url);
  ~CommandQueue();

  // not_found when there is no such execution; invalid_argument for an unknown command.
  StoreResult<std::int64_t> enqueue(const std::string& execution_id, const std::string& command,
                                    const Json& payload, const std::string& actor);
  // Unprocessed commands of executions leased to `owner`, oldest first.
  StoreResult<std::vector<ExecutionCommand>> pending_for(const std::string& owner);
  StoreResult<void> mark_processed(std::int64_t id, const std::string& result);

  // --- audit reads ---
  // Every command sent to an execution, oldest first.
  StoreResult<std::vector<CommandRecord>> history(const std::string& execution_id);
  // Executions that name this one: {id, "retry"} (retryOf) and {id, "child"} (parent), by start.
  StoreResult<std::vector<std::pair<std::string, std::string>>> related(
      const std::string& execution_id);

 private:
  struct Connection;  // a pqxx::connection, kept out of this header
  explicit CommandQueue(std::unique_ptr<Connection> conn);
  std::mutex mutex_;
  std::unique_ptr<Connection> conn_;  // GUARDED_BY(mutex_)
};

}  // namespace flowd::eventstore
