#pragma once
// Workflow definitions with Kafka trigger bindings, shared by the trigger tests.
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "flowd/engine/definition.h"
#include "flowd/triggers/decode.h"

namespace flowd::testing {

inline std::shared_ptr<const Definition> load_workflow(const std::string& yaml) {
  LoadResult r = load_definition(yaml, "test.yaml");
  std::string problems;
  for (const auto& d : r.diagnostics) problems += d.format() + "\n";
  INFO(problems);
  REQUIRE(r.definition);
  return r.definition;
}

// A minimal workflow named `name`@`version` with the given `triggers:` YAML block (may be empty).
inline std::shared_ptr<const Definition> workflow(const std::string& name, int version = 1,
                                                  const std::string& triggers = "") {
  std::string yaml = "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
                     ", version: " + std::to_string(version) +
                     "}\nspec:\n  steps:\n    - {id: a, type: noop}\n";
  if (!triggers.empty()) yaml += "  triggers:\n" + triggers;
  return load_workflow(yaml);
}

// The routes most trigger tests use:
//  - order-processing@1,2 on orders.created, filter event.type == 'order.created', input data
//  - audit@1 on orders.created (no filter), input {kind: "{{ event.type }}", id: "{{ event.id }}"}
//  - shipping@1 on shipments, filter "{{ event.data.weight }} > 10", input "{{ event.data.to }}"
//  - invoice@1 with no trigger (envelopes only)
inline std::vector<std::shared_ptr<const Definition>> standard_workflows() {
  return {
      workflow("order-processing", 1,
               "    - kafka: {topic: orders.created, filter: \"{{ event.type }} == "
               "'order.v1'\"}\n"),
      workflow("order-processing", 2,
               "    - kafka: {topic: orders.created, filter: \"{{ event.type }} == "
               "'order.created'\", input: \"{{ event.data }}\"}\n"),
      workflow("audit", 1,
               "    - kafka: {topic: orders.created, input: {kind: \"{{ event.type }}\", id: "
               "\"{{ event.id }}\"}}\n"),
      workflow("shipping", 1,
               "    - kafka: {topic: shipments, filter: \"{{ event.data.weight }} > 10\", "
               "input: \"{{ event.data.to }}\"}\n"),
      workflow("invoice", 1),
  };
}

inline std::shared_ptr<const triggers::TriggerRouter> standard_router() {
  auto router = triggers::TriggerRouter::build(standard_workflows());
  INFO((router ? "" : router.error().message));
  REQUIRE(router);
  return *router;
}

// Only envelope records (no bindings): consumers subscribe to nothing but their own topics.
inline std::shared_ptr<const triggers::TriggerRouter> envelope_router() {
  auto router = triggers::TriggerRouter::build({workflow("invoice", 1)});
  REQUIRE(router);
  return *router;
}

}  // namespace flowd::testing
