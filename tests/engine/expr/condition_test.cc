// Conditions (expr.h): operators, precedence, short-circuit, literals, templates as values (no
// injection), type errors, parse errors with columns, nesting limit, truthiness.
#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/expr.h"

namespace flowd {
namespace {

struct Fixture {
  Json input = Json::parse(R"({
    "n": 5, "zero": 0, "half": 0.5, "one_f": 1.0, "neg": -3, "big": 18446744073709551615,
    "name": "Ada", "empty": "", "flag": true, "off": false, "nothing": null,
    "tags": ["a", "b", 1], "obj": {"k": 1}, "none": [], "blank": {},
    "evil": "' || true || '", "evil2": "1 == 1", "quote": "it's"
  })");
  Json item = Json::parse(R"({"qty": 2, "sku": "gift"})");
  Json steps = Json::parse(R"({"fetch": {"status": "COMPLETED", "output": {"method": "POST"}}})");
  Scope scope;
  Fixture() {
    scope.bind("input", &input);
    scope.bind("item", &item);
    scope.bind_steps(&steps);
  }
};

// The JSON kind as users see it (nlohmann distinguishes signed and unsigned integers).
std::string kind(const Json& j) {
  return j.is_number() ? "number" : j.type_name();
}

Condition must_parse(std::string_view text) {
  auto c = Condition::parse(text);
  INFO(text << " -> " << (c ? "" : c.error().message));
  REQUIRE(c);
  return std::move(*c);
}

TEST_CASE("Conditions evaluate operators and literals", "[engine][expr][condition]") {
  Fixture f;
  struct Case {
    const char* text;
    bool expected;
  };
  const std::vector<Case> cases = {
      // literals and truthiness
      {"true", true},
      {"false", false},
      {"null", false},
      {"1", true},
      {"0", false},
      {"0.0", false},
      {"-0.5", true},
      {"'x'", true},
      {"''", false},
      {"\"\"", false},
      {"[]", false},
      {"[0]", true},
      // equality: JSON equality, numbers by value
      {"1 == 1", true},
      {"1 == 1.0", true},
      {"1.0 == 1", true},
      {"1 != 1.0", false},
      {"{{ input.one_f }} == 1", true},
      {"{{ input.n }} == 5", true},
      {"{{ input.n }} == '5'", false},
      {"'a' == \"a\"", true},
      {"'a' != 'b'", true},
      {"null == null", true},
      {"{{ input.nothing }} == null", true},
      {"{{ input.zero }} == false", false},
      {"true == true", true},
      {"[1, 2] == [1, 2.0]", true},
      {"[1, 2] == [2, 1]", false},
      {"{{ input.tags }} == ['a', 'b', 1]", true},
      {"{{ input.none }} == []", true},
      {"{{ input.big }} == 18446744073709551615", true},  // uint64 literal, exact
      {"{{ input.big }} == 18446744073709551614", false},
      {"18446744073709551616 > {{ input.big }}", false},  // a double: 2^64 rounds to equal
      {"{{ input.big }} > 0", true},
      {"{{ input.neg }} < {{ input.big }}", true},
      // ordering
      {"1 < 2", true},
      {"2 < 1", false},
      {"2 <= 2", true},
      {"3 > 2.5", true},
      {"2 >= 3", false},
      {"-1 < 0", true},
      {"{{ input.neg }} < -2", true},
      {"{{ input.half }} < 1", true},
      {"1e3 == 1000", true},
      {"2.5e-1 == 0.25", true},
      {"'a' < 'b'", true},
      {"'b' <= 'a'", false},
      {"'abc' > 'abd'", false},
      {"'' < 'a'", true},
      // logic and precedence
      {"true && false", false},
      {"true || false", true},
      {"!true", false},
      {"!false", true},
      {"!!1", true},
      {"!0", true},
      {"! ''", true},
      {"![]", true},
      {"true || false && false", true},  // && binds tighter than ||
      {"(true || false) && false", false},
      {"false && false || true", true},
      {"!false && false", false},  // ! binds tighter than &&
      {"!(false && false)", true},
      {"1 < 2 && 2 < 3", true},
      {"1 < 2 == true", false},              // see chaining test: parse error
      {"!{{ input.flag }} == false", true},  // (!flag) == false
      // in
      {"'a' in {{ input.tags }}", true},
      {"'c' in {{ input.tags }}", false},
      {"1.0 in {{ input.tags }}", true},
      {"'d' in 'abcde'", true},
      {"'x' in 'abc'", false},
      {"'' in 'abc'", true},
      {"'k' in {{ input.obj }}", true},
      {"'j' in {{ input.obj }}", false},
      {"{{ item.sku }} in ['gift', 'sample']", true},
      {"{{ item.qty }} in [1, {{ input.n }}]", false},
      {"2 in [1, {{ item.qty }}]", true},
      {"!'a' in ['a']", false},  // (!'a') in ['a'] -> false in
      // the example conditions from DESIGN.md
      {"{{ item.qty }} > 0 && {{ item.sku }} != 'gift'", false},
      {"{{ steps.fetch.output.method }} == 'POST'", true},
      {"{{ steps.fetch.status }} == 'COMPLETED' || {{ nope.x }}", true},  // short-circuit
      {"{{ input.off }} && {{ nope.x }}", false},                         // short-circuit
      // strings with escapes
      {R"('it\'s' == {{ input.quote }})", true},
      {R"("it's" == {{ input.quote }})", true},
      {R"('a\nb' == "a\nb")", true},
      {R"('\u00e9' == 'é')", true},
      {R"('\\' == "\\")", true},
      // whitespace
      {"  (  1==1 )  ", true},
      {"1==1&&2!=3", true},
      {"\t1\n<\r2", true},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto cond = Condition::parse(c.text);
    if (std::string(c.text) == "1 < 2 == true") {
      CHECK_FALSE(cond);
      continue;
    }
    INFO((cond ? "" : cond.error().message));
    REQUIRE(cond);
    auto got = cond->evaluate(f.scope);
    INFO((got ? "" : got.error().message));
    REQUIRE(got);
    CHECK(*got == c.expected);
  }
}

TEST_CASE("Condition::value keeps the type of a bare template or literal",
          "[engine][expr][condition]") {
  Fixture f;
  struct Case {
    const char* text;
    Json expected;
  };
  const std::vector<Case> cases = {
      {"{{ steps.fetch.output.method }}", "POST"},
      {"{{ input.tags }}", Json::parse(R"(["a", "b", 1])")},
      {"{{ input.nothing }}", nullptr},
      {"{{ input.missing | default('GET') }}", "GET"},
      {"42", 42},
      {"-7", -7},
      {"2.5", 2.5},
      {"'text'", "text"},
      {"null", nullptr},
      {"[1, 'a', {{ item.qty }}]", Json::parse(R"([1, "a", 2])")},
      {"[]", Json::array()},
      {"(({{ item.sku }}))", "gift"},
      {"1 < 2", true},
      {"{{ input.n }} && {{ input.name }}", true},  // logic yields booleans
      {"{{ input.zero }} || {{ input.empty }}", false},
      {"!{{ input.name }}", false},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto got = must_parse(c.text).value(f.scope);
    INFO((got ? "" : got.error().message));
    REQUIRE(got);
    CHECK(*got == c.expected);
    CHECK(kind(*got) == kind(c.expected));
  }
}

TEST_CASE("Data in templates is a value and can't inject syntax", "[engine][expr][condition]") {
  Fixture f;
  // input.evil is "' || true || '": as a value it is just a string.
  CHECK_FALSE(*must_parse("{{ input.evil }} == 'x'").evaluate(f.scope));
  CHECK(*must_parse("{{ input.evil }} == \"' || true || '\"").evaluate(f.scope));
  CHECK_FALSE(*must_parse("'x' == {{ input.evil }}").evaluate(f.scope));
  // "1 == 1" is a non-empty string, not an expression.
  CHECK(*must_parse("{{ input.evil2 }} == '1 == 1'").evaluate(f.scope));
  CHECK_FALSE(*must_parse("{{ input.evil2 }} == true").evaluate(f.scope));
  // A whole condition of untrusted data is truthy only by its own value.
  Json payload = "false";
  Scope s;
  s.bind("event", &payload);
  CHECK(*must_parse("{{ event }}").evaluate(s));  // "false" the string is non-empty
  CHECK(*must_parse("{{ event }}").value(s) == "false");
}

TEST_CASE("Missing template paths in conditions are errors unless defaulted",
          "[engine][expr][condition]") {
  Fixture f;
  auto c = must_parse("{{ input.nope }} == 1");
  auto r = c.evaluate(f.scope);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == ErrorCode::kMissingInput);
  CHECK(r.error().message == "template {{ input.nope }}: input has no field 'nope'");
  CHECK_FALSE(must_parse("{{ input.nope }}").value(f.scope));
  CHECK(*must_parse("{{ input.nope | default(1) }} == 1").evaluate(f.scope));
  CHECK_FALSE(*must_parse("{{ input.nope | default(null) }}").evaluate(f.scope));
  auto steps = must_parse("{{ steps.absent.status }} == 'COMPLETED'").evaluate(f.scope);
  REQUIRE_FALSE(steps);
  CHECK(steps.error().message == "template {{ steps.absent.status }}: no step 'absent' in scope");
}

TEST_CASE("Ordering and `in` on the wrong types fail with INVALID_INPUT",
          "[engine][expr][condition]") {
  Fixture f;
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"{{ input.name }} < 1",
       "column 18: '<' compares two numbers or two strings, got string and number"},
      {"1 >= 'a'", "column 3: '>=' compares two numbers or two strings, got number and string"},
      {"null > 0", "column 6: '>' compares two numbers or two strings, got null and number"},
      {"true <= false",
       "column 6: '<=' compares two numbers or two strings, got boolean and boolean"},
      {"[1] < [2]", "column 5: '<' compares two numbers or two strings, got array and array"},
      {"'a' in 1",
       "column 5: 'in' needs an array, a string in a string, or a string key in an "
       "object, got string and number"},
      {"1 in 'abc'",
       "column 3: 'in' needs an array, a string in a string, or a string key in an "
       "object, got number and string"},
      {"1 in {{ input.obj }}",
       "column 3: 'in' needs an array, a string in a string, or a string "
       "key in an object, got number and object"},
      {"'a' in null",
       "column 5: 'in' needs an array, a string in a string, or a string key in "
       "an object, got string and null"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = must_parse(c.text).evaluate(f.scope);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidInput);
    CHECK(r.error().message == c.message);
  }
  // A short-circuited branch never evaluates, so its type error never happens.
  CHECK_FALSE(*must_parse("false && 'a' < 1").evaluate(f.scope));
}

