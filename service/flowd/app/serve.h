#pragma once
// The service: PostgreSQL event store, Kafka trigger consumer (embedded broker by default),
// durable runner, outbox relay and the HTTP API, started in that order and stopped in reverse
// on SIGTERM / SIGINT.
#include "flowd/config/config.h"
#include "logging.h"

namespace flowd::app {

// Runs until a stop signal (blocked by the caller in every thread); returns the exit code:
// 0 after a graceful stop, 1 when something could not start.
int serve(const config::Config& config, const Log& log);

}  // namespace flowd::app
