#pragma once
// Backend is what flowctl's durable commands talk to. Today: DirectBackend reaches PostgreSQL
// (--database / FLOWD_DATABASE_URL); the HTTP API backend (--server) implements the same calls,
// so commands do not depend on the transport. Every call returns JSON shaped like the HTTP API's
// responses, or an Error.
#include <memory>
#include <optional>
#include <string>

#include "flowd/engine/error.h"
#include "flowd/engine/json.h"

namespace flowctl {

using flowd::Json;
using flowd::Result;

struct ListFilter {
  std::optional<std::string> workflow;
  std::optional<std::string> status;
  std::optional<std::string> since;  // RFC 3339 or a duration ago ("1h")
  std::size_t limit = 50;
  std::string page_token;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // {"name","version","contentHash","created"}
  virtual Result<Json> apply_workflow(const Json& document) = 0;
  virtual Result<Json> list_workflows(const std::optional<std::string>& name) = 0;
  // {"executionId","duplicate"}
  virtual Result<Json> start_execution(const std::string& workflow, std::optional<int> version,
                                       const Json& input, const std::string& dedupe_key,
                                       const std::string& retry_of) = 0;
  virtual Result<Json> list_executions(const ListFilter& filter) = 0;
  virtual Result<Json> get_execution(const std::string& id) = 0;
  virtual Result<Json> events(const std::string& id) = 0;
  // {"state": <ExecutionState JSON>, "at": N}
  virtual Result<Json> replay(const std::string& id, std::optional<std::int64_t> at) = 0;
  virtual Result<Json> command(const std::string& id, const std::string& command,
                               const Json& payload) = 0;
  virtual Result<Json> retention(std::chrono::milliseconds older_than, bool dry_run) = 0;
};

// Opens the backend named by the flags and environment; INVALID_INPUT when none is given.
Result<std::unique_ptr<Backend>> open_backend(const std::string& database_url);

}  // namespace flowctl