TEST_CASE("Condition parse errors are INVALID_DEFINITION with column and expectation",
          "[engine][expr][condition]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"", "column 1: expected an expression, found end of text"},
      {"   ", "column 4: expected an expression, found end of text"},
      {"{{ a }} == 1 &&", "column 16: expected an operand after '&&', found end of text"},
      {"{{ a }} == 1 && ", "column 17: expected an operand after '&&', found end of text"},
      {"1 || ", "column 6: expected an operand after '||', found end of text"},
      {"1 == ", "column 6: expected an operand after '==', found end of text"},
      {"1 && )", "column 6: expected an operand after '&&', found ')'"},
      {"!", "column 2: expected an operand after '!', found end of text"},
      {"(1 == 1", "column 8: expected ')' to close the '(' at column 1, found end of text"},
      {"(1 == 1 2", "column 9: expected ')' to close the '(' at column 1, found '2'"},
      {"1 == 1)", "column 7: expected an operator or end of text, found ')'"},
      {"1 = 1", "column 3: unexpected '='; did you mean '=='?"},
      {"1 & 1", "column 3: unexpected '&'; did you mean '&&'?"},
      {"1 | 1", "column 3: unexpected '|'; did you mean '||'?"},
      {"input.n > 1",
       "column 1: unexpected 'input': values are literals or templates like "
       "{{ input }}"},
      {"{{ a }} == yes",
       "column 12: unexpected 'yes': values are literals or templates like "
       "{{ yes }}"},
      {"1 < 2 < 3", "column 7: comparisons can't be chained; use parentheses and '&&'"},
      {"1 == 1 == 1", "column 8: comparisons can't be chained; use parentheses and '&&'"},
      {"'abc", "column 1: unterminated string"},
      {"\"abc", "column 1: unterminated string"},
      {R"('a\q')", "column 3: unknown escape '\\q'"},
      {R"('\u12')", "column 2: '\\u' needs four hex digits"},
      {R"('\ud800')", "column 2: '\\u' names a lone surrogate"},
      {"[1, 2", "column 6: expected ',' or ']' in the list opened at column 1, found end of text"},
      {"[1 2]", "column 4: expected ',' or ']' in the list opened at column 1, found '2'"},
      {"[1,]", "column 4: expected an operand after ',', found ']'"},
      {"12abc == 1", "column 3: unexpected 'a' in a number"},
      {"1.2.3", "column 4: unexpected '.' in a number"},
      {"- 1", "column 1: expected an operand, found '-'"},
      {"1 == {{ x", "column 6: unclosed '{{'"},
      {"{{ }} == 1", "column 1: empty '{{ }}'"},
      {"{{ a }} in", "column 11: expected an operand after 'in', found end of text"},
      {"in [1]", "column 1: expected an operand, found 'in'"},
      {"1 == 1e999", "column 6: number out of range"},
      {"#", "column 1: expected an operand, found '#'"},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto r = Condition::parse(c.text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidDefinition);
    CHECK(r.error().message == c.message);
  }
}

