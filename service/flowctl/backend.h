#pragma once
// Backend is what flowctl's durable commands talk to: HttpBackend calls flowd's HTTP API
// (--server URL / FLOWD_SERVER, the default), DirectBackend calls the same Operations in-process
// against PostgreSQL (--database URL / FLOWD_DATABASE_URL). Both answer the JSON bodies of the
// API (schemas/openapi.yaml) or an ApiError (code, message, hint), so commands do not depend on
// the transport.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "flowd/api/operations.h"
#include "flowd/engine/json.h"
#include "http/error.h"

namespace flowctl {

using flowd::Json;
using flowd::http::ApiError;
using Outcome = tl::expected<Json, ApiError>;

class Backend {
 public:
  virtual ~Backend() = default;
  virtual Outcome apply_workflow(const Json& document) = 0;
  virtual Outcome list_workflows(const flowd::api::WorkflowFilter& filter) = 0;
  virtual Outcome get_workflow(const std::string& name, std::optional<int> version) = 0;
  virtual Outcome start_execution(const flowd::api::StartRequest& request) = 0;
  virtual Outcome list_executions(const flowd::api::ExecutionFilter& filter) = 0;
  virtual Outcome get_execution(const std::string& id, std::optional<std::int64_t> as_of) = 0;
  virtual Outcome events(const std::string& id, std::int64_t after, std::size_t limit) = 0;
  virtual Outcome replay(const std::string& id, std::optional<std::int64_t> upto) = 0;
  virtual Outcome rerun(const std::string& id, const flowd::api::RerunRequest& request) = 0;
  // pause | resume | cancel
  virtual Outcome command(const std::string& id, const std::string& command,
                          const Json& payload) = 0;
  virtual Outcome retention(const std::string& older_than, bool dry_run) = 0;
  virtual Outcome audit(const std::string& id) = 0;
  virtual Outcome list_webhooks() = 0;
};

struct Connection {
  std::string server;    // --server / FLOWD_SERVER (default http://127.0.0.1:8080)
  std::string token;     // --token / FLOWD_TOKEN
  std::string database;  // --database / FLOWD_DATABASE_URL: direct mode when set
  std::chrono::milliseconds timeout{30'000};
};

// DirectBackend when a database is given, else HttpBackend on the server URL.
tl::expected<std::unique_ptr<Backend>, ApiError> open_backend(const Connection& connection);
tl::expected<std::unique_ptr<Backend>, ApiError> open_direct_backend(const std::string& url);
tl::expected<std::unique_ptr<Backend>, ApiError> open_http_backend(const Connection& connection);

}  // namespace flowctl
