#pragma once
// Small coroutine primitives for Boost.Asio 1.74, which has no channels, awaitable operators or
// cancellation slots. All of them are single-threaded: use them on the io_context thread only.
// Own block, first: boost/asio/awaitable.hpp (1.74) uses std::exchange without <utility>.
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <map>
#include <vector>

namespace flowd::detail {

class Broadcast;

// Per io_context: the Broadcasts that have waiters, so that shutting the io_context down destroys
// the suspended coroutines (they hold the objects that own the Broadcasts: without this, a run
// left waiting at shutdown would keep itself alive).
class BroadcastRegistry : public boost::asio::execution_context::service {
 public:
  static inline boost::asio::execution_context::id id;
  explicit BroadcastRegistry(boost::asio::execution_context& context) : service(context) {}

  void add(Broadcast* b);
  void remove(Broadcast* b);
  void shutdown() override;

 private:
  Broadcast* head_ = nullptr;
};

// A condition variable for coroutines: wait() suspends until the next notify_all(). Callers
// re-check their condition in a loop, as with std::condition_variable. The waiters are the
// coroutines' completion handlers, posted on notify: no timer, no allocation but the vector's.
class Broadcast {
 public:
  using Handler = boost::asio::async_result<boost::asio::use_awaitable_t<>, void()>::handler_type;

  explicit Broadcast(boost::asio::io_context& io) : io_(io) {}
  ~Broadcast() {
    if (registry_) registry_->remove(this);
  }
  Broadcast(const Broadcast&) = delete;
  Broadcast& operator=(const Broadcast&) = delete;

  boost::asio::awaitable<void> wait() {
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        Initiation{this}, boost::asio::use_awaitable);
  }
  void notify_all() {
    if (waiters_.empty()) return;
    std::vector<Handler> waiters = std::move(waiters_);
    waiters_.clear();
    for (Handler& h : waiters) boost::asio::post(std::move(h));
  }
  // Destroys the suspended waiters without resuming them (io_context shutdown).
  void drop_waiters() {
    std::vector<Handler> waiters = std::move(waiters_);
    waiters_.clear();
  }

 private:
  friend class BroadcastRegistry;
  // A named type, not a lambda: GCC 12 mishandled lambdas created inside coroutine code.
  struct Initiation {
    Broadcast* self;
    void operator()(Handler handler) const {
      if (!self->registry_) {
        self->registry_ = &boost::asio::use_service<BroadcastRegistry>(self->io_);
        self->registry_->add(self);
      }
      self->waiters_.push_back(std::move(handler));
    }
  };

  boost::asio::io_context& io_;
  std::vector<Handler> waiters_;
  BroadcastRegistry* registry_ = nullptr;  // set on the first wait
  Broadcast* prev_ = nullptr;              // in the registry's list
  Broadcast* next_ = nullptr;
};

inline void BroadcastRegistry::add(Broadcast* b) {
  b->prev_ = nullptr;
  b->next_ = head_;
  if (head_) head_->prev_ = b;
  head_ = b;
}

inline void BroadcastRegistry::remove(Broadcast* b) {
  if (b->prev_) b->prev_->next_ = b->next_;
  if (b->next_) b->next_->prev_ = b->prev_;
  if (head_ == b) head_ = b->next_;
  b->prev_ = b->next_ = nullptr;
  b->registry_ = nullptr;
}

inline void BroadcastRegistry::shutdown() {
  // Dropping waiters may destroy Broadcasts (and unlink them): take each off the list first.
  while (Broadcast* b = head_) {
    remove(b);
    b->drop_waiters();
  }
}

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

// Per io_context: the workflow deadlines of every run on one timer. Adding a deadline is a map
// insert; the timer is re-armed only when the new deadline is the earliest.
class DeadlineQueue : public boost::asio::execution_context::service {
 public:
  using Clock = std::chrono::steady_clock;
  // What a deadline belongs to; it must remove() its entry before it is destroyed.
  class Client {
   public:
    virtual void deadline_expired() = 0;

   protected:
    ~Client() = default;

   private:
    friend class DeadlineQueue;
    std::multimap<Clock::time_point, Client*>::iterator entry_;
    bool armed_ = false;
  };

  static inline boost::asio::execution_context::id id;
  explicit DeadlineQueue(boost::asio::execution_context& context)
      : service(context), timer_(static_cast<boost::asio::io_context&>(context)) {}

  void add(Client& client, Clock::time_point when) {
    remove(client);
    client.entry_ = entries_.emplace(when, &client);
    client.armed_ = true;
    if (when < armed_for_) arm(when);
  }
  void remove(Client& client) {
    if (!client.armed_) return;
    entries_.erase(client.entry_);
    client.armed_ = false;
    if (entries_.empty() && armed_for_ != Clock::time_point::max() && !idle_check_posted_) {
      // Nothing left to time, and a pending wait would keep io_context::run() from returning.
      // Disarm later unless a run already queued adds a deadline first (one arm per burst).
      idle_check_posted_ = true;
      boost::asio::post(timer_.get_executor(), [this] {
        idle_check_posted_ = false;
        if (!entries_.empty() || armed_for_ == Clock::time_point::max()) return;
        armed_for_ = Clock::time_point::max();
        timer_.cancel();
      });
    }
  }
  void shutdown() override {
    for (auto& [when, client] : entries_) client->armed_ = false;
    entries_.clear();
  }

 private:
  void arm(Clock::time_point when) {
    armed_for_ = when;
    timer_.expires_at(when);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;  // re-armed earlier (cancelled), or shut down
      fire();
    });
  }
  void fire() {
    armed_for_ = Clock::time_point::max();
    const auto now = Clock::now();
    while (!entries_.empty() && entries_.begin()->first <= now) {
      Client* client = entries_.begin()->second;
      entries_.erase(entries_.begin());
      client->armed_ = false;
      client->deadline_expired();
    }
    if (!entries_.empty()) arm(entries_.begin()->first);
  }

  boost::asio::steady_timer timer_;
  Clock::time_point armed_for_ = Clock::time_point::max();
  bool idle_check_posted_ = false;
  std::multimap<Clock::time_point, Client*> entries_;
};

}  // namespace flowd::detail
