// Trigger decoding and routing (decode.h): the flowd envelope, CloudEvents binary and structured
// mode, plain JSON on bound topics, filters, input mappings, dedupe keys, trace context, and every
// kind of poison. Pure: no broker.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "flowd/triggers/decode.h"
#include "flowd/triggers/producer.h"
#include "workflows.h"

namespace flowd::testing {
namespace {

using triggers::Header;
using triggers::Headers;
using triggers::PoisonCode;
using triggers::Record;
using triggers::RecordFormat;

Record rec(std::string topic, std::string value, Headers headers = {},
           std::optional<std::string> key = std::nullopt) {
  Record r;
  r.topic = std::move(topic);
  r.partition = 0;
  r.offset = 7;
  r.key = std::move(key);
  r.value = std::move(value);
  r.headers = std::move(headers);
  r.timestamp_ms = 1700000000000;
  return r;
}

Headers ce_headers(std::string id, std::string type, std::string content_type = "") {
  Headers h = {{"ce_specversion", "1.0"},
               {"ce_id", std::move(id)},
               {"ce_type", std::move(type)},
               {"ce_source", "/shop"}};
  if (!content_type.empty()) h.push_back({"content-type", std::move(content_type)});
  return h;
}

struct ExpectedStart {
  std::string workflow;
  int version;
  std::string dedupe_key;
  Json input;
};

struct Case {
  const char* name;
  Record record;
  RecordFormat format;
  std::vector<ExpectedStart> starts;
  std::vector<std::pair<PoisonCode, std::string>> poison;  // code, workflow
};

TEST_CASE("Records decode to the starts and poison their format and bindings say",
          "[triggers][decode]") {
  auto router = standard_router();
  const std::string structured_ct = "application/cloudevents+json; charset=utf-8";
  const std::vector<Case> cases = {
      // ---- the flowd envelope
      {"envelope, latest version, coordinates as dedupe key",
       rec("flowd.triggers", R"({"workflow":"invoice","input":{"n":1}})"),
       RecordFormat::kEnvelope,
       {{"invoice", 1, "flowd.triggers/0/7", {{"n", 1}}}},
       {}},
      {"envelope with id and version",
       rec("flowd.triggers",
           R"({"workflow":"order-processing","version":1,"input":{},"id":"ev-1"})"),
       RecordFormat::kEnvelope,
       {{"order-processing", 1, "ev-1", Json::object()}},
       {}},
      {"envelope without version takes the highest",
       rec("flowd.triggers", R"({"workflow":"order-processing","input":[1,2]})"),
       RecordFormat::kEnvelope,
       {{"order-processing", 2, "flowd.triggers/0/7", {1, 2}}},
       {}},
      {"envelope on a bound topic starts only the workflow it names",
       rec("orders.created", R"({"workflow":"invoice","input":null,"id":"x"})"),
       RecordFormat::kEnvelope,
       {{"invoice", 1, "x", nullptr}},
       {}},
      {"envelope naming an unknown workflow",
       rec("flowd.triggers", R"({"workflow":"nope","input":{}})"),
       RecordFormat::kEnvelope,
       {},
       {{PoisonCode::kUnknownWorkflow, "nope"}}},
      {"envelope naming an unknown version",
       rec("flowd.triggers", R"({"workflow":"order-processing","version":7,"input":{}})"),
       RecordFormat::kEnvelope,
       {},
       {{PoisonCode::kUnknownWorkflow, "order-processing"}}},
      {"envelope without input",
       rec("flowd.triggers", R"({"workflow":"invoice"})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"envelope with a string version",
       rec("flowd.triggers", R"({"workflow":"invoice","version":"1","input":{}})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"envelope with version 0",
       rec("flowd.triggers", R"({"workflow":"invoice","version":0,"input":{}})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"envelope with an empty workflow",
       rec("flowd.triggers", R"({"workflow":"","input":{}})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"envelope with a non-object context",
       rec("flowd.triggers", R"({"workflow":"invoice","input":{},"context":[1]})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"envelope with a numeric id",
       rec("flowd.triggers", R"({"workflow":"invoice","input":{},"id":5})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      // ---- not JSON
      {"truncated JSON",
       rec("flowd.triggers", R"({"workflow":)"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNotJson, ""}}},
      {"empty value",
       rec("flowd.triggers", ""),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNotJson, ""}}},
      {"binary bytes",
       rec("orders.created", std::string("\xff\xfe\x00\x01", 4)),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNotJson, ""}}},
      // ---- CloudEvents, binary mode
      {"binary CloudEvent bound to two workflows starts both, workflow in the dedupe key",
       rec("orders.created", R"({"orderId":"o-1"})", ce_headers("ce-1", "order.created")),
       RecordFormat::kCloudEventBinary,
       {{"audit", 1, "ce-1:audit", {{"kind", "order.created"}, {"id", "ce-1"}}},
        {"order-processing", 2, "ce-1:order-processing", {{"orderId", "o-1"}}}},
       {}},
      {"binary CloudEvent whose type only one filter accepts",
       rec("orders.created", R"({"orderId":"o-1"})", ce_headers("ce-2", "order.cancelled")),
       RecordFormat::kCloudEventBinary,
       {{"audit", 1, "ce-2:audit", {{"kind", "order.cancelled"}, {"id", "ce-2"}}}},
       {}},
      {"binary CloudEvent without ce_id",
       rec("orders.created", "{}",
           Headers{{"ce_specversion", "1.0"}, {"ce_type", "t"}, {"ce_source", "s"}}),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"binary CloudEvent whose JSON data does not parse",
       rec("orders.created", "{oops", ce_headers("ce-3", "order.created", "application/json")),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNotJson, ""}}},
      {"binary CloudEvent with text data",
       rec("orders.created", "hello", ce_headers("ce-4", "note", "text/plain")),
       RecordFormat::kCloudEventBinary,
       {{"audit", 1, "ce-4:audit", {{"kind", "note"}, {"id", "ce-4"}}}},
       {}},
      // ---- CloudEvents, structured mode
      {"structured CloudEvent, one workflow on the topic: plain event id as dedupe key",
       rec("shipments",
           R"({"specversion":"1.0","id":"s-1","type":"shipment","source":"/wh",
               "data":{"weight":12,"to":"Berlin"}})",
           Headers{{"content-type", structured_ct}}),
       RecordFormat::kCloudEventStructured,
       {{"shipping", 1, "s-1", "Berlin"}},
       {}},
      {"structured CloudEvent recognised without its content type",
       rec("shipments",
           R"({"specversion":"1.0","id":"s-2","type":"shipment","source":"/wh",
               "data":{"weight":11,"to":"Oslo"}})"),
       RecordFormat::kCloudEventStructured,
       {{"shipping", 1, "s-2", "Oslo"}},
       {}},
      {"structured CloudEvent the filter rejects starts nothing and is not poison",
       rec("shipments",
           R"({"specversion":"1.0","id":"s-3","type":"shipment","source":"/wh",
               "data":{"weight":5,"to":"Rome"}})",
           Headers{{"content-type", structured_ct}}),
       RecordFormat::kCloudEventStructured,
       {},
       {}},
      {"structured CloudEvent whose filter cannot be evaluated",
       rec("shipments",
           R"({"specversion":"1.0","id":"s-4","type":"shipment","source":"/wh",
               "data":{"to":"Rome"}})",
           Headers{{"content-type", structured_ct}}),
       RecordFormat::kCloudEventStructured,
       {},
       {{PoisonCode::kFilterError, "shipping"}}},
      {"structured CloudEvent whose input mapping names missing data",
       rec("shipments",
           R"({"specversion":"1.0","id":"s-5","type":"shipment","source":"/wh",
               "data":{"weight":50}})",
           Headers{{"content-type", structured_ct}}),
       RecordFormat::kCloudEventStructured,
       {},
       {{PoisonCode::kInputMapping, "shipping"}}},
      {"structured CloudEvent without an id",
       rec("shipments", R"({"specversion":"1.0","type":"t","source":"s","data":{}})",
           Headers{{"content-type", structured_ct}}),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      {"CloudEvents batch mode",
       rec("shipments", "[]", Headers{{"content-type", "application/cloudevents-batch+json"}}),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kInvalidEnvelope, ""}}},
      // ---- plain JSON
      {"plain JSON on a bound topic is the event's data",
       rec("shipments", R"({"weight":20,"to":"Paris"})"),
       RecordFormat::kJson,
       {{"shipping", 1, "shipments/0/7", "Paris"}},
       {}},
      {"plain JSON on a topic nobody is bound to",
       rec("flowd.triggers", R"({"foo":1})"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNoBinding, ""}}},
      {"a JSON string on a topic nobody is bound to",
       rec("other", R"("text")"),
       RecordFormat::kJson,
       {},
       {{PoisonCode::kNoBinding, ""}}},
  };

  for (const Case& c : cases) {
    SECTION(c.name) {
      const triggers::Decoded d = router->route(c.record);
      std::string poison;
      for (const auto& p : d.poison) poison += std::string(to_string(p.code)) + ": " + p.message;
      INFO(poison);
      CHECK(d.format == c.format);
      REQUIRE(d.starts.size() == c.starts.size());
      for (std::size_t i = 0; i < c.starts.size(); ++i) {
        const auto& got = d.starts[i];
        const auto& want = c.starts[i];
        CHECK(got.workflow == want.workflow);
        REQUIRE(got.definition);
        CHECK(got.definition->version == want.version);
        CHECK(got.dedupe_key == want.dedupe_key);
        CHECK(got.input == want.input);
        CHECK(got.context["trigger"]["topic"] == c.record.topic);
        CHECK(got.context["trigger"]["offset"] == 7);
      }
      REQUIRE(d.poison.size() == c.poison.size());
      for (std::size_t i = 0; i < c.poison.size(); ++i) {
        CHECK(d.poison[i].code == c.poison[i].first);
        CHECK(d.poison[i].workflow == c.poison[i].second);
        CHECK(d.poison[i].message.find(c.record.coordinates()) != std::string::npos);
      }
      CHECK(d.filtered_out() == (c.starts.empty() && c.poison.empty()));
    }
  }
}

