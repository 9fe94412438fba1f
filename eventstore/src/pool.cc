#include "pool.h"

namespace flowd::eventstore::detail {

ConnectionPool::ConnectionPool(std::string url, std::size_t size, std::vector<Statement> statements)
    : url_(std::move(url)), size_(size == 0 ? 1 : size), statements_(std::move(statements)) {}

ConnectionPool::~ConnectionPool() {
  close();
}

std::unique_ptr<pqxx::connection> ConnectionPool::acquire(bool& reused) {
  {
    std::unique_lock lock(mutex_);
    available_.wait(lock, [&] { return closed_ || !idle_.empty() || open_ < size_; });
    if (closed_) throw StoreClosed();
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
      return conn;
    }
    ++open_;  // reserve the slot while connecting
  }
  reused = false;
  try {
    auto conn = connect(url_, "flowd-store");
    for (const auto& statement : statements_) conn->prepare(statement.name, statement.sql);
    return conn;
  } catch (...) {
    discard();
    throw;
  }
}

void ConnectionPool::release(std::unique_ptr<pqxx::connection> conn) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) {
      --open_;
    } else {
      idle_.push_back(std::move(conn));
    }
  }
  available_.notify_all();
}

void ConnectionPool::discard() {
  {
    std::lock_guard lock(mutex_);
    --open_;
  }
  available_.notify_all();
}

void ConnectionPool::close() {
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  {
    std::unique_lock lock(mutex_);
    closed_ = true;
    idle.swap(idle_);
    open_ -= idle.size();
    available_.notify_all();
    available_.wait(lock, [&] { return open_ == 0; });
  }
}

}  // namespace flowd::eventstore::detail
