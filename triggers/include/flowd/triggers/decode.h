#pragma once
// Trigger decoding: a Kafka record becomes the executions it should start (TriggerRequest) or the
// reasons it cannot start any (PoisonReason). Pure functions over immutable data: no I/O, safe to
// call from any thread.
//
// Formats, tried in this order:
//  1. CloudEvents binary mode: `ce_specversion`, `ce_id`, `ce_type`, `ce_source` headers; the value
//     is the data (JSON when the content type is absent or says json, else text or base64).
//  2. CloudEvents structured mode: `content-type: application/cloudevents+json`, or a JSON object
//     body with `specversion`: {specversion, id, type, source, data | data_base64, ...}.
//  3. The flowd envelope: a JSON object with a string `workflow`:
//     {"workflow", "version"?, "input", "id"?, "context"?}. It starts the workflow it names on any
//     subscribed topic; bindings do not apply to it.
//  4. Any other JSON value: an event whose data is the whole value (bindings only).
//
// Routing: each workflow's `spec.triggers[].kafka {topic, filter?, input?}` binds it to a topic.
// A CloudEvent or plain JSON record on a bound topic starts every bound workflow whose filter (a
// Condition over `event`) is true, with input = the `input` template over `event` (default
// `{{ event.data }}`). A record whose filters are all false starts nothing and is not poison.
//
// `event` is {specversion?, id?, type?, source?, subject?, time?, datacontenttype?, data,
// <extensions>..., kafka: {topic, partition, offset, key, timestamp, headers: {name: value}}}.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "flowd/engine/definition.h"
#include "flowd/engine/error.h"
#include "flowd/engine/json.h"
#include "flowd/triggers/record.h"

namespace flowd::triggers {

// Why a record (or one workflow's share of it) cannot start. Stable spellings: to_string().
enum class PoisonCode {
  kNotJson,          // NOT_JSON: the value (or CloudEvent data said to be JSON) does not parse
  kInvalidEnvelope,  // INVALID_ENVELOPE: a field of the envelope / CloudEvent has the wrong shape
  kUnknownWorkflow,  // UNKNOWN_WORKFLOW: the envelope names a workflow (or version) not known
  kNoBinding,        // NO_BINDING: not an envelope, and no workflow is bound to the topic
  kFilterError,      // FILTER_ERROR: a binding's filter could not be evaluated
  kInputMapping,     // INPUT_MAPPING: a binding's input template could not be rendered
  kInvalidInput,     // INVALID_INPUT: the input fails the workflow's schema (found at start)
  kStartFailed,      // START_FAILED: the start path refused the request for another reason
};
std::string_view to_string(PoisonCode code);
std::optional<PoisonCode> parse_poison_code(std::string_view text);

struct PoisonReason {
  PoisonCode code = PoisonCode::kNotJson;
  std::string message;   // says what and where ("filter of order-processing@1: ...")
  std::string workflow;  // the workflow concerned, when the reason is about one binding
};

// W3C trace context carried by the record (`traceparent` / `tracestate` headers, CloudEvents
// distributed-tracing attributes, or the envelope's context), empty when absent.
struct TraceContext {
  std::string traceparent;
  std::string tracestate;
  bool empty() const { return traceparent.empty(); }
};

enum class RecordFormat { kEnvelope, kCloudEventBinary, kCloudEventStructured, kJson };
std::string_view to_string(RecordFormat format);

// One execution a record asks for.
struct TriggerRequest {
  std::string workflow;
  std::optional<int> version;  // as asked for; `definition` is the one it resolved to
  std::shared_ptr<const Definition> definition;
  Json input;
  // The envelope's `context` (an object, default {}) plus `trigger`: {kind: "kafka", topic,
  // partition, offset, key, format, eventId?, eventType?, eventSource?} unless it has one.
  Json context = Json::object();
  // The event id, else "topic/partition/offset"; with ":<workflow>" appended when the record
  // starts several workflows. Unique per start: the store refuses a second ExecutionStarted.
  std::string dedupe_key;
  TraceContext trace;
};

// What the router made of one record. Both lists empty: the filters said no (not poison).
struct Decoded {
  RecordFormat format = RecordFormat::kJson;
  Json event;                          // the decoded event (null when the record did not parse)
  std::vector<TriggerRequest> starts;  // executions to start, by workflow name
  std::vector<PoisonReason> poison;    // the record (or a binding's share of it) is poison

  bool filtered_out() const { return starts.empty() && poison.empty(); }
  bool is_poison() const { return starts.empty() && !poison.empty(); }
};

// The first step of decoding: the record's format and event, independent of any workflow.
struct DecodedEvent {
  RecordFormat format = RecordFormat::kJson;
  Json event;      // see the file comment; for an envelope: the envelope object
  Json envelope;   // the envelope object (kEnvelope only)
  std::string id;  // event / envelope id, empty when absent
  TraceContext trace;
};
tl::expected<DecodedEvent, PoisonReason> decode_event(const Record& record);

// TriggerRouter maps records to requests using the trigger bindings of a set of definitions.
// Immutable once built and shared (std::shared_ptr<const TriggerRouter>): a changed set of
// workflows is a new router handed to the consumer (TriggerConsumer::set_router).
class TriggerRouter {
 public:
  // Bindings come from the highest version of each workflow in `definitions`; envelopes may name
  // any version given (no version: the highest). Fails with INVALID_DEFINITION when a binding's
  // filter or input does not compile (definitions loaded by load_definition always do).
  static Result<std::shared_ptr<const TriggerRouter>> build(
      const std::vector<std::shared_ptr<const Definition>>& definitions);

  Decoded route(const Record& record) const;

  // Topics some workflow is bound to, sorted.
  std::vector<std::string> topics() const;
  std::shared_ptr<const Definition> find(std::string_view workflow,
                                         std::optional<int> version) const;

  struct Binding;  // one compiled `kafka` trigger (private; decode.cc)
  struct Data;
  explicit TriggerRouter(std::shared_ptr<const Data> data);

 private:
  std::shared_ptr<const Data> data_;
};

}  // namespace flowd::triggers