TEST_CASE("Poison codes have stable spellings", "[triggers][decode]") {
  for (auto code :
       {PoisonCode::kNotJson, PoisonCode::kInvalidEnvelope, PoisonCode::kUnknownWorkflow,
        PoisonCode::kNoBinding, PoisonCode::kFilterError, PoisonCode::kInputMapping,
        PoisonCode::kInvalidInput, PoisonCode::kStartFailed}) {
    CHECK(triggers::parse_poison_code(to_string(code)) == code);
  }
  CHECK(to_string(PoisonCode::kNotJson) == "NOT_JSON");
  CHECK(to_string(PoisonCode::kInvalidInput) == "INVALID_INPUT");
  CHECK_FALSE(triggers::parse_poison_code("not_json"));
}

TEST_CASE("The envelope's context is kept and gains the trigger's coordinates",
          "[triggers][decode]") {
  auto router = standard_router();
  auto d = router->route(rec("flowd.triggers",
                             R"({"workflow":"invoice","input":{},"id":"e-9",
                                 "context":{"tenant":"acme","traceparent":"00-abc-def-01"}})",
                             {}, "k1"));
  REQUIRE(d.starts.size() == 1);
  const Json& ctx = d.starts[0].context;
  CHECK(ctx["tenant"] == "acme");
  CHECK(ctx["trigger"]["kind"] == "kafka");
  CHECK(ctx["trigger"]["key"] == "k1");
  CHECK(ctx["trigger"]["eventId"] == "e-9");
  CHECK(ctx["trigger"]["format"] == "envelope");
  CHECK(d.starts[0].trace.traceparent == "00-abc-def-01");
}

