// `flowctl validate` (validate_command.h).
#include "validate_command.h"

#include <filesystem>
#include <ostream>
#include <set>

#include "flowd/engine/definition.h"

namespace flowctl {
namespace {

bool is_definition_file(const std::filesystem::path& p) {
  const auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

}  // namespace

int validate_command(const std::vector<std::string>& files, std::ostream& out) {
  namespace fs = std::filesystem;
  bool ok = true;
  flowd::DefinitionSet set;
  std::vector<std::shared_ptr<const flowd::Definition>> loaded;
  std::set<fs::path> given;
  std::set<fs::path> folders;
  for (const auto& file : files) {
    auto result = flowd::load_definition_file(file);
    for (const auto& d : result.diagnostics) out << d.format() << "\n";
    std::error_code ec;
    given.insert(fs::weakly_canonical(file, ec));
    folders.insert(fs::path(file).parent_path());
    if (!result.definition) {
      ok = false;
      continue;
    }
    loaded.push_back(result.definition);
  }
  // Sub-workflows often live beside the files given: the valid definitions of the same folders
  // resolve refs too (their own problems are not reported here).
  for (const auto& folder : folders) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder.empty() ? "." : folder, ec)) {
      if (!entry.is_regular_file(ec) || !is_definition_file(entry.path())) continue;
      if (given.count(fs::weakly_canonical(entry.path(), ec))) continue;
      auto neighbour = flowd::load_definition_file(entry.path().string());
      if (neighbour.definition) set.add(neighbour.definition);
    }
  }
  for (const auto& def : loaded) set.add(def);  // the files given win over their neighbours
  for (const auto& def : loaded) {
    for (const auto& d : flowd::check_sub_workflows(*def, set)) {
      // A ref to a workflow found nowhere here is not an error: the registry may hold it.
      if (d.message.find("unresolved sub-workflow ref") != std::string::npos) continue;
      out << d.format() << "\n";
      ok = false;
    }
  }
  if (ok) {
    for (const auto& file : files) out << file << ": ok\n";
  }
  return ok ? 0 : 1;
}

}  // namespace flowctl
