// CancelSignal, StepRegistry and the list of built-in step types.
#include <stdexcept>
#include <utility>

#include "flowd/engine/http_step.h"
#include "flowd/engine/step_runner.h"
#include "steps/basic_steps.h"

namespace flowd {

void CancelSignal::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  // Handlers may register further handlers (those run at once) or drop the last reference to
  // whatever owns this signal's users; move the list out before running it.
  auto handlers = std::move(handlers_);
  handlers_.clear();
  for (auto& handler : handlers) {
    if (handler) handler();
  }
}

void CancelSignal::on_cancel(std::function<void()> handler) {
  if (!handler) return;
  if (cancelled_) {
    handler();
    return;
  }
  handlers_.push_back(std::move(handler));
}

void StepRegistry::add(std::string type, std::shared_ptr<StepRunner> runner) {
  if (type.empty() || type == "workflow") {
    throw std::invalid_argument(
        "StepRegistry::add: step type must be non-empty and not 'workflow'");
  }
  if (!runner) throw std::invalid_argument("StepRegistry::add: null runner for " + type);
  runners_[std::move(type)] = std::move(runner);
}

StepRunner* StepRegistry::find(std::string_view type) const {
  auto it = runners_.find(type);
  return it == runners_.end() ? nullptr : it->second.get();
}

std::set<std::string> StepRegistry::types() const {
  std::set<std::string> types{"workflow"};
  for (const auto& [type, runner] : runners_) types.insert(type);
  return types;
}

void register_builtin_steps(StepRegistry& registry, boost::asio::io_context& io,
                            BuiltinOptions options) {
  registry.add("transform", steps::make_transform_runner());
  registry.add("noop", steps::make_noop_runner());
  registry.add("log", steps::make_log_runner(std::move(options.log_sink)));
  registry.add("sleep", steps::make_sleep_runner(io));
  registry.add("fail", steps::make_fail_runner());
  registry.add("http", make_http_runner(io));
}

}  // namespace flowd
