#pragma once
// flowctl's durable commands: `workflows`, `executions`, `admin`. They reach flowd's data through
// a Backend (see backend.h), so the transport can change without touching them.
#include <CLI/CLI.hpp>
#include <functional>

namespace flowctl {

// Adds the subcommands to `app`; the returned function runs whichever was chosen (exit code) or
// returns -1 when none of them was.
std::function<int()> add_durable_commands(CLI::App& app);

}  // namespace flowctl
