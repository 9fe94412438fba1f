#include "definition_cache.h"

namespace flowd::service {

Result<std::shared_ptr<const Definition>> definition_from_document(const Json& document) {
  std::string name = document.value("/metadata/name"_json_pointer, std::string("<registry>"));
  LoadResult loaded = load_definition(document.dump(), name + ".json");
  if (!loaded.definition) {
    std::string message = "stored definition " + name + " does not load:";
    for (const auto& d : loaded.diagnostics) message += " " + d.format() + ";";
    return fail(ErrorCode::kInvalidDefinition, message);
  }
  return loaded.definition;
}

Result<std::shared_ptr<const Definition>> DefinitionCache::ensure(const std::string& name,
                                                                  std::optional<int> version) {
  return load(name, version, 0);
}

Result<std::shared_ptr<const Definition>> DefinitionCache::load(const std::string& name,
                                                                std::optional<int> version,
                                                                int depth) {
  if (version) {
    if (auto cached = resolve(name, version)) return cached;
  }
  auto record = store_.get_definition(name, version);
  if (!record) return fail(ErrorCode::kExternal, record.error().message, true);
  if (!*record)
    return fail(ErrorCode::kNotFound,
                "no workflow " + name + (version ? "@" + std::to_string(*version) : ""));
  auto definition = definition_from_document((*record)->document);
  if (!definition) return definition;
  {
    std::lock_guard lock(mutex_);
    set_.add(*definition);
  }
  if (depth < kMaxSubWorkflowDepth) {
    // Sub-workflows it calls: `type: workflow` bodies anywhere in the step tree.
    std::function<void(const std::vector<StepDef>&)> walk = [&](const std::vector<StepDef>& steps) {
      auto visit = [&](const StepBody& body) {
        if (body.type == "workflow") {
          const Json& ref = body.with.source().value("ref", Json());
          if (ref.is_string()) {
            std::string text = ref;
            auto at = text.find('@');
            std::optional<int> v;
            if (at != std::string::npos) v = std::atoi(text.c_str() + at + 1);
            (void)load(text.substr(0, at), v, depth + 1);
          }
        }
        walk(body.steps);
      };
      for (const StepDef& s : steps) {
        visit(s.body);
        if (s.switch_def) {
          for (const auto& c : s.switch_def->cases) visit(c.body);
          if (s.switch_def->default_body) visit(*s.switch_def->default_body);
        }
      }
    };
    walk((*definition)->steps);
  }
  return definition;
}

std::shared_ptr<const Definition> DefinitionCache::resolve(std::string_view name,
                                                           std::optional<int> version) const {
  std::lock_guard lock(mutex_);
  return set_.resolve(name, version);
}

}  // namespace flowd::service