TEST_CASE("Conditions limit nesting depth but not chain length", "[engine][expr][condition]") {
  Fixture f;
  auto nested = [](int depth, const std::string& open, const std::string& close) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += open;
    s += "1";
    for (int i = 0; i < depth; ++i) s += close;
    return s;
  };
  CHECK(*must_parse(nested(64, "(", ")")).evaluate(f.scope));
  CHECK(*must_parse(nested(64, "!", "")).evaluate(f.scope));
  CHECK(*must_parse(nested(64, "[", "]")).evaluate(f.scope));
  for (const auto& text : {nested(65, "(", ")"), nested(65, "!", ""), nested(65, "[", "]"),
                           nested(100000, "(", ")"), nested(100000, "!", "")}) {
    auto r = Condition::parse(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidDefinition);
    CHECK(r.error().message.find("nested deeper than 64 levels") != std::string::npos);
  }
  // A long flat chain is not nesting: it parses and evaluates without deep recursion.
  std::string chain = "{{ input.n }} == 5";
  for (int i = 0; i < 20000; ++i) chain += " && {{ input.n }} == 5";
  CHECK(*must_parse(chain).evaluate(f.scope));
  std::string ors = "false";
  for (int i = 0; i < 20000; ++i) ors += " || false";
  CHECK_FALSE(*must_parse(ors).evaluate(f.scope));
}

