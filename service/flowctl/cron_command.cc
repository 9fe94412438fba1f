#include "cron_command.h"

#include <chrono>
#include <iostream>
#include <memory>

#include "flowd/engine/cron.h"

namespace flowctl {

int cron_next(const CronNextOptions& o, std::ostream& out, std::ostream& err) {
  if (!flowd::is_known_time_zone(o.timezone)) {
    err << "flowctl cron next: --timezone: unknown time zone '" << o.timezone
        << "' (an IANA name like Europe/Berlin or UTC)\n";
    return 2;
  }
  auto schedule = flowd::CronSchedule::parse(o.expression, o.timezone);
  if (!schedule) {
    err << "flowctl cron next: '" << o.expression << "': " << schedule.error().message << "\n";
    return 2;
  }
  flowd::SysSeconds from =
      std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  if (!o.from.empty()) {
    auto parsed = flowd::parse_rfc3339(o.from);
    if (!parsed) {
      err << "flowctl cron next: --from: " << parsed.error().message << "\n";
      return 2;
    }
    from = *parsed;
  }
  for (const auto& t : schedule->next_n(from, static_cast<std::size_t>(o.count))) {
    out << flowd::format_utc(t) << "\n";
  }
  return 0;
}

std::function<int()> add_cron_command(CLI::App& app) {
  auto* cron = app.add_subcommand("cron", "Work with cron expressions (no server needed)");
  cron->require_subcommand(1);
  auto options = std::make_shared<CronNextOptions>();
  auto* next = cron->add_subcommand(
      "next", "Print the next fire times of a cron expression as UTC instants, one per line");
  next->add_option("EXPR", options->expression,
                   "5 fields (min hour dom month dow), 6 with seconds first, or a macro")
      ->required();
  next->add_option("--timezone", options->timezone, "IANA time zone of the wall clock")
      ->capture_default_str();
  next->add_option("--from", options->from,
                   "RFC 3339 instant to count from, exclusive (default: now)");
  next->add_option("-n", options->count, "how many fire times")
      ->capture_default_str()
      ->check(CLI::Range(1, 100'000));
  return [next, options] { return *next ? cron_next(*options, std::cout, std::cerr) : -1; };
}

}  // namespace flowctl
