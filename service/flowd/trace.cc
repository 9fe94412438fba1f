#include "trace.h"

namespace flowd::service {

std::string trace_id_of(const Json& context) {
  if (!context.is_object()) return {};
  const Json* parent = nullptr;
  if (auto t = context.find("trace"); t != context.end() && t->is_object())
    if (auto p = t->find("traceparent"); p != t->end()) parent = &*p;
  if (!parent)
    if (auto p = context.find("traceparent"); p != context.end()) parent = &*p;
  if (!parent || !parent->is_string()) return {};
  const auto& text = parent->get_ref<const std::string&>();
  if (text.size() < 35 || text[2] != '-' || text[35] != '-') return {};
  return text.substr(3, 32);
}

Json execution_fields(const std::string& id, const std::string& workflow, const Json& context) {
  Json fields{{"execution", id}};
  if (!workflow.empty()) fields["workflow"] = workflow;
  if (auto trace = trace_id_of(context); !trace.empty()) fields["traceId"] = trace;
  return fields;
}

}  // namespace flowd::service
