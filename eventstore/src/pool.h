#pragma once
// ConnectionPool lends connections to the synchronous API of the event store: at most `size` are
// open; a caller waits when all are lent. Each connection is opened with the session settings of
// connect() and every statement of `statements` prepared. A connection that broke is dropped (the
// next caller opens a new one), and a call that failed on a stale idle connection before anything
// was sent to the server runs once more on a fresh one.
//
// Thread-safe. close() makes further calls fail with errc::shutting_down and waits for lent
// connections to come back.
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pg.h"

namespace flowd::eventstore::detail {

struct Statement {
  const char* name;
  const char* sql;
};

class ConnectionPool {
 public:
  ConnectionPool(std::string url, std::size_t size, std::vector<Statement> statements);
  ~ConnectionPool();

  // Runs f(pqxx::connection&) -> StoreResult<T> on a lent connection; exceptions become
  // StoreErrors (translate()).
  template <class T, class F>
  StoreResult<T> run(std::string_view context, F&& f) {
    for (int attempt = 1;; ++attempt) {
      std::unique_ptr<pqxx::connection> conn;
      bool reused = false;
      try {
        conn = acquire(reused);
        StoreResult<T> result = f(*conn);
        release(std::move(conn));
        return result;
      } catch (const std::exception& e) {
        // Writes run in pqxx::work: a connection that broke before COMMIT wrote nothing.
        const bool broken = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr &&
                            dynamic_cast<const pqxx::in_doubt_error*>(&e) == nullptr;
        if (conn) {
          if (breaks_connection(e) || !conn->is_open()) {
            discard();
          } else {
            release(std::move(conn));
          }
        }
        if (broken && reused && attempt == 1) continue;
        return tl::unexpected<StoreError>(translate(e, context));
      }
    }
  }

  void close();

 private:
  // Throws pqxx exceptions (connect), or StoreClosed after close().
  std::unique_ptr<pqxx::connection> acquire(bool& reused);
  void release(std::unique_ptr<pqxx::connection> conn);
  void discard();

  const std::string url_;
  const std::size_t size_;
  const std::vector<Statement> statements_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mutex_)
  std::size_t open_ = 0;                                 // GUARDED_BY(mutex_)
  bool closed_ = false;                                  // GUARDED_BY(mutex_)
};

}  // namespace flowd::eventstore::detail
