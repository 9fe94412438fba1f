// The readable forms of `flowctl executions audit` and `flowctl webhooks list`.
#include <fmt/format.h>

#include <iostream>

#include "output.h"

namespace flowctl {
namespace {

std::string text(const Json& j, const char* key, std::string none = "-") {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return none;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

}  // namespace

void print_audit(const Json& a) {
  const Json& x = a["execution"];
  std::cout << fmt::format("execution {}  {}@{}  {}\n", text(x, "id"), text(x, "workflow"),
                           text(x, "workflowVersion"), text(x, "status"));
  const Json& by = a["startedBy"];
  std::cout << fmt::format("started   {} by {}", text(by, "time"), text(by, "actor"));
  if (by.contains("dedupeKey")) std::cout << " (dedupe key " << text(by, "dedupeKey") << ")";
  std::cout << "\n";
  if (a.contains("outcome"))
    std::cout << fmt::format("outcome   {} at {}\n", text(a["outcome"], "status"),
                             text(a["outcome"], "time"));
  std::cout << "input     " << a.value("input", Json()).dump() << "\n";
  const Json& l = a["lineage"];
  std::cout << fmt::format("lineage   retryOf {}  parent {}  retries {}  children {}\n",
                           text(l, "retryOf"), text(l, "parent"), l["retries"].dump(),
                           l["children"].dump());

  std::cout << "\nSTEPS\n"
            << fmt::format("  {:<28} {:<10} {:>3}  {:>9}  {:<24} {}\n", "STEP", "STATUS", "ATT",
                           "MS", "SECRETS", "LAST ERROR");
  for (const auto& s : a["steps"]) {
    std::int64_t ms = 0;
    std::string error = "-";
    for (const auto& at : s["attempts"]) {
      ms += at.value("durationMs", std::int64_t{0});
      if (at.contains("error"))
        error = text(at["error"], "code") + ": " + text(at["error"], "message");
    }
    std::string secrets;
    for (const auto& n : s["secrets"])
      secrets += (secrets.empty() ? "" : ",") + n.get<std::string>();
    std::cout << fmt::format("  {:<28} {:<10} {:>3}  {:>9}  {:<24} {}\n", text(s, "step"),
                             text(s, "status"), s["attempts"].size(), ms,
                             secrets.empty() ? "-" : secrets, error.substr(0, 60));
  }
  if (!a["secretsAccessed"].empty()) {
    std::cout << "\nSECRETS ACCESSED (names only)\n";
    for (const auto& s : a["secretsAccessed"])
      std::cout << fmt::format("  {:<24} {:<28} {}\n", text(s, "time"), text(s, "step"),
                               text(s, "name"));
  }
  if (!a["retries"].empty()) {
    std::cout << "\nRETRIES\n";
    for (const auto& r : a["retries"])
      std::cout << fmt::format("  {:<24} {:<28} attempt {} -> {} after {} ms\n", text(r, "time"),
                               text(r, "step"), text(r, "failedAttempt"), text(r, "nextAttempt"),
                               text(r, "delayMs"));
  }
  std::cout << "\nCOMMANDS\n";
  if (a["commands"].empty()) std::cout << "  (none)\n";
  for (const auto& c : a["commands"])
    std::cout << fmt::format("  {:<24} {:<7} by {:<20} reason {:<24} -> {}\n", text(c, "createdAt"),
                             text(c, "command"), text(c, "actor"), text(c, "reason", "\"\""),
                             text(c, "result", "pending"));
  if (a.contains("deadLetters") && !a["deadLetters"].empty()) {
    // Its dead letter (or the one it retries): every retry and action, by whom and why.
    std::cout << "\nDEAD LETTERS\n";
    for (const auto& d : a["deadLetters"]) {
      std::cout << fmt::format("  {} {}  {}  {}: {}", text(d, "id"), text(d, "relation"),
                               text(d, "state"), text(d, "errorCode"),
                               text(d, "errorMessage").substr(0, 60));
      if (d.contains("retryNumber")) std::cout << "  (this is retry " << d["retryNumber"] << ")";
      std::cout << "\n";
      for (const auto& r : d["retries"])
        std::cout << fmt::format("    retry {:<3} {:<24} by {:<20} {:<16} {} -> {}\n",
                                 text(r, "retryNumber"), text(r, "requestedAt"),
                                 text(r, "requestedBy"), text(r, "mode"), text(r, "executionId"),
                                 text(r, "outcome"));
      for (const auto& x : d["actions"])
        std::cout << fmt::format("    {:<24} {:<18} by {:<20} reason {}\n", text(x, "time"),
                                 text(x, "type"), text(x, "actor"), text(x, "reason", "\"\""));
    }
  }
  std::cout << "\nACTORS\n";
  for (const auto& x : a["actors"])
    std::cout << fmt::format("  {:<48} {} events\n", text(x, "actor"), text(x, "events"));
}

void print_webhooks(const Json& list) {
  std::cout << fmt::format("{:<32} {:<28} {:<12} {}\n", "PATH", "WORKFLOW", "SIGNATURE", "SECRET");
  for (const auto& w : list["items"])
    std::cout << fmt::format("{:<32} {:<28} {:<12} {}\n", text(w, "url"),
                             text(w, "workflow") + "@" + text(w, "workflowVersion"),
                             text(w, "signature"), text(w, "secret"));
  for (const auto& p : list.value("problems", Json::array()))
    std::cerr << "problem: " << p.get<std::string>() << "\n";
}

}  // namespace flowctl