TEST_CASE("Trace context comes from headers, then CloudEvent attributes", "[triggers][decode]") {
  auto router = standard_router();
  SECTION("traceparent header") {
    auto d = router->route(rec("flowd.triggers", R"({"workflow":"invoice","input":{}})",
                               {{"traceparent", "00-t1-s1-01"}, {"tracestate", "a=b"}}));
    REQUIRE(d.starts.size() == 1);
    CHECK(d.starts[0].trace.traceparent == "00-t1-s1-01");
    CHECK(d.starts[0].trace.tracestate == "a=b");
  }
  SECTION("binary CloudEvent ce_traceparent") {
    Headers h = ce_headers("c1", "order.created");
    h.push_back({"ce_traceparent", "00-t2-s2-01"});
    auto d = router->route(rec("orders.created", "{}", h));
    REQUIRE(d.starts.size() == 2);
    CHECK(d.starts[0].trace.traceparent == "00-t2-s2-01");
    CHECK(d.starts[1].trace.traceparent == "00-t2-s2-01");
  }
  SECTION("structured CloudEvent attribute") {
    auto d = router->route(rec("shipments", R"({"specversion":"1.0","id":"x","type":"t",
        "source":"s","traceparent":"00-t3-s3-01","data":{"weight":99,"to":"Lima"}})"));
    REQUIRE(d.starts.size() == 1);
    CHECK(d.starts[0].trace.traceparent == "00-t3-s3-01");
  }
  SECTION("none") {
    auto d = router->route(rec("flowd.triggers", R"({"workflow":"invoice","input":{}})"));
    REQUIRE(d.starts.size() == 1);
    CHECK(d.starts[0].trace.empty());
  }
}

