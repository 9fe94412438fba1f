#pragma once
// flowctl's output: readable tables by default, the API's JSON with --output json, and errors as
// "flowctl: CODE: message" with the hint and the request id. Exit codes: 0 ok, 2 bad input
// (INVALID_INPUT, MISSING_INPUT, INVALID_DEFINITION), 1 anything else.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "backend.h"

namespace flowctl {

int report(const Outcome& result, bool json, const std::function<void(const Json&)>& table);

void print_applied(const Json& workflow);
void print_workflows(const Json& page);
void print_workflow(const Json& workflow);
void print_started(const Json& started);
void print_executions(const Json& page);
void print_state(const Json& execution);
void print_events(const Json& events);
void print_event_row(const Json& event);
void print_replay(const Json& replay);
void print_command(const Json& accepted);
void print_retention(const Json& report);
// audit_output.cc
void print_audit(const Json& audit);
void print_webhooks(const Json& list);

// "name" or "name@3".
tl::expected<std::pair<std::string, std::optional<int>>, ApiError> parse_ref(
    const std::string& ref);
// JSON from `text`, else from the file `file`, else null. `what` names the flag in errors.
tl::expected<Json, ApiError> read_json_arg(const std::string& text, const std::string& file,
                                           const std::string& what);

// `executions events --follow`: the stored events after `after`, then live ones until the end.
int follow_events(const Connection& connection, const std::string& id, std::int64_t after,
                  bool json);

}  // namespace flowctl
