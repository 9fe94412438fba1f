#include "tick_starter.h"

#include "flowd/engine/engine.h"

namespace flowd::service {

using triggers::TickStartResult;

void StoreTickStarter::start(const triggers::TickStart& tick,
                             std::function<void(TickStartResult)> done) {
  auto refuse = [&](TickStartResult::Kind kind, std::string error) {
    TickStartResult result;
    result.kind = kind;
    result.error = std::move(error);
    done(std::move(result));
  };
  // A fresh cache per tick: a schedule on the latest version sees a version applied a second ago.
  DefinitionCache definitions(store_);
  auto definition = definitions.ensure(tick.workflow, tick.version);
  if (!definition) {
    const bool gone = definition.error().code == ErrorCode::kNotFound ||
                      definition.error().code == ErrorCode::kInvalidDefinition;
    return refuse(gone ? TickStartResult::Kind::kRefused : TickStartResult::Kind::kUnavailable,
                  definition.error().message);
  }
  if (auto valid = validate_input(**definition, tick.input); !valid)
    return refuse(TickStartResult::Kind::kRefused,
                  valid.error().message + " (the schedule's input must match spec.input of " +
                      (*definition)->ref() + ")");
  StartOptions options;
  options.execution_id = tick.execution_id.empty() ? new_uuid() : tick.execution_id;
  options.input = tick.input;
  options.context = tick.context;
  options.dedupe_key = tick.dedupe_key;
  auto started = std::make_shared<Event>(started_event(**definition, options));
  started->time = Clock::now();
  Json metadata{{"actor", tick.dedupe_key}, {"causation", tick.dedupe_key}};
  store_.start_execution(AppendRequest{options.execution_id, 0, {*started}}, std::move(metadata),
                         [done = std::move(done), started, on_started = on_started_](
                             eventstore::StoreResult<eventstore::StartOutcome> outcome) {
                           TickStartResult result;
                           if (!outcome) {
                             const bool data =
                                 outcome.error().is(eventstore::errc::invalid_argument);
                             result.kind = data ? TickStartResult::Kind::kRefused
                                                : TickStartResult::Kind::kUnavailable;
                             result.error = outcome.error().message;
                             return done(std::move(result));
                           }
                           result.execution_id = outcome->execution_id;
                           result.kind = outcome->duplicate ? TickStartResult::Kind::kDuplicate
                                                            : TickStartResult::Kind::kStarted;
                           if (!outcome->duplicate && on_started) on_started(*started);
                           done(std::move(result));
                         });
}

void StoreTickStarter::cancel(const std::string& execution_id, const std::string& reason,
                              const std::string& actor) {
  // Best effort, like `flowctl cancel`: the execution's owner applies it; an execution that
  // ended meanwhile ignores it.
  (void)commands_.enqueue(execution_id, "cancel", Json{{"reason", reason}}, actor);
}

}  // namespace flowd::service
