#pragma once
// `flowctl run FILE --local`: runs a workflow in-process (no PostgreSQL, no Kafka) and prints a
// step timeline or one JSON document.
#include <iosfwd>
#include <string>

namespace flowctl {

struct RunOptions {
  std::string file;
  std::string input_json;       // --input
  std::string input_file;       // --input-file
  std::string definitions_dir;  // sub-workflows are looked up here (default: FILE's folder)
  bool json_output = false;
};

// Exit code: 0 completed, 1 failed / cancelled / timed out, 2 bad usage or invalid definition.
int run_local(const RunOptions& options, std::ostream& out, std::ostream& err);

}  // namespace flowctl
