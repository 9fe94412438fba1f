// flowctl: the command-line tool of flowd. Subcommands are thin: each lives in its own file.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cron_command.h"
#include "dlq_command.h"
#include "durable_commands.h"
#include "run_command.h"
#include "schedules_command.h"
#include "trigger_command.h"
#include "validate_command.h"

int main(int argc, char** argv) {
  CLI::App app{"flowctl — the command-line tool of flowd"};
  app.require_subcommand(1);

  std::vector<std::string> validate_files;
  auto* validate = app.add_subcommand("validate", "Check workflow definitions (exit 1 if invalid)");
  validate->add_option("FILE", validate_files, "YAML or JSON definitions")->required();

  flowctl::RunOptions run_options;
  bool local = false;
  std::string output = "text";
  auto* run = app.add_subcommand("run", "Run a workflow");
  run->add_option("FILE", run_options.file, "the workflow definition")->required();
  auto* input = run->add_option("--input", run_options.input_json, "input as a JSON document");
  run->add_option("--input-file", run_options.input_file, "read the input from a JSON file")
      ->excludes(input);
  run->add_option("--definitions", run_options.definitions_dir,
                  "folder with the sub-workflows it calls (default: the file's folder)");
  run->add_flag("--local", local, "run in-process: no PostgreSQL, no Kafka");
  run->add_option("--output", output, "text (a timeline) or json")
      ->check(CLI::IsMember({"text", "json"}));

  auto run_durable = flowctl::add_durable_commands(app);
  auto run_trigger = flowctl::add_trigger_command(app);
  auto run_cron = flowctl::add_cron_command(app);
  auto run_dlq = flowctl::add_dlq_command(app);
  auto run_schedules = flowctl::add_schedules_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;  // bad usage
  }

  if (int code = run_durable(); code >= 0) return code;
  if (int code = run_trigger(); code >= 0) return code;
  if (int code = run_cron(); code >= 0) return code;
  if (int code = run_dlq(); code >= 0) return code;
  if (int code = run_schedules(); code >= 0) return code;
  if (*validate) return flowctl::validate_command(validate_files, std::cout);
  if (*run) {
    if (!local) {
      std::cerr << "flowctl run: only --local runs are available in this build "
                   "(durable runs go through `flowctl executions start`)\n";
      return 2;
    }
    run_options.json_output = output == "json";
    return flowctl::run_local(run_options, std::cout, std::cerr);
  }
  return 2;
}
