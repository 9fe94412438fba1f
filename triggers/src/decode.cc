// Trigger decoding and routing (decode.h): record -> event -> the workflows it starts.
#include "flowd/triggers/decode.h"

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <utility>

#include "text.h"

namespace flowd::triggers {

namespace {

constexpr std::array<std::pair<PoisonCode, std::string_view>, 8> kPoisonNames = {{
    {PoisonCode::kNotJson, "NOT_JSON"},
    {PoisonCode::kInvalidEnvelope, "INVALID_ENVELOPE"},
    {PoisonCode::kUnknownWorkflow, "UNKNOWN_WORKFLOW"},
    {PoisonCode::kNoBinding, "NO_BINDING"},
    {PoisonCode::kFilterError, "FILTER_ERROR"},
    {PoisonCode::kInputMapping, "INPUT_MAPPING"},
    {PoisonCode::kInvalidInput, "INVALID_INPUT"},
    {PoisonCode::kStartFailed, "START_FAILED"},
}};

tl::unexpected<PoisonReason> poison(PoisonCode code, std::string message) {
  return tl::unexpected<PoisonReason>(PoisonReason{code, std::move(message), {}});
}

// A string from record bytes as JSON: the text when it is UTF-8, else null.
Json text_or_null(std::string_view bytes) {
  if (!text::is_utf8(bytes)) return nullptr;
  return Json(std::string(bytes));
}

// The value's format says JSON: absent, application/json, text/json, anything+json.
bool says_json(const std::string* content_type) {
  if (content_type == nullptr || content_type->empty()) return true;
  const std::string ct = text::lower(*content_type);
  const std::string media = ct.substr(0, ct.find(';'));
  return media.find("json") != std::string::npos;
}

bool is_structured_content_type(const std::string* content_type) {
  if (content_type == nullptr) return false;
  const std::string ct = text::lower(*content_type);
  return ct.rfind("application/cloudevents+json", 0) == 0;
}

Result<Json> parse_json(std::string_view bytes) {
  if (bytes.empty()) return fail(ErrorCode::kInvalidInput, "the value is empty");
  try {
    return Json::parse(bytes.begin(), bytes.end());
  } catch (const Json::exception& e) {
    return fail(ErrorCode::kInvalidInput, e.what());
  }
}

// `kafka` member of the event: where the record came from.
Json kafka_metadata(const Record& record) {
  Json headers = Json::object();
  for (const Header& h : record.headers) {
    if (!text::is_utf8(h.name)) continue;
    headers[h.name] = h.value ? text_or_null(*h.value) : Json(nullptr);
  }
  Json kafka = {{"topic", record.topic},
                {"partition", record.partition},
                {"offset", record.offset},
                {"key", record.key ? text_or_null(*record.key) : Json(nullptr)},
                {"timestamp", record.timestamp_ms},
                {"headers", std::move(headers)}};
  if (record.key && !text::is_utf8(*record.key)) kafka["keyBase64"] = text::base64(*record.key);
  return kafka;
}

const std::string* header_value(const Record& record, std::string_view name) {
  return record.header(name);
}

// data of a binary-mode CloudEvent: JSON, text, or base64 when the bytes are not text.
tl::expected<void, PoisonReason> set_binary_data(const Record& record, Json& event) {
  const std::string* content_type = header_value(record, "content-type");
  if (content_type != nullptr && text::is_utf8(*content_type)) {
    event["datacontenttype"] = *content_type;
  }
  if (record.value.empty()) {
    event["data"] = nullptr;
    return {};
  }
  if (says_json(content_type)) {
    auto data = parse_json(record.value);
    if (!data) {
      return poison(PoisonCode::kNotJson, "CloudEvent data of " + record.coordinates() +
                                              " is not JSON: " + data.error().message);
    }
    event["data"] = std::move(*data);
  } else if (text::is_utf8(record.value)) {
    event["data"] = record.value;
  } else {
    event["data"] = nullptr;
    event["data_base64"] = text::base64(record.value);
  }
  return {};
}

tl::expected<DecodedEvent, PoisonReason> decode_binary(const Record& record) {
  DecodedEvent out;
  out.format = RecordFormat::kCloudEventBinary;
  out.event = Json::object();
  for (const Header& h : record.headers) {
    if (h.name.size() <= 3 || !text::iequals(h.name.substr(0, 3), "ce_")) continue;
    const std::string attribute = text::lower(h.name.substr(3));
    if (!h.value || !text::is_utf8(*h.value)) {
      return poison(
          PoisonCode::kInvalidEnvelope,
          "CloudEvent header " + h.name + " of " + record.coordinates() + " is null or not UTF-8");
    }
    if (attribute == "data" || attribute == "data_base64" || attribute == "kafka") continue;
    out.event[attribute] = *h.value;
  }
  for (const char* required : {"specversion", "id", "type", "source"}) {
    auto it = out.event.find(required);
    if (it == out.event.end() || it->get_ref<const std::string&>().empty()) {
      return poison(PoisonCode::kInvalidEnvelope, std::string("CloudEvent of ") +
                                                      record.coordinates() + " has no ce_" +
                                                      required + " header");
    }
  }
  if (auto set = set_binary_data(record, out.event); !set) return tl::unexpected(set.error());
  out.id = out.event["id"].get<std::string>();
  return out;
}

tl::expected<DecodedEvent, PoisonReason> decode_structured(const Record& record, Json body) {
  DecodedEvent out;
  out.format = RecordFormat::kCloudEventStructured;
  if (!body.is_object()) {
    return poison(PoisonCode::kInvalidEnvelope,
                  "structured CloudEvent of " + record.coordinates() + " is not a JSON object");
  }
  for (const char* required : {"specversion", "id", "type", "source"}) {
    auto it = body.find(required);
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      return poison(PoisonCode::kInvalidEnvelope, std::string("structured CloudEvent of ") +
                                                      record.coordinates() + " has no string '" +
                                                      required + "'");
    }
  }
  if (!body.contains("data")) body["data"] = nullptr;
  out.id = body["id"].get<std::string>();
  out.event = std::move(body);
  return out;
}

tl::expected<DecodedEvent, PoisonReason> decode_envelope(const Record& record, Json body) {
  DecodedEvent out;
  out.format = RecordFormat::kEnvelope;
  const std::string where = "flowd envelope of " + record.coordinates();
  const Json& workflow = body["workflow"];
  if (!workflow.is_string() || workflow.get_ref<const std::string&>().empty()) {
    return poison(PoisonCode::kInvalidEnvelope, where + ": 'workflow' must be a non-empty string");
  }
  if (auto it = body.find("version"); it != body.end()) {
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1 ||
        it->get<std::int64_t>() > 1'000'000'000) {
      return poison(PoisonCode::kInvalidEnvelope,
                    where + ": 'version' must be a positive integer, got " + it->dump());
    }
  }
  if (!body.contains("input")) {
    return poison(PoisonCode::kInvalidEnvelope, where + ": 'input' is missing");
  }
  if (auto it = body.find("id"); it != body.end()) {
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
      return poison(PoisonCode::kInvalidEnvelope,
                    where + ": 'id' must be a non-empty string, got " + it->dump());
    }
    out.id = it->get<std::string>();
  }
  if (auto it = body.find("context"); it != body.end() && !it->is_object()) {
    return poison(PoisonCode::kInvalidEnvelope,
                  where + ": 'context' must be an object, got " + it->dump());
  }
  out.envelope = body;
  out.event = std::move(body);
  return out;
}

