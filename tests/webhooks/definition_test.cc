// Definitions: webhook triggers and where secrets may appear, checked when a definition loads
// (table-driven: each bad definition names its problem and where it is).
#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"

namespace {

std::string with_spec(const std::string& spec) {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: w, version: 1}\nspec:\n" + spec;
}

const std::string kStep = "  steps:\n    - {id: a, type: noop}\n";

std::string problems_of(const std::string& text) {
  auto loaded = flowd::load_definition(text, "w.yaml");
  std::string out;
  for (const auto& d : loaded.diagnostics) out += d.location.pointer + " " + d.format() + "\n";
  return loaded.definition ? "" : out;
}

}  // namespace

TEST_CASE("Webhook triggers load and their mistakes are named", "[webhooks][definition]") {
  auto ok = flowd::load_definition(
      with_spec(kStep +
                "  triggers:\n    - webhook: {path: a/b, secret: S, signature: github, filter: "
                "\"{{ request.body.x }} == 1\", input: \"{{ request.body }}\"}\n"
                "    - webhook: {path: c, secret: S, signature: {scheme: hmac-sha256, header: X-S, "
                "tolerance: 1m}}\n"),
      "w.yaml");
  INFO(problems_of(with_spec(kStep)));
  REQUIRE(ok.definition);
  REQUIRE(ok.definition->triggers.size() == 2);
  CHECK(ok.definition->triggers[0].kind == flowd::TriggerDef::Kind::kWebhook);

  struct Case {
    std::string trigger;
    std::string expected;
  } cases[] = {
      {"{path: /a, secret: S, signature: github}", "must not start or end with '/'"},
      {"{path: a/../b, secret: S, signature: github}", "'..' segment"},
      {"{path: a/b/c/d/e, secret: S, signature: github}", "more than 4 segments"},
      {"{path: a, secret: 'no way', signature: github}", "is not a name"},
      {"{path: a, secret: S, signature: md5}", "must be one of standard, github"},
      {"{path: a, secret: S, signature: {scheme: hmac-sha256}}", "needs 'header'"},
      {"{path: a, secret: S, signature: {scheme: github, header: X}}", "only hmac-sha256"},
      {"{path: a, secret: S}", "missing required field 'signature'"},
      {"{path: a, secret: S, signature: github, input: \"{{ event.data }}\"}",
       "sees only 'request'"},
      {"{path: a, secret: S, signature: github, bogus: 1}", "unknown field 'bogus'"},
      {"{path: a, secret: S, signature: github, rateLimit: {perSecond: 0, burst: 1}}",
       "must be a number in (0, 1000000]"},
      {"{path: a, secret: S, signature: github, rateLimit: {perSecond: 1, burst: 0.5}}",
       "must be an integer in 1..1000000"},
  };
  for (const auto& c : cases) {
    INFO(c.trigger);
    auto problems =
        problems_of(with_spec(kStep + "  triggers:\n    - webhook: " + c.trigger + "\n"));
    INFO(problems);
    CHECK(problems.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("Secrets are allowed only in the with of steps that call out", "[secrets][definition]") {
  const std::string good = with_spec(
      "  steps:\n    - {id: a, type: http, with: {url: \"http://h/\", headers: {A: \"{{ "
      "secrets.K }}\"}}}\n"
      "    - {id: b, type: fail, with: {message: \"x {{ secrets.K }}\"}}\n");
  INFO(problems_of(good));
  CHECK(flowd::load_definition(good, "w.yaml").definition);

  struct Case {
    std::string spec;
    std::string where;
  } cases[] = {
      {"  steps:\n    - {id: a, type: noop}\n  output: {k: \"{{ secrets.K }}\"}\n", "/spec/output"},
      {"  steps:\n    - {id: a, type: noop, if: \"{{ secrets.K }} == 'x'\"}\n", "/if"},
      {"  steps:\n    - id: a\n      switch:\n        value: \"{{ secrets.K }}\"\n        cases: "
       "[{match: x, type: noop}]\n",
       "/switch/value"},
      {"  steps:\n    - {id: a, type: transform, with: {k: \"{{ secrets.K }}\"}}\n",
       "a transform step's 'with' may not use secrets"},
      {"  steps:\n    - {id: a, type: log, with: {message: \"{{ secrets.K }}\"}}\n",
       "a log step's 'with' may not use secrets"},
      {"  steps:\n    - id: a\n      forEach: {items: \"{{ secrets.K }}\"}\n      type: noop\n",
       "/forEach/items"},
  };
  for (const auto& c : cases) {
    INFO(c.spec);
    auto problems = problems_of(with_spec(c.spec));
    INFO(problems);
    CHECK(problems.find("secrets") != std::string::npos);
    CHECK(problems.find(c.where) != std::string::npos);
  }
}
