#pragma once
// `flowctl trigger WORKFLOW`: publishes a flowd trigger envelope to Kafka, as a producing system
// would, so that flowd's trigger consumer starts the workflow.
#include <CLI/CLI.hpp>
#include <functional>

namespace flowctl {

// Adds the subcommand; the returned function runs it (exit code) or returns -1 when not chosen.
std::function<int()> add_trigger_command(CLI::App& app);

}  // namespace flowctl
