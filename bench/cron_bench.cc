// cron_bench: next-fire computations per second (CronSchedule::next_after), one thread, over a
// mix of expressions (minutely, hourly, weekday, L / 5L / #, six-field seconds, a leap day) and
// zones (UTC, Europe/Berlin, America/New_York, Australia/Lord_Howe, Asia/Kolkata). Each schedule
// walks forward from 2026-01-01 (so DST changes are crossed) and is also asked from scattered
// instants of 2026-2027, as a scheduler asks after a restart. Also the parse rate.
// Options: --seconds S (default 2 per measurement). Ends with `FIGURE <name> <value> <unit>` lines.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "flowd/engine/cron.h"

namespace {

using Clock = std::chrono::steady_clock;

const char* const kExpressions[] = {
    "* * * * *",       "*/5 * * * *",    "0 * * * *",       "30 2 * * *",
    "0 9 * * MON-FRI", "0 0 L * *",      "0 12 ? * 5L",     "0 8 ? * MON#2",
    "*/15 * * * * *",  "0 30 1-3 * * *", "0 0 29 2 *",      "0 0 13 * FRI",
    "@daily",          "@hourly",        "0 0,12 1,15 * *", "15,45 */2 * * 1-5",
};
const char* const kZones[] = {"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                              "Asia/Kolkata"};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  double budget = 2.0;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0) budget = std::atof(argv[++i]);
  }
  std::vector<flowd::CronSchedule> schedules;
  for (const char* zone : kZones) {
    for (const char* expression : kExpressions) {
      auto s = flowd::CronSchedule::parse(expression, zone);
      if (!s) {
        std::fprintf(stderr, "cron_bench: %s: %s\n", expression, s.error().message.c_str());
        return 1;
      }
      schedules.push_back(*s);
    }
  }
  const auto start_of_2026 = *flowd::parse_rfc3339("2026-01-01T00:00:00Z");

  // Chained: each schedule's next fire after its previous one, as a running scheduler asks.
  std::size_t chained = 0;
  std::int64_t checksum = 0;
  std::vector<flowd::SysSeconds> cursor(schedules.size(), start_of_2026);
  auto start = Clock::now();
  double chained_elapsed = 0;
  while ((chained_elapsed = seconds_since(start)) < budget) {
    for (int round = 0; round < 64; ++round) {
      for (std::size_t i = 0; i < schedules.size(); ++i) {
        auto next = schedules[i].next_after(cursor[i]);
        cursor[i] = next ? *next : start_of_2026;
        checksum += cursor[i].time_since_epoch().count() & 1;
        ++chained;
      }
    }
  }

  // Scattered: from pseudo-random instants over two years (a restart, a backfill, an API call).
  std::size_t scattered = 0;
  std::uint64_t state = 88172645463325252ull;
  start = Clock::now();
  double scattered_elapsed = 0;
  while ((scattered_elapsed = seconds_since(start)) < budget) {
    for (int round = 0; round < 1024; ++round) {
      state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
      const auto& s = schedules[state % schedules.size()];
      const auto from = start_of_2026 + std::chrono::seconds((state >> 20) % (2 * 366 * 86400));
      if (auto next = s.next_after(from)) checksum += next->time_since_epoch().count() & 1;
      ++scattered;
    }
  }

  std::size_t parses = 0;
  start = Clock::now();
  double parse_elapsed = 0;
  while ((parse_elapsed = seconds_since(start)) < budget / 2) {
    for (const char* zone : kZones) {
      for (const char* expression : kExpressions) {
        checksum += flowd::CronSchedule::parse(expression, zone).has_value();
        ++parses;
      }
    }
  }

  const double chained_rate = chained / chained_elapsed;
  const double scattered_rate = scattered / scattered_elapsed;
  std::printf("cron_bench: %zu schedules (%zu expressions x %zu zones), checksum %lld\n",
              schedules.size(), std::size(kExpressions), std::size(kZones),
              static_cast<long long>(checksum));
  std::printf("  chained next_after:   %.0f per s\n", chained_rate);
  std::printf("  scattered next_after: %.0f per s\n", scattered_rate);
  std::printf("  parse:                %.0f per s\n", parses / parse_elapsed);
  std::printf("FIGURE cron_next_fire_chained_per_s %.0f per_s\n", chained_rate);
  std::printf("FIGURE cron_next_fire_scattered_per_s %.0f per_s\n", scattered_rate);
  std::printf("FIGURE cron_parse_per_s %.0f per_s\n", parses / parse_elapsed);
  // The headline: the slower of the two ways of asking.
  std::printf("FIGURE cron_next_fire_per_s %.0f per_s\n",
              chained_rate < scattered_rate ? chained_rate : scattered_rate);
  return 0;
}
