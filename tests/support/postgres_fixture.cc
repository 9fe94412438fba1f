#include "postgres_fixture.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <pqxx/pqxx>
#include <random>
#include <stdexcept>

#ifndef FLOWD_SOURCE_DIR
#error "FLOWD_SOURCE_DIR must name the source tree (for scripts/pg)"
#endif

namespace flowd::testing {
namespace {

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
    text.pop_back();
  }
  return text;
}

std::string start_private_server() {
  const std::string command = std::string(FLOWD_SOURCE_DIR) + "/scripts/pg start";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output = buffer;  // last line
  const int status = ::pclose(pipe);
  if (status != 0 || trim(output).empty()) {
    throw std::runtime_error(command + " failed; set FLOWD_TEST_DATABASE_URL or run scripts/test");
  }
  return trim(output);
}

std::string unique_name() {
  static std::atomic<int> counter{0};
  std::random_device device;
  char buf[64];
  std::snprintf(buf, sizeof buf, "flowd_test_%d_%d_%08x", static_cast<int>(::getpid()),
                counter.fetch_add(1), static_cast<unsigned>(device()));
  return buf;
}

}  // namespace

std::string test_server_url() {
  static std::once_flag once;
  static std::string url;
  std::call_once(once, [] {
    const char* env = std::getenv("FLOWD_TEST_DATABASE_URL");
    url = env != nullptr && *env != '\0' ? std::string(env) : start_private_server();
  });
  return url;
}

std::string with_database(const std::string& url, const std::string& database) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url + " dbname=" + database;  // key=value conninfo
  const auto path = url.find('/', scheme + 3);
  if (path == std::string::npos) {
    const auto query = url.find('?', scheme + 3);
    if (query == std::string::npos) return url + "/" + database;
    return url.substr(0, query) + "/" + database + url.substr(query);
  }
  const auto query = url.find('?', path);
  return url.substr(0, path + 1) + database +
         (query == std::string::npos ? std::string() : url.substr(query));
}

PostgresDatabase::PostgresDatabase()
    : server_url_(test_server_url()),
      name_(unique_name()),
      url_(with_database(server_url_, name_)) {
  pqxx::connection admin(server_url_);
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE DATABASE " + tx.quote_name(name_));
}

PostgresDatabase::~PostgresDatabase() {
  try {
    pqxx::connection admin(server_url_);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postgres fixture: could not drop %s: %s\n", name_.c_str(), e.what());
  }
}

std::string PostgresDatabase::query(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  const auto rows = tx.exec(sql);
  tx.commit();
  if (rows.empty() || rows.columns() == 0 || rows[0][0].is_null()) return "";
  return rows[0][0].as<std::string>();
}

int PostgresDatabase::other_connections() const {
  pqxx::connection conn(server_url_);
  pqxx::nontransaction tx(conn);
  return tx.exec_params("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", name_)[0][0]
      .as<int>();
}

}  // namespace flowd::testing
