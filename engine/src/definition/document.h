#pragma once
// Private to the definition loader: a definition's text (YAML or JSON) parsed into one JSON value,
// plus where each value and each key came from, so every later check can point at the source.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "flowd/engine/definition.h"
#include "flowd/engine/json.h"

namespace flowd::definition {

// Bounds that keep hostile input from exhausting the stack or memory: the document's nesting
// depth (after YAML aliases are expanded), its size in JSON values, and the text size.
inline constexpr int kMaxDocumentDepth = 128;
inline constexpr std::size_t kMaxDocumentValues = 200'000;
inline constexpr std::size_t kMaxTextBytes = 8u << 20;

// The parsed text: the JSON value and the source position of every value and member key by JSON
// pointer. Immutable after parse_document(); owned by the loader for the length of one load.
class SourceDocument {
 public:
  struct Mark {
    int line = 0;  // 1-based
    int column = 0;
    std::size_t offset = 0;  // byte offset in the text
  };

  Json root;
  bool is_json = false;  // JSON text: locations carry pointers only

  // Where the value at `pointer` is; for a pointer that names nothing (a missing field), where its
  // nearest existing parent is.
  SourceLocation at(const std::string& pointer) const;
  // Where the key of the member at `pointer` is written (falls back to at()).
  SourceLocation key_at(const std::string& pointer) const;
  // Where byte `offset` of the string value at `pointer` is written, when the string sits on one
  // line of the source exactly as parsed (plain or quoted without escapes); else at().
  SourceLocation inside(const std::string& pointer, std::size_t offset) const;

  // Filled by the parser.
  std::string text;
  std::unordered_map<std::string, Mark> values;
  std::unordered_map<std::string, Mark> keys;
};

struct ParsedDocument {
  std::unique_ptr<SourceDocument> document;  // null when the text could not be parsed at all
  Diagnostics diagnostics;                   // problems found while parsing (duplicate keys, ...)
};

// Parses YAML, or JSON when the first significant character is `{` or `[`.
ParsedDocument parse_document(std::string_view text, const std::string& source_name);

// "/a/b~1c" from a parent pointer and a member name or index.
std::string pointer_child(const std::string& parent, std::string_view key);
std::string pointer_child(const std::string& parent, std::size_t index);

// `steps[2].with.url` for a pointer, for messages.
std::string pointer_to_path(std::string_view pointer);

}  // namespace flowd::definition