TEST_CASE("The decoded event shows attributes, data and Kafka metadata", "[triggers][decode]") {
  SECTION("binary mode: attributes from ce_ headers, extensions kept") {
    Headers h = ce_headers("id-1", "order.created", "application/json");
    h.push_back({"ce_subject", "orders/1"});
    h.push_back({"ce_tenant", "acme"});
    auto e = triggers::decode_event(rec("orders.created", R"({"a":1})", h, "key-1"));
    REQUIRE(e);
    CHECK(e->format == RecordFormat::kCloudEventBinary);
    CHECK(e->id == "id-1");
    CHECK(e->event["specversion"] == "1.0");
    CHECK(e->event["type"] == "order.created");
    CHECK(e->event["source"] == "/shop");
    CHECK(e->event["subject"] == "orders/1");
    CHECK(e->event["tenant"] == "acme");
    CHECK(e->event["datacontenttype"] == "application/json");
    CHECK(e->event["data"] == Json{{"a", 1}});
    CHECK(e->event["kafka"]["topic"] == "orders.created");
    CHECK(e->event["kafka"]["partition"] == 0);
    CHECK(e->event["kafka"]["offset"] == 7);
    CHECK(e->event["kafka"]["key"] == "key-1");
    CHECK(e->event["kafka"]["timestamp"] == 1700000000000);
    CHECK(e->event["kafka"]["headers"]["ce_tenant"] == "acme");
  }
  SECTION("binary mode: text and non-text data") {
    auto text = triggers::decode_event(rec("t", "plain words", ce_headers("1", "x", "text/plain")));
    REQUIRE(text);
    CHECK(text->event["data"] == "plain words");
    auto bytes = triggers::decode_event(
        rec("t", std::string("\x00\xff\x10", 3), ce_headers("2", "x", "application/octet-stream")));
    REQUIRE(bytes);
    CHECK(bytes->event["data"].is_null());
    CHECK(bytes->event["data_base64"] == "AP8Q");
    auto empty = triggers::decode_event(rec("t", "", ce_headers("3", "x")));
    REQUIRE(empty);
    CHECK(empty->event["data"].is_null());
  }
  SECTION("a key and header that are not UTF-8 stay serialisable") {
    auto e = triggers::decode_event(
        rec("t", R"({"x":1})", {{"h", std::string("\xc3\x28", 2)}}, std::string("\xff", 1)));
    REQUIRE(e);
    CHECK(e->event["kafka"]["key"].is_null());
    CHECK(e->event["kafka"]["keyBase64"] == "/w==");
    CHECK(e->event["kafka"]["headers"]["h"].is_null());
    CHECK_NOTHROW(e->event.dump());
  }
  SECTION("a CloudEvent header that is not UTF-8 is poison") {
    Headers h = ce_headers("4", "x");
    h.push_back({"ce_bad", std::string("\xff", 1)});
    auto e = triggers::decode_event(rec("t", "{}", h));
    REQUIRE_FALSE(e);
    CHECK(e.error().code == PoisonCode::kInvalidEnvelope);
  }
}

TEST_CASE("A router lists its topics, resolves versions and refuses bad bindings",
          "[triggers][decode]") {
  auto router = standard_router();
  CHECK(router->topics() == std::vector<std::string>{"orders.created", "shipments"});
  REQUIRE(router->find("order-processing", std::nullopt));
  CHECK(router->find("order-processing", std::nullopt)->version == 2);
  CHECK(router->find("order-processing", 1)->version == 1);
  CHECK_FALSE(router->find("order-processing", 3));
  CHECK_FALSE(router->find("missing", std::nullopt));

  SECTION("bindings come from the highest version only") {
    // order-processing@1 filters on 'order.v1'; only @2's binding counts.
    auto d = router->route(rec("orders.created", "{}", ce_headers("v", "order.v1")));
    REQUIRE(d.starts.size() == 1);
    CHECK(d.starts[0].workflow == "audit");
  }
  SECTION("a binding whose filter does not compile") {
    auto def = std::make_shared<Definition>(*workflow("broken", 1));
    TriggerDef t;
    t.kind = TriggerDef::Kind::kKafka;
    t.spec = {{"topic", "x"}, {"filter", "{{ event.type == "}};
    def->triggers.push_back(t);
    auto r = triggers::TriggerRouter::build({def});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::kInvalidDefinition);
    CHECK(r.error().message.find("broken@1") != std::string::npos);
  }
  SECTION("no definitions: every record is poison or an unknown workflow") {
    auto empty = triggers::TriggerRouter::build({});
    REQUIRE(empty);
    CHECK((*empty)->topics().empty());
    auto d = (*empty)->route(rec("flowd.triggers", R"({"workflow":"invoice","input":{}})"));
    REQUIRE(d.is_poison());
    CHECK(d.poison[0].code == PoisonCode::kUnknownWorkflow);
  }
}

