// DirectBackend: flowctl's durable commands in-process against PostgreSQL, through the same
// Operations the HTTP API serves (same JSON, same errors).
#include "flowd/api/convert.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/dlq/dlq_outbox.h"
#include "flowd/dlq/reprocessor.h"
#include "flowd/engine/duration.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"

#include "backend.h"

namespace flowctl {
namespace {

using namespace flowd::eventstore;
using flowd::api::ApiResult;

Outcome body(ApiResult result) {
  if (!result) return tl::unexpected(std::move(result.error()));
  return std::move(result->body);
}

class DirectBackend : public Backend {
 public:
  DirectBackend(std::unique_ptr<EventStore> store, std::unique_ptr<CommandQueue> commands,
                std::unique_ptr<flowd::dlq::DeadLetterStore> letters)
      : store_(std::move(store)),
        commands_(std::move(commands)),
        letters_(std::move(letters)),
        ops_(*store_, *commands_, options()) {}

  Outcome apply_workflow(const Json& document) override {
    return body(ops_.apply_workflow({document.dump(), "<flowctl>"}));
  }
  Outcome list_workflows(const flowd::api::WorkflowFilter& filter) override {
    return body(ops_.list_workflows(filter));
  }
  Outcome get_workflow(const std::string& name, std::optional<int> version) override {
    return body(ops_.get_workflow(name, version));
  }
  Outcome start_execution(const flowd::api::StartRequest& request) override {
    return body(ops_.start_execution(request));
  }
  Outcome list_executions(const flowd::api::ExecutionFilter& filter) override {
    return body(ops_.list_executions(filter));
  }
  Outcome get_execution(const std::string& id, std::optional<std::int64_t> as_of) override {
    return body(ops_.get_execution(id, as_of));
  }
  Outcome events(const std::string& id, std::int64_t after, std::size_t limit) override {
    return body(ops_.events(id, after, limit));
  }
  Outcome replay(const std::string& id, std::optional<std::int64_t> upto) override {
    return body(ops_.replay(id, upto));
  }
  Outcome rerun(const std::string& id, const flowd::api::RerunRequest& request) override {
    return body(ops_.rerun(id, request));
  }
  Outcome command(const std::string& id, const std::string& command, const Json& payload) override {
    return body(ops_.command(id, command, payload));
  }
  Outcome retention(const std::string& older_than, bool dry_run) override {
    auto d = flowd::parse_duration(older_than);
    if (!d)
      return tl::unexpected(
          ApiError::invalid_input("olderThan '" + older_than + "' is not a duration (30d, 12h)"));
    return body(ops_.retention(*d, dry_run));
  }
  Outcome audit(const std::string& id) override { return body(ops_.audit(id)); }
  Outcome list_webhooks() override { return body(ops_.list_webhooks()); }

 private:
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<CommandQueue> commands_;
  std::unique_ptr<flowd::dlq::DeadLetterStore> letters_;
  flowd::api::Operations ops_;

  flowd::api::OperationsOptions options() {
    flowd::api::OperationsOptions o;
    o.actor = "flowctl";
    o.dead_letter_retention = [this](std::chrono::milliseconds older, bool dry) {
      return flowd::dlq::purge_dead_letters(*letters_, older, dry);
    };
    o.dead_letter_audit = [this](const std::string& execution_id) {
      return flowd::dlq::dead_letters_of_execution(*letters_, execution_id);
    };
    return o;
  }
};

}  // namespace

tl::expected<std::unique_ptr<Backend>, ApiError> open_direct_backend(const std::string& url) {
  StoreOptions options;
  options.url = url;
  options.pool_size = 1;
  options.actor = "flowctl";
  auto store = EventStore::open(options);
  if (!store) return tl::unexpected(flowd::api::from_store(store.error()));
  auto commands = CommandQueue::open(url);
  if (!commands) return tl::unexpected(flowd::api::from_store(commands.error()));
  auto letters = flowd::dlq::DeadLetterStore::open({url, 1});
  if (!letters) return tl::unexpected(flowd::api::from_error(letters.error()));
  return std::unique_ptr<Backend>(
      new DirectBackend(std::move(*store), std::move(*commands), std::move(*letters)));
}

tl::expected<std::unique_ptr<Backend>, ApiError> open_backend(const Connection& connection) {
  if (!connection.database.empty()) return open_direct_backend(connection.database);
  return open_http_backend(connection);
}

}  // namespace flowctl
