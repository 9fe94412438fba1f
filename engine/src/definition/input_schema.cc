// The input schema of a definition (input_schema.h) and validate_input (engine.h).
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s regex compiler (std::function
// in _StateT) when optimising with sanitizers; the regexes here are valijson's and the pattern
// check.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "definition/input_schema.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <utility>

#include "definition/document.h"

namespace flowd {
namespace definition {
namespace {

// Longest `pattern` we hand to std::regex, and its deepest group nesting: libstdc++ compiles and
// matches regexes recursively.
constexpr std::size_t kMaxPatternLength = 1024;
constexpr int kMaxPatternGroups = 32;
// Deepest input value validated: valijson validates recursively.
constexpr int kMaxInputDepth = 128;
constexpr std::size_t kMaxReportedErrors = 10;

// Walks the subschemas of a draft-07 schema, recording problems and the edges along which a
// validator applies another schema to the same value ($ref, allOf, anyOf, oneOf, not, if, then,
// else, schema dependencies). A cycle of such edges makes valijson recurse forever.
class SchemaWalker {
 public:
  SchemaWalker(const Json& root, std::vector<SchemaProblem>& problems)
      : root_(root), problems_(problems) {}

  void walk(const Json& node, const std::string& pointer, int depth) {
    if (depth > kMaxDocumentDepth || !node.is_object()) return;
    if (!visited_.insert(pointer).second) return;
    auto edges = same_value_edges_.try_emplace(pointer).first;
    for (auto it = node.begin(); it != node.end(); ++it) {
      const std::string& key = it.key();
      const Json& value = it.value();
      const std::string child = pointer_child(pointer, key);
      if (key == "$ref" && value.is_string()) {
        edges->second.push_back(resolve_ref(value.get<std::string>(), child));
      } else if (key == "pattern" && value.is_string()) {
        check_pattern(value.get<std::string>(), child);
      } else if (key == "properties" || key == "definitions" || key == "patternProperties") {
        if (!value.is_object()) continue;
        for (auto p = value.begin(); p != value.end(); ++p) {
          if (key == "patternProperties") check_pattern(p.key(), pointer_child(child, p.key()));
          walk(p.value(), pointer_child(child, p.key()), depth + 1);
        }
      } else if (key == "dependencies") {
        if (!value.is_object()) continue;
        for (auto p = value.begin(); p != value.end(); ++p) {
          const std::string sub = pointer_child(child, p.key());
          if (p.value().is_object()) edges->second.push_back(sub);
          walk(p.value(), sub, depth + 1);
        }
      } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
        if (!value.is_array()) continue;
        for (std::size_t i = 0; i < value.size(); ++i) {
          const std::string sub = pointer_child(child, i);
          edges->second.push_back(sub);
          walk(value[i], sub, depth + 1);
        }
      } else if (key == "not" || key == "if" || key == "then" || key == "else") {
        edges->second.push_back(child);
        walk(value, child, depth + 1);
      } else if (key == "items" && value.is_array()) {
        for (std::size_t i = 0; i < value.size(); ++i) {
          walk(value[i], pointer_child(child, i), depth + 1);
        }
      } else if (key == "items" || key == "additionalItems" || key == "additionalProperties" ||
                 key == "contains" || key == "propertyNames") {
        walk(value, child, depth + 1);
      }
    }
  }

  // Reports one loop of same-value edges, if any.
  void check_loops() {
    std::map<std::string, int> state;  // 1: on the stack, 2: done
    std::vector<std::string> stack;
    for (const auto& [node, edges] : same_value_edges_) {
      if (state[node] == 0 && find_loop(node, state, stack)) return;
    }
  }

 private:
  bool find_loop(const std::string& node, std::map<std::string, int>& state,
                 std::vector<std::string>& stack) {
    state[node] = 1;
    stack.push_back(node);
    auto it = same_value_edges_.find(node);
    if (it != same_value_edges_.end()) {
      for (const std::string& next : it->second) {
        if (!same_value_edges_.count(next) && !visited_.count(next)) {
          // A reference into a place the walker has not seen (not a subschema position).
          const Json* target = lookup(next);
          if (target == nullptr || !target->is_object()) continue;
          walk(*target, next, 0);
        }
        if (state[next] == 1) {
          std::string cycle;
          auto from = std::find(stack.begin(), stack.end(), next);
          for (auto s = from; s != stack.end(); ++s) cycle += (s->empty() ? "#" : *s) + " -> ";
          cycle += next.empty() ? "#" : next;
          problems_.push_back(
              {node, "schema refers to itself without descending into the value: " + cycle});
          return true;
        }
        if (state[next] == 0 && find_loop(next, state, stack)) return true;
      }
    }
    stack.pop_back();
    state[node] = 2;
    return false;
  }

  const Json* lookup(const std::string& pointer) const {
    try {
      Json::json_pointer p(pointer);
      if (!root_.contains(p)) return nullptr;
      return &root_.at(p);
    } catch (const Json::exception&) {
      return nullptr;
    }
  }

  // The pointer a local `$ref` names; remote references are reported.
  std::string resolve_ref(const std::string& ref, const std::string& where) {
    if (ref == "#") return "";
    if (ref.starts_with("#/")) {
      // Percent-decoding is not supported; JSON pointer escapes are.
      std::string pointer = ref.substr(1);
      if (lookup(pointer) == nullptr) {
        problems_.push_back({where, "$ref '" + ref + "' names nothing in the schema"});
        return "\x01unresolved";
      }
      return pointer;
    }
    problems_.push_back({where, "$ref '" + ref +
                                    "' is not supported: only references inside the schema "
                                    "('#/definitions/...') are"});
    return "\x01unresolved";
  }

  void check_pattern(const std::string& pattern, const std::string& where) {
    if (pattern.size() > kMaxPatternLength) {
      problems_.push_back({where, "pattern longer than " + std::to_string(kMaxPatternLength)});
      return;
    }
    int depth = 0;
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] == '\\') {
        ++i;
      } else if (pattern[i] == '(' && ++depth > kMaxPatternGroups) {
        problems_.push_back(
            {where, "pattern nests groups deeper than " + std::to_string(kMaxPatternGroups)});
        return;
      } else if (pattern[i] == ')') {
        --depth;
      }
    }
    try {
      std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      problems_.push_back({where, "pattern '" + pattern + "' is not a valid regex: " + e.what()});
    }
    has_patterns = true;
  }

 public:
  bool has_patterns = false;

 private:
  const Json& root_;
  std::vector<SchemaProblem>& problems_;
  std::set<std::string> visited_;
  std::map<std::string, std::vector<std::string>> same_value_edges_;
};

