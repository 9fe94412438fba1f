// Figures, not rules (hidden tag [.]; run with `flowd_triggers_tests "[latency]"`): the time from
// a produce call to the sink's submit() through the embedded broker, one record at a time, and
// how many records per second one consumer hands to a sink that completes at once.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <iostream>
#include <mutex>
#include <vector>

#include "flowd/triggers/consumer.h"
#include "kafka_fixture.h"
#include "test_sink.h"
#include "workflows.h"

namespace flowd::testing {
namespace {

using Clock = std::chrono::steady_clock;

TEST_CASE("Trigger latency and consumer throughput on the embedded broker",
          "[.][integration][kafka][latency]") {
  KafkaFixture kafka({}, 4);
  std::mutex mutex;
  std::vector<Clock::time_point> received;
  RecordingSink sink([&](Submission& s) {
    {
      std::lock_guard lock(mutex);
      received.push_back(Clock::now());
    }
    return RecordingSink::complete_now(s);
  });
  auto config = kafka.consumer_config("g-latency", {"flowd.triggers"});
  auto consumer = triggers::TriggerConsumer::create(config, envelope_router(), sink);
  REQUIRE(consumer);
  REQUIRE((*consumer)->start());
  REQUIRE(eventually([&] { return (*consumer)->stats().assigned_partitions == 4; }, 30s));
  auto producer = kafka.producer();
  const std::string value = R"({"workflow":"invoice","input":{"n":1}})";

  constexpr int kSamples = 200;
  std::vector<double> latencies_ms;
  for (int i = 0; i < kSamples; ++i) {
    const auto sent = Clock::now();
    REQUIRE(producer->send({"flowd.triggers", std::nullopt, std::to_string(i), value, {}},
                           [](Result<triggers::Delivery>) {}));
    REQUIRE(sink.wait_count(static_cast<std::size_t>(i + 1)));
    std::lock_guard lock(mutex);
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(received.back() - sent).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p50 = latencies_ms[kSamples / 2];
  const double p99 = latencies_ms[kSamples * 99 / 100];

  constexpr int kBurst = 5000;
  const auto start = Clock::now();
  for (int i = 0; i < kBurst; ++i) {
    REQUIRE(producer->send({"flowd.triggers", std::nullopt, std::to_string(i), value, {}},
                           [](Result<triggers::Delivery>) {}));
  }
  REQUIRE(sink.wait_count(kSamples + kBurst, 120s));
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::cout << "produce -> submit latency over " << kSamples << " records: p50 " << p50
            << " ms, p99 " << p99 << " ms; burst of " << kBurst << " records consumed in "
            << seconds << " s (" << kBurst / seconds << " records/s)\n";
  CHECK(sink.counts().size() == kSamples + kBurst);
}

}  // namespace
}  // namespace flowd::testing
