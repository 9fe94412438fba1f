#include "flowd/eventstore/migrations.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "flowd/schemas/embedded.h"
#include "pg.h"

namespace flowd::eventstore {
namespace {

// Key of the advisory lock that serialises migrations of one database.
constexpr std::int64_t kMigrationLock = 0x666c6f77'64000001;  // "flowd" 1

std::string checksum(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a, 64 bit
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(hash));
  return buf;
}

struct Applied {
  std::string name;
  std::string checksum;
};

std::map<int, Applied> read_applied(pqxx::transaction_base& tx) {
  std::map<int, Applied> applied;
  const auto exists = tx.exec("SELECT to_regclass('flowd_schema_version') IS NOT NULL");
  if (!exists[0][0].as<bool>()) return applied;
  for (const auto& row : tx.exec("SELECT version, name, checksum FROM flowd_schema_version")) {
    applied[row[0].as<int>()] = Applied{row[1].as<std::string>(), row[2].as<std::string>()};
  }
  return applied;
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> all = [] {
    std::vector<Migration> out;
    constexpr std::string_view kPrefix = "migrations/";
    for (const auto& [path, text] : schemas::all()) {
      if (path.compare(0, kPrefix.size(), kPrefix) != 0) continue;
      std::string name = path.substr(kPrefix.size());
      std::size_t digits = 0;
      while (digits < name.size() && name[digits] >= '0' && name[digits] <= '9') ++digits;
      if (digits == 0) throw std::logic_error("migration without a version number: " + path);
      out.push_back(Migration{std::stoi(name.substr(0, digits)), name, std::string(text)});
    }
    std::sort(out.begin(), out.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    for (std::size_t i = 1; i < out.size(); ++i) {
      if (out[i].version == out[i - 1].version) {
        throw std::logic_error("two migrations with version " + std::to_string(out[i].version));
      }
    }
    return out;
  }();
  return all;
}

int latest_schema_version() {
  const auto& all = migrations();
  return all.empty() ? 0 : all.back().version;
}

StoreResult<MigrationReport> migrate(const std::string& url, std::optional<int> up_to) {
  return detail::guarded<MigrationReport>("migrate", [&]() -> StoreResult<MigrationReport> {
    auto conn = detail::connect(url, "flowd-migrate");
    pqxx::work tx(*conn);
    // Instances starting together queue here; the first applies, the others then find nothing
    // to do.
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLock);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS flowd_schema_version ("
        " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    const auto applied = read_applied(tx);
    MigrationReport report;
    report.from_version = applied.empty() ? 0 : applied.rbegin()->first;
    const int latest = latest_schema_version();
    if (report.from_version > latest) {
      return store_fail(errc::schema_too_new, "database schema version " +
                                                  std::to_string(report.from_version) +
                                                  " is newer than this flowd binary supports (" +
                                                  std::to_string(latest) + "); upgrade flowd");
    }
    for (const auto& migration : migrations()) {
      if (up_to && migration.version > *up_to) break;
      const auto it = applied.find(migration.version);
      if (it != applied.end()) {
        if (it->second.checksum != checksum(migration.sql)) {
          return store_fail(errc::schema_modified,
                            "migration " + migration.name +
                                " differs from the one applied to this database (" +
                                it->second.name + "); never edit an applied migration");
        }
        continue;
      }
      tx.exec(migration.sql);
      tx.exec_params("INSERT INTO flowd_schema_version (version, name, checksum) VALUES ($1,$2,$3)",
                     migration.version, migration.name, checksum(migration.sql));
      report.applied.push_back(migration.version);
    }
    tx.commit();
    report.to_version = up_to ? std::min(*up_to, latest) : latest;
    return report;
  });
}

StoreResult<int> database_schema_version(const std::string& url) {
  return detail::guarded<int>("schema version", [&]() -> StoreResult<int> {
    auto conn = detail::connect(url, "flowd-migrate");
    pqxx::read_transaction tx(*conn);
    const auto applied = read_applied(tx);
    return applied.empty() ? 0 : applied.rbegin()->first;
  });
}

}  // namespace flowd::eventstore
