#pragma once
// DefinitionCache resolves `name@version` for the engine from definitions loaded out of the
// registry in PostgreSQL. Loading (ensure) blocks on the store and runs on the worker thread;
// resolve() only reads memory, so the engine thread never waits on the database.
// Thread-safe: one mutex guards the map.
#include <mutex>

#include "flowd/engine/definition.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::service {

class DefinitionCache : public DefinitionResolver {
 public:
  explicit DefinitionCache(eventstore::EventStore& store) : store_(store) {}

  // Loads name@version (the latest when empty) and, transitively, the sub-workflows it calls.
  // Errors: NOT_FOUND, or INVALID_DEFINITION when the stored document no longer loads.
  Result<std::shared_ptr<const Definition>> ensure(const std::string& name,
                                                   std::optional<int> version);

  std::shared_ptr<const Definition> resolve(std::string_view name,
                                            std::optional<int> version) const override;

 private:
  Result<std::shared_ptr<const Definition>> load(const std::string& name,
                                                 std::optional<int> version, int depth);

  eventstore::EventStore& store_;
  mutable std::mutex mutex_;
  DefinitionSet set_;  // GUARDED_BY(mutex_)
};

// Loads a registry document (JSON) as a Definition.
Result<std::shared_ptr<const Definition>> definition_from_document(const Json& document);

}  // namespace flowd::service
