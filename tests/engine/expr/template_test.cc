// Templates and JSON templates (expr.h): parsing, type preservation, text rendering, missing
// paths under both policies, default(...), nested scopes, and the no-template fast path.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/expr.h"

namespace flowd {
namespace {

// A scope like the executor builds: input, context, secrets, and two steps.
struct Fixture {
  Json input = Json::parse(R"({
    "n": 42, "pi": 3.5, "name": "Ada", "flag": true, "nothing": null,
    "user": {"name": "Grace", "tags": ["a", "b"], "first-name": "G", "last_name": "H"},
    "items": [{"sku": "x1", "qty": 2}, {"sku": "x2", "qty": 0}], "empty": ""
  })");
  Json context = Json::parse(R"({"tenant": "acme"})");
  Json secrets = Json::parse(R"({"TOKEN": "s3cr3t"})");
  Json steps = Json::parse(R"({
    "fetch": {"status": "COMPLETED", "output": {"items": [{"sku": "A-1"}], "count": 1},
              "attempts": 1},
    "my-step_2": {"status": "FAILED", "output": null, "attempts": 3}
  })");
  Scope scope;
  Fixture() {
    scope.bind("input", &input);
    scope.bind("context", &context);
    scope.bind("secrets", &secrets);
    scope.bind_steps(&steps);
  }
};

// The JSON kind as users see it (nlohmann distinguishes signed and unsigned integers).
std::string kind(const Json& j) {
  return j.is_number() ? "number" : j.type_name();
}

Template must_parse(std::string_view text) {
  auto t = Template::parse(text);
  INFO(text << " -> " << (t ? "" : t.error().message));
  REQUIRE(t);
  return std::move(*t);
}

Json must_render(std::string_view text, const Scope& scope,
                 MissingPolicy missing = MissingPolicy::kError) {
  Template t = must_parse(text);
  auto r = t.render(scope, missing);
  INFO(text << " -> " << (r ? "" : r.error().message));
  REQUIRE(r);
  return *r;
}

TEST_CASE("Whole-value templates keep the JSON type of what they name", "[engine][expr]") {
  Fixture f;
  struct Case {
    const char* text;
    Json expected;
  };
  const std::vector<Case> cases = {
      {"{{ input.n }}", 42},
      {"{{input.n}}", 42},
      {"  {{ input.n }}  ", 42},
      {"{{ input.pi }}", 3.5},
      {"{{ input.flag }}", true},
      {"{{ input.nothing }}", nullptr},
      {"{{ input.name }}", "Ada"},
      {"{{ input.user.tags }}", Json::array({"a", "b"})},
      {"{{ input.items[1] }}", Json::parse(R"({"sku": "x2", "qty": 0})")},
      {"{{ input.items[0].sku }}", "x1"},
      {"{{ input.user.first-name }}", "G"},
      {"{{ input.user.last_name }}", "H"},
      {"{{ steps.fetch.output.items[0].sku }}", "A-1"},
      {"{{ steps.fetch.status }}", "COMPLETED"},
      {"{{ steps.my-step_2.attempts }}", 3},
      {"{{ secrets.TOKEN }}", "s3cr3t"},
      {"{{ context.tenant }}", "acme"},
      {"{{ input }}", f.input},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    Template t = must_parse(c.text);
    CHECK(t.is_whole_value());
    Json got = must_render(c.text, f.scope);
    CHECK(got == c.expected);
    CHECK(kind(got) == kind(c.expected));
  }
}

TEST_CASE("References inside a longer string render as text", "[engine][expr]") {
  Fixture f;
  struct Case {
    const char* text;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"hello {{ input.name }}", "hello Ada"},
      {"{{ input.name }}!", "Ada!"},
      {"n={{ input.n }}", "n=42"},
      {"pi={{ input.pi }}", "pi=3.5"},
      {"flag={{ input.flag }}", "flag=true"},
      {"null={{ input.nothing }}", "null=null"},
      {"tags={{ input.user.tags }}", R"(tags=["a","b"])"},
      {"obj={{ input.items[0] }}", R"(obj={"qty":2,"sku":"x1"})"},
      {"{{ input.name }}{{ input.n }}", "Ada42"},
      {"{{ input.name }} {{ input.name }}", "Ada Ada"},
      {"order {{ input.n }}: {{ steps.fetch.output.count }} reserved", "order 42: 1 reserved"},
      {"empty=[{{ input.empty }}]", "empty=[]"},
      {"a }} b", "a }} b"},
      {"}}{{ input.n }}", "}}42"},
      {"no templates at all", "no templates at all"},
      {"", ""},
      {"unicode é {{ input.name }} ✓", "unicode é Ada ✓"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    Json got = must_render(c.text, f.scope);
    REQUIRE(got.is_string());
    CHECK(got.get<std::string>() == c.expected);
  }
}

