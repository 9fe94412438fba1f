#pragma once
// The built-in step runners that need no network: transform, noop, log, sleep, fail. Each is a
// stateless (or immutable) object shared by every step of its type; calls run on the engine's
// io_context thread.
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "flowd/engine/step_runner.h"

namespace flowd::steps {

using LogSink = std::function<void(std::string_view step, const std::string& message)>;

// Output = `with` as given (templates already resolved); no `with` -> {}.
std::shared_ptr<StepRunner> make_transform_runner();
// Output = {}.
std::shared_ptr<StepRunner> make_noop_runner();
// Sends with.message (a non-string is dumped as JSON) to `sink` (empty: one line on stderr) and
// outputs {"message": <text>}. No message -> INVALID_INPUT.
std::shared_ptr<StepRunner> make_log_runner(LogSink sink);
// Waits with.duration ("250ms" or a number of milliseconds), or until with.until (an RFC 3339
// time; a past one ends at once), on a timer of `io`, then outputs {"sleptMs": n} (plus
// {"until": time}). Its due_at() is that end, so the engine records it and a resumed attempt
// waits only what is left (StepCall::due_at). The CancelSignal stops the wait (CANCELLED). A bad
// duration or time -> INVALID_INPUT naming the step.
std::shared_ptr<StepRunner> make_sleep_runner(boost::asio::io_context& io);
// Fails attempts 1..with.times (every attempt when absent) with with.code (default EXTERNAL) and
// with.message; retryable when the code is TIMEOUT or EXTERNAL unless with.retryable says
// otherwise. Later attempts output with.output (default {"attempt": n}).
std::shared_ptr<StepRunner> make_fail_runner();

// Milliseconds from a duration string ("5s") or a non-negative integer number of milliseconds;
// `field` names the input in the error ("with.duration").
Result<Millis> duration_input(const Json& value, std::string_view field);

}  // namespace flowd::steps
