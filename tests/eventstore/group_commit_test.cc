#include <atomic>
#include <latch>
#include <mutex>
#include <thread>

#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

TEST_CASE("Group commit: many threads, every callback once, every event durable, in batches",
          "[eventstore][group-commit][integration]") {
  StoreFixture fx;
  constexpr int kThreads = 8;
  constexpr int kExecutionsPerThread = 25;
  constexpr int kAppendsPerExecution = 6;  // each waits for the previous one (write-ahead)
  constexpr int kRequests = kThreads * kExecutionsPerThread * kAppendsPerExecution;

  std::atomic<int> callbacks{0};
  std::atomic<int> failures{0};
  std::latch done(kThreads * kExecutionsPerThread);
  std::mutex mutex;
  std::string first_error;

  // Each execution is a chain: the callback of append n submits append n+1, from the appender
  // thread, like the engine reacting to durability.
  struct Chain {
    EventStore* store;
    std::string id;
    int next = 0;
  };
  std::function<void(std::shared_ptr<Chain>)> step = [&](std::shared_ptr<Chain> chain) {
    const int n = chain->next++;
    std::vector<Event> events;
    if (n == 0) {
      events.push_back(started("bench"));
    } else {
      events.push_back(step_event(EventType::kStepStarted, "s" + std::to_string(n), 1));
      events.push_back(step_event(EventType::kStepCompleted, "s" + std::to_string(n), 1,
                                  {{"output", {{"n", n}}}, {"durationMs", 1}}));
    }
    const std::int64_t expected = n == 0 ? 0 : 1 + 2 * (n - 1);
    chain->store->append(request(chain->id, expected, std::move(events)), Json::object(),
                         [&, chain, n, expected](StoreResult<std::int64_t> r) {
                           callbacks.fetch_add(1);
                           if (!r) {
                             failures.fetch_add(1);
                             std::lock_guard lock(mutex);
                             if (first_error.empty()) first_error = r.error().message;
                             done.count_down();
                             return;
                           }
                           if (*r != expected + (n == 0 ? 1 : 2)) failures.fetch_add(1);
                           if (chain->next < kAppendsPerExecution) {
                             step(chain);
                           } else {
                             done.count_down();
                           }
                         });
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int e = 0; e < kExecutionsPerThread; ++e) {
        auto chain = std::make_shared<Chain>();
        chain->store = fx.store.get();
        chain->id = "t" + std::to_string(t) + "-e" + std::to_string(e);
        step(chain);
      }
    });
  }
  for (auto& t : threads) t.join();
  done.wait();

  INFO(first_error);
  CHECK(failures.load() == 0);
  CHECK(callbacks.load() == kRequests);
  const auto stats = fx.store->appender_stats();
  CHECK(stats.requests == static_cast<std::uint64_t>(kRequests));
  // Durable: every event is in the table, every stream is gap-free 1..n.
  const int per_stream = 1 + 2 * (kAppendsPerExecution - 1);
  CHECK(fx.count("SELECT count(*) FROM events") == kThreads * kExecutionsPerThread * per_stream);
  CHECK(fx.count("SELECT count(*) FROM (SELECT stream_id FROM events GROUP BY stream_id "
                 "HAVING count(*) <> max(stream_version) OR min(stream_version) <> 1) g") == 0);
  CHECK(fx.count("SELECT count(*) FROM streams WHERE version = " + std::to_string(per_stream)) ==
        kThreads * kExecutionsPerThread);
  // Batched: 200 executions in flight share transactions.
  CHECK(stats.batches < stats.requests);
  CHECK(stats.max_batch_events > 2);
  CHECK(fx.count("SELECT count(DISTINCT tx_id) FROM events") ==
        static_cast<std::int64_t>(stats.batches));
}

TEST_CASE("Group commit answers requests queued behind a large batch",
          "[eventstore][group-commit][integration]") {
  StoreOptions options;
  options.max_batch_events = 50;  // forces several transactions
  StoreFixture fx(options);
  constexpr int kExecutions = 400;
  std::latch done(kExecutions);
  std::atomic<int> ok{0};
  for (int i = 0; i < kExecutions; ++i) {
    fx.store->append(request("e-" + std::to_string(i), 0, {started("w")}), Json::object(),
                     [&](StoreResult<std::int64_t> r) {
                       if (r == 1) ok.fetch_add(1);
                       done.count_down();
                     });
  }
  done.wait();
  CHECK(ok.load() == kExecutions);
  const auto stats = fx.store->appender_stats();
  CHECK(stats.max_batch_events <= 50);
  CHECK(stats.batches >= kExecutions / 50);
  CHECK(fx.count("SELECT count(*) FROM events") == kExecutions);
}

}  // namespace
}  // namespace flowd::eventstore
