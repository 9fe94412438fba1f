#pragma once
// The expression layer of definitions: `{{ path }}` templates, JSON values with templates inside,
// and `if` / `filter` / `switch.value` conditions. Everything is parsed once, when a definition is
// loaded, and evaluated many times against a Scope. Nothing here can run arbitrary code.
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "flowd/engine/error.h"
#include "flowd/engine/json.h"

namespace flowd {

// A dotted path with optional indexes: `steps.fetch.output.items[0].sku`.
struct Path {
  using Segment = std::variant<std::string, std::size_t>;  // object key or array index
  std::vector<Segment> segments;
  std::string text;  // as written, for messages

  // `steps.<id>` -> id; empty when the path does not start with `steps.`.
  std::string_view step_id() const;
};

// One `{{ path }}` or `{{ path | default(<json literal>) }}` inside a template.
struct Reference {
  Path path;
  std::optional<Json> fallback;  // from `| default(...)`
  std::size_t offset = 0;        // byte offset of `{{` in the source text
};

// Names a template can see. Bindings are not owned: the caller keeps the values (and the names)
// alive while the scope is in use. Lookups fall through to the parent scope, which is how a forEach
// item sees the workflow's input and the steps outside its group.
class Scope {
 public:
  explicit Scope(const Scope* parent = nullptr) : parent_(parent) {}

  void bind(std::string_view name, const Json* value) { bindings_.emplace_back(name, value); }
  // `steps` object of this level: id -> {"status", "output", "error"?, "attempts"}.
  void bind_steps(const Json* steps) { steps_ = steps; }

  const Json* find(std::string_view name) const;
  const Json* find_step(std::string_view id) const;

 private:
  const Scope* parent_;
  std::vector<std::pair<std::string_view, const Json*>> bindings_;
  const Json* steps_ = nullptr;
};

// How a template treats a path that names nothing.
enum class MissingPolicy { kError, kNull };

// A string with `{{ }}` references. A template that is exactly one reference (surrounding spaces
// allowed) keeps the JSON type of what it names; otherwise references are rendered as text
// (strings as-is, other values as compact JSON).
class Template {
 public:
  // Fails with INVALID_DEFINITION naming the byte column of the problem.
  static Result<Template> parse(std::string_view text);

  Result<Json> render(const Scope& scope, MissingPolicy missing = MissingPolicy::kError) const;
  bool is_whole_value() const { return whole_value_; }
  bool has_references() const { return !references_.empty(); }
  const std::vector<Reference>& references() const { return references_; }
  const std::string& text() const { return text_; }

 private:
  struct Part {
    std::string literal;  // used when reference < 0
    int reference = -1;   // index into references_
  };
  std::string text_;
  std::vector<Part> parts_;
  std::vector<Reference> references_;
  bool whole_value_ = false;
};

// A JSON value whose strings may hold templates (a step's `with`, a workflow's `output`).
class JsonTemplate {
 public:
  JsonTemplate() = default;
  // Errors carry the JSON pointer (relative to `value`) of the bad string in their message.
  static Result<JsonTemplate> compile(const Json& value);

  Result<Json> render(const Scope& scope, MissingPolicy missing = MissingPolicy::kError) const;
  bool has_references() const { return !templates_.empty(); }
  // Every reference with the JSON pointer of the string that holds it.
  std::vector<std::pair<std::string, const Reference*>> references() const;
  const Json& source() const { return source_; }

 private:
  Json source_;
  std::vector<std::pair<Json::json_pointer, Template>> templates_;
};

// A parsed condition: `== != < <= > >= && || ! in`, parentheses, literals (numbers, 'strings',
// "strings", true, false, null, [lists]) and templates. A template stands for its value, never
// for source text. The result is truthy unless false, null, 0, "", [] or {}.
class Condition {
 public:
  struct Node;
  static Result<Condition> parse(std::string_view text);

  Result<bool> evaluate(const Scope& scope) const;
  // Evaluates to the value itself (a bare template or literal keeps its type); used by switch.
  Result<Json> value(const Scope& scope) const;
  const std::vector<Reference>& references() const { return references_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
  std::vector<Reference> references_;
};

// True when the value counts as true in a condition.
bool truthy(const Json& value);

}  // namespace flowd