TEST_CASE("Conditions list their references and keep their text", "[engine][expr][condition]") {
  auto c = must_parse("{{ item.qty }} > 0 && {{ steps.fetch.output.ok | default(true) }}");
  CHECK(c.text() == "{{ item.qty }} > 0 && {{ steps.fetch.output.ok | default(true) }}");
  REQUIRE(c.references().size() == 2);
  CHECK(c.references()[0].path.text == "item.qty");
  CHECK(c.references()[0].offset == 0);
  CHECK(c.references()[1].path.step_id() == "fetch");
  CHECK(c.references()[1].offset == 22);
  REQUIRE(c.references()[1].fallback);
  CHECK(*c.references()[1].fallback == true);
}

TEST_CASE("A copied condition evaluates after the original is gone", "[engine][expr][condition]") {
  Fixture f;
  std::optional<Condition> copy;
  {
    Condition original = must_parse("{{ item.sku }} in ['gift', {{ input.name }}]");
    copy = original;
  }
  CHECK(*copy->evaluate(f.scope));
}

TEST_CASE("An unparsed (default-constructed) condition reports INTERNAL",
          "[engine][expr][condition]") {
  Fixture f;
  Condition unparsed;
  auto b = unparsed.evaluate(f.scope);
  REQUIRE_FALSE(b);
  CHECK(b.error().code == ErrorCode::kInternal);
  auto v = unparsed.value(f.scope);
  REQUIRE_FALSE(v);
  CHECK(v.error().code == ErrorCode::kInternal);
}

TEST_CASE("truthy is false exactly for false, null, 0, empty string, [] and {}",
          "[engine][expr][condition]") {
  struct Case {
    Json value;
    bool expected;
  };
  const std::vector<Case> cases = {
      {nullptr, false},
      {false, false},
      {true, true},
      {0, false},
      {0u, false},
      {0.0, false},
      {-0.0, false},
      {1, true},
      {-1, true},
      {0.1, true},
      {"", false},
      {"0", true},
      {"false", true},
      {Json::array(), false},
      {Json::array({0}), true},
      {Json::object(), false},
      {Json::object({{"a", 0}}), true},
  };
  for (const auto& c : cases) {
    INFO(c.value.dump());
    CHECK(truthy(c.value) == c.expected);
  }
}

}  // namespace
}  // namespace flowd
