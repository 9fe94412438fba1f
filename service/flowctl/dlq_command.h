#pragma once
// `flowctl dlq …`: list, show, stats, retry (one letter, or in bulk with a rate, a progress bar
// and a stop when retries fail again above a threshold), discard, archive. Through flowd's HTTP
// API (--server / FLOWD_SERVER) or PostgreSQL directly (--database / FLOWD_DATABASE_URL), like
// the other durable commands. docs/dlq.md is the guide.
#include <CLI/CLI.hpp>
#include <functional>

namespace flowctl {

// Adds `dlq` to `app`; the returned function runs it (exit code) or returns -1 when not chosen.
std::function<int()> add_dlq_command(CLI::App& app);

}  // namespace flowctl
