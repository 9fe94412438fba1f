#pragma once
// SubscriptionImpl: the thread, connection and LISTEN behind a Subscription (subscription.h).
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "flowd/eventstore/subscription.h"

namespace flowd::eventstore::detail {

class SubscriptionImpl final : public Subscription {
 public:
  SubscriptionImpl(std::string url, std::string channel, Position after, Handler handler,
                   SubscriptionOptions options);
  ~SubscriptionImpl() override;

  void stop() override;
  Position position() const override;

 private:
  void run();
  // Sleeps until the socket is readable, stop() is called, or `timeout` passes.
  void wait(int socket, std::chrono::milliseconds timeout);

  const std::string url_;
  const std::string channel_;
  const Handler handler_;
  const SubscriptionOptions options_;
  int wake_fd_ = -1;  // eventfd written by stop()
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  Position position_;  // GUARDED_BY(mutex_)
  std::thread thread_;
};

}  // namespace flowd::eventstore::detail
