#include "broker.h"

#include <csignal>

#include "flowd/triggers/embedded_broker.h"
#include "signals.h"

namespace flowd::app {

std::unique_ptr<triggers::EmbeddedBroker> start_embedded_broker(const config::Config& config,
                                                                const Log& log) {
  triggers::EmbeddedBrokerOptions options;
  options.partitions = config.kafka.partitions;
  options.address_file = config.kafka.bootstrap_file;
  options.topics = {std::string(triggers::kTriggerTopic), config.kafka.dlq_topic,
                    config.kafka.events_topic};
  auto broker = triggers::EmbeddedBroker::start(options);
  if (!broker) {
    log.write("error", "embedded Kafka broker: " + broker.error().message);
    return nullptr;
  }
  const std::string& bootstrap = (*broker)->bootstrap();
  log.write(
      "info", "embedded Kafka broker running",
      {{"bootstrap", bootstrap},
       {"addressFile", config.kafka.bootstrap_file},
       {"publish", "kcat -P -b " + bootstrap + " -t " + std::string(triggers::kTriggerTopic)}});
  return std::move(*broker);
}

int run_broker(const config::Config& config, const Log& log) {
  auto broker = start_embedded_broker(config, log);
  if (!broker) return 1;
  const int signal = wait_for_stop_signal();
  log.write("info", std::string("stopping on ") + signal_name(signal));
  broker.reset();  // removes the address file
  log.write("info", "stopped");
  return 0;
}

}  // namespace flowd::app
