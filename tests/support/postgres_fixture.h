#pragma once
// PostgresDatabase is the shared PostgreSQL fixture of the integration tests: a fresh, empty
// database on a real server, created in the constructor and dropped (WITH FORCE) in the
// destructor, so every test case starts clean and tests can run in parallel processes.
//
// The server is the one FLOWD_TEST_DATABASE_URL points at (scripts/test starts a private one with
// scripts/pg and exports it). When the variable is unset, the fixture runs `scripts/pg start`
// itself (instance "dev", left running; `scripts/pg stop` stops it), so a plain ctest in a
// developer's build directory works too. Construction throws std::runtime_error when no server
// can be reached: a setup failure, not a skipped test.
//
// Not thread-safe; use one per test case, on the test's thread.
#include <string>

namespace flowd::testing {

class PostgresDatabase {
 public:
  PostgresDatabase();
  ~PostgresDatabase();
  PostgresDatabase(const PostgresDatabase&) = delete;
  PostgresDatabase& operator=(const PostgresDatabase&) = delete;

  // URL of the fresh database.
  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // URL of the server's maintenance database (where this one was created).
  const std::string& server_url() const { return server_url_; }

  // Runs SQL (constant text from the test, not data) on the fresh database; returns the first
  // column of the first row as text ("" when there is none or it is NULL).
  std::string query(const std::string& sql) const;
  // Number of connections to this database other than the caller's (for leak checks).
  int other_connections() const;

 private:
  std::string server_url_;
  std::string name_;
  std::string url_;
};

// The server URL the fixture uses (FLOWD_TEST_DATABASE_URL, or `scripts/pg start`'s).
std::string test_server_url();

// `url` with its database name replaced by `database` (URI or key=value conninfo).
std::string with_database(const std::string& url, const std::string& database);

}  // namespace flowd::testing
