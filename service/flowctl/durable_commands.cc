#include "durable_commands.h"

#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>

#include "backend.h"
#include "flowd/engine/definition.h"
#include "flowd/engine/duration.h"

namespace flowctl {
namespace {

struct Settings {
  std::string database = std::getenv("FLOWD_DATABASE_URL") ? std::getenv("FLOWD_DATABASE_URL") : "";
  std::string output = "table";
};

std::string cell(const Json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_executions(const Json& page) {
  std::cout << fmt::format("{:<36}  {:<22} {:<10} {:>6}  {:<24}  {}\n", "ID", "WORKFLOW", "STATUS",
                           "EVENTS", "STARTED", "STEP");
  for (const auto& e : page["items"]) {
    std::string wf = cell(e, "workflow") + "@" + cell(e, "workflowVersion");
    std::string step = e.contains("currentStep") && e["currentStep"].is_object()
                           ? cell(e["currentStep"], "step") + " " + cell(e["currentStep"], "event")
                           : "-";
    std::cout << fmt::format("{:<36}  {:<22} {:<10} {:>6}  {:<24}  {}\n", cell(e, "id"), wf,
                             cell(e, "status"), cell(e, "version"), cell(e, "startedAt"), step);
  }
  if (!page.value("nextPageToken", std::string()).empty())
    std::cout << "more: --page-token " << page["nextPageToken"].get<std::string>() << "\n";
}

void print_events(const Json& events) {
  std::cout << fmt::format("{:>5}  {:<24}  {:<20} {:<24} {:>3}  {}\n", "N", "TIME", "TYPE", "STEP",
                           "ATT", "DATA");
  for (const auto& e : events["items"]) {
    Json data = e.value("data", Json::object());
    std::string key;
    for (const char* k : {"error", "output", "reason", "delayMs", "input", "kind"})
      if (data.contains(k)) {
        key = std::string(k) + "=" + data[k].dump();
        break;
      }
    if (key.size() > 80) key = key.substr(0, 77) + "...";
    std::cout << fmt::format("{:>5}  {:<24}  {:<20} {:<24} {:>3}  {}\n", cell(e, "version"),
                             cell(e, "time"), cell(e, "type"), cell(e, "step"), cell(e, "attempt"),
                             key);
  }
}

void print_state(const Json& state) {
  std::cout << fmt::format("execution {}  {}@{}  {}  (event {})\n", cell(state, "id"),
                           cell(state, "workflow"), cell(state, "workflowVersion"),
                           cell(state, "status"), cell(state, "version"));
  if (state.contains("error")) std::cout << "error: " << state["error"].dump() << "\n";
  std::cout << fmt::format("  {:<28} {:<10} {:>8}  {}\n", "STEP", "STATUS", "ATTEMPTS", "OUTPUT");
  for (const auto& [path, s] : state["steps"].items()) {
    std::string out = s.contains("output") ? s["output"].dump() : "";
    if (out.size() > 60) out = out.substr(0, 57) + "...";
    std::cout << fmt::format("  {:<28} {:<10} {:>8}  {}\n", path, cell(s, "status"),
                             cell(s, "attempts"), out);
  }
  if (state.contains("output") && !state["output"].is_null())
    std::cout << "output: " << state["output"].dump() << "\n";
}

int report(const Result<Json>& result, const Settings& settings,
           const std::function<void(const Json&)>& table) {
  if (!result) {
    std::cerr << "flowctl: " << flowd::to_string(result.error().code) << ": "
              << result.error().message << "\n";
    return result.error().code == flowd::ErrorCode::kInvalidInput ||
                   result.error().code == flowd::ErrorCode::kInvalidDefinition
               ? 2
               : 1;
  }
  if (settings.output == "json") {
    std::cout << result->dump() << "\n";
  } else {
    table(*result);
  }
  return 0;
}

Result<Json> parse_json(const std::string& text, const char* what) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return flowd::fail(flowd::ErrorCode::kInvalidInput,
                       std::string(what) + " is not JSON: " + e.what());
  }
}

}  // namespace

