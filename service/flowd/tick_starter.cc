#include "tick_starter.h"

#include "flowd/engine/engine.h"

namespace flowd::service {

using triggers::TickStartResult;

TickStartResult StoreTickStarter::start(const triggers::TickStart& tick) {
  TickStartResult result;
  // A fresh cache per tick: a schedule on the latest version sees a version applied a second ago.
  DefinitionCache definitions(store_);
  auto definition = definitions.ensure(tick.workflow, tick.version);
  if (!definition) {
    const bool gone = definition.error().code == ErrorCode::kNotFound ||
                      definition.error().code == ErrorCode::kInvalidDefinition;
    result.kind = gone ? TickStartResult::Kind::kRefused : TickStartResult::Kind::kUnavailable;
    result.error = definition.error().message;
    return result;
  }
  if (auto valid = validate_input(**definition, tick.input); !valid) {
    result.kind = TickStartResult::Kind::kRefused;
    result.error = valid.error().message + " (the schedule's input must match spec.input of " +
                   (*definition)->ref() + ")";
    return result;
  }
  StartOptions options;
  options.execution_id = new_uuid();
  options.input = tick.input;
  options.context = tick.context;
  options.dedupe_key = tick.dedupe_key;
  Event started = started_event(**definition, options);
  started.time = Clock::now();
  Json metadata{{"actor", tick.dedupe_key}, {"causation", tick.dedupe_key}};
  auto outcome =
      store_.start_execution_sync(AppendRequest{options.execution_id, 0, {started}}, metadata);
  if (!outcome) {
    const bool data = outcome.error().is(eventstore::errc::invalid_argument);
    result.kind = data ? TickStartResult::Kind::kRefused : TickStartResult::Kind::kUnavailable;
    result.error = outcome.error().message;
    return result;
  }
  result.execution_id = outcome->execution_id;
  if (outcome->duplicate) {
    result.kind = TickStartResult::Kind::kDuplicate;
    return result;
  }
  result.kind = TickStartResult::Kind::kStarted;
  if (on_started_) on_started_(std::move(started));
  return result;
}

void StoreTickStarter::cancel(const std::string& execution_id, const std::string& reason,
                              const std::string& actor) {
  // Best effort, like `flowctl cancel`: the execution's owner applies it; an execution that
  // ended meanwhile ignores it.
  (void)commands_.enqueue(execution_id, "cancel", Json{{"reason", reason}}, actor);
}

}  // namespace flowd::service
