#pragma once
// Private to the engine: the JSON Schema of a definition's `spec.input`, compiled once with
// valijson when the definition loads and shared (read-only) by every validate_input() call.
//
// valijson aborts the process on a bad schema unless VALIJSON_USE_EXCEPTIONS is set, so every
// translation unit that includes valijson must include it through this header.
#ifndef VALIJSON_USE_EXCEPTIONS
#define VALIJSON_USE_EXCEPTIONS 1
#endif
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include <memory>
#include <string>
#include <vector>

#include "flowd/engine/definition.h"
#include "flowd/engine/error.h"
#include "flowd/engine/json.h"

namespace flowd {

// A compiled input schema. Immutable after compile_input_schema(); safe to share across threads
// (each validation uses its own valijson::Validator).
struct CompiledSchema {
  valijson::Schema schema;
  bool has_patterns = false;  // `pattern` / `patternProperties` present (regexes at validation)
};

namespace definition {

// One problem with an input schema: where (JSON pointer relative to the schema) and what.
struct SchemaProblem {
  std::string pointer;
  std::string message;
};

// Checks what valijson would crash on or silently mis-handle (reference loops that never descend
// into the value, regexes std::regex rejects, remote references) and then compiles the schema.
// Returns the problems found; `out` is set only when there are none.
std::vector<SchemaProblem> compile_input_schema(const Json& schema,
                                                std::shared_ptr<const CompiledSchema>& out);

// Validates `value` against `schema`, one message per failure ("/items/0: Value type not ...").
std::vector<std::string> validate_with_schema(const valijson::Schema& schema, const Json& value);

}  // namespace definition
}  // namespace flowd
