#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "schedules_command.h"

#include <fmt/format.h>

#include <cstdlib>
#include <iostream>

#include "http_client.h"
#include "output.h"
#include "text.h"

namespace flowctl {
namespace {

namespace bh = boost::beast::http;

struct Settings {
  std::string server, token = env("FLOWD_TOKEN"), output = "table";
  int timeout_seconds = 30;
};

// The fields `create` and `update` send; empty ones are left out (the server's defaults).
struct SpecArgs {
  std::string workflow, schedule, timezone, input, input_file, overlap, catchup_window, jitter,
      start_at, end_at;
  int version = 0, max_catchup = -1;
  bool pause_on_failure = false;
};

std::string field(const Json& j, const char* name, std::string fallback = "-") {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

void print_list(const Json& page) {
  std::cout << fmt::format("{:<28} {:<10} {:<22} {:<18} {:<16} {:<11} {:<6} {}\n", "NAME", "SOURCE",
                           "WORKFLOW", "SCHEDULE", "ZONE", "OVERLAP", "PAUSED", "NEXT RUN");
  for (const auto& s : page["items"]) {
    std::string wf =
        field(s, "workflow") + (s["version"].is_null() ? "" : "@" + field(s, "version"));
    std::cout << fmt::format("{:<28} {:<10} {:<22} {:<18} {:<16} {:<11} {:<6} {}\n",
                             field(s, "name"), field(s, "source"), wf, field(s, "schedule"),
                             field(s, "timezone"), field(s, "overlap"),
                             s.value("paused", false) ? "yes" : "no", field(s, "nextRun"));
  }
}

void print_ticks(const Json& ticks) {
  std::cout << fmt::format("  {:<22} {:<9} {:<38} {}\n", "FIRE TIME", "OUTCOME", "EXECUTION",
                           "DETAIL");
  for (const auto& t : ticks)
    std::cout << fmt::format("  {:<22} {:<9} {:<38} {}{}\n", field(t, "fireTime"),
                             field(t, "outcome"), field(t, "executionId"),
                             t.value("backfill", false) ? "(backfill) " : "",
                             field(t, "detail", ""));
}

void print_schedule(const Json& s) {
  std::cout << "schedule " << field(s, "name") << " (" << field(s, "source")
            << (s.value("paused", false) ? ", paused" : "") << ")\n";
  auto line = [](const char* name, const std::string& value) {
    std::cout << fmt::format("  {:<16} {}\n", name, value);
  };
  line("workflow",
       field(s, "workflow") + (s["version"].is_null() ? " (latest)" : "@" + field(s, "version")));
  line("schedule", field(s, "schedule") + " in " + field(s, "timezone"));
  line("overlap", field(s, "overlap"));
  line("catch-up", field(s, "catchupWindow") + ", at most " + field(s, "maxCatchup") + " ticks");
  line("jitter", field(s, "jitter"));
  if (!s["startAt"].is_null() || !s["endAt"].is_null())
    line("active", field(s, "startAt", "…") + " to " + field(s, "endAt", "…"));
  line("pauseOnFailure", s.value("pauseOnFailure", false) ? "yes" : "no");
  if (!s["note"].is_null()) line("note", field(s, "note"));
  line("input", field(s, "input", "{}"));
  if (s.contains("lastRun") && !s["lastRun"].is_null())
    line("last run", field(s["lastRun"], "fireTime") + " -> " + field(s["lastRun"], "executionId"));
  line("next run", field(s, "nextRun", s.value("paused", false) ? "(paused)" : "none"));
  line("missed ticks", field(s, "missedTicks", "0"));
  if (s.contains("recentTicks")) {
    std::cout << "recent ticks\n";
    print_ticks(s["recentTicks"]);
  }
  if (s.contains("events")) {
    std::cout << "history\n";
    for (const auto& e : s["events"])
      std::cout << fmt::format("  {:<26} {:<18} {}\n", field(e, "at"), field(e, "type"),
                               field(e, "actor"));
  }
}

void print_next(const Json& next) {
  std::cout << fmt::format("{:<28} {}\n", "IN " + field(next, "timezone"), "UTC");
  for (const auto& t : next["items"])
    std::cout << fmt::format("{:<28} {}\n", field(t, "local"), field(t, "utc"));
  if (next.value("paused", false)) std::cout << "(paused: these run only after unpause)\n";
}

void print_backfill(const Json& r) {
  std::cout << fmt::format(
      "backfill of {}: {} ticks: {} fired, {} skipped, {} buffered, {} "
      "already done, {} failed\n",
      field(r, "schedule"), field(r, "ticks"), field(r, "fired"), field(r, "skipped"),
      field(r, "buffered"), field(r, "alreadyDone"), field(r, "failed"));
  for (const auto& t : r["items"])
    std::cout << fmt::format("  {:<22} {:<11} {}\n", field(t, "fireTime"), field(t, "outcome"),
                             field(t, "executionId", ""));
}

tl::expected<Json, ApiError> spec_body(const SpecArgs& a, const std::string& name) {
  Json b = Json::object();
  if (!name.empty()) b["name"] = name;
  auto set = [&](const char* key, const std::string& v) {
    if (!v.empty()) b[key] = v;
  };
  set("workflow", a.workflow);
  set("schedule", a.schedule);
  set("timezone", a.timezone);
  set("overlap", a.overlap);
  set("catchupWindow", a.catchup_window);
  set("jitter", a.jitter);
  set("startAt", a.start_at);
  set("endAt", a.end_at);
  if (a.version > 0) b["version"] = a.version;
  if (a.max_catchup >= 0) b["maxCatchup"] = a.max_catchup;
  if (a.pause_on_failure) b["pauseOnFailure"] = true;
  if (!a.input.empty() || !a.input_file.empty()) {
    auto input = read_json_arg(a.input, a.input_file, "--input");
    if (!input) return tl::unexpected(input.error());
    b["input"] = *input;
  }
  return b;
}

}  // namespace

std::function<int()> add_schedules_command(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  auto chosen = std::make_shared<std::function<int()>>();
  auto* schedules = app.add_subcommand("schedules", "Cron schedules: create, pause, backfill…");
  schedules->require_subcommand(1);
  auto common = [settings](CLI::App* sub) {
    sub->add_option("--server", settings->server, "flowd's HTTP API (FLOWD_SERVER)");
    sub->add_option("--token", settings->token, "bearer token of the API (FLOWD_TOKEN)");
    sub->add_option("--timeout", settings->timeout_seconds, "seconds to wait for an answer")
        ->check(CLI::Range(1, 3600));
    sub->add_option("--output,-o", settings->output, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
  };
  // Calls the API and prints the answer as a table (or JSON).
  auto call = [settings](bh::verb verb, std::string target, std::optional<Json> body,
                         std::function<void(const Json&)> table) {
    const bool json = settings->output == "json";
    std::string server = settings->server.empty() ? env("FLOWD_SERVER") : settings->server;
    if (server.empty()) server = "http://127.0.0.1:8080";
    auto client =
        HttpClient::make(server, settings->token, std::chrono::seconds(settings->timeout_seconds));
    if (!client) return report(tl::unexpected(client.error()), json, {});
    std::string user = env("FLOWD_ACTOR").empty() ? env("USER") : env("FLOWD_ACTOR");
    client->set_actor("flowctl:" + (user.empty() ? std::string("unknown") : user));
    return report(client->call(verb, "/api/v1/schedules" + target, body), json, table);
  };
  auto name = std::make_shared<std::string>();
  auto spec = std::make_shared<SpecArgs>();
  auto spec_options = [spec](CLI::App* sub, bool create) {
    auto* wf = sub->add_option("--workflow", spec->workflow, "the workflow to start");
    auto* cron = sub->add_option("--schedule", spec->schedule,
                                 "cron expression: 5 fields, or 6 with seconds first");
    if (create) {
      wf->required();
      cron->required();
    }
    sub->add_option("--version", spec->version, "a fixed version (default: the latest)");
    sub->add_option("--timezone", spec->timezone, "IANA zone (default UTC)");
    sub->add_option("--input", spec->input,
                    "input JSON; templates over tick.time, tick.date, "
                    "schedule.name");
    sub->add_option("--input-file", spec->input_file, "read the input from a JSON file");
    sub->add_option("--overlap", spec->overlap, "skip, allow, bufferOne, bufferAll, cancelOther");
    sub->add_option("--catchup-window", spec->catchup_window,
                    "after downtime run missed ticks this young (default 1h)");
    sub->add_option("--max-catchup", spec->max_catchup, "at most this many of them (default 100)");
    sub->add_option("--jitter", spec->jitter, "start each tick up to this much late (e.g. 30s)");
    sub->add_option("--start-at", spec->start_at, "no tick before (RFC 3339)");
    sub->add_option("--end-at", spec->end_at, "no tick after (RFC 3339)");
    sub->add_flag("--pause-on-failure", spec->pause_on_failure,
                  "pause the schedule when one of its executions fails");
  };

  auto* create = schedules->add_subcommand("create", "Create a schedule");
  common(create);
  create->add_option("NAME", *name, "schedule name")->required();
  spec_options(create, true);
  create->callback([=] {
    *chosen = [=] {
      auto body = spec_body(*spec, *name);
      if (!body) return report(tl::unexpected(body.error()), settings->output == "json", {});
      return call(bh::verb::post, "", *body, print_schedule);
    };
  });

  auto* update = schedules->add_subcommand("update", "Replace a schedule's settings (all of them)");
  common(update);
  update->add_option("NAME", *name, "schedule name")->required();
  spec_options(update, true);
  update->callback([=] {
    *chosen = [=] {
      auto body = spec_body(*spec, *name);
      if (!body) return report(tl::unexpected(body.error()), settings->output == "json", {});
      return call(bh::verb::put, "/" + url_encode(*name), *body, print_schedule);
    };
  });

  auto* remove = schedules->add_subcommand("delete", "Delete a schedule (its history stays)");
  common(remove);
  remove->add_option("NAME", *name, "schedule name")->required();
  remove->callback([=] {
    *chosen = [=] {
      return call(bh::verb::delete_, "/" + url_encode(*name), std::nullopt,
                  [](const Json& j) { std::cout << "deleted " << field(j, "deleted") << "\n"; });
    };
  });

  auto note = std::make_shared<std::string>();
  for (bool pause : {true, false}) {
    auto* sub = schedules->add_subcommand(pause ? "pause" : "unpause",
                                          pause ? "Pause a schedule (no ticks until unpause)"
                                                : "Unpause: the next tick after now runs");
    common(sub);
    sub->add_option("NAME", *name, "schedule name")->required();
    sub->add_option("--note", *note, "why (shown with the schedule)");
    sub->callback([=] {
      *chosen = [=] {
        Json body = Json::object();
        if (!note->empty()) body["note"] = *note;
        return call(bh::verb::post, "/" + url_encode(*name) + (pause ? "/pause" : "/unpause"), body,
                    print_schedule);
      };
    });
  }

  auto* list = schedules->add_subcommand("list", "List schedules");
  common(list);
  list->callback(
      [=] { *chosen = [=] { return call(bh::verb::get, "", std::nullopt, print_list); }; });

  auto* get = schedules->add_subcommand("get", "A schedule: settings, last and next run, ticks");
  common(get);
  get->add_option("NAME", *name, "schedule name")->required();
  get->callback([=] {
    *chosen = [=] {
      return call(bh::verb::get, "/" + url_encode(*name), std::nullopt, print_schedule);
    };
  });

  auto count = std::make_shared<int>(10);
  auto* next = schedules->add_subcommand("next", "The next fire times, in its zone and in UTC");
  common(next);
  next->add_option("NAME", *name, "schedule name")->required();
  next->add_option("-n", *count, "how many (1..1000)")->check(CLI::Range(1, 1000));
  next->callback([=] {
    *chosen = [=] {
      return call(bh::verb::get, "/" + url_encode(*name) + "/next?n=" + std::to_string(*count),
                  std::nullopt, print_next);
    };
  });

  auto from = std::make_shared<std::string>(), to = std::make_shared<std::string>(),
       overlap = std::make_shared<std::string>();
  auto* backfill = schedules->add_subcommand(
      "backfill", "Run the ticks of a past window, each once, under the overlap policy");
  common(backfill);
  backfill->add_option("NAME", *name, "schedule name")->required();
  backfill->add_option("--from", *from, "first fire time (RFC 3339)")->required();
  backfill->add_option("--to", *to, "last fire time (RFC 3339)")->required();
  backfill->add_option("--overlap", *overlap, "instead of the schedule's policy (e.g. allow)");
  backfill->callback([=] {
    *chosen = [=] {
      Json body{{"from", *from}, {"to", *to}};
      if (!overlap->empty()) body["overlap"] = *overlap;
      return call(bh::verb::post, "/" + url_encode(*name) + "/backfill", body, print_backfill);
    };
  });

  return [chosen] { return *chosen ? (*chosen)() : -1; };
}

}  // namespace flowctl
