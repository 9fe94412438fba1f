// flowctl dlq: the dead-letter queue from the command line (see dlq_command.h).
#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "dlq_command.h"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/beast/http/verb.hpp>
#include <cctype>
#include <iostream>
#include <thread>

#include "backend.h"
#include "flowd/api/convert.h"
#include "flowd/api/dlq_operations.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/engine/duration.h"
#include "flowd/engine/engine.h"
#include "flowd/eventstore/event_store.h"
#include "http_client.h"
#include "output.h"
#include "text.h"

namespace flowctl {
namespace {

namespace bh = boost::beast::http;
using flowd::api::DlqFilter;
using flowd::api::DlqRetry;

std::string who() {
  std::string user = env("FLOWD_ACTOR");
  if (user.empty()) user = env("USER");
  if (user.empty()) user = "unknown";
  return "flowctl:" + user;
}

// The dead-letter API, over HTTP or in-process.
class DlqClient {
 public:
  virtual ~DlqClient() = default;
  virtual Outcome list(const DlqFilter& f) = 0;
  virtual Outcome get(std::int64_t id) = 0;
  virtual Outcome stats() = 0;
  virtual Outcome retry(std::int64_t id, const DlqRetry& r) = 0;
  virtual Outcome bulk(const DlqFilter& f, const DlqRetry& r) = 0;
  virtual Outcome close(std::int64_t id, const std::string& verb, const std::string& reason) = 0;
  virtual Outcome batch(const std::string& batch) = 0;
};

Json retry_body(const DlqRetry& r) {
  Json b = Json::object();
  if (r.input) b["input"] = *r.input;
  if (r.patch) b["patch"] = *r.patch;
  if (r.from_failed_step) b["fromFailedStep"] = true;
  if (r.version) b["version"] = *r.version;
  if (r.republish) b["republish"] = true;
  if (!r.reason.empty()) b["reason"] = r.reason;
  if (!r.batch.empty()) b["batch"] = r.batch;
  if (r.dry_run) b["dryRun"] = true;
  return b;
}

class HttpDlqClient : public DlqClient {
 public:
  explicit HttpDlqClient(HttpClient client) : client_(std::move(client)) {}
  Outcome list(const DlqFilter& f) override {
    std::string q;
    auto add = [&](const char* name, const std::optional<std::string>& v) {
      if (v && !v->empty()) q += (q.empty() ? "?" : "&") + std::string(name) + "=" + url_encode(*v);
    };
    add("workflow", f.workflow);
    add("errorCode", f.error_code);
    add("kind", f.kind);
    add("state", f.state);
    add("since", f.since);
    add("until", f.until);
    add("limit", std::to_string(f.limit));
    add("pageToken", f.page_token);
    return client_.call(bh::verb::get, "/api/v1/dlq" + q);
  }
  Outcome get(std::int64_t id) override {
    return client_.call(bh::verb::get, "/api/v1/dlq/" + std::to_string(id));
  }
  Outcome stats() override { return client_.call(bh::verb::get, "/api/v1/dlq/stats"); }
  Outcome retry(std::int64_t id, const DlqRetry& r) override {
    return client_.call(bh::verb::post, "/api/v1/dlq/" + std::to_string(id) + "/retry",
                        retry_body(r));
  }
  Outcome bulk(const DlqFilter& f, const DlqRetry& r) override {
    Json b = retry_body(r);
    auto set = [&](const char* name, const std::optional<std::string>& v) {
      if (v && !v->empty()) b[name] = *v;
    };
    set("workflow", f.workflow);
    set("errorCode", f.error_code);
    set("kind", f.kind);
    set("since", f.since);
    set("until", f.until);
    if (!f.page_token.empty()) b["pageToken"] = f.page_token;
    b["limit"] = f.limit;
    return client_.call(bh::verb::post, "/api/v1/dlq/retry", b);
  }
  Outcome close(std::int64_t id, const std::string& verb, const std::string& reason) override {
    Json b = Json::object();
    if (!reason.empty()) b["reason"] = reason;
    return client_.call(bh::verb::post, "/api/v1/dlq/" + std::to_string(id) + "/" + verb, b);
  }
  Outcome batch(const std::string& batch) override {
    return client_.call(bh::verb::get, "/api/v1/dlq/batches/" + url_encode(batch));
  }

