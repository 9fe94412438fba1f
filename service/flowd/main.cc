// flowd: the durable workflow service. `flowd [--config FILE]` runs it (Kafka triggers, durable
// executions on PostgreSQL, the HTTP API); `flowd broker` runs the embedded Kafka broker alone.
// Settings: the file, then FLOWD_* environment variables, then the flags below (shorthands for
// those variables); config/README.md lists them all.
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "app/broker.h"
#include "app/logging.h"
#include "app/serve.h"
#include "app/signals.h"
#include "flowd/config/config.h"

namespace {

// Flags that stand for environment variables: set ones override the environment.
struct Shorthands {
  std::map<std::string, std::string> values;  // variable -> value
  void add(CLI::App& app, const std::string& flag, const std::string& variable,
           const std::string& help) {
    app.add_option_function<std::string>(
        flag, [this, variable](const std::string& v) { values[variable] = v; },
        help + " (" + variable + ")");
  }
};

}  // namespace

int main(int argc, char** argv) {
  // Before any thread starts, so every thread inherits the mask and only sigwait sees them.
  flowd::app::block_stop_signals();

  CLI::App app{"flowd — the durable workflow service"};
  std::optional<std::string> config_file;
  bool print_config = false;
  Shorthands flags;
  app.add_option("-c,--config", config_file, "configuration file (YAML; config/README.md)");
  app.add_flag("--print-config", print_config,
               "print the effective configuration as JSON and exit (token redacted)");
  flags.add(app, "--database", "FLOWD_DATABASE_URL", "PostgreSQL URL");
  flags.add(app, "--instance-id", "FLOWD_ENGINE_INSTANCE_ID", "this instance's lease owner id");
  flags.add(app, "--listen", "FLOWD_HTTP_LISTEN", "HTTP API address HOST:PORT");
  flags.add(app, "--brokers", "FLOWD_KAFKA_BROKERS", "\"embedded\" or host:port,...");
  flags.add(app, "--max-in-flight", "FLOWD_ENGINE_MAX_IN_FLIGHT", "executions run at once");
  flags.add(app, "--shutdown-grace", "FLOWD_ENGINE_SHUTDOWN_GRACE",
            "time running executions get on SIGTERM (10s)");
  flags.add(app, "--lease", "FLOWD_ENGINE_LEASE_DURATION", "execution lease duration (30s)");
  flags.add(app, "--workflows", "FLOWD_WORKFLOWS_DIRS",
            "comma-separated folders whose definitions are applied at start");
  auto* broker = app.add_subcommand("broker", "run the embedded Kafka broker alone");
  app.require_subcommand(0, 1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  auto env = flowd::config::process_environment();
  for (const auto& [variable, value] : flags.values) env[variable] = value;
  std::optional<std::filesystem::path> file;
  if (config_file) file = *config_file;
  auto config = flowd::config::load(file, env);
  if (!config) {
    std::cerr << "flowd: invalid configuration, nothing started:\n"
              << config.error().to_string() << "\n";
    return 2;
  }
  if (print_config) {
    std::cout << flowd::config::to_json(*config).dump(2) << "\n";
    return 0;
  }
  flowd::app::Log log(config->log);
  spdlog::set_default_logger(log.plain_logger());  // libraries' messages in the same format
  if (broker->parsed()) return flowd::app::run_broker(*config, log);
  return flowd::app::serve(*config, log);
}
