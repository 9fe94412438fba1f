#pragma once
// WorkerPool runs blocking jobs (store calls) off the server's io threads: a fixed set of threads
// taking jobs from one FIFO queue. post() refuses a job when the queue is full (the caller
// answers 503) or the pool stopped. Lifecycle: threads start in the constructor; stop() (or the
// destructor) runs what is queued, then joins. Thread-safe.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace flowd::api::detail {

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when stopped, or when the queue is full and `force` is not set (clean-up jobs force).
  bool post(std::function<void()> job, bool force = false);
  void stop();
  std::size_t queued() const;

 private:
  void run();

  const std::size_t max_queued_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;  // GUARDED_BY(mutex_)
  bool stopping_ = false;                   // GUARDED_BY(mutex_)
  std::mutex join_mutex_;
  std::vector<std::thread> threads_;  // GUARDED_BY(join_mutex_) after construction
};

}  // namespace flowd::api::detail
