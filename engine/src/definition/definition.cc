// Definition accessors, Diagnostic formatting and loading from files (definition.h).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "flowd/engine/definition.h"

namespace flowd {
namespace {

const StepDef* find_in(const std::vector<StepDef>& steps, std::string_view id);

const StepDef* find_in_body(const StepBody& body, std::string_view id) {
  return find_in(body.steps, id);
}

// Depth-first through groups, switch cases and defaults, after the list itself.
const StepDef* find_in(const std::vector<StepDef>& steps, std::string_view id) {
  for (const StepDef& s : steps) {
    if (s.id == id) return &s;
  }
  for (const StepDef& s : steps) {
    if (const StepDef* found = find_in_body(s.body, id)) return found;
    if (s.switch_def) {
      for (const SwitchCase& c : s.switch_def->cases) {
        if (const StepDef* found = find_in_body(c.body, id)) return found;
      }
      if (s.switch_def->default_body) {
        if (const StepDef* found = find_in_body(*s.switch_def->default_body, id)) return found;
      }
    }
  }
  return nullptr;
}

}  // namespace

std::string Definition::ref() const {
  return name + "@" + std::to_string(version);
}

const StepDef* Definition::find_step(std::string_view id) const {
  return find_in(steps, id);
}

std::string Diagnostic::format() const {
  std::string out = source;
  if (location.line > 0) {
    out += ":" + std::to_string(location.line) + ":" + std::to_string(location.column);
  } else if (!location.pointer.empty()) {
    out += ":" + location.pointer;
  }
  out += ": " + message;
  return out;
}

LoadResult load_definition_file(const std::string& path) {
  std::error_code ec;
  const bool regular = std::filesystem::is_regular_file(path, ec);
  std::ifstream in;
  if (regular) in.open(path, std::ios::binary);
  if (!regular || !in) {
    LoadResult result;
    Diagnostic d;
    d.source = path;
    d.message = regular ? "cannot read the file" : "no such file";
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return load_definition(text.str(), path);
}

}  // namespace flowd

namespace flowd {

std::string_view to_string(OverlapPolicy policy) {
  switch (policy) {
    case OverlapPolicy::kSkip:
      return "skip";
    case OverlapPolicy::kAllow:
      return "allow";
    case OverlapPolicy::kBufferOne:
      return "bufferOne";
    case OverlapPolicy::kBufferAll:
      return "bufferAll";
    case OverlapPolicy::kCancelOther:
      return "cancelOther";
  }
  return "skip";
}

std::optional<OverlapPolicy> parse_overlap_policy(std::string_view text) {
  for (auto p : {OverlapPolicy::kSkip, OverlapPolicy::kAllow, OverlapPolicy::kBufferOne,
                 OverlapPolicy::kBufferAll, OverlapPolicy::kCancelOther}) {
    if (to_string(p) == text) return p;
  }
  return std::nullopt;
}

}  // namespace flowd
