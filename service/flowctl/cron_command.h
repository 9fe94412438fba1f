#pragma once
// `flowctl cron next 'EXPR' [--timezone ZONE] [--from TIME] [-n N]`: the next fire times of a cron
// expression as UTC instants, one per line, computed here (no server, no database), so people can
// check an expression before they deploy it.
#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

namespace flowctl {

struct CronNextOptions {
  std::string expression;
  std::string timezone = "UTC";
  std::string from;  // RFC 3339; empty: now
  int count = 5;
};

// Prints the fire times to `out`; on a bad expression, zone or --from, the reason to `err` and
// exit code 2.
int cron_next(const CronNextOptions& options, std::ostream& out, std::ostream& err);

// Adds `cron next`; the returned function runs it (exit code) or returns -1 when not chosen.
std::function<int()> add_cron_command(CLI::App& app);

}  // namespace flowctl