TEST_CASE("Dead letters keep the original record and add the reason headers",
          "[triggers][decode][dlq]") {
  Record original = rec("orders.created", "not json", {{"x-app", "shop"}}, "k-1");
  original.partition = 2;
  original.offset = 41;
  triggers::PoisonReason reason{PoisonCode::kNotJson, "value is not JSON", ""};
  const triggers::OutgoingRecord out = triggers::make_dead_letter(original, reason);
  CHECK(out.topic == "flowd.dlq");
  CHECK(out.key == std::optional<std::string>("k-1"));
  CHECK(out.value == "not json");
  auto header = [&](const std::string& name) -> std::string {
    for (const auto& h : out.headers) {
      if (h.name == name) return h.value.value_or("<null>");
    }
    return "<missing>";
  };
  CHECK(header("x-app") == "shop");
  CHECK(header("flowd-dlq-original-topic") == "orders.created");
  CHECK(header("flowd-dlq-original-partition") == "2");
  CHECK(header("flowd-dlq-original-offset") == "41");
  CHECK(header("flowd-dlq-original-timestamp") == "1700000000000");
  CHECK(header("flowd-dlq-reason-code") == "NOT_JSON");
  CHECK(header("flowd-dlq-reason-message") == "value is not JSON");
  CHECK(header("flowd-dlq-workflow") == "<missing>");

  const auto failed = triggers::make_dead_letter(original, "INVALID_INPUT", "/orderId: required",
                                                 "order-processing", "custom.dlq");
  CHECK(failed.topic == "custom.dlq");
  CHECK(std::count_if(failed.headers.begin(), failed.headers.end(), [](const Header& h) {
          return h.name == "flowd-dlq-workflow" && h.value == "order-processing";
        }) == 1);
}

TEST_CASE("A trigger envelope made for flowctl routes back to its workflow", "[triggers][decode]") {
  triggers::TriggerEnvelope envelope;
  envelope.workflow = "order-processing";
  envelope.version = 1;
  envelope.input = {{"orderId", "o-7"}};
  envelope.id = "cli-1";
  envelope.context = {{"actor", "flowctl"}};
  const triggers::OutgoingRecord out = triggers::make_trigger_record(envelope);
  CHECK(out.topic == "flowd.triggers");
  CHECK(out.key == std::optional<std::string>("cli-1"));
  CHECK(Json::parse(out.value) == Json::parse(R"({"workflow":"order-processing","version":1,
      "input":{"orderId":"o-7"},"id":"cli-1","context":{"actor":"flowctl"}})"));

  auto d = standard_router()->route(rec(out.topic, out.value, out.headers, out.key));
  REQUIRE(d.starts.size() == 1);
  CHECK(d.starts[0].workflow == "order-processing");
  CHECK(d.starts[0].definition->version == 1);
  CHECK(d.starts[0].dedupe_key == "cli-1");
  CHECK(d.starts[0].input == envelope.input);
  CHECK(d.starts[0].context["actor"] == "flowctl");

  triggers::TriggerEnvelope bare;
  bare.workflow = "invoice";
  CHECK(triggers::to_json(bare) == Json::parse(R"({"workflow":"invoice","input":{}})"));
  CHECK_FALSE(triggers::make_trigger_record(bare).key);
}

TEST_CASE("Outbox events are keyed by execution id", "[triggers][decode][outbox]") {
  triggers::OutboxMessage m{
      12, "exec-1", "StepCompleted", R"({"type":"StepCompleted"})", {{"traceparent", "00-a-b-01"}}};
  const auto out = triggers::make_event_record(m);
  CHECK(out.topic == "flowd.events");
  CHECK(out.key == std::optional<std::string>("exec-1"));
  CHECK(out.value == m.value);
  std::map<std::string, std::string> headers;
  for (const auto& h : out.headers) headers[h.name] = h.value.value_or("");
  CHECK(headers["flowd-event-type"] == "StepCompleted");
  CHECK(headers["flowd-outbox-id"] == "12");
  CHECK(headers["traceparent"] == "00-a-b-01");
}

}  // namespace
}  // namespace flowd::testing