std::function<int()> add_durable_commands(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  auto chosen = std::make_shared<std::function<int()>>();
  auto with_backend = [settings](std::function<Result<Json>(Backend&)> call) -> Result<Json> {
    auto backend = open_backend(settings->database);
    if (!backend) return tl::unexpected(backend.error());
    return call(**backend);
  };
  auto common = [settings](CLI::App* sub) {
    sub->add_option("--database", settings->database, "PostgreSQL URL (FLOWD_DATABASE_URL)");
    sub->add_option("--output", settings->output, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
  };

  // --- workflows -------------------------------------------------------------------------------
  auto* workflows = app.add_subcommand("workflows", "The workflow definition registry");
  workflows->require_subcommand(1);
  auto* apply = workflows->add_subcommand("apply", "Store a definition as a new immutable version");
  common(apply);
  auto apply_files = std::make_shared<std::vector<std::string>>();
  apply->add_option("FILE", *apply_files)->required();
  apply->callback([=] {
    *chosen = [=] {
      int code = 0;
      for (const auto& file : *apply_files) {
        auto loaded = flowd::load_definition_file(file);
        if (!loaded.definition) {
          for (const auto& d : loaded.diagnostics) std::cerr << d.format() << "\n";
          code = 2;
          continue;
        }
        Json doc = loaded.definition->document;
        int c = report(with_backend([&](Backend& b) { return b.apply_workflow(doc); }), *settings,
                       [&](const Json& r) {
                         std::cout
                             << fmt::format("{}@{} {} ({})\n", cell(r, "name"), cell(r, "version"),
                                            r.value("created", false) ? "stored" : "unchanged",
                                            cell(r, "contentHash").substr(0, 12));
                       });
        code = std::max(code, c);
      }
      return code;
    };
  });
  auto* wf_list = workflows->add_subcommand("list", "List stored definitions");
  common(wf_list);
  auto wf_name = std::make_shared<std::string>();
  wf_list->add_option("NAME", *wf_name);
  wf_list->callback([=] {
    *chosen = [=] {
      std::optional<std::string> name;
      if (!wf_name->empty()) name = *wf_name;
      return report(with_backend([&](Backend& b) { return b.list_workflows(name); }), *settings,
                    [](const Json& r) {
                      std::cout << fmt::format("{:<28} {:>7}  {:<14} {}\n", "NAME", "VERSION",
                                               "HASH", "CREATED");
                      for (const auto& d : r["items"])
                        std::cout << fmt::format(
                            "{:<28} {:>7}  {:<14} {}\n", cell(d, "name"), cell(d, "version"),
                            cell(d, "contentHash").substr(0, 12), cell(d, "createdAt"));
                    });
    };
  });

  // --- executions ------------------------------------------------------------------------------
  auto* executions = app.add_subcommand("executions", "Durable executions");
  executions->require_subcommand(1);

  auto* start = executions->add_subcommand("start", "Start an execution: NAME[@VERSION]");
  common(start);
  auto start_ref = std::make_shared<std::string>();
  auto start_input = std::make_shared<std::string>("{}");
  auto start_key = std::make_shared<std::string>();
  start->add_option("WORKFLOW", *start_ref)->required();
  start->add_option("--input", *start_input, "input as a JSON document");
  start->add_option("--dedupe-key", *start_key, "a second start with this key returns the first");
  start->callback([=] {
    *chosen = [=] {
      std::string name = *start_ref;
      std::optional<int> version;
      if (auto at = name.find('@'); at != std::string::npos) {
        try {
          version = std::stoi(name.substr(at + 1));
        } catch (...) {
          std::cerr << "flowctl: bad workflow reference '" << name << "' (NAME[@VERSION])\n";
          return 2;
        }
        name = name.substr(0, at);
      }
      auto input = parse_json(*start_input, "--input");
      if (!input) return report(input, *settings, {});
      return report(with_backend([&](Backend& b) {
                      return b.start_execution(name, version, *input, *start_key, "");
                    }),
                    *settings, [](const Json& r) {
                      std::cout << cell(r, "executionId")
                                << (r.value("duplicate", false) ? " (already started with this "
                                                                  "dedupe key)"
                                                                : " started")
                                << "\n";
                    });
    };
  });

  auto* list = executions->add_subcommand("list", "List executions, newest first");
  common(list);
  auto filter = std::make_shared<ListFilter>();
  auto wf = std::make_shared<std::string>(), st = std::make_shared<std::string>(),
       since = std::make_shared<std::string>();
  list->add_option("--workflow", *wf);
  list->add_option("--status", *st);
  list->add_option("--since", *since, "RFC 3339 time or a duration ago (1h, 7d)");
  list->add_option("--limit", filter->limit)->check(CLI::Range(1, 10000));
  list->add_option("--page-token", filter->page_token);
  list->callback([=] {
    *chosen = [=] {
      if (!wf->empty()) filter->workflow = *wf;
      if (!st->empty()) filter->status = *st;
      if (!since->empty()) filter->since = *since;
      return report(with_backend([&](Backend& b) { return b.list_executions(*filter); }), *settings,
                    print_executions);
    };
  });

  auto id = std::make_shared<std::string>();
  auto simple = [&](const char* name, const std::string& help,
                    std::function<Result<Json>(Backend&, const std::string&)> call,
                    std::function<void(const Json&)> table) {
    auto* sub = executions->add_subcommand(name, help);
    common(sub);
    sub->add_option("ID", *id)->required();
    sub->callback([=] {
      *chosen = [=] {
        return report(with_backend([&](Backend& b) { return call(b, *id); }), *settings, table);
      };
    });
    return sub;
  };
  simple(
      "get", "Show an execution",
      [](Backend& b, const std::string& i) { return b.get_execution(i); },
      [](const Json& r) {
        if (r.contains("state")) {
          print_state(r["state"]);
        } else {
          std::cout << r.dump(2) << "\n";
        }
      });
  simple(
      "events", "The full event timeline of an execution",
      [](Backend& b, const std::string& i) { return b.events(i); }, print_events);

  auto at = std::make_shared<std::int64_t>(0);
  auto* replay = simple(
      "replay", "Rebuild the state from the event log (as of event N)",
      [at](Backend& b, const std::string& i) {
        std::optional<std::int64_t> n;
        if (*at > 0) n = *at;
        return b.replay(i, n);
      },
      [](const Json& r) { print_state(r["state"]); });
  replay->add_option("--at", *at, "event number")->check(CLI::Range(int64_t{1}, INT64_MAX));

  simple(
      "rerun", "Start a new execution with the same definition version and input",
      [](Backend& b, const std::string& i) -> Result<Json> {
        auto old = b.get_execution(i);
        if (!old) return old;
        const Json& state = (*old)["state"];
        return b.start_execution((*old)["workflow"], (*old)["workflowVersion"].get<int>(),
                                 state.value("input", Json::object()), "", i);
      },
      [](const Json& r) { std::cout << cell(r, "executionId") << " started (rerun)\n"; });

  auto reason = std::make_shared<std::string>();
  auto resume_input = std::make_shared<std::string>();
  for (const char* verb : {"pause", "resume", "cancel"}) {
    auto* sub = simple(
        verb, std::string(verb) + " an execution (durable and audited)",
        [verb, reason, resume_input](Backend& b, const std::string& i) -> Result<Json> {
          Json payload = Json::object();
          if (!reason->empty()) payload["reason"] = *reason;
          if (!resume_input->empty()) {
            auto input = parse_json(*resume_input, "--input");
            if (!input) return input;
            payload["input"] = *input;
          }
          return b.command(i, verb, payload);
        },
        [verb](const Json& r) {
          std::cout << verb << " requested for " << cell(r, "execution") << " (command "
                    << cell(r, "commandId") << ")\n";
        });
    sub->add_option("--reason", *reason);
    if (std::string(verb) == "resume")
      sub->add_option("--input", *resume_input, "input supplied to a waiting step (JSON)");
  }

  // --- admin -----------------------------------------------------------------------------------
  auto* admin = app.add_subcommand("admin", "Administration");
  admin->require_subcommand(1);
  auto* retention = admin->add_subcommand("retention", "Delete old terminal executions' events");
  common(retention);
  auto older = std::make_shared<std::string>();
  auto dry = std::make_shared<bool>(false);
  retention->add_option("--older-than", *older, "e.g. 30d")->required();
  retention->add_flag("--dry-run", *dry, "only count");
  retention->callback([=] {
    *chosen = [=] {
      auto d = flowd::parse_duration(*older);
      if (!d) {
        std::cerr << "flowctl: --older-than '" << *older << "' is not a duration (30d, 12h)\n";
        return 2;
      }
      return report(with_backend([&](Backend& b) { return b.retention(*d, *dry); }), *settings,
                    [](const Json& r) {
                      std::cout << fmt::format(
                          "{} {} executions, {} events, {} snapshots in {} batches\n",
                          r.value("dryRun", false) ? "would remove" : "removed",
                          cell(r, "executions"), cell(r, "events"), cell(r, "snapshots"),
                          cell(r, "batches"));
                    });
    };
  });

  return [chosen] { return *chosen ? (*chosen)() : -1; };
}

}  // namespace flowctl
