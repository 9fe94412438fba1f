#include "broker.h"

#include <csignal>

#include "flowd/triggers/embedded_broker.h"
#include "signals.h"

namespace flowd::app {

int run_broker(const config::Config& config, const Log& log) {
  triggers::EmbeddedBrokerOptions options;
  options.partitions = config.kafka.partitions;
  options.address_file = config.kafka.bootstrap_file;
  options.topics = {std::string(triggers::kTriggerTopic), config.kafka.dlq_topic,
                    config.kafka.events_topic};
  auto broker = triggers::EmbeddedBroker::start(options);
  if (!broker) {
    log.write("error", "embedded broker: " + broker.error().message);
    return 1;
  }
  const std::string& bootstrap = (*broker)->bootstrap();
  log.write("info", "embedded Kafka broker running",
            {{"bootstrap", bootstrap},
             {"addressFile", config.kafka.bootstrap_file},
             {"publish", "kcat -P -b " + bootstrap + " -t flowd.triggers"}});
  const int signal = wait_for_stop_signal();
  log.write("info", std::string("stopping on ") + signal_name(signal));
  broker->reset();  // removes the address file
  log.write("info", "stopped");
  return 0;
}

}  // namespace flowd::app
