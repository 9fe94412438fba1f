// EmbeddedBroker (embedded_broker.h): librdkafka's mock cluster, owned by a private handle.
#include "flowd/triggers/embedded_broker.h"

// clang-format off
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>  // needs rdkafka.h first
// clang-format on
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <sstream>

#include "rdkafka_util.h"

namespace flowd::triggers {

namespace {

Result<void> write_address_file(const std::string& path, const std::string& bootstrap) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << bootstrap << "\n";
    out.flush();
    if (!out) return fail(ErrorCode::kInternal, "embedded broker: cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return fail(ErrorCode::kInternal, "embedded broker: cannot write " + path);
  }
  return {};
}

class EmbeddedBrokerImpl final : public EmbeddedBroker {
 public:
  explicit EmbeddedBrokerImpl(EmbeddedBrokerOptions options) : options_(std::move(options)) {}

  ~EmbeddedBrokerImpl() override {
    if (!options_.address_file.empty() && wrote_file_) {
      // Remove the file only when it still names this broker (another may have replaced it).
      auto current = read_address_file(options_.address_file);
      if (current && *current == bootstrap_) std::remove(options_.address_file.c_str());
    }
    if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
    if (rk_ != nullptr) rd_kafka_destroy(rk_);
  }

  Result<void> init() {
    if (options_.brokers < 1 || options_.partitions < 1) {
      return fail(ErrorCode::kInvalidInput, "embedded broker: brokers and partitions must be >= 1");
    }
    // The handle only carries the cluster: it connects nowhere, so keep it from warning so.
    auto conf =
        rdk::make_conf({}, {{"client.id", "flowd-embedded-broker"}, {"log_level", "3"}}, {});
    if (!conf) return tl::unexpected(conf.error());
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf->get(), errstr, sizeof errstr);
    if (rk_ == nullptr)
      return fail(ErrorCode::kInternal, std::string("embedded broker: ") + errstr);
    (void)conf->release();
    cluster_ = rd_kafka_mock_cluster_new(rk_, options_.brokers);
    if (cluster_ == nullptr) {
      return fail(ErrorCode::kInternal, "embedded broker: the mock cluster did not start");
    }
    bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
    for (const auto& topic : options_.topics) {
      if (auto r = create_topic(topic, options_.partitions); !r) return r;
    }
    if (!options_.address_file.empty()) {
      if (auto r = write_address_file(options_.address_file, bootstrap_); !r) return r;
      wrote_file_ = true;
    }
    spdlog::info("embedded kafka broker on {} ({} broker(s), {} topic(s))", bootstrap_,
                 options_.brokers, options_.topics.size());
    return {};
  }

  const std::string& bootstrap() const override { return bootstrap_; }

  Result<void> create_topic(const std::string& topic, int partitions) override {
    const rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions,
                                                               std::min(options_.brokers, 3));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      return tl::unexpected(rdk::to_error(err, "embedded broker: create topic " + topic));
    }
    return {};
  }

  void push_request_errors(KafkaApi api, const std::vector<int>& errors) override {
    std::vector<rd_kafka_resp_err_t> codes;
    codes.reserve(errors.size());
    for (int e : errors) codes.push_back(static_cast<rd_kafka_resp_err_t>(e));
    rd_kafka_mock_push_request_errors_array(cluster_, static_cast<std::int16_t>(api), codes.size(),
                                            codes.data());
  }

  void clear_request_errors(KafkaApi api) override {
    rd_kafka_mock_clear_request_errors(cluster_, static_cast<std::int16_t>(api));
  }

  Result<void> set_broker_down(int broker_id) override {
    return check(rd_kafka_mock_broker_set_down(cluster_, broker_id), "broker down");
  }
  Result<void> set_broker_up(int broker_id) override {
    return check(rd_kafka_mock_broker_set_up(cluster_, broker_id), "broker up");
  }
  Result<void> set_broker_rtt(int broker_id, Millis rtt) override {
    return check(rd_kafka_mock_broker_set_rtt(cluster_, broker_id, static_cast<int>(rtt.count())),
                 "broker rtt");
  }
  void set_topic_error(const std::string& topic, int error) override {
    rd_kafka_mock_topic_set_error(cluster_, topic.c_str(), static_cast<rd_kafka_resp_err_t>(error));
  }

 private:
  static Result<void> check(rd_kafka_resp_err_t err, const char* what) {
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return tl::unexpected(rdk::to_error(err, std::string("embedded broker: ") + what));
    }
    return {};
  }

  const EmbeddedBrokerOptions options_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstrap_;
  bool wrote_file_ = false;
};

}  // namespace

Result<std::unique_ptr<EmbeddedBroker>> EmbeddedBroker::start(EmbeddedBrokerOptions options) {
  auto broker = std::make_unique<EmbeddedBrokerImpl>(std::move(options));
  if (auto r = broker->init(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<EmbeddedBroker>(std::move(broker));
}

std::map<std::string, std::string> EmbeddedBroker::consumer_properties() {
  return {{"fetch.wait.max.ms", "10"},
          {"session.timeout.ms", "6000"},
          {"heartbeat.interval.ms", "1000"}};
}

Result<void> run_embedded_broker(const EmbeddedBrokerOptions& options, std::stop_token stop,
                                 std::function<void(const std::string& bootstrap)> on_ready) {
  auto broker = EmbeddedBroker::start(options);
  if (!broker) return tl::unexpected(broker.error());
  if (on_ready) on_ready((*broker)->bootstrap());
  std::mutex mutex;
  std::condition_variable_any stopped;
  std::unique_lock lock(mutex);
  stopped.wait(lock, stop, [] { return false; });
  return {};
}

Result<std::string> read_address_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(ErrorCode::kNotFound, "no embedded broker address in " + path);
  std::string line;
  std::getline(in, line);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  if (line.empty()) return fail(ErrorCode::kNotFound, path + " is empty");
  return line;
}

}  // namespace flowd::triggers
