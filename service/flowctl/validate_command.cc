#include "validate_command.h"

#include <ostream>

#include "flowd/engine/definition.h"

namespace flowctl {

int validate_command(const std::vector<std::string>& files, std::ostream& out) {
  flowd::DefinitionSet set;
  std::vector<std::shared_ptr<const flowd::Definition>> loaded;
  bool ok = true;
  for (const auto& file : files) {
    auto result = flowd::load_definition_file(file);
    for (const auto& d : result.diagnostics) out << d.format() << "\n";
    if (!result.definition) {
      ok = false;
      continue;
    }
    set.add(result.definition);
    loaded.push_back(result.definition);
  }
  for (const auto& def : loaded) {
    // Refs to workflows outside the given files are not an error here: the registry may hold them.
    for (const auto& d : flowd::check_sub_workflows(*def, set)) {
      if (d.message.find("no workflow") != std::string::npos ||
          d.message.find("not found") != std::string::npos)
        continue;
      out << d.format() << "\n";
      ok = false;
    }
  }
  if (ok)
    for (const auto& file : files) out << file << ": ok\n";
  return ok ? 0 : 1;
}

}  // namespace flowctl
