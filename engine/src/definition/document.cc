// Parsing a definition's text into JSON with source positions (document.h). YAML goes through
// yaml-cpp (whose nodes carry marks), JSON through nlohmann (whose errors carry byte offsets).
#include "definition/document.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

namespace flowd::definition {
namespace {

// 1-based line and column of byte `offset` in `text`.
SourceDocument::Mark mark_of_offset(std::string_view text, std::size_t offset) {
  SourceDocument::Mark m{1, 1, offset};
  const std::size_t end = std::min(offset, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 1;
    } else {
      ++m.column;
    }
  }
  return m;
}

// Offset of the first byte that is not valid UTF-8, or npos.
std::size_t invalid_utf8_offset(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + len > s.size()) return i;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3F);
    }
    const bool overlong =
        (len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
    if (overlong || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

Diagnostic text_diagnostic(const std::string& source, std::string_view text, std::size_t offset,
                           std::string message) {
  const auto m = mark_of_offset(text, offset);
  Diagnostic d;
  d.source = source;
  d.location.line = m.line;
  d.location.column = m.column;
  d.message = std::move(message);
  return d;
}

// ---- JSON ----------------------------------------------------------------------------------

// Offset of the first bracket nested deeper than kMaxDocumentDepth, or npos.
std::size_t too_deep_json(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDocumentDepth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

// Tracks JSON pointers through nlohmann's parser callbacks to find duplicate member names, which
// nlohmann would otherwise resolve silently (last one wins).
class DuplicateKeyFinder {
 public:
  explicit DuplicateKeyFinder(std::vector<std::string>& duplicates) : duplicates_(duplicates) {}

  bool operator()(int /*depth*/, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    switch (event) {
      case E::object_start:
      case E::array_start:
        frames_.push_back(Frame{next_pointer(), event == E::object_start, {}, {}, 0});
        break;
      case E::object_end:
      case E::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case E::key:
        if (!frames_.empty() && parsed.is_string()) {
          Frame& f = frames_.back();
          f.key = parsed.get<std::string>();
          if (!f.seen.insert(f.key).second) duplicates_.push_back(pointer_child(f.pointer, f.key));
        }
        break;
      case E::value:
        next_pointer();
        break;
    }
    return true;
  }

 private:
  struct Frame {
    std::string pointer;
    bool object = false;
    std::string key;
    std::set<std::string> seen;
    std::size_t next_index = 0;
  };

  // The pointer of the value that starts now (consumes an array index).
  std::string next_pointer() {
    if (frames_.empty()) return "";
    Frame& f = frames_.back();
    if (f.object) return pointer_child(f.pointer, f.key);
    return pointer_child(f.pointer, f.next_index++);
  }

  std::vector<std::string>& duplicates_;
  std::vector<Frame> frames_;
};

ParsedDocument parse_json(std::string_view text, const std::string& source) {
  ParsedDocument out;
  if (auto deep = too_deep_json(text); deep != std::string_view::npos) {
    out.diagnostics.push_back(text_diagnostic(
        source, text, deep, "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels"));
    return out;
  }
  auto doc = std::make_unique<SourceDocument>();
  doc->is_json = true;
  std::vector<std::string> duplicates;
  try {
    doc->root = Json::parse(text, DuplicateKeyFinder(duplicates));
  } catch (const Json::parse_error& e) {
    // e.byte is 1-based and points just past the offending character.
    const std::size_t at = e.byte > 0 ? e.byte - 1 : 0;
    std::string what = e.what();
    if (auto p = what.find("column "); p != std::string::npos) {
      if (auto colon = what.find(": ", p); colon != std::string::npos)
        what = what.substr(colon + 2);
    }
    out.diagnostics.push_back(text_diagnostic(source, text, at, "invalid JSON: " + what));
    return out;
  } catch (const Json::exception& e) {
    // out_of_range.406: a number too large for a double ("number overflow parsing '1E999'").
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    std::size_t at = 0;
    if (auto open = what.find('\''), close = what.rfind('\'');
        open != std::string::npos && close > open) {
      at = std::min(text.find(what.substr(open + 1, close - open - 1)), text.size());
    }
    out.diagnostics.push_back(text_diagnostic(source, text, at, "invalid JSON: " + what));
    return out;
  }
  for (const auto& pointer : duplicates) {
    Diagnostic d;
    d.source = source;
    d.location.pointer = pointer;
    d.message = "duplicate key '" + Json::json_pointer(pointer).back() + "'";
    out.diagnostics.push_back(std::move(d));
  }
  out.document = std::move(doc);
  return out;
}

// ---- YAML ----------------------------------------------------------------------------------

bool is_one_of(const std::string& s, std::initializer_list<std::string_view> options) {
  for (auto o : options) {
    if (s == o) return true;
  }
  return false;
}

// YAML 1.2 core schema resolution of a plain scalar: null, bool, int, float, else string.
Json resolve_plain(const std::string& s) {
  if (s.empty() || is_one_of(s, {"~", "null", "Null", "NULL"})) return nullptr;
  if (is_one_of(s, {"true", "True", "TRUE"})) return true;
  if (is_one_of(s, {"false", "False", "FALSE"})) return false;
  const char* b = s.data();
  const char* e = s.data() + s.size();
  // Integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+.
  auto all = [&](std::size_t from, auto pred) {
    if (from >= s.size()) return false;
    for (std::size_t i = from; i < s.size(); ++i) {
      if (!pred(s[i])) return false;
    }
    return true;
  };
  auto is_dec = [](char c) { return c >= '0' && c <= '9'; };
  auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  const std::size_t sign = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (all(sign, is_dec)) {
    std::int64_t v = 0;
    const char* start = b + (s[0] == '+' ? 1 : 0);
    if (auto r = std::from_chars(start, e, v); r.ec == std::errc() && r.ptr == e) return v;
    std::uint64_t u = 0;
    if (auto r = std::from_chars(start, e, u); r.ec == std::errc() && r.ptr == e) return u;
    return std::strtod(s.c_str(), nullptr);  // beyond 64 bits: a float, as JSON would have it
  }
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    const bool hex = s[1] == 'x';
    if (hex ? all(2, is_hex) : all(2, is_oct)) {
      std::uint64_t u = 0;
      if (auto r = std::from_chars(b + 2, e, u, hex ? 16 : 8); r.ec == std::errc() && r.ptr == e) {
        return u;
      }
    }
    return s;
  }
  // Floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
  {
    std::size_t i = sign;
    std::size_t digits = 0;
    while (i < s.size() && is_dec(s[i])) ++i, ++digits;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && is_dec(s[i])) ++i, ++digits;
    }
    bool ok = digits > 0;
    if (ok && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
      ++i;
      if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
      const std::size_t exp_begin = i;
      while (i < s.size() && is_dec(s[i])) ++i;
      ok = i > exp_begin;
    }
    if (ok && i == s.size()) {
      const double d = std::strtod(s.c_str(), nullptr);
      if (std::isfinite(d)) return d;
    }
  }
  // .inf and .nan have no JSON spelling: they stay strings.
  return s;
}

