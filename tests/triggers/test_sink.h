#pragma once
// RecordingSink: a TriggerSink for tests. It records every submission and applies a policy:
// complete at once (started / dead-lettered), hold the completion for the test to call, or
// whatever the test's function does. Waiting helpers use its condition variable.
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "flowd/triggers/consumer.h"
#include "kafka_fixture.h"

namespace flowd::testing {

struct Submission {
  std::shared_ptr<const triggers::Record> record;
  triggers::Decoded decoded;
  triggers::Completion done;
  std::size_t in_flight_at_submit = 0;  // held submissions (this one included) at the time
};

// A thread that runs posted functions in order: completions from "another thread", like the
// service's start path would make them.
class Worker {
 public:
  Worker() : thread_([this] { run(); }) {}
  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void post(std::function<void()> f) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(f));
    }
    cv_.notify_one();
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto f = std::move(queue_.front());
      queue_.erase(queue_.begin());
      lock.unlock();
      f();
      lock.lock();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

class RecordingSink : public triggers::TriggerSink {
 public:
  // Returns true when it completed (or will complete) the submission itself; false: held.
  using Policy = std::function<bool(Submission&)>;

  // Completes at once: kDeadLettered for poison, kStarted otherwise.
  static bool complete_now(Submission& s) {
    s.done(s.decoded.is_poison() ? triggers::Outcome::kDeadLettered : triggers::Outcome::kStarted);
    return true;
  }
  static bool hold(Submission&) { return false; }

  explicit RecordingSink(Policy policy = &RecordingSink::complete_now)
      : policy_(std::move(policy)) {}

  void set_policy(Policy policy) {
    std::lock_guard lock(mutex_);
    policy_ = std::move(policy);
  }

  void submit(std::shared_ptr<const triggers::Record> record, triggers::Decoded decoded,
              triggers::Completion done) override {
    Submission s{std::move(record), std::move(decoded), std::move(done), 0};
    Policy policy;
    {
      std::lock_guard lock(mutex_);
      s.in_flight_at_submit = held_.size() + 1;
      max_in_flight_ = std::max(max_in_flight_, s.in_flight_at_submit);
      policy = policy_;
      Submission copy{s.record, s.decoded, triggers::Completion(), s.in_flight_at_submit};
      all_.push_back(std::move(copy));  // without the Completion: dropping it must count
    }
    const bool completed = policy(s);
    {
      std::lock_guard lock(mutex_);
      if (!completed) held_.push_back(std::move(s));
    }
    changed_.notify_all();
  }

  // Completes held submissions matching `pick` (all by default) with `outcome`; returns how many.
  std::size_t release(triggers::Outcome outcome = triggers::Outcome::kStarted,
                      const std::function<bool(const Submission&)>& pick = {}) {
    std::vector<Submission> chosen;
    {
      std::lock_guard lock(mutex_);
      for (auto it = held_.begin(); it != held_.end();) {
        if (!pick || pick(*it)) {
          chosen.push_back(std::move(*it));
          it = held_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& s : chosen) s.done(outcome);
    changed_.notify_all();
    return chosen.size();
  }

  // Waits until `pred(all submissions)` holds.
  bool wait(const std::function<bool(const std::vector<Submission>&)>& pred,
            std::chrono::milliseconds timeout = 30s) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return pred(all_); });
  }
  bool wait_count(std::size_t n, std::chrono::milliseconds timeout = 30s) {
    return wait([n](const auto& all) { return all.size() >= n; }, timeout);
  }

  std::vector<Submission> all() const {
    std::lock_guard lock(mutex_);
    return all_;
  }
  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  std::size_t max_in_flight() const {
    std::lock_guard lock(mutex_);
    return max_in_flight_;
  }
  // How often each record ("topic/partition/offset") was submitted.
  std::map<std::string, int> counts() const {
    std::lock_guard lock(mutex_);
    std::map<std::string, int> out;
    for (const auto& s : all_) ++out[s.record->coordinates()];
    return out;
  }
  // Record values submitted, in order.
  std::vector<std::string> values() const {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& s : all_) out.push_back(s.record->value);
    return out;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Policy policy_;
  std::vector<Submission> all_;
  std::vector<Submission> held_;
  std::size_t max_in_flight_ = 0;
};

}  // namespace flowd::testing
