// libFuzzer target: load_definition on arbitrary bytes. Text whose first significant character is
// `{` or `[` takes the JSON path, anything else the YAML path; the seed corpus has both. A loaded
// definition must also survive the sub-workflow check, formatting and input validation.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flowd/engine/definition.h"

namespace {

void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = flowd::load_definition(text, "fuzz.yaml");
  // Exactly one of: a definition, or at least one diagnostic.
  require((r.definition == nullptr) != r.diagnostics.empty());
  for (const auto& d : r.diagnostics) require(!d.format().empty());
  if (r.definition == nullptr) return 0;

  const flowd::Definition& d = *r.definition;
  require(!d.name.empty() && d.version >= 1 && d.max_parallel >= 1);
  (void)d.document.dump();  // valid UTF-8 throughout, or dump() would throw
  (void)d.find_step("a");
  flowd::DefinitionSet set;
  set.add(r.definition);
  for (const auto& diagnostic : flowd::check_sub_workflows(d, set)) (void)diagnostic.format();
  // Small fixed inputs only: the regexes of `pattern` run on them.
  (void)flowd::validate_input(d, flowd::Json::object());
  (void)flowd::validate_input(d, flowd::Json::parse(R"({"a": [1, "x", null], "b": {"c": true}})"));
  return 0;
}
