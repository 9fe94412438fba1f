// libFuzzer target: Template::parse on arbitrary text, and when it parses, render it against a
// small fixed scope under both missing-path policies. Also JsonTemplate over the text as a JSON
// document. Checks invariants that the unit tests state for hand-picked inputs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flowd/engine/expr.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

const flowd::Scope& fixed_scope() {
  static const flowd::Json input = flowd::Json::parse(
      R"({"n": 1, "s": "x", "a": [1, {"b": null}], "o": {"k-1": true, "k_2": [[]]}})");
  static const flowd::Json steps =
      flowd::Json::parse(R"({"s1": {"status": "COMPLETED", "output": {"v": [0, 1.5]}}})");
  static const flowd::Json item = "it";
  static const flowd::Scope outer = [] {
    flowd::Scope s;
    s.bind("input", &input);
    s.bind_steps(&steps);
    return s;
  }();
  static const flowd::Scope inner = [] {
    flowd::Scope s(&outer);
    s.bind("item", &item);
    return s;
  }();
  return inner;
}

void check_error(const flowd::Error& e, std::size_t size) {
  require(e.code == flowd::ErrorCode::kInvalidDefinition);
  // "column N: ..." with 1 <= N <= size + 1
  require(e.message.rfind("column ", 0) == 0);
  const long column = std::strtol(e.message.c_str() + 7, nullptr, 10);
  require(column >= 1 && static_cast<std::size_t>(column) <= size + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto t = flowd::Template::parse(text);
  if (!t) {
    check_error(t.error(), size);
  } else {
    require(t->text() == text);
    for (const auto& r : t->references()) {
      require(r.offset + 1 < size && text.compare(r.offset, 2, "{{") == 0);
      require(!r.path.segments.empty() && !r.path.text.empty());
    }
    require(t->has_references() == (text.find("{{") != std::string_view::npos));
    auto strict = t->render(fixed_scope(), flowd::MissingPolicy::kError);
    if (!strict) require(strict.error().code == flowd::ErrorCode::kMissingInput);
    auto lenient = t->render(fixed_scope(), flowd::MissingPolicy::kNull);
    require(lenient.has_value());
    if (!t->is_whole_value()) require(lenient->is_string());
    if (strict) require(*strict == *lenient);
  }
  flowd::Json doc = flowd::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) {
    auto jt = flowd::JsonTemplate::compile(doc);
    if (jt) {
      auto out = jt->render(fixed_scope(), flowd::MissingPolicy::kNull);
      require(out.has_value());
      if (!jt->has_references()) require(*out == doc);
      (void)jt->references();
    } else {
      require(jt.error().code == flowd::ErrorCode::kInvalidDefinition);
    }
  }
  return 0;
}
