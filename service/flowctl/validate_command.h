#pragma once
// `flowctl validate FILE...`: one `file:line:col: message` line per problem.
#include <iosfwd>
#include <string>
#include <vector>

namespace flowctl {

// 0 when every file is valid, 1 otherwise. Sub-workflow refs are checked among the given files.
int validate_command(const std::vector<std::string>& files, std::ostream& out);

}  // namespace flowctl
