#pragma once
// JSON is the value type of flowd: inputs, outputs, templates and event data are all JSON.
#include <nlohmann/json.hpp>

namespace flowd {
using Json = nlohmann::json;
}  // namespace flowd
