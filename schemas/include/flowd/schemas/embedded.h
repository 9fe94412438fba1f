#pragma once
// The files of schemas/ compiled into the binary, by relative path ("workflow.schema.json",
// "migrations/0001_events.sql").
#include <map>
#include <string>
#include <string_view>

namespace flowd::schemas {

// Empty view when there is no such file.
std::string_view file(std::string_view relative_path);
// All embedded files, sorted by path.
const std::map<std::string, std::string_view>& all();

}  // namespace flowd::schemas
