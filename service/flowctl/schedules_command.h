#pragma once
// `flowctl schedules …`: create, update, delete, pause, unpause, list, get, next, backfill — the
// /api/v1/schedules routes of a running flowd (--server / FLOWD_SERVER). Unlike `flowctl dlq`
// there is no --database mode: a backfill starts executions, which takes a running flowd.
// docs/cron.md "Schedules" is the guide.
#include <CLI/CLI.hpp>
#include <functional>

namespace flowctl {

// Adds `schedules` to `app`; the returned function runs it (exit code) or returns -1.
std::function<int()> add_schedules_command(CLI::App& app);

}  // namespace flowctl