TEST_CASE("Only a template that is exactly one reference is a whole value", "[engine][expr]") {
  CHECK(must_parse("{{ a }}").is_whole_value());
  CHECK(must_parse(" \t{{ a }}\n").is_whole_value());
  CHECK_FALSE(must_parse("x{{ a }}").is_whole_value());
  CHECK_FALSE(must_parse("{{ a }}{{ b }}").is_whole_value());
  CHECK_FALSE(must_parse("plain").is_whole_value());
  CHECK_FALSE(must_parse("plain").has_references());
  CHECK(must_parse("x{{ a }}").has_references());
}

TEST_CASE("Parsed references expose path segments, step id, default and offset", "[engine][expr]") {
  Template t = must_parse("ab{{ steps.fetch.output.items[12].sku | default('none') }}");
  REQUIRE(t.references().size() == 1);
  const Reference& r = t.references()[0];
  CHECK(r.offset == 2);
  CHECK(r.path.text == "steps.fetch.output.items[12].sku");
  CHECK(r.path.step_id() == "fetch");
  REQUIRE(r.path.segments.size() == 6);
  CHECK(std::get<std::string>(r.path.segments[3]) == "items");
  CHECK(std::get<std::size_t>(r.path.segments[4]) == 12);
  REQUIRE(r.fallback);
  CHECK(*r.fallback == "none");
  CHECK(must_parse("{{ input.steps.x }}").references()[0].path.step_id().empty());
  CHECK(must_parse("{{ input }}").references()[0].path.step_id().empty());
  CHECK(t.text() == "ab{{ steps.fetch.output.items[12].sku | default('none') }}");
}

TEST_CASE("A missing path fails with MISSING_INPUT naming the missing segment", "[engine][expr]") {
  Fixture f;
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"{{ input.user.nickname }}",
       "template {{ input.user.nickname }}: input.user has no field 'nickname'"},
      {"{{ input.user.name.first }}",
       "template {{ input.user.name.first }}: input.user.name has no field 'first' (it is string)"},
      {"{{ input.items[5].sku }}",
       "template {{ input.items[5].sku }}: input.items has no index 5 (size 2)"},
      {"{{ input.name[0] }}",
       "template {{ input.name[0] }}: input.name is not an array (it is string)"},
      {"{{ item.sku }}", "template {{ item.sku }}: no value named 'item' in scope"},
      {"{{ steps.nope.output }}", "template {{ steps.nope.output }}: no step 'nope' in scope"},
      {"{{ steps.fetch.output.missing }}",
       "template {{ steps.fetch.output.missing }}: steps.fetch.output has no field 'missing'"},
      {"x {{ input.zzz }} y", "template {{ input.zzz }}: input has no field 'zzz'"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    Template t = must_parse(c.text);
    auto r = t.render(f.scope);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kMissingInput);
    CHECK(r.error().message == c.message);
    CHECK_FALSE(r.error().retryable);
  }
}

TEST_CASE("MissingPolicy::kNull renders a missing path as null", "[engine][expr]") {
  Fixture f;
  CHECK(must_render("{{ input.nope }}", f.scope, MissingPolicy::kNull).is_null());
  CHECK(must_render("{{ input.items[9] }}", f.scope, MissingPolicy::kNull).is_null());
  CHECK(must_render("{{ nobody.x }}", f.scope, MissingPolicy::kNull).is_null());
  CHECK(must_render("v={{ input.nope }}", f.scope, MissingPolicy::kNull) == "v=null");
}