class YamlConverter {
 public:
  YamlConverter(SourceDocument& doc, const std::string& source, Diagnostics& diagnostics)
      : doc_(doc), source_(source), diagnostics_(diagnostics) {}

  // False when the document is beyond the limits (the conversion stops there).
  bool convert(const YAML::Node& node, const std::string& pointer, Json& out, int depth) {
    if (depth > kMaxDocumentDepth) {
      error(node.Mark(), "nested deeper than " + std::to_string(kMaxDocumentDepth) + " levels");
      return false;
    }
    if (++values_ > kMaxDocumentValues) {
      error(node.Mark(), "more than " + std::to_string(kMaxDocumentValues) +
                             " values (after expanding aliases)");
      return false;
    }
    record(doc_.values, pointer, node.Mark());
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        out = scalar(node, pointer);
        return true;
      case YAML::NodeType::Sequence: {
        out = Json::array();
        std::size_t i = 0;
        for (const auto& item : node) {
          Json value;
          if (!convert(item, pointer_child(pointer, i++), value, depth + 1)) return false;
          out.push_back(std::move(value));
        }
        return true;
      }
      case YAML::NodeType::Map: {
        out = Json::object();
        for (const auto& member : node) {
          const YAML::Node& key = member.first;
          std::string name;
          if (key.IsScalar()) {
            name = key.Scalar();
          } else if (key.IsNull()) {
            name = "null";
          } else {
            error(key.Mark(), "a mapping key must be a plain value, not a " +
                                  std::string(key.IsMap() ? "mapping" : "sequence") +
                                  " (a '{{ template }}' must be quoted in YAML)");
            continue;
          }
          if (invalid_utf8_offset(name) != std::string::npos) {
            error(key.Mark(), "text is not valid UTF-8");
            continue;
          }
          const std::string child = pointer_child(pointer, name);
          if (out.contains(name)) {
            error(key.Mark(), "duplicate key '" + name + "'");
            continue;
          }
          record(doc_.keys, child, key.Mark());
          Json value;
          if (!convert(member.second, child, value, depth + 1)) return false;
          // An empty value (`key:`) has its mark on the next token; point at the key instead.
          if (member.second.IsNull()) record(doc_.values, child, key.Mark(), true);
          out[name] = std::move(value);
        }
        return true;
      }
    }
    return true;
  }

 private:
  Json scalar(const YAML::Node& node, const std::string& pointer) {
    const std::string& s = node.Scalar();
    if (auto bad = invalid_utf8_offset(s); bad != std::string::npos) {
      error(node.Mark(), "text is not valid UTF-8");
      return std::string();
    }
    const std::string& tag = node.Tag();
    if (tag == "?") return resolve_plain(s);
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return s;
    if (tag == "tag:yaml.org,2002:null" || tag == "tag:yaml.org,2002:bool" ||
        tag == "tag:yaml.org,2002:int" || tag == "tag:yaml.org,2002:float") {
      Json v = resolve_plain(s);
      const bool fits = (tag.ends_with("null") && v.is_null()) ||
                        (tag.ends_with("bool") && v.is_boolean()) ||
                        (tag.ends_with("int") && v.is_number_integer()) ||
                        (tag.ends_with("float") && v.is_number());
      if (!fits) error(node.Mark(), "'" + s + "' is not a valid !!" + tag.substr(18));
      return v;
    }
    (void)pointer;
    error(node.Mark(), "unsupported YAML tag '" + tag + "'");
    return s;
  }

  void record(std::unordered_map<std::string, SourceDocument::Mark>& map,
              const std::string& pointer, const YAML::Mark& m, bool overwrite = false) {
    SourceDocument::Mark mark{m.line + 1, m.column + 1, static_cast<std::size_t>(m.pos)};
    if (m.line < 0) mark = SourceDocument::Mark{};
    if (overwrite) {
      map[pointer] = mark;
    } else {
      map.emplace(pointer, mark);
    }
  }

  void error(const YAML::Mark& m, std::string message) {
    Diagnostic d;
    d.source = source_;
    d.location.line = m.line >= 0 ? m.line + 1 : 0;
    d.location.column = m.column >= 0 ? m.column + 1 : 0;
    d.message = std::move(message);
    diagnostics_.push_back(std::move(d));
  }

  SourceDocument& doc_;
  const std::string& source_;
  Diagnostics& diagnostics_;
  std::size_t values_ = 0;
};

