// Scope lookups, Path, and the `{{ path | default(...) }}` reference parser shared by templates and
// conditions (reference.h).
#include "expr/reference.h"

#include <charconv>
#include <limits>

namespace flowd {

const Json* Scope::find(std::string_view name) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    // Later bindings shadow earlier ones at the same level.
    for (auto it = s->bindings_.rbegin(); it != s->bindings_.rend(); ++it) {
      if (it->first == name) return it->second;
    }
  }
  return nullptr;
}

const Json* Scope::find_step(std::string_view id) const {
  for (const Scope* s = this; s != nullptr; s = s->parent_) {
    if (s->steps_ == nullptr || !s->steps_->is_object()) continue;
    auto it = s->steps_->find(id);
    if (it != s->steps_->end()) return &*it;
  }
  return nullptr;
}

std::string_view Path::step_id() const {
  if (segments.size() < 2) return {};
  const auto* root = std::get_if<std::string>(&segments[0]);
  const auto* id = std::get_if<std::string>(&segments[1]);
  if (root == nullptr || id == nullptr || *root != "steps") return {};
  return *id;
}

namespace expr {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::size_t skip_spaces(std::string_view s, std::size_t i) {
  while (i < s.size() && is_space(s[i])) ++i;
  return i;
}

std::string quote_char(std::string_view s, std::size_t i) {
  if (i >= s.size()) return "end of text";
  return "'" + std::string(1, s[i]) + "'";
}

// Appends the UTF-8 encoding of code point cp.
void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Text of the first `count` segments, as a path would be written: `input.items[2]`.
std::string prefix_text(const Path& path, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < path.segments.size(); ++i) {
    if (const auto* key = std::get_if<std::string>(&path.segments[i])) {
      if (i > 0) out += '.';
      out += *key;
    } else {
      out += '[' + std::to_string(std::get<std::size_t>(path.segments[i])) + ']';
    }
  }
  return out;
}

const Json& null_json() {
  static const Json kNull;
  return kNull;
}

}  // namespace

tl::unexpected<Error> syntax_error(std::size_t offset, std::string_view what) {
  return fail(ErrorCode::kInvalidDefinition,
              "column " + std::to_string(offset + 1) + ": " + std::string(what));
}

std::string_view type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "binary";
  }
}

// Parses a quoted string starting at s[i] (the quote). Escapes: \\ \' \" \/ \n \t \r \b \f \uXXXX.
Result<std::string> parse_quoted(std::string_view s, std::size_t& i) {
  const char quote = s[i];
  const std::size_t start = i;
  std::string out;
  ++i;
  while (i < s.size()) {
    const char c = s[i];
    if (c == quote) {
      ++i;
      return out;
    }
    if (c != '\\') {
      out += c;
      ++i;
      continue;
    }
    if (i + 1 >= s.size()) break;
    const char e = s[i + 1];
    switch (e) {
      case '\\':
        out += '\\';
        break;
      case '\'':
        out += '\'';
        break;
      case '"':
        out += '"';
        break;
      case '/':
        out += '/';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'u': {
        std::uint32_t cp = 0;
        if (i + 6 > s.size() ||
            std::from_chars(s.data() + i + 2, s.data() + i + 6, cp, 16).ptr != s.data() + i + 6) {
          return syntax_error(i, "'\\u' needs four hex digits");
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) return syntax_error(i, "'\\u' names a lone surrogate");
        append_utf8(out, cp);
        i += 6;
        continue;
      }
      default:
        return syntax_error(i, "unknown escape '\\" + std::string(1, e) + "'");
    }
    i += 2;
  }
  return syntax_error(start, "unterminated string");
}

namespace {

// Parses `default(<literal>)` arguments starting at s[i] (just after `(`); i ends after `)`.
Result<Json> parse_default_argument(std::string_view s, std::size_t& i, std::size_t open) {
  i = skip_spaces(s, i);
  if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
  if (s[i] == '\'') {
    auto str = parse_quoted(s, i);
    if (!str) return tl::unexpected(str.error());
    i = skip_spaces(s, i);
    if (i >= s.size() || s[i] != ')') {
      return syntax_error(i, "expected ')' after the default value, found " + quote_char(s, i));
    }
    ++i;
    return Json(std::move(*str));
  }
  // A JSON literal: find its end (the `)` outside strings and brackets), then let nlohmann parse.
  const std::size_t begin = i;
  int depth = 0;
  bool in_string = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return syntax_error(i, "default value nested too deeply");
    } else if (c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ')' && depth == 0) {
      break;
    }
  }
  if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
  if (s[i] != ')') {
    return syntax_error(i, "expected ')' after the default value, found " + quote_char(s, i));
  }
  Json value = Json::parse(s.substr(begin, i - begin), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return syntax_error(begin, "default(...) needs a JSON literal or a 'single-quoted string'");
  }
  ++i;
  return value;
}

}  // namespace

