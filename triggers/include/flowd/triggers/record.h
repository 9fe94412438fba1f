#pragma once
// Record is one Kafka record as the trigger layer sees it: copied out of librdkafka, so it outlives
// the poll that fetched it and can cross threads. Also the settings every Kafka client here takes.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowd::triggers {

// The topics flowd uses by default: envelope records naming a workflow directly, dead letters, and
// the outbox relay of execution events.
inline constexpr std::string_view kTriggerTopic = "flowd.triggers";
inline constexpr std::string_view kDlqTopic = "flowd.dlq";
inline constexpr std::string_view kEventsTopic = "flowd.events";

struct Header {
  std::string name;
  std::optional<std::string> value;  // empty optional: a header with a null value
};
using Headers = std::vector<Header>;

struct Record {
  std::string topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::optional<std::string> key;  // empty optional: null key
  std::string value;               // the bytes as they were (a null value reads as empty)
  Headers headers;
  std::int64_t timestamp_ms = -1;  // -1 when the broker gave none

  // The last header with this name (compared without regard to ASCII case), or null.
  const std::string* header(std::string_view name) const;
  // "topic/partition/offset": the record's identity, and the dedupe key of records without id.
  std::string coordinates() const;
};

// How to reach a Kafka cluster. `properties` go to librdkafka unchanged after flowd's own
// defaults, so TLS and SASL settings (security.protocol, ssl.*, sasl.*) pass straight through;
// a property flowd's semantics depend on (enable.auto.offset.store) cannot be overridden.
struct KafkaSettings {
  std::string brokers;  // bootstrap.servers, "host:port,host:port"
  std::map<std::string, std::string> properties;
};

}  // namespace flowd::triggers
