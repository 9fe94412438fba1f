#pragma once
// The embedded broker: librdkafka's in-process mock cluster on loopback, for `kafka.brokers:
// embedded` and `flowd broker`. Any Kafka client (kcat, other flowd processes) can use it while
// the process lives. It keeps everything in memory, is marked experimental by librdkafka, has no
// CreateTopics handler (topics come from the options or create_topic(), or are auto-created with
// `partitions` partitions on first produce) and does not model read_committed / aborted
// transactions.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/triggers/record.h"

namespace flowd::triggers {

struct EmbeddedBrokerOptions {
  int brokers = 1;     // broker ids 1..brokers
  int partitions = 4;  // of every topic created here
  std::vector<std::string> topics = {std::string(kTriggerTopic), std::string(kDlqTopic),
                                     std::string(kEventsTopic)};
  // When set, the bootstrap address is written here (atomically, one line) so that flowctl and
  // scripts find it; removed again when the broker stops.
  std::string address_file;
};

// Kafka protocol API keys the fault injection below takes.
enum class KafkaApi : std::int16_t {
  kProduce = 0,
  kFetch = 1,
  kListOffsets = 2,
  kMetadata = 3,
  kOffsetCommit = 8,
  kOffsetFetch = 9,
  kFindCoordinator = 10,
  kJoinGroup = 11,
  kHeartbeat = 12,
  kLeaveGroup = 13,
  kSyncGroup = 14,
  kInitProducerId = 22,
};

// Error codes for fault injection: Kafka protocol codes, plus librdkafka's transport failure.
namespace kafka_error {
inline constexpr int kTransport = -195;  // RD_KAFKA_RESP_ERR__TRANSPORT: the broker disconnects
inline constexpr int kLeaderNotAvailable = 5;
inline constexpr int kNotLeaderForPartition = 6;
inline constexpr int kRequestTimedOut = 7;
inline constexpr int kCoordinatorNotAvailable = 15;
inline constexpr int kNotCoordinator = 16;
inline constexpr int kNotEnoughReplicas = 19;
}  // namespace kafka_error

// EmbeddedBroker owns the mock cluster. Lifecycle: start() creates it (its own threads serve the
// brokers) and the topics, and writes the address file; the destructor removes the file and
// destroys the cluster, dropping every client's connection. Methods are safe from any thread.
class EmbeddedBroker {
 public:
  static Result<std::unique_ptr<EmbeddedBroker>> start(EmbeddedBrokerOptions options);
  virtual ~EmbeddedBroker() = default;

  // "127.0.0.1:port[,127.0.0.1:port...]"
  virtual const std::string& bootstrap() const = 0;
  // Consumer properties that suit the mock cluster (KafkaSettings::properties): it answers an
  // empty fetch only after fetch.wait.max.ms, and makes a joining member wait
  // session.timeout.ms - 1 s, so both are kept small.
  static std::map<std::string, std::string> consumer_properties();
  virtual Result<void> create_topic(const std::string& topic, int partitions) = 0;

  // Fault injection (tests): the next `errors.size()` requests of `api` fail with these codes,
  // in order; clear_request_errors() forgets what is left.
  virtual void push_request_errors(KafkaApi api, const std::vector<int>& errors) = 0;
  virtual void clear_request_errors(KafkaApi api) = 0;
  // Disconnects the broker's clients and refuses new connections / accepts them again.
  virtual Result<void> set_broker_down(int broker_id) = 0;
  virtual Result<void> set_broker_up(int broker_id) = 0;
  virtual Result<void> set_broker_rtt(int broker_id, Millis rtt) = 0;
  // Every request about `topic` fails with `error` (0 clears it).
  virtual void set_topic_error(const std::string& topic, int error) = 0;
};

// `flowd broker`: runs an embedded broker until `stop` is requested. `on_ready` (optional) gets
// the bootstrap address once the cluster serves. Errors: the cluster or the address file could
// not be made.
Result<void> run_embedded_broker(const EmbeddedBrokerOptions& options, std::stop_token stop,
                                 std::function<void(const std::string& bootstrap)> on_ready = {});

// The bootstrap address a running embedded broker wrote to `path` (NOT_FOUND when absent).
Result<std::string> read_address_file(const std::string& path);

}  // namespace flowd::triggers
