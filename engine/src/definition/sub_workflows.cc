// Cross-definition checks of `type: workflow` steps and the in-memory DefinitionSet
// (definition.h).
#include <algorithm>
#include <set>

#include "definition/names.h"
#include "flowd/engine/definition.h"

namespace flowd {
namespace {

// Bound on the work of one check: definitions visited along all chains.
constexpr std::size_t kMaxVisits = 100'000;

struct SubRef {
  std::string text;  // as written: name or name@version
  definition::WorkflowRef ref;
  std::string step;
  SourceLocation location;
};

void collect(const std::vector<StepDef>& steps, std::vector<SubRef>& out);

void collect_body(const StepBody& body, const std::string& step, std::vector<SubRef>& out) {
  if (body.type == "workflow") {
    const Json& with = body.with.source();
    if (with.is_object() && with.contains("ref") && with["ref"].is_string()) {
      const auto& text = with["ref"].get_ref<const std::string&>();
      if (auto ref = definition::parse_workflow_ref(text)) {
        out.push_back(SubRef{text, std::move(*ref), step, body.location});
      }
    }
  }
  collect(body.steps, out);
}

void collect(const std::vector<StepDef>& steps, std::vector<SubRef>& out) {
  for (const StepDef& s : steps) {
    collect_body(s.body, s.id, out);
    if (s.switch_def) {
      for (const SwitchCase& c : s.switch_def->cases) collect_body(c.body, s.id, out);
      if (s.switch_def->default_body) collect_body(*s.switch_def->default_body, s.id, out);
    }
  }
}

std::vector<SubRef> sub_refs(const Definition& d) {
  std::vector<SubRef> out;
  collect(d.steps, out);
  return out;
}

// Walks chains of sub-workflow calls from one definition, depth-first.
class ChainChecker {
 public:
  ChainChecker(const Definition& root, const DefinitionResolver& resolver, Diagnostics& out)
      : root_(root), resolver_(resolver), out_(out) {}

  void run() {
    for (const SubRef& r : sub_refs(root_)) {
      const Definition* child = resolve(r.ref);
      if (child == nullptr) {
        std::string text = "step '" + r.step + "': unresolved sub-workflow ref '" + r.text + "'";
        if (r.ref.version && resolver_.resolve(r.ref.name, std::nullopt) != nullptr) {
          text += " (no version " + std::to_string(*r.ref.version) + " of '" + r.ref.name + "')";
        } else {
          text += " (no workflow named '" + r.ref.name + "')";
        }
        add(r.location, text);
        continue;
      }
      first_ = &r;
      stack_ = {&root_};
      walk(child);
    }
  }

 private:
  const Definition* resolve(const definition::WorkflowRef& ref) {
    // The definition under check may not be registered yet: a ref to its own name and version
    // (or to its name alone) means itself.
    if (ref.name == root_.name && (!ref.version || *ref.version == root_.version)) return &root_;
    auto found = resolver_.resolve(ref.name, ref.version);
    if (found != nullptr) keep_.push_back(found);
    return found.get();
  }

  std::string chain(const Definition* last) const {
    std::string text;
    for (const Definition* d : stack_) text += d->ref() + " -> ";
    return text + last->ref();
  }

  void walk(const Definition* d) {
    if (++visits_ > kMaxVisits) return;
    if (std::find(stack_.begin(), stack_.end(), d) != stack_.end()) {
      add(first_->location, "step '" + first_->step + "': sub-workflow cycle: " + chain(d));
      return;
    }
    // stack_ holds the callers; d would run at depth stack_.size().
    if (stack_.size() > static_cast<std::size_t>(kMaxSubWorkflowDepth)) {
      add(first_->location, "step '" + first_->step + "': sub-workflows nest deeper than " +
                                std::to_string(kMaxSubWorkflowDepth) + " levels: " + chain(d));
      return;
    }
    stack_.push_back(d);
    for (const SubRef& r : sub_refs(*d)) {
      if (const Definition* child = resolve(r.ref)) walk(child);
    }
    stack_.pop_back();
  }

  void add(const SourceLocation& location, std::string message) {
    if (!reported_.insert(message).second) return;
    Diagnostic d;
    d.source = root_.source_name;
    d.location = location;
    d.message = std::move(message);
    out_.push_back(std::move(d));
  }

  const Definition& root_;
  const DefinitionResolver& resolver_;
  Diagnostics& out_;
  const SubRef* first_ = nullptr;
  std::vector<const Definition*> stack_;
  std::vector<std::shared_ptr<const Definition>> keep_;
  std::set<std::string> reported_;
  std::size_t visits_ = 0;
};

}  // namespace

Diagnostics check_sub_workflows(const Definition& definition, const DefinitionResolver& resolver) {
  Diagnostics out;
  ChainChecker(definition, resolver, out).run();
  return out;
}

void DefinitionSet::add(std::shared_ptr<const Definition> definition) {
  if (definition == nullptr) return;
  by_name_[definition->name][definition->version] = std::move(definition);
}

std::shared_ptr<const Definition> DefinitionSet::resolve(std::string_view name,
                                                         std::optional<int> version) const {
  auto it = by_name_.find(name);
  if (it == by_name_.end() || it->second.empty()) return nullptr;
  if (!version) return it->second.rbegin()->second;
  auto v = it->second.find(*version);
  return v == it->second.end() ? nullptr : v->second;
}

std::vector<std::shared_ptr<const Definition>> DefinitionSet::all() const {
  std::vector<std::shared_ptr<const Definition>> out;
  for (const auto& [name, versions] : by_name_) {
    for (const auto& [version, definition] : versions) out.push_back(definition);
  }
  return out;
}

}  // namespace flowd
