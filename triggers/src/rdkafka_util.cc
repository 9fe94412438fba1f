#include "rdkafka_util.h"

#include <spdlog/spdlog.h>

namespace flowd::triggers::rdk {

namespace {

Result<void> set(rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) !=
      RD_KAFKA_CONF_OK) {
    return fail(ErrorCode::kInvalidInput, "kafka property " + name + ": " + errstr);
  }
  return {};
}

}  // namespace

Result<ConfPtr> make_conf(const KafkaSettings& settings,
                          const std::map<std::string, std::string>& defaults,
                          const std::map<std::string, std::string>& forced) {
  ConfPtr conf(rd_kafka_conf_new());
  for (const auto& [name, value] : defaults) {
    if (auto r = set(conf.get(), name, value); !r) return tl::unexpected(r.error());
  }
  if (!settings.brokers.empty()) {
    if (auto r = set(conf.get(), "bootstrap.servers", settings.brokers); !r) {
      return tl::unexpected(r.error());
    }
  }
  for (const auto& [name, value] : settings.properties) {
    if (auto r = set(conf.get(), name, value); !r) return tl::unexpected(r.error());
  }
  for (const auto& [name, value] : forced) {
    if (auto r = set(conf.get(), name, value); !r) return tl::unexpected(r.error());
  }
  rd_kafka_conf_set_log_cb(conf.get(), &log_to_spdlog);
  return conf;
}

bool is_retryable(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR__PURGE_QUEUE:
    case RD_KAFKA_RESP_ERR__PURGE_INFLIGHT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS:
    case RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return true;
    default:
      return false;
  }
}

Error to_error(rd_kafka_resp_err_t err, const std::string& context) {
  return Error::make(ErrorCode::kExternal, context + ": " + rd_kafka_err2str(err),
                     is_retryable(err));
}

Record to_record(const rd_kafka_message_t* m) {
  Record r;
  r.topic = rd_kafka_topic_name(m->rkt);
  r.partition = m->partition;
  r.offset = m->offset;
  if (m->key != nullptr) r.key.emplace(static_cast<const char*>(m->key), m->key_len);
  if (m->payload != nullptr) r.value.assign(static_cast<const char*>(m->payload), m->len);
  rd_kafka_timestamp_type_t type;
  r.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR && headers != nullptr) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      Header h;
      h.name = name;
      if (value != nullptr) h.value.emplace(static_cast<const char*>(value), size);
      r.headers.push_back(std::move(h));
    }
  }
  return r;
}

rd_kafka_headers_t* to_headers(const Headers& headers) {
  rd_kafka_headers_t* out = rd_kafka_headers_new(headers.size());
  for (const Header& h : headers) {
    rd_kafka_header_add(out, h.name.data(), static_cast<ssize_t>(h.name.size()),
                        h.value ? h.value->data() : nullptr,
                        h.value ? static_cast<ssize_t>(h.value->size()) : 0);
  }
  return out;
}

void log_to_spdlog(const rd_kafka_t* rk, int level, const char* facility, const char* buf) {
  // syslog levels: 0 emerg .. 3 err, 4 warning, 5 notice, 6 info, 7 debug
  const spdlog::level::level_enum lvl = level <= 3   ? spdlog::level::err
                                        : level == 4 ? spdlog::level::warn
                                        : level <= 6 ? spdlog::level::info
                                                     : spdlog::level::debug;
  spdlog::log(lvl, "kafka {} {}: {}", rk != nullptr ? rd_kafka_name(rk) : "-", facility, buf);
}

}  // namespace flowd::triggers::rdk
