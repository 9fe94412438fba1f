// Loading definitions: the structure built from YAML and JSON, defaults, locations in messages,
// the rules of docs/definitions.md, and the limits that protect the loader from hostile input.
#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"
#include "flowd/engine/step_runner.h"

namespace {

using flowd::Json;
using flowd::LoadResult;
using flowd::Millis;

std::string formatted(const flowd::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

// A definition with the given spec.steps (YAML, indented as a block under `steps:`).
std::string with_steps(const std::string& steps, const std::string& extra_spec = "") {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: t, version: 1}\nspec:\n" +
         extra_spec + "  steps:\n" + steps;
}

const flowd::Definition& loaded(const LoadResult& r) {
  INFO(formatted(r.diagnostics));
  REQUIRE(r.diagnostics.empty());
  REQUIRE(r.definition != nullptr);
  return *r.definition;
}

std::string problems(const std::string& text) {
  auto r = flowd::load_definition(text, "t.yaml");
  CHECK(r.definition == nullptr);
  return formatted(r.diagnostics);
}

}  // namespace

TEST_CASE("The DESIGN.md example loads into the step graph it describes", "[engine][definition]") {
  auto r = flowd::load_definition_file(FLOWD_SOURCE_DIR
                                       "/tests/corpus/definitions/valid/order-processing.yaml");
  const auto& d = loaded(r);
  CHECK(d.name == "order-processing");
  CHECK(d.version == 1);
  CHECK(d.ref() == "order-processing@1");
  CHECK(d.description == "Charge and reserve an order");
  CHECK(d.input_schema == Json::parse(R"({"type":"object","required":["orderId","items"]})"));
  CHECK(d.compiled_input_schema != nullptr);
  CHECK(d.timeout == Millis(600'000));
  CHECK(d.max_parallel == 8);
  CHECK(d.default_step_timeout == Millis(30'000));
  CHECK(d.default_retry.max_attempts == 3);
  REQUIRE(d.steps.size() == 4);

  const auto& fetch = d.steps[0];
  CHECK(fetch.id == "fetch");
  CHECK(fetch.body.type == "http");
  CHECK(fetch.body.with.source()["method"] == "GET");
  CHECK(fetch.body.with.has_references());
  CHECK(fetch.timeout == Millis(5000));
  REQUIRE(fetch.retry.has_value());
  CHECK(fetch.retry->max_attempts == 4);
  CHECK(fetch.retry->backoff == Millis(200));
  CHECK(fetch.retry->multiplier == 2.0);
  CHECK(fetch.retry->max_backoff == Millis(5000));
  CHECK(fetch.retry->jitter == Approx(0.2));
  CHECK(fetch.retry->on ==
        std::vector<flowd::ErrorCode>{flowd::ErrorCode::kTimeout, flowd::ErrorCode::kExternal});
  CHECK(fetch.location.line == 11);
  CHECK(fetch.location.column == 7);
  CHECK(fetch.location.pointer == "/spec/steps/0");

  const auto& route = d.steps[1];
  CHECK(route.depends_on == std::vector<std::string>{"fetch"});
  REQUIRE(route.switch_def.has_value());
  CHECK(route.switch_def->value.text() == "{{ steps.fetch.output.body.method }}");
  REQUIRE(route.switch_def->cases.size() == 2);
  CHECK(route.switch_def->cases[0].match == "card");
  CHECK(route.switch_def->cases[0].body.type == "transform");
  CHECK(route.switch_def->cases[1].body.type == "workflow");
  CHECK(route.switch_def->cases[1].body.with.source()["ref"] == "invoice@2");
  REQUIRE(route.switch_def->default_body.has_value());
  CHECK(route.switch_def->default_body->type == "fail");
  CHECK(route.body.type.empty());

  const auto& reserve = d.steps[2];
  REQUIRE(reserve.for_each.has_value());
  CHECK(reserve.for_each->items.text() == "{{ input.items }}");
  CHECK(reserve.for_each->as == "item");
  CHECK(reserve.for_each->max_parallel == 4);
  REQUIRE(reserve.condition.has_value());
  CHECK_FALSE(reserve.retry.has_value());  // absent: the engine applies spec.defaults
  CHECK_FALSE(reserve.timeout.has_value());

  const auto& notify = d.steps[3];
  CHECK(notify.fallback.kind == flowd::Fallback::Kind::kValue);
  CHECK(notify.fallback.value == Json::parse(R"({"notified":false})"));
  CHECK(notify.continue_on_error);
  CHECK(notify.on_missing == flowd::OnMissing::kFail);

  REQUIRE(d.output.has_value());
  CHECK(d.output->source()["orderId"] == "{{ input.orderId }}");
  REQUIRE(d.triggers.size() == 2);
  CHECK(d.triggers[0].kind == flowd::TriggerDef::Kind::kKafka);
  CHECK(d.triggers[0].spec["topic"] == "orders.created");
  CHECK(d.triggers[1].kind == flowd::TriggerDef::Kind::kCron);
  CHECK(d.triggers[1].spec["catchupWindow"] == "6h");
  CHECK(d.document["spec"]["maxParallel"] == 8);
  CHECK(d.source_name.ends_with("order-processing.yaml"));
  CHECK(d.find_step("notify") == &notify);
  CHECK(d.find_step("nope") == nullptr);
}

TEST_CASE("Absent fields take the documented defaults", "[engine][definition]") {
  const auto r = flowd::load_definition(with_steps("    - {id: a, type: noop}\n"), "t.yaml");
  const auto& d = loaded(r);
  CHECK(d.timeout == Millis(3'600'000));
  CHECK(d.max_parallel == 16);
  CHECK(d.default_step_timeout == Millis(60'000));
  CHECK(d.default_retry.max_attempts == 1);
  CHECK(d.input_schema.is_null());
  CHECK(d.compiled_input_schema == nullptr);
  CHECK_FALSE(d.output.has_value());
  CHECK(d.steps[0].body.with.source() == Json::object());
  CHECK(d.steps[0].on_missing == flowd::OnMissing::kFail);
  CHECK(d.steps[0].fallback.kind == flowd::Fallback::Kind::kNone);
  CHECK(d.description.empty());
}

TEST_CASE("An empty step list is a valid definition", "[engine][definition]") {
  const auto r = flowd::load_definition(with_steps("    []\n"), "t.yaml");
  CHECK(loaded(r).steps.empty());
  CHECK_FALSE(loaded(r).output.has_value());
}

TEST_CASE("A step's retry is merged over spec.defaults.retry", "[engine][definition]") {
  const auto r = flowd::load_definition(
      with_steps(
          "    - {id: a, type: noop, retry: {maxAttempts: 5}}\n"
          "    - {id: b, type: noop, retry: {backoff: 10s}}\n",
          "  defaults: {retry: {maxAttempts: 3, backoff: 1s, maxBackoff: 4s, on: [TIMEOUT]}}\n"),
      "t.yaml");
  const auto& d = loaded(r);
  REQUIRE(d.steps[0].retry.has_value());
  CHECK(d.steps[0].retry->max_attempts == 5);
  CHECK(d.steps[0].retry->backoff == Millis(1000));
  CHECK(d.steps[0].retry->on == std::vector<flowd::ErrorCode>{flowd::ErrorCode::kTimeout});
  // backoff 10s beyond the inherited cap of 4s: an inherited cap is not a contradiction, the
  // cap rises to the backoff.
  CHECK(d.steps[1].retry->max_attempts == 3);
  CHECK(d.steps[1].retry->backoff == Millis(10'000));
  CHECK(d.steps[1].retry->max_backoff == Millis(10'000));
}

TEST_CASE("Fallback kinds, onMissing and groups are loaded", "[engine][definition]") {
  const auto r = flowd::load_definition_file(FLOWD_SOURCE_DIR
                                             "/tests/corpus/definitions/valid/reliability.yaml");
  const auto& d = loaded(r);
  CHECK(d.find_step("flaky")->fallback.kind == flowd::Fallback::Kind::kStep);
  CHECK(d.find_step("flaky")->fallback.step == "backup");
  CHECK(d.find_step("wait")->fallback.kind == flowd::Fallback::Kind::kSkip);
  CHECK(d.find_step("configured-wait")->on_missing == flowd::OnMissing::kNull);
  CHECK(d.find_step("summary")->on_missing == flowd::OnMissing::kWait);
  CHECK(d.find_step("summary")->timeout == Millis(3'600'000));

  const auto nested = flowd::load_definition_file(
      FLOWD_SOURCE_DIR "/tests/corpus/definitions/valid/nested-control-flow.yaml");
  const auto& n = loaded(nested);
  const auto* dept = n.find_step("per-department");
  REQUIRE(dept != nullptr);
  CHECK(dept->for_each->as == "dept");
  REQUIRE(dept->body.steps.size() == 2);
  CHECK(dept->body.output.has_value());
  // find_step looks into groups and switch cases when the id is not at the top level.
  const auto* net = n.find_step("net");
  REQUIRE(net != nullptr);
  CHECK(net->depends_on == std::vector<std::string>{"gross"});
  const auto* employee = n.find_step("per-employee");
  REQUIRE(employee != nullptr);
  REQUIRE(employee->switch_def.has_value());
  CHECK(employee->switch_def->cases[1].body.steps.size() == 2);
  CHECK(employee->switch_def->cases[1].body.output.has_value());
}

TEST_CASE("YAML and JSON spellings of one definition load to the same document",
          "[engine][definition]") {
  const std::string yaml = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: same, version: 2}
spec:
  steps:
    - id: a
      type: transform
      with: {n: 1, f: 1.5, s: "1", t: true, z: ~, list: [1, two]}
)";
  const std::string json = R"({"apiVersion": "flowd/v1", "kind": "Workflow",
    "metadata": {"name": "same", "version": 2},
    "spec": {"steps": [{"id": "a", "type": "transform",
      "with": {"n": 1, "f": 1.5, "s": "1", "t": true, "z": null, "list": [1, "two"]}}]}})";
  const auto a = flowd::load_definition(yaml, "a.yaml");
  const auto b = flowd::load_definition(json, "b.json");
  CHECK(loaded(a).document == loaded(b).document);
  CHECK(loaded(a).document.dump() == Json::parse(json).dump());
}

TEST_CASE("YAML scalars resolve with the YAML 1.2 core schema", "[engine][definition]") {
  struct Case {
    const char* yaml;
    Json expected;
  };
  const Case cases[] = {
      {"1", 1},           {"-7", -7},         {"+3", 3},
      {"0x1F", 31},       {"0o17", 15},       {"1.5", 1.5},
      {"1e3", 1000.0},    {"\"1\"", "1"},     {"'true'", "true"},
      {"true", true},     {"False", false},   {"yes", "yes"},
      {"no", "no"},       {"~", nullptr},     {"null", nullptr},
      {"", nullptr},      {"!!str 12", "12"}, {".inf", ".inf"},
      {"1.2.3", "1.2.3"}, {"08", 8},          {"12345678901234567890", 12345678901234567890ull},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto r = flowd::load_definition(
        with_steps(std::string("    - id: a\n      type: transform\n      with: {v: ") + c.yaml +
                   "}\n"),
        "t.yaml");
    CHECK(loaded(r).steps[0].body.with.source()["v"] == c.expected);
  }
}

TEST_CASE("Diagnostic::format names file and line:col, or file and JSON pointer",
          "[engine][definition]") {
  flowd::Diagnostic d;
  d.source = "a.yaml";
  d.message = "boom";
  d.location.line = 3;
  d.location.column = 9;
  d.location.pointer = "/spec";
  CHECK(d.format() == "a.yaml:3:9: boom");
  d.location.line = 0;
  CHECK(d.format() == "a.yaml:/spec: boom");
  d.location.pointer.clear();
  CHECK(d.format() == "a.yaml: boom");
}

TEST_CASE("A template error points at the column inside the string", "[engine][definition]") {
  // Line 8 is `      with: {message: "ab {{ input. }}"}`; the string's text starts at column 24
  // and the path error is at its byte 12 (after `input.`).
  auto r = flowd::load_definition(
      with_steps("    - id: a\n      type: log\n      with: {message: \"ab {{ input. }}\"}\n"),
      "t.yaml");
  REQUIRE(r.diagnostics.size() == 1);
  const auto& d = r.diagnostics[0];
  INFO(d.format());
  CHECK(d.location.line == 8);
  CHECK(d.location.column == 24 + 12);
  CHECK(d.location.pointer == "/spec/steps/0/with/message");

  // A plain (unquoted) scalar and a JSON document.
  auto plain = flowd::load_definition(
      with_steps("    - id: a\n      type: log\n      with:\n        message: x {{ nope }}\n"),
      "t.yaml");
  REQUIRE(plain.diagnostics.size() == 1);
  CHECK(plain.diagnostics[0].location.column == 18 + 2);
  CHECK(plain.diagnostics[0].message.find("unknown name 'nope'") != std::string::npos);

  auto json = flowd::load_definition(
      R"({"apiVersion":"flowd/v1","kind":"Workflow","metadata":{"name":"j","version":1},
          "spec":{"steps":[{"id":"a","type":"log","with":{"m":"{{ x"}}]}})",
      "t.json");
  REQUIRE(json.diagnostics.size() == 1);
  CHECK(
      json.diagnostics[0].format() ==
      "t.json:/spec/steps/0/with/m: step 'a' with.m: malformed template: column 1: unclosed '{{'");
}

TEST_CASE("Each rule of the loader is enforced", "[engine][definition]") {
  struct Case {
    const char* name;
    std::string steps;
    std::string expected;
  };
  const Case cases[] = {
      {"duplicate ids", "    - {id: a, type: noop}\n    - {id: a, type: noop}\n",
       "duplicate step id 'a'"},
      {"unknown dependsOn", "    - {id: a, type: noop, dependsOn: [b]}\n", "unknown step 'b'"},
      {"cycle",
       "    - {id: a, type: noop, dependsOn: [b]}\n    - {id: b, type: noop, dependsOn: [a]}\n",
       "dependency cycle: a -> b -> a"},
      {"unknown type", "    - {id: a, type: nop}\n",
       "unknown step type 'nop' (did you mean 'noop'?)"},
      {"not upstream",
       "    - {id: a, type: noop}\n    - {id: b, type: transform, with: {x: \"{{ steps.a.output "
       "}}\"}}\n",
       "step 'a' is not upstream"},
      {"transitive upstream is fine, unknown root is not",
       "    - {id: a, type: noop}\n    - {id: b, type: noop, dependsOn: [a]}\n"
       "    - {id: c, type: transform, dependsOn: [b], with: {x: \"{{ steps.a.output }}\", y: \"{{ "
       "secret.k }}\"}}\n",
       "unknown name 'secret' (did you mean 'secrets'?)"},
      {"invalid duration", "    - {id: a, type: noop, timeout: 5 s}\n", "invalid duration '5 s'"},
      {"zero timeout", "    - {id: a, type: noop, timeout: 0ms}\n", "must be longer than 0"},
      {"duration overflow", "    - {id: a, type: noop, timeout: 99999999999d}\n",
       "invalid duration"},
      {"forEach maxParallel",
       "    - {id: a, type: noop, forEach: {items: \"{{ input.x }}\", maxParallel: 0}}\n",
       "forEach.maxParallel: must be between 1 and 10000, got 0"},
      {"forEach as", "    - {id: a, type: noop, forEach: {items: \"{{ input.x }}\", as: steps}}\n",
       "'steps' is a reserved name"},
      {"fallback self", "    - {id: a, type: noop, fallback: {step: a}}\n",
       "names the step itself"},
      {"fallback unknown", "    - {id: a, type: noop, fallback: {step: z}}\n", "unknown step 'z'"},
      {"jitter", "    - {id: a, type: noop, retry: {jitter: 0.26}}\n",
       "must be between 0 and 0.25"},
      {"maxAttempts", "    - {id: a, type: noop, retry: {maxAttempts: 1000}}\n",
       "between 1 and 100"},
      {"switch without cases", "    - {id: a, switch: {value: \"{{ input.k }}\", cases: []}}\n",
       "a switch needs at least one case"},
      {"condition syntax", "    - {id: a, type: noop, if: \"{{ input.k }} ==\"}\n",
       "malformed condition"},
      {"steps.<id> field",
       "    - {id: a, type: noop}\n    - {id: b, type: transform, dependsOn: [a], with: {x: \"{{ "
       "steps.a.result }}\"}}\n",
       "a step result has output, status, error and attempts"},
      {"item outside forEach", "    - {id: a, type: transform, with: {x: \"{{ index }}\"}}\n",
       "item and index exist inside a forEach"},
      {"own output in if", "    - {id: a, type: noop, if: \"{{ steps.a.status }} == 'x'\"}\n",
       "a step cannot read its own result"},
      {"unknown field typo", "    - {id: a, tyep: noop}\n",
       "unknown field 'tyep' (did you mean 'type'?)"},
      {"case-only typo", "    - {id: a, type: noop, DependsOn: []}\n", "did you mean 'dependsOn'?"},
      {"sleep needs duration", "    - {id: a, type: sleep}\n", "a 'sleep' step needs 'with'"},
      {"continueOnError type", "    - {id: a, type: noop, continueOnError: 1}\n",
       "must be true or false"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const std::string found = problems(with_steps(c.steps));
    INFO(found);
    CHECK(found.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("Workflow-level rules: maxParallel, timeouts, output references, triggers",
          "[engine][definition]") {
  CHECK(problems(with_steps("    []\n", "  maxParallel: -3\n")).find("spec.maxParallel: must be") !=
        std::string::npos);
  CHECK(problems(with_steps("    []\n", "  timeout: 1w\n")).find("invalid duration '1w'") !=
        std::string::npos);
  // The workflow's output sees every top-level step, but not the steps inside groups.
  const std::string group =
      "    - id: g\n      steps:\n        - {id: inner, type: noop}\n    - {id: top, type: noop}\n";
  auto ok = flowd::load_definition(
      "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: t, version: 1}\nspec:\n  steps:\n" +
          group + "  output: {a: \"{{ steps.top.output }}\", b: \"{{ steps.g.output }}\"}\n",
      "t.yaml");
  CHECK(ok.diagnostics.empty());
  CHECK(problems("apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: t, version: 1}\nspec:\n"
                 "  steps:\n" +
                 group + "  output: \"{{ steps.inner.output }}\"\n")
            .find("step 'inner' is not visible here") != std::string::npos);
}

TEST_CASE("All problems are reported in one pass, in document order", "[engine][definition]") {
  auto r = flowd::load_definition_file(FLOWD_SOURCE_DIR
                                       "/tests/corpus/definitions/invalid/multi-error.yaml");
  REQUIRE(r.diagnostics.size() == 6);
  for (std::size_t i = 1; i < r.diagnostics.size(); ++i) {
    CHECK(r.diagnostics[i - 1].location.line <= r.diagnostics[i].location.line);
  }
}

TEST_CASE("The step-type overload knows only the types it is given", "[engine][definition]") {
  const std::string text =
      with_steps("    - {id: a, type: custom.thing}\n    - {id: b, type: http, with: {url: x}}\n");
  auto r = flowd::load_definition(text, "t.yaml", {"custom.thing", "noop", "workflow"});
  const std::string found = formatted(r.diagnostics);
  CHECK(found.find("unknown step type 'custom.thing'") == std::string::npos);
  CHECK(found.find("unknown step type 'http'") != std::string::npos);
  CHECK(r.diagnostics.size() == 1);
  CHECK(loaded(flowd::load_definition(with_steps("    - {id: a, type: custom.thing}\n"), "t.yaml",
                                      {"custom.thing"}))
            .steps[0]
            .body.type == "custom.thing");
}

TEST_CASE("Hostile or broken text is rejected with a diagnostic, never a crash",
          "[engine][definition]") {
  struct Case {
    const char* name;
    std::string text;
    std::string expected;
  };
  std::string deep_json;
  for (int i = 0; i < 5000; ++i) deep_json += '[';
  std::string deep_yaml = "a: ";
  for (int i = 0; i < 3000; ++i) deep_yaml += '[';
  // A "billion laughs": 10 levels of 10 aliases each.
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string p = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + p + ", " + p + ", " +
              p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p + ", " + p +
              "]\n";
  }
  const Case cases[] = {
      {"empty", "", "the document is empty"},
      {"blank", " \n\t\n", "the document is empty"},
      {"deep JSON", deep_json, "nested deeper than 128 levels"},
      {"deep YAML", deep_yaml, "t.yaml:"},
      {"alias bomb", laughs, "values (after expanding aliases)"},
      {"invalid UTF-8", "apiVersion: \"flowd/v1\xff\"\n", "t.yaml:1:22: text is not valid UTF-8"},
      {"two documents", "a: 1\n---\nb: 2\n", "t.yaml:3:1: expected one YAML document, found more"},
      {"scalar", "hello", "a definition must be an object"},
      {"JSON syntax", "{\"a\": }", "t.yaml:1:7: invalid JSON"},
      {"JSON number overflow", "{\"a\": 1E99999}", "t.yaml:1:7: invalid JSON: number overflow"},
      {"unknown tag", "apiVersion: !foo x\n", "unsupported YAML tag '!foo'"},
      {"endless documents (yaml-cpp's LoadAll loops on this)", "\"x\",\n : x",
       "expected one YAML document"},
      {"too large", std::string((8u << 20) + 1, ' '), "larger than 8 MiB"},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto r = flowd::load_definition(c.text, "t.yaml");
    CHECK(r.definition == nullptr);
    const std::string found = formatted(r.diagnostics);
    INFO(found);
    CHECK(found.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("load_definition_file reports a missing file", "[engine][definition]") {
  auto r = flowd::load_definition_file("/nonexistent/definition.yaml");
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].format() == "/nonexistent/definition.yaml: no such file");
  auto dir = flowd::load_definition_file(FLOWD_SOURCE_DIR "/tests");
  CHECK(dir.definition == nullptr);
}

TEST_CASE("A UTF-8 byte order mark is ignored", "[engine][definition]") {
  auto r = flowd::load_definition("\xEF\xBB\xBF" + with_steps("    []\n"), "t.yaml");
  CHECK(r.diagnostics.empty());
}

TEST_CASE("The loader knows the same built-in step types as the runtime", "[engine][definition]") {
  for (const auto& type : flowd::builtin_step_types()) {
    INFO(type);
    auto r = flowd::load_definition(
        with_steps("    - {id: a, type: " + type + ", with: {url: x, duration: 1s, ref: w}}\n"),
        "t.yaml");
    const std::string found = formatted(r.diagnostics);
    CHECK(found.find("unknown step type") == std::string::npos);
  }
  auto r = flowd::load_definition(with_steps("    - {id: a, type: nope}\n"), "t.yaml");
  std::string known;
  for (const auto& type : flowd::builtin_step_types()) known += (known.empty() ? "" : ", ") + type;
  CHECK(formatted(r.diagnostics).find("(known: " + known + ")") != std::string::npos);
}
