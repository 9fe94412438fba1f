#pragma once
// StepRunner is the seam through which a step does its work: `http`, `transform`, `sleep`, `log`,
// `noop`, `fail` are built in, and anything registered by name in a StepRegistry plugs in the same
// way. Runners run on the engine's io_context thread and must never block it.
// Own block, first: boost/asio/awaitable.hpp (1.74) uses std::exchange without <utility>.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/duration.h"
#include "flowd/engine/error.h"
#include "flowd/engine/event.h"
#include "flowd/engine/json.h"

namespace flowd {

// Raised once when an attempt is abandoned (timeout, cancellation); runners register what stops
// their work (close a socket, cancel a timer). Single-threaded: used on the engine's thread only.
class CancelSignal {
 public:
  bool cancelled() const { return cancelled_; }
  void cancel();
  // Runs at once when already cancelled.
  void on_cancel(std::function<void()> handler);

 private:
  bool cancelled_ = false;
  std::vector<std::function<void()>> handlers_;
};

struct StepCall {
  std::string execution_id;
  std::string step;  // step path
  int attempt = 1;
  std::string idempotency_key;  // "<execution>/<step>/<attempt>", to pass on to called systems
  std::string type;
  Json with;  // templates resolved
  Millis timeout{60'000};
  std::shared_ptr<CancelSignal> cancel = std::make_shared<CancelSignal>();
  // The engine's clock when the attempt began, and the absolute time a waiting runner waits
  // until (its due_at(), recorded in StepStarted; a resumed attempt keeps the interrupted one's).
  TimePoint now{};
  std::optional<TimePoint> due_at;
};

class StepRunner {
 public:
  virtual ~StepRunner() = default;
  // The step's output, or an Error whose `retryable` says whether another attempt can help.
  virtual boost::asio::awaitable<Result<Json>> run(StepCall call) = 0;
  // True for runners that finish without waiting on anything (transform, noop, log, fail): the
  // engine then calls them directly instead of racing them against a timeout timer.
  virtual bool instant() const { return false; }
  // For runners that wait until a time (sleep): that time, from the step's resolved `with` and
  // the engine's clock. The engine records it in StepStarted and passes it back as
  // `StepCall::due_at`, so that the wait survives a restart. An error fails the attempt
  // (INVALID_INPUT naming `step` for a bad value). Such a step has no step timeout unless it sets
  // `timeout:` itself.
  virtual Result<std::optional<TimePoint>> due_at(const std::string& step, const Json& with,
                                                  TimePoint now) const {
    (void)step, (void)with, (void)now;
    return std::nullopt;
  }
};

// Step types by name. Filled at start-up, read-only afterwards.
class StepRegistry {
 public:
  void add(std::string type, std::shared_ptr<StepRunner> runner);
  StepRunner* find(std::string_view type) const;
  // Registered types plus `workflow` (run by the engine itself).
  std::set<std::string> types() const;

 private:
  std::map<std::string, std::shared_ptr<StepRunner>, std::less<>> runners_;
};

// The step types every flowd knows, for validating definitions without a registry at hand.
const std::set<std::string>& builtin_step_types();

struct BuiltinOptions {
  std::function<void(std::string_view step, const std::string& message)> log_sink;  // `log` steps
};

// Registers transform, sleep, log, noop, fail and http on the given io_context.
void register_builtin_steps(StepRegistry& registry, boost::asio::io_context& io,
                            BuiltinOptions options = {});

}  // namespace flowd
