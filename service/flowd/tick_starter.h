#pragma once
// StoreTickStarter starts the scheduler's ticks in the event store: it resolves the schedule's
// workflow (the latest version, or the one named), checks the input against spec.input and
// appends ExecutionStarted with the tick's dedupe key, actor "cron:<schedule>@<fire time>". The
// migration's trigger writes the tick's row in that same transaction. Started executions are
// handed to the runner (on_started), as Kafka and webhook starts are.
#include <functional>

#include "definition_cache.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/scheduler.h"

namespace flowd::service {

class StoreTickStarter final : public triggers::TickStarter {
 public:
  StoreTickStarter(eventstore::EventStore& store, eventstore::CommandQueue& commands,
                   std::function<void(Event)> on_started)
      : store_(store), commands_(commands), on_started_(std::move(on_started)) {}

  void start(const triggers::TickStart& tick,
             std::function<void(triggers::TickStartResult)> done) override;
  void cancel(const std::string& execution_id, const std::string& reason,
              const std::string& actor) override;

 private:
  eventstore::EventStore& store_;
  eventstore::CommandQueue& commands_;
  std::function<void(Event)> on_started_;
};

}  // namespace flowd::service
