#pragma once
// EventStore::Impl: the options, the group-commit appender and the connection pool of the
// synchronous API, plus the prepared statements of that API. Private to eventstore/src.
#include <memory>
#include <mutex>

#include "appender.h"
#include "flowd/eventstore/event_store.h"
#include "pool.h"

namespace flowd::eventstore {

class EventStore::Impl {
 public:
  explicit Impl(StoreOptions options);
  ~Impl();

  void close();

  const StoreOptions options;
  detail::Appender appender;
  detail::ConnectionPool pool;

 private:
  std::once_flag closed_;
};

namespace detail {
// The statements prepared on every pool connection (store_statements.cc).
const std::vector<Statement>& store_statements();
}  // namespace detail

}  // namespace flowd::eventstore