void set_trace(const Record& record, DecodedEvent& out) {
  auto pick = [&](std::string_view name) -> std::string {
    if (const std::string* h = record.header(name); h != nullptr && text::is_utf8(*h)) return *h;
    if (out.format == RecordFormat::kCloudEventBinary ||
        out.format == RecordFormat::kCloudEventStructured) {
      if (auto it = out.event.find(name); it != out.event.end() && it->is_string()) {
        return it->get<std::string>();
      }
    }
    if (out.format == RecordFormat::kEnvelope) {
      if (auto c = out.envelope.find("context"); c != out.envelope.end() && c->is_object()) {
        if (auto it = c->find(name); it != c->end() && it->is_string()) {
          return it->get<std::string>();
        }
      }
    }
    return {};
  };
  out.trace.traceparent = pick("traceparent");
  if (!out.trace.traceparent.empty()) out.trace.tracestate = pick("tracestate");
}

}  // namespace

std::string_view to_string(PoisonCode code) {
  for (const auto& [c, name] : kPoisonNames) {
    if (c == code) return name;
  }
  return "START_FAILED";
}

std::optional<PoisonCode> parse_poison_code(std::string_view text) {
  for (const auto& [c, name] : kPoisonNames) {
    if (name == text) return c;
  }
  return std::nullopt;
}

std::string_view to_string(RecordFormat format) {
  switch (format) {
    case RecordFormat::kEnvelope:
      return "envelope";
    case RecordFormat::kCloudEventBinary:
      return "cloudevents-binary";
    case RecordFormat::kCloudEventStructured:
      return "cloudevents-structured";
    case RecordFormat::kJson:
      return "json";
  }
  return "json";
}

