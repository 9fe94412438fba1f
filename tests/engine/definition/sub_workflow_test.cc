// check_sub_workflows and DefinitionSet: refs resolve, cycles are named, depth is bounded.
#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"

namespace {

// A definition `name@version` whose steps call the given refs.
std::shared_ptr<const flowd::Definition> workflow(const std::string& name, int version,
                                                  const std::vector<std::string>& calls) {
  std::string text = "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
                     ", version: " + std::to_string(version) + "}\nspec:\n  steps:\n";
  if (calls.empty()) text += "    - {id: work, type: noop}\n";
  for (std::size_t i = 0; i < calls.size(); ++i) {
    text += "    - {id: call" + std::to_string(i) + ", type: workflow, with: {ref: \"" + calls[i] +
            "\"}}\n";
  }
  auto r = flowd::load_definition(text, name + ".yaml");
  INFO(text);
  REQUIRE(r.diagnostics.empty());
  return r.definition;
}

std::string joined(const flowd::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

}  // namespace

TEST_CASE("DefinitionSet resolves exact versions and, without one, the latest",
          "[engine][definition][subworkflow]") {
  flowd::DefinitionSet set;
  set.add(workflow("invoice", 1, {}));
  set.add(workflow("invoice", 3, {}));
  set.add(workflow("archive", 2, {}));
  CHECK(set.resolve("invoice", 1)->version == 1);
  CHECK(set.resolve("invoice", std::nullopt)->version == 3);
  CHECK(set.resolve("invoice", 2) == nullptr);
  CHECK(set.resolve("nope", std::nullopt) == nullptr);
  CHECK(set.all().size() == 3);
  // Adding the same name@version again replaces it.
  auto replacement = workflow("invoice", 3, {"archive"});
  set.add(replacement);
  CHECK(set.resolve("invoice", 3) == replacement);
  CHECK(set.all().size() == 3);
}

TEST_CASE("Unresolved sub-workflow refs are reported at the calling step",
          "[engine][definition][subworkflow]") {
  flowd::DefinitionSet set;
  set.add(workflow("invoice", 1, {}));
  auto parent = workflow("order", 1, {"invoice@2", "shipping", "invoice"});
  auto diagnostics = flowd::check_sub_workflows(*parent, set);
  const std::string text = joined(diagnostics);
  INFO(text);
  REQUIRE(diagnostics.size() == 2);
  CHECK(text.find("order.yaml:6:7: step 'call0': unresolved sub-workflow ref 'invoice@2' (no "
                  "version 2 of 'invoice')") != std::string::npos);
  CHECK(text.find("order.yaml:7:7: step 'call1': unresolved sub-workflow ref 'shipping' (no "
                  "workflow named 'shipping')") != std::string::npos);
}

TEST_CASE("Sub-workflow cycles are named", "[engine][definition][subworkflow]") {
  flowd::DefinitionSet set;
  set.add(workflow("a", 1, {"b@1"}));
  set.add(workflow("b", 1, {"c"}));
  set.add(workflow("c", 1, {"a@1"}));
  auto a = set.resolve("a", 1);
  auto diagnostics = flowd::check_sub_workflows(*a, set);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics[0].message == "step 'call0': sub-workflow cycle: a@1 -> b@1 -> c@1 -> a@1");

  // A definition not yet in the set that calls itself by name.
  auto self = workflow("self", 4, {"self"});
  auto own = flowd::check_sub_workflows(*self, set);
  REQUIRE(own.size() == 1);
  CHECK(own[0].message == "step 'call0': sub-workflow cycle: self@4 -> self@4");

  // A cycle further down the chain is reported from the definition being checked.
  auto entry = workflow("entry", 1, {"a"});
  auto down = flowd::check_sub_workflows(*entry, set);
  REQUIRE(down.size() == 1);
  CHECK(down[0].message.find("a@1 -> b@1 -> c@1 -> a@1") != std::string::npos);
}

TEST_CASE("Sub-workflow chains deeper than kMaxSubWorkflowDepth are rejected",
          "[engine][definition][subworkflow]") {
  // w0 -> w1 -> ... -> wN: w0 runs at depth 0, wN at depth N.
  auto chain = [](int n) {
    auto set = std::make_shared<flowd::DefinitionSet>();
    for (int i = 0; i < n; ++i)
      set->add(workflow("w" + std::to_string(i), 1, {"w" + std::to_string(i + 1)}));
    set->add(workflow("w" + std::to_string(n), 1, {}));
    return set;
  };
  {
    auto set = chain(flowd::kMaxSubWorkflowDepth);
    CHECK(flowd::check_sub_workflows(*set->resolve("w0", 1), *set).empty());
  }
  {
    auto set = chain(flowd::kMaxSubWorkflowDepth + 1);
    auto diagnostics = flowd::check_sub_workflows(*set->resolve("w0", 1), *set);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].message ==
          "step 'call0': sub-workflows nest deeper than 5 levels: w0@1 -> w1@1 -> w2@1 -> w3@1 "
          "-> w4@1 -> w5@1 -> w6@1");
  }
}

TEST_CASE("Sub-workflow refs inside switch cases and groups are checked",
          "[engine][definition][subworkflow]") {
  auto r = flowd::load_definition(R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: router, version: 1}
spec:
  steps:
    - id: route
      switch:
        value: "{{ input.kind }}"
        cases:
          - match: a
            steps:
              - {id: inner, type: workflow, with: {ref: missing-a}}
        default: {type: workflow, with: {ref: missing-b@1}}
)",
                                  "router.yaml");
  REQUIRE(r.diagnostics.empty());
  flowd::DefinitionSet empty;
  auto diagnostics = flowd::check_sub_workflows(*r.definition, empty);
  const std::string text = joined(diagnostics);
  INFO(text);
  CHECK(diagnostics.size() == 2);
  CHECK(text.find("'missing-a'") != std::string::npos);
  CHECK(text.find("'missing-b@1'") != std::string::npos);
}
