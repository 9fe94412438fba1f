#pragma once
// The edge between librdkafka and flowd (private to triggers/): configuration, error translation,
// record copies, logging. Nothing here leaks librdkafka types into public headers.
#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flowd/engine/error.h"
#include "flowd/triggers/record.h"

namespace flowd::triggers::rdk {

struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;

struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const {
    rd_kafka_topic_partition_list_destroy(list);
  }
};
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;

// A configuration: flowd's `defaults`, then the user's settings (brokers, properties), then
// `forced` (what flowd's guarantees rest on). Logs go to spdlog. INVALID_INPUT names a property
// librdkafka refused.
Result<ConfPtr> make_conf(const KafkaSettings& settings,
                          const std::map<std::string, std::string>& defaults,
                          const std::map<std::string, std::string>& forced);

// A librdkafka error as a flowd Error (EXTERNAL; retryable when librdkafka says it may pass).
Error to_error(rd_kafka_resp_err_t err, const std::string& context);
bool is_retryable(rd_kafka_resp_err_t err);

Record to_record(const rd_kafka_message_t* message);

// Headers for rd_kafka_producev (owned by the caller until produce succeeds).
rd_kafka_headers_t* to_headers(const Headers& headers);

// Routes librdkafka's log lines to spdlog.
void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* buf);

}  // namespace flowd::triggers::rdk
