#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "output.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "http_client.h"

namespace flowctl {
namespace {

std::string cell(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string clip(std::string text, std::size_t width) {
  if (text.size() > width) text = text.substr(0, width - 3) + "...";
  return text;
}

}  // namespace

int report(const Outcome& result, bool json, const std::function<void(const Json&)>& table) {
  if (!result) {
    const ApiError& e = result.error();
    std::cerr << "flowctl: " << e.code << ": " << e.message << "\n";
    std::string hint = e.hint.empty() ? std::string(flowd::http::default_hint(e.code)) : e.hint;
    if (!hint.empty()) std::cerr << "  hint: " << hint << "\n";
    if (e.details.is_object()) {
      if (auto p = e.details.find("problems"); p != e.details.end() && p->is_array())
        for (const auto& problem : *p)
          std::cerr << "  - "
                    << (problem.is_string() ? problem.get<std::string>()
                                            : problem.value("text", problem.dump()))
                    << "\n";
      if (auto r = e.details.find("requestId"); r != e.details.end() && r->is_string())
        std::cerr << "  request id: " << r->get<std::string>() << "\n";
    }
    if (json) {
      Json body{{"error", {{"code", e.code}, {"message", e.message}, {"hint", hint}}}};
      if (!e.details.is_null()) body["error"]["details"] = e.details;
      std::cout << body.dump() << "\n";
    }
    bool bad_input =
        e.code == "INVALID_INPUT" || e.code == "MISSING_INPUT" || e.code == "INVALID_DEFINITION";
    return bad_input ? 2 : 1;
  }
  if (json) {
    std::cout << result->dump() << "\n";
  } else if (table) {
    table(*result);
  }
  return 0;
}

void print_applied(const Json& r) {
  std::cout << fmt::format("{}@{} {} ({})\n", cell(r, "name"), cell(r, "version"),
                           r.value("created", false) ? "stored" : "unchanged",
                           cell(r, "contentHash").substr(0, 12));
}

void print_workflows(const Json& page) {
  std::cout << fmt::format("{:<32} {:>7} {:>8}  {:<24}  {}\n", "NAME", "LATEST", "VERSIONS",
                           "UPDATED", "DESCRIPTION");
  for (const auto& w : page["items"])
    std::cout << fmt::format("{:<32} {:>7} {:>8}  {:<24}  {}\n", cell(w, "name"),
                             cell(w, "latestVersion"), cell(w, "versions"), cell(w, "updatedAt"),
                             clip(w.value("description", ""), 60));
  if (page.contains("nextPageToken"))
    std::cout << "more: --page-token " << page["nextPageToken"].get<std::string>() << "\n";
}

void print_workflow(const Json& w) {
  std::cout << fmt::format("workflow {}@{}  hash {}  created {}\n", cell(w, "name"),
                           cell(w, "version"), cell(w, "contentHash").substr(0, 12),
                           cell(w, "createdAt"));
  if (w.contains("description")) std::cout << "  " << cell(w, "description") << "\n";
  const Json& spec = w.value("definition", Json::object()).value("spec", Json::object());
  if (spec.contains("steps") && spec["steps"].is_array()) {
    std::cout << "  steps:";
    for (const auto& s : spec["steps"]) std::cout << " " << cell(s, "id");
    std::cout << "\n";
  }
  if (w.contains("versions")) {
    std::cout << fmt::format("  {:>7}  {:<14} {}\n", "VERSION", "HASH", "CREATED");
    for (const auto& v : w["versions"])
      std::cout << fmt::format("  {:>7}  {:<14} {}\n", cell(v, "version"),
                               cell(v, "contentHash").substr(0, 12), cell(v, "createdAt"));
  }
}

void print_started(const Json& r) {
  std::cout << cell(r, "id") << "  " << cell(r, "workflow") << "@" << cell(r, "workflowVersion")
            << (r.value("duplicate", false)
                    ? "  already started with this dedupe key (" + cell(r, "status") + ")"
                    : "  started")
            << (r.contains("retryOf") ? " (rerun of " + cell(r, "retryOf") + ")" : "") << "\n";
}

void print_executions(const Json& page) {
  // Columns as wide as their longest cell: a sub-workflow child's id (<parent>.<step>.<attempt>)
  // is longer than a UUID.
  std::size_t id_width = 36, wf_width = 24;
  for (const auto& e : page["items"]) {
    id_width = std::max(id_width, cell(e, "id").size());
    wf_width =
        std::max(wf_width, cell(e, "workflow").size() + 1 + cell(e, "workflowVersion").size());
  }
  auto row = [&](const std::string& id, const std::string& wf, const std::string& status,
                 const std::string& events, const std::string& started, const std::string& step) {
    std::cout << fmt::format("{:<{}}  {:<{}} {:<10} {:>6}  {:<24}  {}\n", id, id_width, wf,
                             wf_width, status, events, started, step);
  };
  row("ID", "WORKFLOW", "STATUS", "EVENTS", "STARTED", "STEP");
  for (const auto& e : page["items"]) {
    std::string wf = cell(e, "workflow") + "@" + cell(e, "workflowVersion");
    std::string step = e.contains("currentStep") && e["currentStep"].is_object()
                           ? cell(e["currentStep"], "step") + " " + cell(e["currentStep"], "event")
                           : "-";
    row(cell(e, "id"), wf, cell(e, "status"), cell(e, "version"), cell(e, "startedAt"), step);
  }
  if (page.contains("nextPageToken"))
    std::cout << "more: --page-token " << page["nextPageToken"].get<std::string>() << "\n";
}

void print_state(const Json& state) {
  std::cout << fmt::format("execution {}  {}@{}  {}  (event {})\n", cell(state, "id"),
                           cell(state, "workflow"), cell(state, "workflowVersion"),
                           cell(state, "status"), cell(state, "version"));
  if (state.contains("error") && !state["error"].is_null())
    std::cout << "error: " << state["error"].dump() << "\n";
  if (state.contains("retryOf")) std::cout << "rerun of: " << cell(state, "retryOf") << "\n";
  std::cout << fmt::format("  {:<28} {:<10} {:>8}  {}\n", "STEP", "STATUS", "ATTEMPTS", "OUTPUT");
  const Json steps = state.value("steps", Json::object());
  for (const auto& [path, s] : steps.items()) {
    std::string out = s.contains("output") ? s["output"].dump() : "";
    std::cout << fmt::format("  {:<28} {:<10} {:>8}  {}\n", path, cell(s, "status"),
                             cell(s, "attempts"), clip(out, 60));
  }
  if (state.contains("output") && !state["output"].is_null())
    std::cout << "output: " << state["output"].dump() << "\n";
}

void print_event_row(const Json& e) {
  Json data = e.value("data", Json::object());
  std::string key;
  for (const char* k : {"error", "output", "reason", "delayMs", "input", "kind"})
    if (data.contains(k)) {
      key = std::string(k) + "=" + data[k].dump();
      break;
    }
  std::cout << fmt::format("{:>5}  {:<24}  {:<20} {:<24} {:>3}  {}\n", cell(e, "version"),
                           cell(e, "time"), cell(e, "type"), cell(e, "step"), cell(e, "attempt"),
                           clip(key, 80));
}

void print_events(const Json& events) {
  std::cout << fmt::format("{:>5}  {:<24}  {:<20} {:<24} {:>3}  {}\n", "N", "TIME", "TYPE", "STEP",
                           "ATT", "DATA");
  for (const auto& e : events["items"]) print_event_row(e);
}

void print_replay(const Json& r) {
  print_state(r["state"]);
  std::cout << fmt::format("  {:>5}  {:<20} {:<24} {}\n", "N", "TYPE", "STEP", "STATUS AFTER");
  for (const auto& t : r.value("timeline", Json::array()))
    std::cout << fmt::format("  {:>5}  {:<20} {:<24} {}\n", cell(t, "version"), cell(t, "type"),
                             cell(t, "step"), cell(t, "status"));
}

void print_command(const Json& r) {
  std::cout << cell(r, "command") << " requested for " << cell(r, "executionId") << " (command "
            << cell(r, "commandId") << ")\n";
}

void print_retention(const Json& r) {
  std::cout << fmt::format("{} {} executions, {} events, {} snapshots in {} batches\n",
                           r.value("dryRun", false) ? "would remove" : "removed",
                           cell(r, "executions"), cell(r, "events"), cell(r, "snapshots"),
                           cell(r, "batches"));
}

tl::expected<std::pair<std::string, std::optional<int>>, ApiError> parse_ref(
    const std::string& ref) {
  auto at = ref.find('@');
  if (at == std::string::npos) return std::pair<std::string, std::optional<int>>{ref, {}};
  std::string v = ref.substr(at + 1);
  if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos || v.size() > 9)
    return tl::unexpected(ApiError::invalid_input("bad workflow reference '" + ref + "'",
                                                  "NAME or NAME@VERSION, e.g. orders@2"));
  return std::pair<std::string, std::optional<int>>{ref.substr(0, at), std::stoi(v)};
}

tl::expected<Json, ApiError> read_json_arg(const std::string& text, const std::string& file,
                                           const std::string& what) {
  std::string source = text, name = what;
  if (text.empty() && !file.empty()) {
    std::ifstream in(file);
    if (!in)
      return tl::unexpected(ApiError::invalid_input("cannot read " + file + ": no such file"));
    std::stringstream buffer;
    buffer << in.rdbuf();
    source = buffer.str();
    name = file;
  }
  if (source.empty()) return Json();
  try {
    return Json::parse(source);
  } catch (const Json::parse_error& e) {
    return tl::unexpected(ApiError::invalid_input(name + " is not JSON: " + e.what()));
  }
}

int follow_events(const Connection& connection, const std::string& id, std::int64_t after,
                  bool json) {
  if (!connection.database.empty() || connection.server.empty())
    return report(tl::unexpected(ApiError::invalid_input(
                      "--follow needs the HTTP API (--server / FLOWD_SERVER), not --database")),
                  json, {});
  auto client = HttpClient::make(connection.server, connection.token, connection.timeout);
  if (!client) return report(tl::unexpected(client.error()), json, {});
  if (!json)
    std::cout << fmt::format("{:>5}  {:<24}  {:<20} {:<24} {:>3}  {}\n", "N", "TIME", "TYPE",
                             "STEP", "ATT", "DATA")
              << std::flush;
  std::string status;
  auto streamed =
      client->stream("/api/v1/executions/" + id + "/events/stream?after=" + std::to_string(after),
                     [&](const std::string& event, const std::string& data) {
                       Json j = Json::parse(data, nullptr, false);
                       if (event == "end") {
                         status = j.value("status", "");
                         if (json) std::cout << Json{{"end", j}}.dump() << "\n";
                         return false;
                       }
                       if (json) {
                         std::cout << data << "\n";
                       } else {
                         print_event_row(j);
                       }
                       std::cout << std::flush;
                       return true;
                     });
  if (!streamed) return report(tl::unexpected(streamed.error()), json, {});
  if (!json && !status.empty()) std::cout << "execution ended: " << status << "\n";
  return 0;
}

}  // namespace flowctl
