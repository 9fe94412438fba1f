#include "webhooks/bindings.h"

#include "flowd/engine/duration.h"

namespace flowd::webhooks {

namespace {

std::optional<WebhookBinding> compile(const Json& spec, std::shared_ptr<const Definition> def,
                                      std::chrono::seconds tolerance, std::string& problem) {
  WebhookBinding b;
  b.path = spec.value("path", std::string());
  b.secret = spec.value("secret", std::string());
  b.definition = std::move(def);
  b.signature.tolerance = tolerance;
  const Json& sig = spec.contains("signature") ? spec["signature"] : Json();
  std::string scheme =
      sig.is_string() ? sig.get<std::string>() : sig.value("scheme", std::string());
  auto parsed = parse_scheme(scheme);
  if (!parsed) {
    problem = "unknown signature scheme '" + scheme + "'";
    return std::nullopt;
  }
  b.signature.scheme = *parsed;
  if (sig.is_object()) {
    b.signature.header = sig.value("header", std::string());
    if (auto t = sig.find("tolerance"); t != sig.end() && t->is_string())
      if (auto d = parse_duration(t->get<std::string>()))
        b.signature.tolerance = std::chrono::duration_cast<std::chrono::seconds>(*d);
  }
  if (auto l = spec.find("rateLimit"); l != spec.end() && l->is_object()) {
    b.rate = l->value("perSecond", 1.0);
    b.burst = static_cast<double>(l->value("burst", 1));
  }
  if (auto f = spec.find("filter"); f != spec.end() && f->is_string()) {
    auto c = Condition::parse(f->get<std::string>());
    if (!c) {
      problem = "filter: " + c.error().message;
      return std::nullopt;
    }
    b.filter = std::move(*c);
  }
  if (auto in = spec.find("input"); in != spec.end()) {
    auto t = JsonTemplate::compile(*in);
    if (!t) {
      problem = "input: " + t.error().message;
      return std::nullopt;
    }
    b.input = std::move(*t);
  }
  return b;
}

}  // namespace

WebhookBindings WebhookBindings::build(
    const std::vector<std::shared_ptr<const Definition>>& definitions,
    std::chrono::seconds tolerance) {
  // The highest version of each workflow, by name (std::map: first by name wins a path).
  std::map<std::string, std::shared_ptr<const Definition>> latest;
  for (const auto& d : definitions) {
    auto& slot = latest[d->name];
    if (!slot || d->version > slot->version) slot = d;
  }
  WebhookBindings out;
  for (const auto& [name, def] : latest) {
    for (const auto& trigger : def->triggers) {
      if (trigger.kind != TriggerDef::Kind::kWebhook) continue;
      std::string problem;
      auto binding = compile(trigger.spec, def, tolerance, problem);
      if (!binding) {
        out.problems.push_back(def->ref() + ": webhook: " + problem);
        continue;
      }
      auto [it, inserted] = out.by_path.emplace(binding->path, *binding);
      if (!inserted)
        out.problems.push_back("webhook path '" + binding->path + "' of " + def->ref() +
                               " is already served for " + it->second.definition->ref() +
                               "; ignored");
    }
  }
  return out;
}

}  // namespace flowd::webhooks