// Counts documents without building them. yaml-cpp's LoadAll never ends on some malformed input
// (`"x",\n : x` yields empty documents forever), so documents are counted one by one, up to two.
class DocumentCounter : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (!first_) first_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { seen(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { seen(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    seen(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    seen(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    seen(mark);
  }
  void OnMapEnd() override {}

  // Where the document being handled starts (its first node, else its start).
  YAML::Mark start() const { return node_ ? *node_ : first_.value_or(YAML::Mark::null_mark()); }
  void next_document() {
    first_.reset();
    node_.reset();
  }

 private:
  void seen(const YAML::Mark& mark) {
    if (!node_) node_ = mark;
  }
  std::optional<YAML::Mark> first_;
  std::optional<YAML::Mark> node_;
};

Diagnostic yaml_diagnostic(const std::string& source, const YAML::Mark& m, std::string message) {
  Diagnostic d;
  d.source = source;
  d.location.line = m.line >= 0 ? m.line + 1 : 0;
  d.location.column = m.column >= 0 ? m.column + 1 : 0;
  d.message = std::move(message);
  return d;
}

ParsedDocument parse_yaml(std::string_view text, const std::string& source) {
  ParsedDocument out;
  const std::string owned(text);
  YAML::Node root;
  try {
    std::istringstream in(owned);
    YAML::Parser parser(in);
    DocumentCounter counter;
    int documents = 0;
    while (documents < 2 && parser.HandleNextDocument(counter)) {
      if (++documents == 2) {
        out.diagnostics.push_back(
            yaml_diagnostic(source, counter.start(), "expected one YAML document, found more"));
      }
      counter.next_document();
    }
    if (documents == 0) {
      out.diagnostics.push_back(text_diagnostic(source, text, 0, "the document is empty"));
      return out;
    }
    root = YAML::Load(owned);  // the first document
  } catch (const YAML::Exception& e) {
    out.diagnostics.push_back(yaml_diagnostic(source, e.mark, "invalid YAML: " + e.msg));
    return out;
  }
  auto doc = std::make_unique<SourceDocument>();
  doc->text = std::string(text);
  YamlConverter converter(*doc, source, out.diagnostics);
  if (!converter.convert(root, "", doc->root, 0)) return out;
  out.document = std::move(doc);
  return out;
}

}  // namespace

std::string pointer_child(const std::string& parent, std::string_view key) {
  std::string out = parent;
  out.reserve(parent.size() + key.size() + 1);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string pointer_child(const std::string& parent, std::size_t index) {
  return parent + "/" + std::to_string(index);
}

std::string pointer_to_path(std::string_view pointer) {
  std::string out;
  std::size_t i = 0;
  while (i < pointer.size()) {
    // pointer[i] == '/'
    std::size_t end = pointer.find('/', i + 1);
    if (end == std::string_view::npos) end = pointer.size();
    std::string token;
    for (std::size_t k = i + 1; k < end; ++k) {
      if (pointer[k] == '~' && k + 1 < end) {
        token += pointer[k + 1] == '1' ? '/' : '~';
        ++k;
      } else {
        token += pointer[k];
      }
    }
    const bool index = !token.empty() && token.find_first_not_of("0123456789") == std::string::npos;
    if (index) {
      out += "[" + token + "]";
    } else {
      if (!out.empty()) out += '.';
      out += token;
    }
    i = end;
  }
  return out;
}

SourceLocation SourceDocument::at(const std::string& pointer) const {
  SourceLocation loc;
  loc.pointer = pointer;
  if (is_json) return loc;
  std::string p = pointer;
  while (true) {
    if (auto it = values.find(p); it != values.end()) {
      loc.line = it->second.line;
      loc.column = it->second.column;
      return loc;
    }
    if (p.empty()) return loc;
    p.erase(p.rfind('/'));
  }
}

SourceLocation SourceDocument::key_at(const std::string& pointer) const {
  if (!is_json) {
    if (auto it = keys.find(pointer); it != keys.end()) {
      SourceLocation loc;
      loc.pointer = pointer;
      loc.line = it->second.line;
      loc.column = it->second.column;
      return loc;
    }
  }
  return at(pointer);
}

SourceLocation SourceDocument::inside(const std::string& pointer, std::size_t offset) const {
  SourceLocation loc = at(pointer);
  if (is_json) return loc;
  auto it = values.find(pointer);
  if (it == values.end()) return loc;
  const Json* value = nullptr;
  try {
    value = &root.at(Json::json_pointer(pointer));
  } catch (const Json::exception&) {
    return loc;
  }
  if (!value->is_string()) return loc;
  const auto& s = value->get_ref<const std::string&>();
  if (s.find('\n') != std::string::npos || offset > s.size()) return loc;
  std::size_t begin = it->second.offset;
  if (begin < text.size() && (text[begin] == '"' || text[begin] == '\'')) ++begin;
  if (text.compare(begin, s.size(), s) != 0) return loc;
  loc.column = it->second.column + static_cast<int>(begin - it->second.offset + offset);
  return loc;
}

ParsedDocument parse_document(std::string_view text, const std::string& source_name) {
  ParsedDocument out;
  if (text.size() > kMaxTextBytes) {
    Diagnostic d;
    d.source = source_name;
    d.message = "the definition is larger than " + std::to_string(kMaxTextBytes >> 20) + " MiB";
    out.diagnostics.push_back(std::move(d));
    return out;
  }
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  if (auto bad = invalid_utf8_offset(text); bad != std::string_view::npos) {
    out.diagnostics.push_back(text_diagnostic(source_name, text, bad, "text is not valid UTF-8"));
    return out;
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) {
    out.diagnostics.push_back(text_diagnostic(source_name, text, 0, "the document is empty"));
    return out;
  }
  if (text[first] == '{' || text[first] == '[') return parse_json(text, source_name);
  return parse_yaml(text, source_name);
}

}  // namespace flowd::definition