TEST_CASE("default(...) supplies a value when the path is missing", "[engine][expr]") {
  Fixture f;
  struct Case {
    const char* text;
    Json expected;
  };
  const std::vector<Case> cases = {
      {"{{ input.nope | default(5) }}", 5},
      {"{{ input.nope|default(5) }}", 5},
      {"{{ input.nope | default( -1.5 ) }}", -1.5},
      {"{{ input.nope | default('x y') }}", "x y"},
      {R"({{ input.nope | default('it\'s') }})", "it's"},
      {R"({{ input.nope | default("dq") }})", "dq"},
      {"{{ input.nope | default(null) }}", nullptr},
      {"{{ input.nope | default(true) }}", true},
      {"{{ input.nope | default([1, 2]) }}", Json::array({1, 2})},
      {R"x({{ input.nope | default({"a": ")"}) }})x", Json::parse(R"x({"a": ")"})x")},
      {"{{ input.nope | default('}}') }}", "}}"},
      {"{{ input.n | default(0) }}", 42},             // present: the value wins
      {"{{ input.nothing | default(0) }}", nullptr},  // present but null: still present
      {"{{ nobody | default('anon') }}", "anon"},
      {"{{ steps.none.output | default({}) }}", Json::object()},
      {"n={{ input.nope | default(7) }}", "n=7"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(must_render(c.text, f.scope) == c.expected);
  }
  // default wins over both policies
  CHECK(must_render("{{ input.nope | default(1) }}", f.scope, MissingPolicy::kNull) == 1);
}

TEST_CASE("Nested scopes: item shadows and steps fall through to outer scopes", "[engine][expr]") {
  Fixture f;
  Json item = Json::parse(R"({"sku": "inner"})");
  Json index = 3;
  Json inner_steps = Json::parse(R"({"reserve": {"status": "COMPLETED", "output": {"ok": 1}}})");
  Scope inner(&f.scope);
  inner.bind("item", &item);
  inner.bind("index", &index);
  inner.bind_steps(&inner_steps);

  CHECK(must_render("{{ item.sku }}", inner) == "inner");
  CHECK(must_render("{{ index }}", inner) == 3);
  CHECK(must_render("{{ input.n }}", inner) == 42);  // parent binding
  CHECK(must_render("{{ steps.reserve.output.ok }}", inner) == 1);
  CHECK(must_render("{{ steps.fetch.output.count }}", inner) == 1);  // outer step

  // An inner binding shadows an outer one with the same name.
  Json shadow_input = Json::parse(R"({"n": -1})");
  Scope shadow(&inner);
  shadow.bind("input", &shadow_input);
  CHECK(must_render("{{ input.n }}", shadow) == -1);
  // ... and the last binding at one level wins.
  Json later = Json::parse(R"({"n": 99})");
  shadow.bind("input", &later);
  CHECK(must_render("{{ input.n }}", shadow) == 99);

  // An inner step with the same id as an outer one shadows it.
  Json inner_fetch = Json::parse(R"({"fetch": {"output": {"count": 7}}})");
  Scope steps_shadow(&f.scope);
  steps_shadow.bind_steps(&inner_fetch);
  CHECK(must_render("{{ steps.fetch.output.count }}", steps_shadow) == 7);

  // The outer scope does not see inner names.
  CHECK_FALSE(must_parse("{{ item.sku }}").render(f.scope));
  CHECK_FALSE(must_parse("{{ steps.reserve.output }}").render(f.scope));
}