const std::string* Record::header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (text::iequals(it->name, name)) return it->value ? &*it->value : nullptr;
  }
  return nullptr;
}

std::string Record::coordinates() const {
  return topic + "/" + std::to_string(partition) + "/" + std::to_string(offset);
}

tl::expected<DecodedEvent, PoisonReason> decode_event(const Record& record) {
  tl::expected<DecodedEvent, PoisonReason> out;
  if (record.header("ce_specversion") != nullptr) {
    out = decode_binary(record);
  } else {
    const std::string* content_type = record.header("content-type");
    if (content_type != nullptr &&
        text::lower(*content_type).rfind("application/cloudevents-batch+json", 0) == 0) {
      return poison(PoisonCode::kInvalidEnvelope,
                    "CloudEvents batch mode is not supported (" + record.coordinates() + ")");
    }
    auto body = parse_json(record.value);
    if (!body) {
      return poison(PoisonCode::kNotJson,
                    "value of " + record.coordinates() + " is not JSON: " + body.error().message);
    }
    if (is_structured_content_type(content_type) ||
        (body->is_object() && body->contains("specversion") && !body->contains("workflow"))) {
      out = decode_structured(record, std::move(*body));
    } else if (body->is_object() && body->contains("workflow")) {
      out = decode_envelope(record, std::move(*body));
    } else {
      out = DecodedEvent{};
      out->format = RecordFormat::kJson;
      out->event = {{"data", std::move(*body)}};
    }
  }
  if (!out) return out;
  if (out->format != RecordFormat::kEnvelope) out->event["kafka"] = kafka_metadata(record);
  set_trace(record, *out);
  return out;
}

// ---- routing ---------------------------------------------------------------------------------

struct TriggerRouter::Binding {
  std::shared_ptr<const Definition> definition;
  std::optional<Condition> filter;
  JsonTemplate input;
};

struct TriggerRouter::Data {
  std::map<std::string, std::map<int, std::shared_ptr<const Definition>>, std::less<>> definitions;
  std::map<std::string, std::vector<Binding>, std::less<>> by_topic;
  std::map<std::string, std::size_t, std::less<>> workflows_per_topic;
};

