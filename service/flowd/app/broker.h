#pragma once
// `flowd broker`: the embedded Kafka broker alone, so several flowd instances and other clients
// (kcat, flowctl trigger) share one on this machine.
#include "flowd/config/config.h"
#include "logging.h"

namespace flowd::app {

// Runs until SIGTERM / SIGINT (which the caller has blocked in every thread); returns the exit
// code.
int run_broker(const config::Config& config, const Log& log);

}  // namespace flowd::app
