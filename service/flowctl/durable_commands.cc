#include "durable_commands.h"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "backend.h"
#include "flowd/engine/definition.h"
#include "output.h"
#include "text.h"

namespace flowctl {
namespace {

// Where the commands go: --server > --database > FLOWD_SERVER > FLOWD_DATABASE_URL > the
// default server.
struct Settings {
  std::string server;
  std::string database;
  std::string token = env("FLOWD_TOKEN");
  std::string output = "table";
  int timeout_seconds = 30;

  Connection connection() const {
    Connection c;
    c.token = token;
    c.timeout = std::chrono::seconds(timeout_seconds);
    if (!server.empty()) {
      c.server = server;
    } else if (!database.empty()) {
      c.database = database;
    } else if (!env("FLOWD_SERVER").empty()) {
      c.server = env("FLOWD_SERVER");
    } else if (!env("FLOWD_DATABASE_URL").empty()) {
      c.database = env("FLOWD_DATABASE_URL");
    } else {
      c.server = "http://127.0.0.1:8080";
    }
    return c;
  }
};

std::optional<std::string> non_empty(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

}  // namespace

std::function<int()> add_durable_commands(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  auto chosen = std::make_shared<std::function<int()>>();
  auto with_backend = [settings](const std::function<Outcome(Backend&)>& call) -> Outcome {
    auto backend = open_backend(settings->connection());
    if (!backend) return tl::unexpected(backend.error());
    return call(**backend);
  };
  auto common = [settings](CLI::App* sub) {
    sub->add_option("--server", settings->server,
                    "flowd's HTTP API (FLOWD_SERVER, default http://127.0.0.1:8080)");
    sub->add_option("--token", settings->token, "bearer token of the API (FLOWD_TOKEN)");
    sub->add_option("--database", settings->database,
                    "reach PostgreSQL directly instead (FLOWD_DATABASE_URL)");
    sub->add_option("--timeout", settings->timeout_seconds, "seconds to wait for an answer")
        ->check(CLI::Range(1, 3600));
    sub->add_option("--output,-o", settings->output, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
  };
  auto run = [settings](const Outcome& result, const std::function<void(const Json&)>& table) {
    return report(result, settings->output == "json", table);
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
        // Loaded here first, so problems name the file, line and column.
        auto loaded = flowd::load_definition_file(file);
        if (!loaded.definition) {
          for (const auto& d : loaded.diagnostics) std::cerr << d.format() << "\n";
          code = 2;
          continue;
        }
        Json doc = loaded.definition->document;
        code = std::max(code, run(with_backend([&](Backend& b) { return b.apply_workflow(doc); }),
                                  print_applied));
      }
      return code;
    };
  });

  auto* wf_list = workflows->add_subcommand("list", "List workflows (latest version of each)");
  common(wf_list);
  auto wf_filter = std::make_shared<flowd::api::WorkflowFilter>();
  auto wf_prefix = std::make_shared<std::string>();
  wf_list->add_option("PREFIX", *wf_prefix, "only names starting with this");
  wf_list->add_option("--limit", wf_filter->limit)->check(CLI::Range(1, 500));
  wf_list->add_option("--page-token", wf_filter->page_token);
  wf_list->callback([=] {
    *chosen = [=] {
      wf_filter->name_prefix = non_empty(*wf_prefix);
      return run(with_backend([&](Backend& b) { return b.list_workflows(*wf_filter); }),
                 print_workflows);
    };
  });

