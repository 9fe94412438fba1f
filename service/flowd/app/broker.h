#pragma once
// `flowd broker`: the embedded Kafka broker alone, so several flowd instances and other clients
// (kcat, flowctl trigger) share one on this machine.
#include <memory>

#include "flowd/config/config.h"
#include "flowd/triggers/embedded_broker.h"
#include "logging.h"

namespace flowd::app {

// Starts the embedded broker of `config.kafka` (its topics, partitions and address file) and logs
// its bootstrap address with a kcat line; null (and the reason logged) when it cannot start.
std::unique_ptr<triggers::EmbeddedBroker> start_embedded_broker(const config::Config& config,
                                                                const Log& log);

// Runs until SIGTERM / SIGINT (which the caller has blocked in every thread); returns the exit
// code.
int run_broker(const config::Config& config, const Log& log);

}  // namespace flowd::app