 private:
  HttpClient client_;
};

Outcome body(flowd::api::ApiResult r) {
  if (!r) return tl::unexpected(std::move(r.error()));
  return std::move(r->body);
}

class DirectDlqClient : public DlqClient {
 public:
  DirectDlqClient(std::unique_ptr<flowd::eventstore::EventStore> store,
                  std::unique_ptr<flowd::dlq::DeadLetterStore> letters)
      : store_(std::move(store)), letters_(std::move(letters)), ops_(*store_, *letters_) {}
  Outcome list(const DlqFilter& f) override { return body(ops_.list(f)); }
  Outcome get(std::int64_t id) override { return body(ops_.get(id)); }
  Outcome stats() override { return body(ops_.stats()); }
  Outcome retry(std::int64_t id, const DlqRetry& r) override {
    return body(ops_.retry(id, r, who()));
  }
  Outcome bulk(const DlqFilter& f, const DlqRetry& r) override {
    return body(ops_.bulk_retry(f, r, who()));
  }
  Outcome close(std::int64_t id, const std::string& verb, const std::string& reason) override {
    return body(verb == "discard" ? ops_.discard(id, reason, who())
                                  : ops_.archive(id, reason, who()));
  }
  Outcome batch(const std::string& batch) override { return body(ops_.batch(batch)); }