Result<ParsedReference> parse_reference(std::string_view s, std::size_t open) {
  ParsedReference out;
  out.reference.offset = open;
  Path& path = out.reference.path;
  std::size_t i = skip_spaces(s, open + 2);
  if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
  if (s.compare(i, 2, "}}") == 0) return syntax_error(open, "empty '{{ }}'");
  if (!is_name_start(s[i])) {
    return syntax_error(i, "expected a name after '{{', found " + quote_char(s, i));
  }
  const std::size_t path_begin = i;
  {
    const std::size_t b = i;
    while (i < s.size() && is_name_char(s[i])) ++i;
    path.segments.emplace_back(std::string(s.substr(b, i - b)));
  }
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
      const std::size_t b = i;
      while (i < s.size() && is_name_char(s[i])) ++i;
      if (i == b)
        return syntax_error(i, "expected a field name after '.', found " + quote_char(s, i));
      path.segments.emplace_back(std::string(s.substr(b, i - b)));
    } else if (s[i] == '[') {
      ++i;
      const std::size_t b = i;
      while (i < s.size() && is_digit(s[i])) ++i;
      std::size_t index = 0;
      if (i == b) return syntax_error(i, "expected an index after '[', found " + quote_char(s, i));
      if (std::from_chars(s.data() + b, s.data() + i, index).ec != std::errc()) {
        return syntax_error(b, "index too large");
      }
      if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
      if (s[i] != ']')
        return syntax_error(i, "expected ']' after the index, found " + quote_char(s, i));
      ++i;
      path.segments.emplace_back(index);
    } else {
      break;
    }
  }
  path.text = std::string(s.substr(path_begin, i - path_begin));
  if (std::get<std::string>(path.segments[0]) == "steps" &&
      (path.segments.size() < 2 || !std::holds_alternative<std::string>(path.segments[1]))) {
    return syntax_error(path_begin, "'steps' must be followed by a step id (steps.<id>...)");
  }
  i = skip_spaces(s, i);
  if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
  if (s[i] == '|') {
    i = skip_spaces(s, i + 1);
    const std::size_t b = i;
    while (i < s.size() && is_name_char(s[i])) ++i;
    if (s.substr(b, i - b) != "default") {
      if (b >= s.size()) return syntax_error(open, "unclosed '{{'");
      return syntax_error(b, "unknown filter '" + std::string(s.substr(b, i - b)) +
                                 "'; the only filter is default(<value>)");
    }
    i = skip_spaces(s, i);
    if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
    if (s[i] != '(')
      return syntax_error(i, "expected '(' after 'default', found " + quote_char(s, i));
    ++i;
    auto fallback = parse_default_argument(s, i, open);
    if (!fallback) return tl::unexpected(fallback.error());
    out.reference.fallback = std::move(*fallback);
    i = skip_spaces(s, i);
    if (i >= s.size()) return syntax_error(open, "unclosed '{{'");
  }
  if (s.compare(i, 2, "}}") != 0) {
    if (i + 1 >= s.size() && s[i] == '}') return syntax_error(open, "unclosed '{{'");
    return syntax_error(
        i, "expected '}}' or '| default(...)' after the path, found " + quote_char(s, i));
  }
  out.end = i + 2;
  return out;
}

Result<const Json*> resolve(const Reference& reference, const Scope& scope, MissingPolicy missing) {
  const Path& path = reference.path;
  const Json* current = nullptr;
  std::size_t next = 0;  // first segment not yet applied
  std::string why;       // set when the path names nothing
  const auto& root = std::get<std::string>(path.segments[0]);
  if (root == "steps") {
    const auto& id = std::get<std::string>(path.segments[1]);
    current = scope.find_step(id);
    next = 2;
    if (current == nullptr) why = "no step '" + id + "' in scope";
  } else {
    current = scope.find(root);
    next = 1;
    if (current == nullptr) why = "no value named '" + root + "' in scope";
  }
  for (; current != nullptr && next < path.segments.size(); ++next) {
    const auto& segment = path.segments[next];
    if (const auto* key = std::get_if<std::string>(&segment)) {
      if (current->is_object()) {
        auto it = current->find(*key);
        if (it != current->end()) {
          current = &*it;
          continue;
        }
        why = prefix_text(path, next) + " has no field '" + *key + "'";
      } else {
        why = prefix_text(path, next) + " has no field '" + *key + "' (it is " +
              std::string(type_name(*current)) + ")";
      }
    } else {
      const std::size_t index = std::get<std::size_t>(segment);
      if (current->is_array()) {
        if (index < current->size()) {
          current = &(*current)[index];
          continue;
        }
        why = prefix_text(path, next) + " has no index " + std::to_string(index) + " (size " +
              std::to_string(current->size()) + ")";
      } else {
        why = prefix_text(path, next) + " is not an array (it is " +
              std::string(type_name(*current)) + ")";
      }
    }
    current = nullptr;
  }
  if (current != nullptr) return current;
  if (reference.fallback) return &*reference.fallback;
  if (missing == MissingPolicy::kNull) return &null_json();
  return fail(ErrorCode::kMissingInput, "template {{ " + path.text + " }}: " + why);
}

}  // namespace expr
}  // namespace flowd
