#pragma once
// The database schema of flowd: the migrations in schemas/migrations/NNNN_name.sql, compiled into
// the binary, applied in order inside one transaction that holds an advisory lock (instances
// starting together apply them once), and recorded in flowd_schema_version (version, name,
// checksum, applied_at). A database whose version is newer than this binary's is refused
// (errc::schema_too_new); an applied migration whose text changed is refused
// (errc::schema_modified).
#include <optional>
#include <string>
#include <vector>

#include "flowd/eventstore/errc.h"

namespace flowd::eventstore {

struct Migration {
  int version = 0;
  std::string name;  // "0001_event_store.sql"
  std::string sql;
};

// The embedded migrations, by version.
const std::vector<Migration>& migrations();
// The schema version this binary needs (the newest embedded migration).
int latest_schema_version();

struct MigrationReport {
  int from_version = 0;  // 0: empty database
  int to_version = 0;
  std::vector<int> applied;
};

// Connects to `url` and applies what is missing, up to version `up_to` (all when empty: tests
// of an upgrade stop at an older version). Blocking.
StoreResult<MigrationReport> migrate(const std::string& url, std::optional<int> up_to = {});
// The database's schema version (0 when flowd never migrated it).
StoreResult<int> database_schema_version(const std::string& url);

}  // namespace flowd::eventstore
