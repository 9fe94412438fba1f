#pragma once
// Small coroutine primitives for Boost.Asio 1.74, which has no channels, awaitable operators or
// cancellation slots. All of them are single-threaded: use them on the io_context thread only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace flowd::detail {

// A condition variable for coroutines: wait() suspends until the next notify_all(). Callers
// re-check their condition in a loop, as with std::condition_variable. Built on a timer that never
// expires: cancel() wakes every waiter and leaves the expiry unchanged for the next wait.
class Broadcast {
 public:
  explicit Broadcast(boost::asio::io_context& io)
      : timer_(io, boost::asio::steady_timer::time_point::max()) {}

  boost::asio::awaitable<void> wait() {
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
  void notify_all() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
};

// Counting slots (maxParallel). try_acquire() never suspends; acquire() waits for a release.
class Slots {
 public:
  Slots(boost::asio::io_context& io, int count) : free_(count), released_(io) {}

  bool try_acquire() {
    if (free_ <= 0) return false;
    --free_;
    return true;
  }
  boost::asio::awaitable<void> acquire() {
    while (!try_acquire()) co_await released_.wait();
  }
  void release() {
    ++free_;
    released_.notify_all();
  }

 private:
  int free_;
  Broadcast released_;
};

}  // namespace flowd::detail