TriggerRouter::TriggerRouter(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

Result<std::shared_ptr<const TriggerRouter>> TriggerRouter::build(
    const std::vector<std::shared_ptr<const Definition>>& definitions) {
  auto data = std::make_shared<Data>();
  for (const auto& d : definitions) {
    if (d) data->definitions[d->name][d->version] = d;
  }
  static const Result<JsonTemplate> kDefaultInput = JsonTemplate::compile(Json("{{ event.data }}"));
  std::map<std::string, std::set<std::string>, std::less<>> workflows;
  for (const auto& [name, versions] : data->definitions) {
    const auto& definition = versions.rbegin()->second;
    for (std::size_t i = 0; i < definition->triggers.size(); ++i) {
      const TriggerDef& trigger = definition->triggers[i];
      if (trigger.kind != TriggerDef::Kind::kKafka) continue;
      const std::string where =
          definition->ref() + " /spec/triggers/" + std::to_string(i) + "/kafka";
      const Json& spec = trigger.spec;
      if (!spec.is_object() || !spec.contains("topic") || !spec["topic"].is_string()) {
        return fail(ErrorCode::kInvalidDefinition, where + ": 'topic' must be a string");
      }
      Binding binding;
      binding.definition = definition;
      if (auto f = spec.find("filter"); f != spec.end()) {
        if (!f->is_string()) {
          return fail(ErrorCode::kInvalidDefinition, where + "/filter: must be a string");
        }
        auto condition = Condition::parse(f->get<std::string>());
        if (!condition) {
          return fail(ErrorCode::kInvalidDefinition,
                      where + "/filter: " + condition.error().message);
        }
        binding.filter = std::move(*condition);
      }
      if (auto in = spec.find("input"); in != spec.end()) {
        auto compiled = JsonTemplate::compile(*in);
        if (!compiled) {
          return fail(ErrorCode::kInvalidDefinition, where + "/input: " + compiled.error().message);
        }
        binding.input = std::move(*compiled);
      } else {
        binding.input = *kDefaultInput;
      }
      const std::string topic = spec["topic"].get<std::string>();
      data->by_topic[topic].push_back(std::move(binding));
      workflows[topic].insert(name);
    }
  }
  for (const auto& [topic, names] : workflows) data->workflows_per_topic[topic] = names.size();
  return std::make_shared<const TriggerRouter>(std::move(data));
}

std::vector<std::string> TriggerRouter::topics() const {
  std::vector<std::string> out;
  for (const auto& [topic, bindings] : data_->by_topic) out.push_back(topic);
  return out;
}

std::shared_ptr<const Definition> TriggerRouter::find(std::string_view workflow,
                                                      std::optional<int> version) const {
  auto it = data_->definitions.find(workflow);
  if (it == data_->definitions.end() || it->second.empty()) return nullptr;
  if (!version) return it->second.rbegin()->second;
  auto v = it->second.find(*version);
  return v == it->second.end() ? nullptr : v->second;
}

namespace {

Json trigger_context(const Record& record, const DecodedEvent& event) {
  Json trigger = {{"kind", "kafka"},
                  {"topic", record.topic},
                  {"partition", record.partition},
                  {"offset", record.offset},
                  {"key", record.key ? text_or_null(*record.key) : Json(nullptr)},
                  {"format", std::string(to_string(event.format))}};
  if (!event.id.empty()) trigger["eventId"] = event.id;
  if (event.format == RecordFormat::kCloudEventBinary ||
      event.format == RecordFormat::kCloudEventStructured) {
    for (const char* name : {"type", "source", "subject", "time"}) {
      if (auto it = event.event.find(name); it != event.event.end() && it->is_string()) {
        std::string key = std::string("event") + name;
        key[5] = static_cast<char>(key[5] - 'a' + 'A');
        trigger[key] = *it;
      }
    }
  }
  return trigger;
}

}  // namespace

Decoded TriggerRouter::route(const Record& record) const {
  Decoded out;
  auto event = decode_event(record);
  if (!event) {
    out.poison.push_back(std::move(event.error()));
    return out;
  }
  out.format = event->format;
  const std::string base_key = event->id.empty() ? record.coordinates() : event->id;
  Json trigger = trigger_context(record, *event);

  if (event->format == RecordFormat::kEnvelope) {
    const Json& envelope = event->envelope;
    TriggerRequest request;
    request.workflow = envelope["workflow"].get<std::string>();
    if (auto v = envelope.find("version"); v != envelope.end()) request.version = v->get<int>();
    request.definition = find(request.workflow, request.version);
    if (!request.definition) {
      const std::string what = request.version
                                   ? request.workflow + "@" + std::to_string(*request.version)
                                   : request.workflow;
      out.poison.push_back(
          PoisonReason{PoisonCode::kUnknownWorkflow,
                       "envelope of " + record.coordinates() + " names unknown workflow " + what,
                       request.workflow});
      out.event = std::move(event->event);
      return out;
    }
    request.input = envelope["input"];
    if (auto c = envelope.find("context"); c != envelope.end()) request.context = *c;
    if (!request.context.contains("trigger")) request.context["trigger"] = std::move(trigger);
    request.dedupe_key = base_key;
    request.trace = event->trace;
    out.starts.push_back(std::move(request));
    out.event = std::move(event->event);
    return out;
  }

  auto bindings = data_->by_topic.find(record.topic);
  if (bindings == data_->by_topic.end()) {
    out.poison.push_back(PoisonReason{
        PoisonCode::kNoBinding,
        "no workflow is bound to topic " + record.topic + " and " + record.coordinates() +
            " is not a flowd envelope (a JSON object with 'workflow' and 'input')",
        {}});
    out.event = std::move(event->event);
    return out;
  }
  const bool several = data_->workflows_per_topic.at(record.topic) > 1;
  Scope scope;
  scope.bind("event", &event->event);
  std::set<std::string, std::less<>> decided;  // one start (or poison) per workflow
  for (const Binding& binding : bindings->second) {
    const std::string& name = binding.definition->name;
    if (decided.count(name) != 0) continue;
    const std::string ref = binding.definition->ref();
    if (binding.filter) {
      auto pass = binding.filter->evaluate(scope);
      if (!pass) {
        decided.insert(name);
        out.poison.push_back(PoisonReason{
            PoisonCode::kFilterError,
            "filter of " + ref + " on " + record.coordinates() + ": " + pass.error().message,
            name});
        continue;
      }
      if (!*pass) continue;
    }
    decided.insert(name);
    auto input = binding.input.render(scope);
    if (!input) {
      out.poison.push_back(PoisonReason{
          PoisonCode::kInputMapping,
          "input of " + ref + " on " + record.coordinates() + ": " + input.error().message, name});
      continue;
    }
    TriggerRequest request;
    request.workflow = name;
    request.version = binding.definition->version;
    request.definition = binding.definition;
    request.input = std::move(*input);
    request.context = {{"trigger", trigger}};
    request.dedupe_key = several ? base_key + ":" + name : base_key;
    request.trace = event->trace;
    out.starts.push_back(std::move(request));
  }
  out.event = std::move(event->event);
  return out;
}

}  // namespace flowd::triggers
