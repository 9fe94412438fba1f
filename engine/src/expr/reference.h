#pragma once
// Private to the expression layer: parsing one `{{ path | default(...) }}` reference and resolving
// a Path against a Scope. Shared by Template (template.cc) and Condition (condition.cc).
#include <cstddef>
#include <string>
#include <string_view>

#include "flowd/engine/error.h"
#include "flowd/engine/expr.h"
#include "flowd/engine/json.h"

namespace flowd::expr {

// The deepest nesting a condition (parentheses, `!`, list literals) or a default(...) literal may
// have; deeper input is rejected at parse time so evaluation can't exhaust the stack.
inline constexpr int kMaxDepth = 64;

// An INVALID_DEFINITION error "column <offset+1>: <what>".
tl::unexpected<Error> syntax_error(std::size_t offset, std::string_view what);

// Parses a 'single' or "double" quoted string whose quote is at s[i]; i ends past the closing
// quote. Escapes: \\ \' \" \/ \n \t \r \b \f \uXXXX.
Result<std::string> parse_quoted(std::string_view s, std::size_t& i);

struct ParsedReference {
  Reference reference;
  std::size_t end = 0;  // offset just past the closing `}}`
};

// Parses the reference whose `{{` starts at `open` in `source`. Columns in errors are relative to
// `source`.
Result<ParsedReference> parse_reference(std::string_view source, std::size_t open);

// Resolves `reference` in `scope`. Returns the named value, else the `default(...)` value, else
// (MissingPolicy::kNull) a static null, else a MISSING_INPUT error naming the missing segment.
// The pointer stays valid while the scope's bindings and the reference live.
Result<const Json*> resolve(const Reference& reference, const Scope& scope, MissingPolicy missing);

// A JSON type name for messages: "string", "number", "object", ...
std::string_view type_name(const Json& value);

}  // namespace flowd::expr
