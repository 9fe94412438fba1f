#include "flowd/eventstore/commands.h"

#include <pqxx/pqxx>

namespace flowd::eventstore {
namespace {

template <class T, class F>
StoreResult<T> guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const pqxx::broken_connection& e) {
    return store_fail(errc::unavailable, std::string(what) + ": " + e.what());
  } catch (const std::exception& e) {
    return store_fail(errc::database, std::string(what) + ": " + e.what());
  }
}

}  // namespace

struct CommandQueue::Connection {
  explicit Connection(const std::string& url) : conn(url) {}
  pqxx::connection conn;
};

CommandQueue::CommandQueue(std::unique_ptr<Connection> conn) : conn_(std::move(conn)) {}
CommandQueue::~CommandQueue() = default;

StoreResult<std::unique_ptr<CommandQueue>> CommandQueue::open(const std::string& url) {
  return guarded<std::unique_ptr<CommandQueue>>("command queue", [&] {
    auto conn = std::make_unique<Connection>(url);
    return std::unique_ptr<CommandQueue>(new CommandQueue(std::move(conn)));
  });
}

StoreResult<std::int64_t> CommandQueue::enqueue(const std::string& execution_id,
                                                const std::string& command, const Json& payload,
                                                const std::string& actor) {
  if (command != "pause" && command != "resume" && command != "cancel")
    return store_fail(errc::invalid_argument, "unknown command '" + command + "'");
  std::lock_guard lock(mutex_);
  return guarded<std::int64_t>("enqueue command", [&]() -> StoreResult<std::int64_t> {
    pqxx::work tx(conn_->conn);
    if (tx.exec_params("SELECT 1 FROM executions WHERE id = $1", execution_id).empty())
      return store_fail(errc::not_found, "no execution " + execution_id);
    auto row = tx.exec_params1(
        "INSERT INTO execution_commands (execution_id, command, payload, actor) "
        "VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
        execution_id, command, payload.dump(), actor);
    tx.exec0("NOTIFY flowd_commands");
    tx.commit();
    return row[0].as<std::int64_t>();
  });
}

StoreResult<std::vector<ExecutionCommand>> CommandQueue::pending_for(const std::string& owner) {
  std::lock_guard lock(mutex_);
  return guarded<std::vector<ExecutionCommand>>("pending commands", [&] {
    pqxx::nontransaction tx(conn_->conn);
    std::vector<ExecutionCommand> out;
    for (const auto& row : tx.exec_params(
             "SELECT c.id, c.execution_id, c.command, c.payload::text, c.actor, e.status "
             "FROM execution_commands c JOIN executions e ON e.id = c.execution_id "
             "WHERE c.processed_at IS NULL AND e.owner = $1 ORDER BY c.id LIMIT 100",
             owner)) {
      ExecutionCommand c;
      c.id = row[0].as<std::int64_t>();
      c.execution_id = row[1].as<std::string>();
      c.command = row[2].as<std::string>();
      c.payload = Json::parse(row[3].as<std::string>(), nullptr, false);
      c.actor = row[4].as<std::string>();
      c.execution_status = row[5].as<std::string>();
      out.push_back(std::move(c));
    }
    return StoreResult<std::vector<ExecutionCommand>>(std::move(out));
  });
}

StoreResult<void> CommandQueue::mark_processed(std::int64_t id, const std::string& result) {
  std::lock_guard lock(mutex_);
  return guarded<void>("mark command processed", [&]() -> StoreResult<void> {
    pqxx::work tx(conn_->conn);
    tx.exec_params0("UPDATE execution_commands SET processed_at = now(), result = $2 WHERE id = $1",
                    id, result);
    tx.commit();
    return {};
  });
}

StoreResult<std::vector<CommandRecord>> CommandQueue::history(const std::string& execution_id) {
  std::lock_guard lock(mutex_);
  return guarded<std::vector<CommandRecord>>("command history", [&] {
    pqxx::nontransaction tx(conn_->conn);
    std::vector<CommandRecord> out;
    for (const auto& row : tx.exec_params(
             "SELECT id, command, payload::text, actor, "
             "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
             "coalesce(to_char(processed_at AT TIME ZONE 'UTC', "
             "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), ''), coalesce(result, '') "
             "FROM execution_commands WHERE execution_id = $1 ORDER BY id",
             execution_id)) {
      CommandRecord c;
      c.id = row[0].as<std::int64_t>();
      c.command = row[1].as<std::string>();
      c.payload = Json::parse(row[2].as<std::string>(), nullptr, false);
      c.actor = row[3].as<std::string>();
      c.created_at = row[4].as<std::string>();
      c.processed_at = row[5].as<std::string>();
      c.result = row[6].as<std::string>();
      out.push_back(std::move(c));
    }
    return StoreResult<std::vector<CommandRecord>>(std::move(out));
  });
}

StoreResult<std::vector<std::pair<std::string, std::string>>> CommandQueue::related(
    const std::string& execution_id) {
  using Out = std::vector<std::pair<std::string, std::string>>;
  std::lock_guard lock(mutex_);
  return guarded<Out>("related executions", [&] {
    pqxx::nontransaction tx(conn_->conn);
    Out out;
    for (const auto& row : tx.exec_params(
             "SELECT id, CASE WHEN retry_of = $1 THEN 'retry' ELSE 'child' END FROM executions "
             "WHERE retry_of = $1 OR parent = $1 ORDER BY started_at, id",
             execution_id))
      out.emplace_back(row[0].as<std::string>(), row[1].as<std::string>());
    return StoreResult<Out>(std::move(out));
  });
}

}  // namespace flowd::eventstore
