// validate_input: the JSON Schema of spec.input, compiled when the definition loads.
#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"
#include "flowd/engine/engine.h"

namespace {

using flowd::Json;

std::shared_ptr<const flowd::Definition> with_input(const std::string& input_schema) {
  auto r = flowd::load_definition(
      R"({"apiVersion": "flowd/v1", "kind": "Workflow", "metadata": {"name": "in", "version": 1},
          "spec": {"input": )" +
          input_schema + R"(, "steps": []}})",
      "in.json");
  std::string text;
  for (const auto& d : r.diagnostics) text += d.format() + "\n";
  INFO(text);
  REQUIRE(r.definition != nullptr);
  return r.definition;
}

}  // namespace

TEST_CASE("validate_input accepts input that matches spec.input", "[engine][definition][input]") {
  auto d = with_input(R"({"type": "object", "required": ["orderId"],
                          "properties": {"orderId": {"type": "string", "pattern": "^o-[0-9]+$"},
                                         "items": {"type": "array", "items": {"type": "object"}}}})");
  CHECK(flowd::validate_input(*d, Json::parse(R"({"orderId": "o-12", "items": [{}]})")));
}

TEST_CASE("validate_input rejects input with INVALID_INPUT naming the pointer and the rule",
          "[engine][definition][input]") {
  auto d = with_input(R"({"type": "object", "required": ["orderId"],
                          "properties": {"orderId": {"type": "string", "pattern": "^o-[0-9]+$"},
                                         "items": {"type": "array", "items": {"type": "object"}}}})");
  struct Case {
    const char* input;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {R"({})", {"/: Missing required property 'orderId'"}},
      {R"({"orderId": 5})", {"/orderId: Value type not permitted by 'type' constraint"}},
      {R"({"orderId": "x-1"})", {"/orderId: Failed to match regex specified by 'pattern'"}},
      {R"({"orderId": "o-1", "items": [{}, 3]})", {"/items/1: Value type not permitted"}},
      {R"([1])", {"/: Value type not permitted by 'type' constraint"}},
  };
  for (const auto& c : cases) {
    INFO(c.input);
    auto r = flowd::validate_input(*d, Json::parse(c.input));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == flowd::ErrorCode::kInvalidInput);
    CHECK_FALSE(r.error().retryable);
    INFO(r.error().message);
    CHECK(r.error().message.starts_with("input does not match the input schema of in@1: "));
    for (const auto& e : c.expected) CHECK(r.error().message.find(e) != std::string::npos);
    // Wrapper errors ("Failed to validate item #1 in array") are left out when a precise one
    // exists.
    CHECK(r.error().message.find("Failed to validate item") == std::string::npos);
  }
}

TEST_CASE("A definition without spec.input accepts any input", "[engine][definition][input]") {
  auto r = flowd::load_definition(
      R"({"apiVersion": "flowd/v1", "kind": "Workflow", "metadata": {"name": "any", "version": 1},
          "spec": {"steps": []}})",
      "any.json");
  REQUIRE(r.definition != nullptr);
  CHECK(flowd::validate_input(*r.definition, Json::parse(R"([1, "x", null])")));
  CHECK(flowd::validate_input(*r.definition, nullptr));
}

TEST_CASE("Boolean input schemas and internal $refs work", "[engine][definition][input]") {
  CHECK(flowd::validate_input(*with_input("true"), Json::object()));
  CHECK_FALSE(flowd::validate_input(*with_input("false"), Json::object()));
  auto recursive = with_input(R"({"$ref": "#/definitions/node",
      "definitions": {"node": {"type": "object",
                               "properties": {"child": {"$ref": "#/definitions/node"}}}}})");
  CHECK(flowd::validate_input(*recursive, Json::parse(R"({"child": {"child": {}}})")));
  CHECK_FALSE(flowd::validate_input(*recursive, Json::parse(R"({"child": {"child": 1}})")));
}

TEST_CASE("A hand-built Definition is validated without a compiled schema",
          "[engine][definition][input]") {
  flowd::Definition d;
  d.name = "manual";
  d.input_schema = Json::parse(R"({"type": "object", "required": ["a"]})");
  CHECK(flowd::validate_input(d, Json::parse(R"({"a": 1})")));
  auto r = flowd::validate_input(d, Json::object());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == flowd::ErrorCode::kInvalidInput);

  d.input_schema = Json::parse(R"({"$ref": "#"})");
  auto bad = flowd::validate_input(d, Json::object());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == flowd::ErrorCode::kInvalidDefinition);
}

TEST_CASE("Input schemas that valijson cannot run are rejected at load time",
          "[engine][definition][input]") {
  struct Case {
    const char* schema;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"$ref": "#"})", "schema refers to itself without descending into the value: # -> #"},
      {R"({"anyOf": [{"$ref": "#"}]})", "schema refers to itself"},
      {R"({"not": {"$ref": "#/definitions/x"}, "definitions": {"x": {"$ref": "#"}}})",
       "schema refers to itself"},
      {R"({"$ref": "http://example.com/schema"})", "only references inside the schema"},
      {R"({"$ref": "#/definitions/missing"})", "names nothing in the schema"},
      {R"({"type": "string", "pattern": "(("})", "is not a valid regex"},
      {R"({"patternProperties": {"[": {}}})", "is not a valid regex"},
      {R"({"type": "strng"})", "invalid JSON Schema: Unrecognised JSON type name 'strng'"},
      {R"({"required": "a"})", "invalid JSON Schema"},
      {R"("object")", "must be a JSON Schema (an object or a boolean)"},
  };
  for (const auto& c : cases) {
    INFO(c.schema);
    auto r = flowd::load_definition(std::string(R"({"apiVersion": "flowd/v1", "kind": "Workflow",
            "metadata": {"name": "in", "version": 1}, "spec": {"input": )") +
                                        c.schema + R"(, "steps": []}})",
                                    "in.json");
    CHECK(r.definition == nullptr);
    std::string text;
    for (const auto& d : r.diagnostics) text += d.format() + "\n";
    INFO(text);
    CHECK(text.find(c.expected) != std::string::npos);
  }
  // Recursion through a property descends into the value, so it terminates.
  CHECK(with_input(R"({"properties": {"a": {"$ref": "#"}}})") != nullptr);
}

TEST_CASE("Input nested deeper than the validator's bound is rejected, not recursed into",
          "[engine][definition][input]") {
  auto d = with_input(R"({"items": {"$ref": "#"}})");
  Json deep = Json::array();
  for (int i = 0; i < 10'000; ++i) {
    Json outer = Json::array();
    outer.push_back(std::move(deep));
    deep = std::move(outer);
  }
  auto r = flowd::validate_input(*d, deep);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("nested deeper than 128 levels") != std::string::npos);
}
