#pragma once
// Helpers for the durable-execution integration tests: apply a YAML definition to the registry and
// start executions through the store exactly as flowctl does.
#include <catch2/catch.hpp>
#include <thread>

#include "flowd/engine/engine.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::testing {

inline std::shared_ptr<const Definition> apply_yaml(eventstore::EventStore& store,
                                                    const std::string& yaml) {
  auto loaded = load_definition(yaml, "test.yaml");
  for (const auto& d : loaded.diagnostics) UNSCOPED_INFO(d.format());
  REQUIRE(loaded.definition);
  auto applied = store.apply_definition(loaded.definition->document);
  REQUIRE(applied);
  return loaded.definition;
}

// Appends ExecutionStarted (unowned, for any instance to claim); returns the outcome.
inline eventstore::StartOutcome start_durable(eventstore::EventStore& store,
                                              const Definition& definition, Json input,
                                              std::string dedupe_key = {}) {
  StartOptions options;
  options.execution_id = new_uuid();
  options.input = std::move(input);
  options.dedupe_key = std::move(dedupe_key);
  Event started = started_event(definition, options);
  started.time = Clock::now();
  auto outcome = store.start_execution_sync(AppendRequest{options.execution_id, 0, {started}});
  REQUIRE(outcome);
  return *outcome;
}

// Polls `done` every 20 ms until it holds or `limit` passes; returns whether it held.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace flowd::testing
