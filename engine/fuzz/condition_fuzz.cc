// libFuzzer target: Condition::parse on arbitrary text, and when it parses, evaluate it (and take
// its value) against a small fixed scope. Only the documented error codes may come back.
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
      R"({"n": 1, "f": 2.5, "u": 18446744073709551615, "neg": -4, "s": "abc", "e": "",
          "inj": "' || true || '", "a": [1, "x", null, [2]], "o": {"k": 0}, "t": true})");
  static const flowd::Json steps =
      flowd::Json::parse(R"({"s1": {"status": "COMPLETED", "output": {"m": "GET"}}})");
  static const flowd::Scope scope = [] {
    flowd::Scope s;
    s.bind("input", &input);
    s.bind_steps(&steps);
    return s;
  }();
  return scope;
}

bool expected_runtime_error(flowd::ErrorCode code) {
  return code == flowd::ErrorCode::kMissingInput || code == flowd::ErrorCode::kInvalidInput;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto c = flowd::Condition::parse(text);
  if (!c) {
    require(c.error().code == flowd::ErrorCode::kInvalidDefinition);
    require(c.error().message.rfind("column ", 0) == 0);
    const long column = std::strtol(c.error().message.c_str() + 7, nullptr, 10);
    require(column >= 1 && static_cast<std::size_t>(column) <= size + 1);
    return 0;
  }
  require(c->text() == text);
  auto b = c->evaluate(fixed_scope());
  auto v = c->value(fixed_scope());
  require(b.has_value() == v.has_value());
  if (b) {
    require(*b == flowd::truthy(*v));
  } else {
    require(expected_runtime_error(b.error().code));
    require(b.error().code == v.error().code && b.error().message == v.error().message);
  }
  flowd::Condition copy = *c;  // copies share the tree
  auto again = copy.evaluate(fixed_scope());
  require(again.has_value() == b.has_value() && (!again || *again == *b));
  return 0;
}