  auto* wf_get = workflows->add_subcommand("get", "Show a workflow (latest or --version N)");
  common(wf_get);
  auto wf_name = std::make_shared<std::string>();
  auto wf_version = std::make_shared<int>(0);
  wf_get->add_option("NAME", *wf_name)->required();
  wf_get->add_option("--version", *wf_version)->check(CLI::Range(1, 1'000'000'000));
  wf_get->callback([=] {
    *chosen = [=] {
      std::optional<int> version;
      if (*wf_version > 0) version = *wf_version;
      return run(with_backend([&](Backend& b) { return b.get_workflow(*wf_name, version); }),
                 print_workflow);
    };
  });

  // --- executions ------------------------------------------------------------------------------
  auto* executions = app.add_subcommand("executions", "Durable executions");
  executions->require_subcommand(1);

  auto* start = executions->add_subcommand("start", "Start an execution: NAME[@VERSION]");
  common(start);
  auto start_ref = std::make_shared<std::string>();
  auto start_input = std::make_shared<std::string>();
  auto start_input_file = std::make_shared<std::string>();
  auto start_context = std::make_shared<std::string>();
  auto start_key = std::make_shared<std::string>();
  start->add_option("WORKFLOW", *start_ref)->required();
  auto* input_opt = start->add_option("--input", *start_input, "input as a JSON document");
  start->add_option("--input-file", *start_input_file, "read the input from a JSON file")
      ->excludes(input_opt);
  start->add_option("--context", *start_context, "context as a JSON object");
  start->add_option("--dedupe-key", *start_key, "a second start with this key returns the first");
  start->callback([=] {
    *chosen = [=] {
      flowd::api::StartRequest request;
      auto ref = parse_ref(*start_ref);
      if (!ref) return report(tl::unexpected(ref.error()), false, {});
      request.workflow = ref->first;
      request.version = ref->second;
      auto input = read_json_arg(*start_input, *start_input_file, "--input");
      if (!input) return report(tl::unexpected(input.error()), false, {});
      request.input = input->is_null() ? Json::object() : *input;
      if (!start_context->empty()) {
        auto context = read_json_arg(*start_context, "", "--context");
        if (!context) return report(tl::unexpected(context.error()), false, {});
        request.context = *context;
      }
      request.dedupe_key = *start_key;
      return run(with_backend([&](Backend& b) { return b.start_execution(request); }),
                 print_started);
    };
  });

  auto* list = executions->add_subcommand("list", "List executions, newest first");
  common(list);
  auto filter = std::make_shared<flowd::api::ExecutionFilter>();
  auto wf = std::make_shared<std::string>(), st = std::make_shared<std::string>(),
       since = std::make_shared<std::string>();
  list->add_option("--workflow", *wf);
  list->add_option("--status", *st);
  list->add_option("--since", *since, "RFC 3339 time or a duration ago (1h, 7d)");
  list->add_option("--limit", filter->limit)->check(CLI::Range(1, 500));
  list->add_option("--page-token", filter->page_token);
  list->callback([=] {
    *chosen = [=] {
      filter->workflow = non_empty(*wf);
      filter->status = non_empty(*st);
      filter->since = non_empty(*since);
      return run(with_backend([&](Backend& b) { return b.list_executions(*filter); }),
                 print_executions);
    };
  });

  auto id = std::make_shared<std::string>();
  auto simple = [&](const char* name, const std::string& help,
                    std::function<Outcome(Backend&, const std::string&)> call,
                    std::function<void(const Json&)> table) {
    auto* sub = executions->add_subcommand(name, help);
    common(sub);
    sub->add_option("ID", *id)->required();
    sub->callback([=] {
      *chosen = [=] {
        if (id->empty())
          return report(tl::unexpected(ApiError::invalid_input("the execution ID is empty")), false,
                        {});
        return run(with_backend([&](Backend& b) { return call(b, *id); }), table);
      };
    });
    return sub;
  };

  auto as_of = std::make_shared<std::int64_t>(0);
  auto* get = simple(
      "get", "Show an execution",
      [as_of](Backend& b, const std::string& i) {
        std::optional<std::int64_t> n;
        if (*as_of > 0) n = *as_of;
        return b.get_execution(i, n);
      },
      print_state);
  get->add_option("--as-of", *as_of, "the state after this many events")
      ->check(CLI::Range(std::int64_t{1}, INT64_MAX));

  // events: every page, or --follow the live stream (HTTP only).
  auto* events = executions->add_subcommand("events", "The event timeline of an execution");
  common(events);
  auto events_id = std::make_shared<std::string>();
  auto after = std::make_shared<std::int64_t>(0);
  auto follow = std::make_shared<bool>(false);
  events->add_option("ID", *events_id)->required();
  events->add_option("--after", *after, "only events after this version")
      ->check(CLI::Range(std::int64_t{0}, INT64_MAX));
  events->add_flag("--follow,-f", *follow, "stream new events until the execution ends");
  events->callback([=] {
    *chosen = [=] {
      if (events_id->empty())
        return report(tl::unexpected(ApiError::invalid_input("the execution ID is empty")), false,
                      {});
      if (*follow)
        return follow_events(settings->connection(), *events_id, *after,
                             settings->output == "json");
      auto all = with_backend([&](Backend& b) -> Outcome {
        Json items = Json::array();
        std::int64_t from = *after;
        while (true) {
          auto page = b.events(*events_id, from, 1000);
          if (!page) return page;
          for (auto& e : (*page)["items"]) items.push_back(std::move(e));
          if (!page->contains("nextAfter")) break;
          from = (*page)["nextAfter"].get<std::int64_t>();
        }
        return Json{{"items", std::move(items)}};
      });
      return run(all, print_events);
    };
  });

  auto at = std::make_shared<std::int64_t>(0);
  auto* replay = simple(
      "replay", "Rebuild the state from the event log (as of event N)",
      [at](Backend& b, const std::string& i) {
        std::optional<std::int64_t> n;
        if (*at > 0) n = *at;
        return b.replay(i, n);
      },
      print_replay);
  replay->add_option("--at", *at, "event number")->check(CLI::Range(std::int64_t{1}, INT64_MAX));

  auto rerun_input = std::make_shared<std::string>();
  auto rerun_version = std::make_shared<int>(0);
  auto* rerun = simple(
      "rerun", "Start a new execution linked to this one (same input and version by default)",
      [rerun_input, rerun_version](Backend& b, const std::string& i) -> Outcome {
        flowd::api::RerunRequest request;
        if (!rerun_input->empty()) {
          auto input = read_json_arg(*rerun_input, "", "--input");
          if (!input) return tl::unexpected(input.error());
          request.input = *input;
        }
        if (*rerun_version > 0) request.version = *rerun_version;
        return b.rerun(i, request);
      },
      print_started);
  rerun->add_option("--input", *rerun_input, "new input (JSON)");
  rerun->add_option("--version", *rerun_version, "another version of the workflow")
      ->check(CLI::Range(1, 1'000'000'000));

  auto reason = std::make_shared<std::string>();
  auto resume_input = std::make_shared<std::string>();
  for (const char* verb : {"pause", "resume", "cancel"}) {
    auto* sub = simple(
        verb, std::string(verb) + " an execution (durable and audited)",
        [verb, reason, resume_input](Backend& b, const std::string& i) -> Outcome {
          Json payload = Json::object();
          if (!reason->empty()) payload["reason"] = *reason;
          if (!resume_input->empty()) {
            auto input = read_json_arg(*resume_input, "", "--input");
            if (!input) return tl::unexpected(input.error());
            payload["input"] = *input;
          }
          return b.command(i, verb, payload);
        },
        print_command);
    sub->add_option("--reason", *reason);
    if (std::string(verb) == "resume")
      sub->add_option("--input", *resume_input, "input supplied to a waiting step (JSON)");
  }

  simple(
      "audit", "Who did what: start, input, steps, secrets (names), commands, lineage",
      [](Backend& b, const std::string& i) { return b.audit(i); }, print_audit);

  // --- webhooks --------------------------------------------------------------------------------
  auto* hooks = app.add_subcommand("webhooks", "Webhook endpoints (POST /hooks/<path>)");
  hooks->require_subcommand(1);
  auto* hooks_list = hooks->add_subcommand("list", "The served webhook paths and their workflows");
  common(hooks_list);
  hooks_list->callback([=] {
    *chosen = [=] {
      return run(with_backend([](Backend& b) { return b.list_webhooks(); }), print_webhooks);
    };
  });

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
      return run(with_backend([&](Backend& b) { return b.retention(*older, *dry); }),
                 print_retention);
    };
  });

  return [chosen] { return *chosen ? (*chosen)() : -1; };
}

}  // namespace flowctl
