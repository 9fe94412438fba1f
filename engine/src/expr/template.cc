// Template and JsonTemplate (expr.h): parsed once when a definition loads, rendered per step.
#include <utility>

#include "expr/reference.h"

namespace flowd {
namespace {

bool is_blank(const std::string& s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

// Appends a referenced value inside a longer string: strings as-is, anything else (null included,
// as "null") as compact JSON.
void append_text(std::string& out, const Json& value) {
  if (value.is_string()) {
    out += value.get_ref<const std::string&>();
  } else {
    out += value.dump();
  }
}

}  // namespace

Result<Template> Template::parse(std::string_view text) {
  Template t;
  t.text_ = std::string(text);
  std::size_t i = 0;
  std::string literal;
  while (i < text.size()) {
    const std::size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      literal.append(text.substr(i));
      break;
    }
    literal.append(text.substr(i, open - i));
    auto parsed = expr::parse_reference(text, open);
    if (!parsed) return tl::unexpected(std::move(parsed.error()));
    if (!literal.empty()) {
      t.parts_.push_back(Part{std::move(literal), -1});
      literal.clear();
    }
    t.parts_.push_back(Part{{}, static_cast<int>(t.references_.size())});
    t.references_.push_back(std::move(parsed->reference));
    i = parsed->end;
  }
  if (!literal.empty()) t.parts_.push_back(Part{std::move(literal), -1});
  if (t.references_.size() == 1) {
    t.whole_value_ = true;
    for (const Part& part : t.parts_) {
      if (part.reference < 0 && !is_blank(part.literal)) t.whole_value_ = false;
    }
  }
  return t;
}

Result<Json> Template::render(const Scope& scope, MissingPolicy missing) const {
  if (references_.empty()) return Json(text_);
  if (whole_value_) {
    auto value = expr::resolve(references_.front(), scope, missing);
    if (!value) return tl::unexpected(std::move(value.error()));
    return **value;
  }
  std::string out;
  out.reserve(text_.size() + 16 * references_.size());
  for (const Part& part : parts_) {
    if (part.reference < 0) {
      out += part.literal;
      continue;
    }
    auto value =
        expr::resolve(references_[static_cast<std::size_t>(part.reference)], scope, missing);
    if (!value) return tl::unexpected(std::move(value.error()));
    append_text(out, **value);
  }
  return Json(std::move(out));
}

namespace {

// Deeper JSON than this is rejected so the recursive walk can't exhaust the stack.
constexpr int kMaxJsonDepth = 256;

Result<void> compile_into(const Json& value, Json::json_pointer& pointer,
                          std::vector<std::pair<Json::json_pointer, Template>>& out, int depth) {
  if (depth > kMaxJsonDepth) {
    return fail(ErrorCode::kInvalidDefinition, "at " + pointer.to_string() +
                                                   ": value nested deeper than " +
                                                   std::to_string(kMaxJsonDepth) + " levels");
  }
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.find("{{") == std::string::npos) return {};
    auto t = Template::parse(s);
    if (!t) {
      Error e = std::move(t.error());
      e.message =
          "at " + (pointer.empty() ? std::string("/") : pointer.to_string()) + ": " + e.message;
      return tl::unexpected(std::move(e));
    }
    out.emplace_back(pointer, std::move(*t));
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      pointer.push_back(it.key());
      auto r = compile_into(it.value(), pointer, out, depth + 1);
      pointer.pop_back();
      if (!r) return r;
    }
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) {
      pointer.push_back(std::to_string(i));
      auto r = compile_into(value[i], pointer, out, depth + 1);
      pointer.pop_back();
      if (!r) return r;
    }
  }
  return {};
}

}  // namespace

Result<JsonTemplate> JsonTemplate::compile(const Json& value) {
  JsonTemplate t;
  Json::json_pointer pointer;
  auto r = compile_into(value, pointer, t.templates_, 0);
  if (!r) return tl::unexpected(std::move(r.error()));
  t.source_ = value;
  return t;
}

Result<Json> JsonTemplate::render(const Scope& scope, MissingPolicy missing) const {
  if (templates_.empty()) return source_;
  if (templates_.size() == 1 && templates_.front().first.empty()) {
    return templates_.front().second.render(scope, missing);
  }
  Json out = source_;
  for (const auto& [pointer, tmpl] : templates_) {
    auto value = tmpl.render(scope, missing);
    if (!value) return tl::unexpected(std::move(value.error()));
    out[pointer] = std::move(*value);
  }
  return out;
}

std::vector<std::pair<std::string, const Reference*>> JsonTemplate::references() const {
  std::vector<std::pair<std::string, const Reference*>> out;
  for (const auto& [pointer, tmpl] : templates_) {
    const std::string where = pointer.to_string();
    for (const Reference& r : tmpl.references()) out.emplace_back(where, &r);
  }
  return out;
}

}  // namespace flowd
