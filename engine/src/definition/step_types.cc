// The built-in step type names live with the definition model (not with the runners) so tools that
// only load definitions — validators, fuzzers — need none of the executor.
#include "flowd/engine/step_runner.h"

namespace flowd {

const std::set<std::string>& builtin_step_types() {
  static const std::set<std::string> types{"transform", "sleep", "log",     "noop",
                                           "fail",      "http",  "workflow"};
  return types;
}

}  // namespace flowd
