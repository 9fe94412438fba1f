// The built-in step type names live with the definition model (not with the runners) so tools that
// only load definitions — validators, fuzzers — need none of the executor. step_runner.h declares
// builtin_step_types() but needs Asio coroutines, which the model library (and its clang fuzz
// build) does without, so the declaration is repeated here; the list itself is in names.cc.
#include <set>
#include <string>

#include "definition/names.h"

namespace flowd {

const std::set<std::string>& builtin_step_types();  // step_runner.h

const std::set<std::string>& builtin_step_types() {
  return definition::builtin_types();
}

}  // namespace flowd
