#pragma once
// WebhookBindings: the webhooks of the stored workflows, by path — compiled from the `webhook`
// triggers of each workflow's highest version. A path claimed by two workflows goes to the first
// by name; the conflict is reported. An immutable value: built on the housekeeping thread,
// swapped in whole (WebhookEndpoint::set_definitions), read from any thread.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "flowd/engine/definition.h"
#include "flowd/engine/expr.h"
#include "webhooks/signature.h"

namespace flowd::webhooks {

struct WebhookBinding {
  std::string path;
  std::string secret;  // the secret's name
  SignatureSpec signature;
  std::optional<Condition> filter;
  std::optional<JsonTemplate> input;  // absent: request.body
  std::optional<double> rate;         // rateLimit.perSecond; absent: webhooks.rate
  std::optional<double> burst;        // rateLimit.burst; absent: webhooks.burst
  std::shared_ptr<const Definition> definition;
};

struct WebhookBindings {
  std::map<std::string, WebhookBinding> by_path;
  std::vector<std::string> problems;  // conflicts and specs that did not compile

  // `tolerance`: the default of timestamped schemes (a trigger's signature.tolerance overrides).
  static WebhookBindings build(const std::vector<std::shared_ptr<const Definition>>& definitions,
                               std::chrono::seconds tolerance);
};

}  // namespace flowd::webhooks