// "/b/1" from valijson's context {"<root>", "[b]", "[1]"}.
std::string context_pointer(const std::vector<std::string>& context) {
  std::string out;
  for (const auto& part : context) {
    if (part == "<root>") continue;
    std::string_view token = part;
    if (token.size() >= 2 && token.front() == '[' && token.back() == ']') {
      token = token.substr(1, token.size() - 2);
    }
    out = pointer_child(out, token);
  }
  return out.empty() ? "/" : out;
}

// Deeper than kMaxInputDepth (checked without recursion).
bool too_deep(const Json& value) {
  std::vector<std::pair<const Json*, int>> stack{{&value, 0}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxInputDepth) return true;
    if (v->is_structured()) {
      for (const Json& child : *v) stack.emplace_back(&child, depth + 1);
    }
  }
  return false;
}

}  // namespace

std::vector<SchemaProblem> compile_input_schema(const Json& schema,
                                                std::shared_ptr<const CompiledSchema>& out) {
  std::vector<SchemaProblem> problems;
  if (!schema.is_object() && !schema.is_boolean()) {
    problems.push_back({"", "must be a JSON Schema (an object or a boolean)"});
    return problems;
  }
  SchemaWalker walker(schema, problems);
  walker.walk(schema, "", 0);
  walker.check_loops();
  if (!problems.empty()) return problems;
  auto compiled = std::make_shared<CompiledSchema>();
  compiled->has_patterns = walker.has_patterns;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(schema);
    parser.populateSchema(adapter, compiled->schema);
  } catch (const std::exception& e) {
    problems.push_back({"", std::string("invalid JSON Schema: ") + e.what()});
    return problems;
  }
  out = std::move(compiled);
  return problems;
}

std::vector<std::string> validate_with_schema(const valijson::Schema& schema, const Json& value) {
  std::vector<std::string> out;
  if (too_deep(value)) {
    out.push_back("/: nested deeper than " + std::to_string(kMaxInputDepth) + " levels");
    return out;
  }
  // One validator per thread: its cache of compiled `pattern` regexes is keyed by the pattern
  // text, so it serves every schema, and compiling a regex per validation would be slow.
  thread_local valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(value);
  bool ok = false;
  try {
    ok = validator.validate(schema, adapter, &results);
  } catch (const std::exception& e) {
    out.push_back(std::string("/: the schema cannot be applied: ") + e.what());
    return out;
  }
  if (ok) return out;
  std::vector<std::string> wrappers;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    std::string line = context_pointer(error.context) + ": " + error.description;
    // "Failed to validate item #1 in array." and the like only repeat a nested failure.
    auto& list = error.description.starts_with("Failed to validate") ? wrappers : out;
    if (std::find(list.begin(), list.end(), line) == list.end()) list.push_back(std::move(line));
  }
  if (out.empty()) out = std::move(wrappers);
  if (out.empty()) out.push_back("/: does not match the schema");
  if (out.size() > kMaxReportedErrors) out.resize(kMaxReportedErrors);
  return out;
}

}  // namespace definition

Result<void> validate_input(const Definition& definition, const Json& input) {
  if (definition.input_schema.is_null()) return {};
  std::shared_ptr<const CompiledSchema> compiled = definition.compiled_input_schema;
  if (compiled == nullptr) {
    auto problems = definition::compile_input_schema(definition.input_schema, compiled);
    if (!problems.empty()) {
      return fail(ErrorCode::kInvalidDefinition, definition.ref() + ": spec.input" +
                                                     problems.front().pointer + ": " +
                                                     problems.front().message);
    }
  }
  auto errors = definition::validate_with_schema(compiled->schema, input);
  if (errors.empty()) return {};
  std::string message = "input does not match the input schema of " + definition.ref() + ": ";
  for (std::size_t i = 0; i < errors.size(); ++i) {
    if (i > 0) message += "; ";
    message += errors[i];
  }
  return fail(ErrorCode::kInvalidInput, std::move(message));
}

}  // namespace flowd
