// flowctl: the command-line tool of flowd.
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"flowctl — the command-line tool of flowd"};
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