 private:
  std::unique_ptr<flowd::eventstore::EventStore> store_;
  std::unique_ptr<flowd::dlq::DeadLetterStore> letters_;
  flowd::api::DlqOperations ops_;
};

struct Settings {
  std::string server, database, token = env("FLOWD_TOKEN"), output = "table";
  int timeout_seconds = 30;
};

tl::expected<std::unique_ptr<DlqClient>, ApiError> open_client(const Settings& s) {
  std::string server = s.server, database = s.database;
  if (server.empty() && database.empty()) {
    if (!env("FLOWD_SERVER").empty()) {
      server = env("FLOWD_SERVER");
    } else if (!env("FLOWD_DATABASE_URL").empty()) {
      database = env("FLOWD_DATABASE_URL");
    } else {
      server = "http://127.0.0.1:8080";
    }
  }
  if (!server.empty()) {
    auto client = HttpClient::make(server, s.token, std::chrono::seconds(s.timeout_seconds));
    if (!client) return tl::unexpected(client.error());
    client->set_actor(who());
    return std::unique_ptr<DlqClient>(new HttpDlqClient(std::move(*client)));
  }
  flowd::eventstore::StoreOptions options;
  options.url = database;
  options.pool_size = 8;  // a bulk retry's page runs on 8 threads
  options.actor = who();
  auto store = flowd::eventstore::EventStore::open(options);
  if (!store) return tl::unexpected(flowd::api::from_store(store.error()));
  auto letters = flowd::dlq::DeadLetterStore::open({database, 8});
  if (!letters) return tl::unexpected(flowd::api::from_error(letters.error()));
  return std::unique_ptr<DlqClient>(new DirectDlqClient(std::move(*store), std::move(*letters)));
}

std::string cut(std::string text, std::size_t width) {
  for (char& c : text)
    if (c == '\n' || c == '\t') c = ' ';
  if (text.size() <= width) return text;
  return text.substr(0, width - 1) + "~";
}

void print_list(const Json& page) {
  std::cout << fmt::format("{:<8} {:<9} {:<9} {:<24} {:<16} {:<14} {:>3}  {}\n", "ID", "KIND",
                           "STATE", "WORKFLOW", "ERROR", "STEP", "ATT", "LAST FAILURE");
  for (const auto& d : page["items"]) {
    std::string wf = d.value("workflow", "-");
    if (d.contains("workflowVersion")) wf += "@" + std::to_string(d["workflowVersion"].get<int>());
    std::cout << fmt::format(
        "{:<8} {:<9} {:<9} {:<24} {:<16} {:<14} {:>3}  {}\n", d["id"].get<std::int64_t>(),
        d.value("kind", ""), d.value("state", ""), cut(wf, 24), cut(d.value("errorCode", ""), 16),
        cut(d.value("failedStep", "-"), 14), d.value("attempts", 0), d.value("lastFailedAt", ""));
  }
  if (page.contains("nextPageToken"))
    std::cout << "more: --page-token " << page["nextPageToken"].get<std::string>() << "\n";
}

void print_show(const Json& s) {
  const Json& d = s["deadLetter"];
  std::cout << "dead letter " << d["id"] << " (" << d.value("kind", "") << ", "
            << d.value("state", "") << ")\n";
  auto line = [](const char* name, const Json& v) {
    if (v.is_null()) return;
    std::cout << fmt::format("  {:<15} {}\n", name,
                             v.is_string() ? v.get<std::string>() : v.dump());
  };
  line("workflow", d.contains("workflow") ? Json(d.value("workflow", "") + "@" +
                                                 std::to_string(d.value("workflowVersion", 0)))
                                          : Json());
  line("execution", d.value("executionId", Json()));
  line("failed step", d.value("failedStep", Json()));
  line("error", Json(d.value("errorCode", "") + ": " + d.value("errorMessage", "")));
  line("attempts", d.value("attempts", Json()));
  line("first failure", d.value("firstFailedAt", Json()));
  line("last failure", d.value("lastFailedAt", Json()));
  line("trace id", d.value("traceId", Json()));
  line("retries", d.value("retries", Json()));
  line("resolution", d.value("resolution", Json()));
  line("input", d.value("input", Json()));
  if (d.contains("record")) {
    const Json& r = d["record"];
    const bool trigger = d.value("kind", "") == "trigger";
    line(trigger ? "record" : "triggered by",
         Json(r.value("topic", "") + "/" + std::to_string(r.value("partition", 0)) + "@" +
              std::to_string(r.value("offset", std::int64_t{0}))));
    if (trigger) {
      line("record key", r.value("key", Json()));
      line("record value", r.value("value", Json()));
    }
  }
  if (s.contains("failedStep")) {
    const Json& f = s["failedStep"];
    std::cout << "failed step " << f.value("id", "") << " (" << f.value("type", "?") << ", "
              << f.value("attempts", 0) << " attempts)\n";
    line("error", f.value("error", Json()));
    line("with", f.value("with", Json()));
  }
  if (!s["retries"].empty()) {
    std::cout << "retries\n";
    for (const auto& r : s["retries"])
      std::cout << fmt::format("  #{:<3} {:<17} {:<10} {} {}\n", r.value("retryNumber", 0),
                               r.value("mode", ""), r.value("outcome", ""),
                               r.value("executionId", "-"), r.value("requestedBy", ""));
  }
  if (s.contains("timeline")) {
    std::cout << "execution timeline\n";
    for (const auto& e : s["timeline"]) {
      std::string what = e.value("type", "");
      if (e.contains("step")) what += " " + e["step"].get<std::string>();
      if (e.contains("attempt")) what += " #" + std::to_string(e["attempt"].get<int>());
      if (e.contains("error"))
        what += "  " + e["error"].value("code", "") + ": " + e["error"].value("message", "");
      std::cout << fmt::format("  {:>4} {} {}\n", e.value("version", 0), e.value("time", ""),
                               cut(what, 120));
    }
  }
  std::cout << "audit\n";
  for (const auto& a : s["audit"])
    std::cout << fmt::format("  {} {:<18} {:<24} {}\n", a.value("time", ""), a.value("type", ""),
                             a.value("actor", ""), a.value("reason", ""));
}

void print_stats(const Json& s) {
  std::cout << "dead letters: " << s.value("total", 0) << "\n  by state:";
  for (const auto& [k, v] : s["byState"].items()) std::cout << " " << k << "=" << v;
  std::cout << "\n  by age (pending+retrying): <1h=" << s["byAge"]["lt1h"]
            << " 1h-1d=" << s["byAge"]["1hTo1d"] << " 1d-7d=" << s["byAge"]["1dTo7d"]
            << " >7d=" << s["byAge"]["gt7d"] << "\n";
  if (s.contains("oldestPending"))
    std::cout << "  oldest pending: " << s["oldestPending"]["id"] << " since "
              << s["oldestPending"]["createdAt"].get<std::string>() << "\n";
  for (const char* group : {"byWorkflow", "byErrorCode"}) {
    std::cout << "  " << group << ":\n";
    for (const auto& g : s[group])
      std::cout << fmt::format("    {:<32} {:>8} ({} pending)\n", g.value("key", ""),
                               g.value("count", 0), g.value("pending", 0));
  }
  const Json& r = s["retries"];
  std::cout << "  retries: started=" << r["started"] << " completed=" << r["completed"]
            << " failed=" << r["failed"] << " running=" << r["running"] << " success rate="
            << (r["successRate"].is_null()
                    ? std::string("-")
                    : fmt::format("{:.1f}%", r["successRate"].get<double>() * 100))
            << "\n";
  const Json& res = s["resolution"];
  std::cout << "  time to resolution: resolved=" << res["resolved"] << " avg="
            << (res["avgSeconds"].is_null()
                    ? std::string("-")
                    : fmt::format("{:.1f}s", res["avgSeconds"].get<double>()))
            << " max="
            << (res["maxSeconds"].is_null()
                    ? std::string("-")
                    : fmt::format("{:.1f}s", res["maxSeconds"].get<double>()))
            << "\n";
}

// "100", "100/s", "6000/m".
std::optional<double> parse_rate(const std::string& text) {
  try {
    std::size_t used = 0;
    double n = std::stod(text, &used);
    std::string unit = text.substr(used);
    if (unit.empty() || unit == "/s") return n > 0 ? std::optional<double>(n) : std::nullopt;
    if (unit == "/m") return n > 0 ? std::optional<double>(n / 60.0) : std::nullopt;
  } catch (...) {
  }
  return std::nullopt;
}

struct BulkOptions {
  DlqFilter filter;
  DlqRetry retry;
  std::string rate = "100/s";
  double max_failure_rate = 0.5;
  int min_sample = 20;
  int wait_seconds = 0;  // after the last start: wait this long for outcomes
};

void progress(bool tty, std::int64_t done, std::int64_t failed_again, double per_s) {
  if (!tty) return;
  std::cerr << fmt::format("\r  retried {:>8}  failed again {:>6}  {:>8.1f}/s ", done, failed_again,
                           per_s)
            << std::flush;
}

int bulk_retry(DlqClient& client, BulkOptions o, bool json) {
  const auto rate = parse_rate(o.rate);
  if (!rate)
    return report(tl::unexpected(ApiError::invalid_input("--rate '" + o.rate +
                                                         "' is not a rate (100, 100/s, 600/m)")),
                  json, {});
  const bool tty = isatty(2) && !json;
  if (o.retry.batch.empty())
    o.retry.batch =
        "bulk-" + flowd::format_time(flowd::Clock::now()) + "-" + flowd::new_uuid().substr(0, 8);
  const auto began = std::chrono::steady_clock::now();
  std::int64_t matched = 0, started = 0, errors = 0;
  Json first_errors = Json::array();
  std::string stopped;
  DlqFilter page = o.filter;
  page.limit =
      o.retry.dry_run ? 1000 : std::clamp<std::size_t>(static_cast<std::size_t>(*rate), 1, 500);
  Json progress_body;
  for (;;) {
    auto r = client.bulk(page, o.retry);
    if (!r) return report(r, json, {});
    matched += static_cast<std::int64_t>((*r)["matched"].get<std::size_t>());
    started += static_cast<std::int64_t>((*r)["retried"].size());
    errors += static_cast<std::int64_t>((*r)["errors"].size());
    for (const auto& e : (*r)["errors"])
      if (first_errors.size() < 10) first_errors.push_back(e);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    std::int64_t failed_again = 0;
    if (!o.retry.dry_run) {
      auto b = client.batch(o.retry.batch);
      if (b) {
        progress_body = *b;
        failed_again = (*b)["failed"].get<std::int64_t>();
        const auto ended = failed_again + (*b)["completed"].get<std::int64_t>();
        if (ended >= o.min_sample &&
            static_cast<double>(failed_again) / static_cast<double>(ended) > o.max_failure_rate) {
          stopped = fmt::format("{} of {} finished retries failed again (> {:.0f}%): stopped",
                                failed_again, ended, o.max_failure_rate * 100);
        }
      }
    }
    progress(tty, started, failed_again, elapsed > 0 ? static_cast<double>(started) / elapsed : 0);
    if (!stopped.empty() || !r->contains("nextPageToken")) break;
    page.page_token = (*r)["nextPageToken"].get<std::string>();
    if (!o.retry.dry_run) {
      // Keep to the rate: the next page starts when the average says so.
      const double due = static_cast<double>(started) / *rate;
      if (due > elapsed) std::this_thread::sleep_for(std::chrono::duration<double>(due - elapsed));
    }
  }
  if (tty) std::cerr << "\n";
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  // Outcomes of the retries started, waiting up to --wait.
  if (!o.retry.dry_run && o.wait_seconds > 0) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_seconds);
    while (std::chrono::steady_clock::now() < deadline) {
      auto b = client.batch(o.retry.batch);
      if (b) progress_body = *b;
      if (b && (*b)["running"].get<std::int64_t>() == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  Json summary{{"batch", o.retry.batch},
               {"dryRun", o.retry.dry_run},
               {"matched", matched},
               {"retried", o.retry.dry_run ? 0 : started},
               {"errors", errors},
               {"firstErrors", first_errors},
               {"seconds", elapsed},
               {"perSecond", elapsed > 0 ? static_cast<double>(started) / elapsed : 0.0}};
  if (!stopped.empty()) summary["stopped"] = stopped;
  if (progress_body.is_object()) summary["outcomes"] = progress_body;
  if (json) {
    std::cout << summary.dump() << "\n";
  } else {
    if (o.retry.dry_run) {
      std::cout << "dry run: " << matched << " pending dead letters match; nothing was retried\n";
    } else {
      std::cout << fmt::format(
          "retried {} of {} matching dead letters in {:.1f}s ({:.1f}/s), "
          "{} could not be retried\n",
          started, matched, elapsed, summary["perSecond"].get<double>(), errors);
      if (progress_body.is_object())
        std::cout << fmt::format("  outcomes so far: {} completed, {} failed again, {} running\n",
                                 progress_body["completed"].get<std::int64_t>(),
                                 progress_body["failed"].get<std::int64_t>(),
                                 progress_body["running"].get<std::int64_t>());
      std::cout << "  batch " << o.retry.batch << "\n";
    }
    for (const auto& e : first_errors)
      std::cout << "  dead letter " << e["id"] << ": " << e.value("code", "") << ": "
                << e.value("message", "") << "\n";
    if (!stopped.empty()) std::cout << "  " << stopped << "\n";
  }
  return stopped.empty() ? 0 : 3;
}

}  // namespace

std::function<int()> add_dlq_command(CLI::App& app) {
  auto settings = std::make_shared<Settings>();
  auto chosen = std::make_shared<std::function<int()>>();
  auto* dlq = app.add_subcommand("dlq", "The dead-letter queue: inspect and reprocess failures");
  dlq->require_subcommand(1);
  auto common = [settings](CLI::App* sub) {
    sub->add_option("--server", settings->server, "flowd's HTTP API (FLOWD_SERVER)");
    sub->add_option("--token", settings->token, "bearer token of the API (FLOWD_TOKEN)");
    sub->add_option("--database", settings->database,
                    "reach PostgreSQL directly instead (FLOWD_DATABASE_URL)");
    sub->add_option("--timeout", settings->timeout_seconds, "seconds to wait for an answer")
        ->check(CLI::Range(1, 3600));
    sub->add_option("--output,-o", settings->output, "table or json")
        ->check(CLI::IsMember({"table", "json"}));
  };
  auto with_client = [settings](const std::function<int(DlqClient&, bool)>& f) {
    const bool json = settings->output == "json";
    auto client = open_client(*settings);
    if (!client) return report(tl::unexpected(client.error()), json, {});
    return f(**client, json);
  };
  auto filter = std::make_shared<DlqFilter>();
  auto filters = [filter](CLI::App* sub) {
    sub->add_option("--workflow", filter->workflow, "only this workflow");
    sub->add_option("--error-code", filter->error_code,
                    "only this error code (TIMEOUT, NOT_JSON…)");
    sub->add_option("--kind", filter->kind, "execution or trigger");
    sub->add_option("--since", filter->since, "created at or after (RFC 3339, or 24h ago)");
    sub->add_option("--until", filter->until, "created before (RFC 3339, or a duration ago)");
  };

  auto* list = dlq->add_subcommand("list", "List dead letters, newest first");
  common(list);
  filters(list);
  list->add_option("--state", filter->state, "pending, retrying, resolved, discarded, archived");
  list->add_option("--limit", filter->limit, "per page (1..1000)")->check(CLI::Range(1, 1000));
  list->add_option("--page-token", filter->page_token, "continue after a page");
  list->callback([=] {
    *chosen = [=] {
      return with_client(
          [&](DlqClient& c, bool json) { return report(c.list(*filter), json, print_list); });
    };
  });

  auto id = std::make_shared<std::int64_t>(0);
  auto* show = dlq->add_subcommand("show", "A dead letter: failure, failed step, timeline, audit");
  common(show);
  show->add_option("ID", *id, "dead letter id")->required();
  show->callback([=] {
    *chosen = [=] {
      return with_client(
          [&](DlqClient& c, bool json) { return report(c.get(*id), json, print_show); });
    };
  });

  auto* stats = dlq->add_subcommand("stats", "Counts by workflow, error and age; retry success");
  common(stats);
  stats->callback([=] {
    *chosen = [=] {
      return with_client(
          [&](DlqClient& c, bool json) { return report(c.stats(), json, print_stats); });
    };
  });

  auto bulk = std::make_shared<BulkOptions>();
  auto input_text = std::make_shared<std::string>();
  auto input_file = std::make_shared<std::string>();
  auto patch_text = std::make_shared<std::string>();
  auto version = std::make_shared<int>(0);
  auto* retry = dlq->add_subcommand(
      "retry", "Retry one dead letter (ID) or, with filters and no ID, all matching pending ones");
  common(retry);
  filters(retry);
  retry->add_option("ID", *id, "dead letter id (none: bulk retry of what the filters match)");
  retry->add_flag("--from-failed-step", bulk->retry.from_failed_step,
                  "reuse completed steps' outputs and go on from the failed step");
  auto* in = retry->add_option("--input", *input_text, "a new input (JSON)");
  retry->add_option("--input-file", *input_file, "a new input from a JSON file")->excludes(in);
  retry->add_option("--patch", *patch_text, "a JSON merge patch (RFC 7386) of the input")
      ->excludes(in);
  retry->add_option("--version", *version, "run on this definition version")
      ->check(CLI::PositiveNumber);
  retry->add_flag("--republish", bulk->retry.republish,
                  "trigger records: put the original record back on its topic");
  retry->add_option("--reason", bulk->retry.reason, "why (kept in the audit trail)");
  retry->add_flag("--dry-run", bulk->retry.dry_run, "say what would be retried, retry nothing");
  retry->add_option("--rate", bulk->rate, "bulk: retries per second (100, 100/s, 600/m)");
  retry
      ->add_option("--max-failure-rate", bulk->max_failure_rate,
                   "bulk: stop when more of the finished retries failed again (0..1)")
      ->check(CLI::Range(0.0, 1.0));
  retry->add_option("--min-sample", bulk->min_sample,
                    "bulk: finished retries needed before the failure rate counts");
  retry->add_option("--wait", bulk->wait_seconds,
                    "bulk: seconds to wait for the retries' outcomes at the end");
  retry->callback([=] {
    *chosen = [=] {
      return with_client([&](DlqClient& c, bool json) {
        auto input = read_json_arg(*input_text, *input_file, "--input");
        if (!input) return report(tl::unexpected(input.error()), json, {});
        if (!input->is_null()) bulk->retry.input = *input;
        auto patch = read_json_arg(*patch_text, "", "--patch");
        if (!patch) return report(tl::unexpected(patch.error()), json, {});
        if (!patch->is_null()) bulk->retry.patch = *patch;
        if (*version > 0) bulk->retry.version = *version;
        if (*id > 0) {
          return report(c.retry(*id, bulk->retry), json, [](const Json& r) {
            if (r.value("dryRun", false)) {
              std::cout << "dry run: would start retry " << r["retryNumber"] << " ("
                        << r.value("mode", "") << ") of " << r.value("workflow", "") << "@"
                        << r.value("workflowVersion", 0) << " with input " << r["input"].dump()
                        << "\n";
              return;
            }
            std::cout << "retry " << r["retryNumber"] << " of dead letter " << r["deadLetterId"]
                      << " (" << r.value("mode", "") << ")";
            if (r.contains("executionId"))
              std::cout << ": execution " << r["executionId"].get<std::string>();
            if (r.value("reusedSteps", 0) > 0)
              std::cout << ", " << r["reusedSteps"] << " steps reused";
            if (r.value("alreadyRequested", false)) std::cout << " (already under way)";
            std::cout << "\n";
          });
        }
        if (!filter->workflow && !filter->error_code && !filter->kind && !filter->since)
          return report(tl::unexpected(ApiError::invalid_input(
                            "a bulk retry needs a filter (--workflow, --error-code, --kind or "
                            "--since), or give a dead letter ID")),
                        json, {});
        bulk->filter = *filter;
        return bulk_retry(c, *bulk, json);
      });
    };
  });

  auto reason = std::make_shared<std::string>();
  for (const char* verb : {"discard", "archive"}) {
    const std::string v = verb;
    auto* sub = dlq->add_subcommand(v, v == "discard"
                                           ? "Drop a dead letter on purpose (needs --reason)"
                                           : "Keep a dead letter for the record, out of the queue");
    common(sub);
    sub->add_option("ID", *id, "dead letter id")->required();
    auto* r = sub->add_option("--reason", *reason, "why (kept in the audit trail)");
    if (v == "discard") r->required();
    sub->callback([=] {
      *chosen = [=] {
        return with_client([&](DlqClient& c, bool json) {
          return report(c.close(*id, v, *reason), json, [v](const Json& d) {
            std::cout << "dead letter " << d["id"] << " " << d.value("state", v) << "\n";
          });
        });
      };
    });
  }
  return [chosen] { return *chosen ? (*chosen)() : -1; };
}

}  // namespace flowctl