TEST_CASE("Malformed templates fail with INVALID_DEFINITION and a column", "[engine][expr]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"hello {{ input.name", "column 7: unclosed '{{'"},
      {"hello {{", "column 7: unclosed '{{'"},
      {"{{ input.n }", "column 1: unclosed '{{'"},
      {"{{ }}", "column 1: empty '{{ }}'"},
      {"ab{{}}", "column 3: empty '{{ }}'"},
      {"{{ 1abc }}", "column 4: expected a name after '{{', found '1'"},
      {"{{ input..x }}", "column 10: expected a field name after '.', found '.'"},
      {"{{ input.x. }}", "column 12: expected a field name after '.', found ' '"},
      {"{{ input[x] }}", "column 10: expected an index after '[', found 'x'"},
      {"{{ input[-1] }}", "column 10: expected an index after '[', found '-'"},
      {"{{ input[1 }}", "column 11: expected ']' after the index, found ' '"},
      {"{{ input.a b }}", "column 12: expected '}}' or '| default(...)' after the path, found 'b'"},
      {"{{ input.a$ }}", "column 11: expected '}}' or '| default(...)' after the path, found '$'"},
      {"{{ input | upper }}",
       "column 12: unknown filter 'upper'; the only filter is default(<value>)"},
      {"{{ input | default 1 }}", "column 20: expected '(' after 'default', found '1'"},
      {"{{ input | default() }}",
       "column 20: default(...) needs a JSON literal or a 'single-quoted string'"},
      {"{{ input | default(bogus) }}",
       "column 20: default(...) needs a JSON literal or a 'single-quoted string'"},
      {"{{ input | default('x' }}", "column 24: expected ')' after the default value, found '}'"},
      {"{{ input | default('x) }}", "column 20: unterminated string"},
      {"{{ input | default(1) x }}",
       "column 23: expected '}}' or '| default(...)' after the path, found 'x'"},
      {"{{ steps }}", "column 4: 'steps' must be followed by a step id (steps.<id>...)"},
      {"{{ steps[0] }}", "column 4: 'steps' must be followed by a step id (steps.<id>...)"},
      {"ok {{ a }} then {{ b", "column 17: unclosed '{{'"},
      {"{{ input[99999999999999999999999] }}", "column 10: index too large"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto t = Template::parse(c.text);
    REQUIRE_FALSE(t);
    CHECK(t.error().code == ErrorCode::kInvalidDefinition);
    CHECK(t.error().message == c.message);
  }
}

TEST_CASE("JsonTemplate renders every templated string and leaves keys alone", "[engine][expr]") {
  Fixture f;
  Json source = Json::parse(R"({
    "url": "http://h/orders/{{ input.n }}",
    "count": "{{ input.n }}",
    "{{ input.name }}": "key is not templated",
    "nested": {"list": ["{{ input.flag }}", 1, "plain", {"deep": "{{ input.user.tags }}"}]},
    "literal": 5
  })");
  auto t = JsonTemplate::compile(source);
  REQUIRE(t);
  CHECK(t->has_references());
  CHECK(t->source() == source);
  auto out = t->render(f.scope);
  REQUIRE(out);
  CHECK(*out == Json::parse(R"({
    "url": "http://h/orders/42",
    "count": 42,
    "{{ input.name }}": "key is not templated",
    "nested": {"list": [true, 1, "plain", {"deep": ["a", "b"]}]},
    "literal": 5
  })"));

  auto refs = t->references();
  std::vector<std::string> where;
  for (const auto& [pointer, ref] : refs) where.push_back(pointer + " " + ref->path.text);
  std::sort(where.begin(), where.end());
  CHECK(where == std::vector<std::string>{"/count input.n", "/nested/list/0 input.flag",
                                          "/nested/list/3/deep input.user.tags", "/url input.n"});
}

TEST_CASE("JsonTemplate handles keys that need JSON pointer escaping", "[engine][expr]") {
  Fixture f;
  Json source = Json::parse(R"({"a/b": {"c~d": "{{ input.n }}"}, "": "{{ input.flag }}"})");
  auto t = JsonTemplate::compile(source);
  REQUIRE(t);
  auto out = t->render(f.scope);
  REQUIRE(out);
  CHECK(*out == Json::parse(R"({"a/b": {"c~d": 42}, "": true})"));
}

TEST_CASE("JsonTemplate of a bare string or scalar", "[engine][expr]") {
  Fixture f;
  auto whole = JsonTemplate::compile("{{ input.items }}");
  REQUIRE(whole);
  CHECK(*whole->render(f.scope) == f.input["items"]);
  auto number = JsonTemplate::compile(7);
  REQUIRE(number);
  CHECK_FALSE(number->has_references());
  CHECK(*number->render(f.scope) == 7);
  JsonTemplate empty;
  CHECK(empty.render(f.scope)->is_null());
}

TEST_CASE("JsonTemplate errors name the JSON pointer of the bad string", "[engine][expr]") {
  auto t = JsonTemplate::compile(Json::parse(R"({"with": {"urls": ["ok", "x {{ input"]}})"));
  REQUIRE_FALSE(t);
  CHECK(t.error().code == ErrorCode::kInvalidDefinition);
  CHECK(t.error().message == "at /with/urls/1: column 3: unclosed '{{'");

  auto root = JsonTemplate::compile("{{ }}");
  REQUIRE_FALSE(root);
  CHECK(root.error().message == "at /: column 1: empty '{{ }}'");
}

TEST_CASE("JsonTemplate rejects values nested too deeply", "[engine][expr]") {
  auto nest = [](int depth) {
    Json v = "{{ input.n }}";
    for (int i = 0; i < depth; ++i) v = Json::array({std::move(v)});
    return v;
  };
  CHECK(JsonTemplate::compile(nest(256)));
  auto deep = JsonTemplate::compile(nest(257));
  REQUIRE_FALSE(deep);
  CHECK(deep.error().code == ErrorCode::kInvalidDefinition);
  CHECK(deep.error().message.find("nested deeper than 256 levels") != std::string::npos);
}

TEST_CASE("JsonTemplate render reports missing paths and honours the policy", "[engine][expr]") {
  Fixture f;
  auto t = JsonTemplate::compile(Json::parse(R"({"a": "{{ input.n }}", "b": "{{ input.nope }}"})"));
  REQUIRE(t);
  auto strict = t->render(f.scope);
  REQUIRE_FALSE(strict);
  CHECK(strict.error().code == ErrorCode::kMissingInput);
  CHECK(strict.error().message == "template {{ input.nope }}: input has no field 'nope'");
  auto lenient = t->render(f.scope, MissingPolicy::kNull);
  REQUIRE(lenient);
  CHECK(*lenient == Json::parse(R"({"a": 42, "b": null})"));
}

TEST_CASE("Rendered values are copies independent of the scope", "[engine][expr]") {
  Fixture f;
  auto t = JsonTemplate::compile(Json::parse(R"({"tags": "{{ input.user.tags }}"})"));
  REQUIRE(t);
  Json out = *t->render(f.scope);
  f.input["user"]["tags"].push_back("c");
  CHECK(out["tags"].size() == 2);
}

TEST_CASE("Rendering a value without templates is a cheap copy", "[engine][expr][perf]") {
  Fixture f;
  Json source = Json::object();
  for (int i = 0; i < 20; ++i) source["k" + std::to_string(i)] = "plain value " + std::to_string(i);
  auto plain = JsonTemplate::compile(source);
  REQUIRE(plain);
  CHECK_FALSE(plain->has_references());
  CHECK(plain->references().empty());

  Json mixed_source = source;
  mixed_source["t"] = "{{ input.n }}";
  auto mixed = JsonTemplate::compile(mixed_source);
  REQUIRE(mixed);

  constexpr int kRounds = 20000;
  std::size_t sink = 0;
  // CPU time of this process, not wall time: a loaded CI machine must not fail the bound.
  auto cpu_ms = [] { return static_cast<double>(std::clock()) * 1000.0 / CLOCKS_PER_SEC; };
  double start = cpu_ms();
  for (int i = 0; i < kRounds; ++i) sink += plain->render(f.scope)->size();
  const double plain_ms = cpu_ms() - start;
  start = cpu_ms();
  for (int i = 0; i < kRounds; ++i) sink += mixed->render(f.scope)->size();
  const double mixed_ms = cpu_ms() - start;
  CHECK(sink == std::size_t{kRounds} * 41);
  // Loose bound (sanitizer builds are slow): 20k renders of a 20-key object well under 2 s.
  CHECK(plain_ms < 2000);
  CHECK(mixed_ms < 4000);
}

TEST_CASE("Default-constructed and copied templates render", "[engine][expr]") {
  Fixture f;
  Template empty;
  CHECK(*empty.render(f.scope) == "");
  std::optional<Template> copy;
  {
    Template original = must_parse("hi {{ input.name }} #{{ input.n }}");
    copy = original;
  }
  CHECK(*copy->render(f.scope) == "hi Ada #42");
}

TEST_CASE("Whitespace and separators allowed inside the braces", "[engine][expr]") {
  Fixture f;
  struct Case {
    const char* text;
    Json expected;
  };
  const std::vector<Case> cases = {
      {"{{input.n}}", 42},
      {"{{\tinput.n\n}}", 42},
      {"{{  input.nope  |  default ( 'd' )  }}", "d"},
      {"{{ input.items[0].qty }}", 2},
      {"{{ input.items[00].qty }}", 2},
      {"{{ steps.fetch.output.items[0] }}", Json::parse(R"({"sku": "A-1"})")},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(must_render(c.text, f.scope) == c.expected);
  }
}

}  // namespace
}  // namespace flowd
