#include "trigger_command.h"

#include <iostream>

#include "flowd/triggers/embedded_broker.h"
#include "flowd/triggers/producer.h"
#include "output.h"
#include "text.h"

namespace flowctl {
namespace {

struct TriggerOptions {
  std::string workflow;
  int version = 0;
  std::string input;
  std::string input_file;
  std::string context;
  std::string id;
  std::string topic = std::string(flowd::triggers::kTriggerTopic);
  std::string brokers;
  int timeout_seconds = 10;
  std::string output = "table";
};

// --brokers, else FLOWD_KAFKA_BROKERS, else the embedded broker's address file
// (FLOWD_KAFKA_BOOTSTRAP_FILE, default .flowd/broker).
tl::expected<std::string, ApiError> find_brokers(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (auto from_env = env("FLOWD_KAFKA_BROKERS"); !from_env.empty()) return from_env;
  std::string file = env("FLOWD_KAFKA_BOOTSTRAP_FILE");
  if (file.empty()) file = ".flowd/broker";
  auto address = flowd::triggers::read_address_file(file);
  if (!address)
    return tl::unexpected(ApiError::invalid_input(
        "no Kafka brokers: " + address.error().message,
        "pass --brokers HOST:PORT, set FLOWD_KAFKA_BROKERS, or run flowd with the embedded "
        "broker (it writes " +
            file + ")"));
  return *address;
}

int run_trigger(const TriggerOptions& o) {
  bool json = o.output == "json";
  auto ref = parse_ref(o.workflow);
  if (!ref) return report(tl::unexpected(ref.error()), json, {});
  flowd::triggers::TriggerEnvelope envelope;
  envelope.workflow = ref->first;
  envelope.version = ref->second;
  if (o.version > 0) envelope.version = o.version;
  auto input = read_json_arg(o.input, o.input_file, "--input");
  if (!input) return report(tl::unexpected(input.error()), json, {});
  if (!input->is_null()) envelope.input = *input;
  if (!o.context.empty()) {
    auto context = read_json_arg(o.context, "", "--context");
    if (!context) return report(tl::unexpected(context.error()), json, {});
    if (!context->is_object())
      return report(tl::unexpected(ApiError::invalid_input("--context must be a JSON object")),
                    json, {});
    envelope.context = *context;
  }
  envelope.id = o.id;
  auto brokers = find_brokers(o.brokers);
  if (!brokers) return report(tl::unexpected(brokers.error()), json, {});
  flowd::triggers::ProducerConfig config;
  config.kafka.brokers = *brokers;
  config.client_id = "flowctl";
  config.delivery_timeout = std::chrono::seconds(o.timeout_seconds);
  auto delivered = flowd::triggers::publish_trigger(config, envelope, o.topic,
                                                    std::chrono::seconds(o.timeout_seconds));
  if (!delivered) {
    ApiError error = ApiError::make(
        flowd::to_string(delivered.error().code),
        "publishing to " + o.topic + " at " + *brokers + " failed: " + delivered.error().message,
        "check that the brokers are reachable and the topic exists");
    return report(tl::unexpected(std::move(error)), json, {});
  }
  Json body{{"topic", delivered->topic},
            {"partition", delivered->partition},
            {"offset", delivered->offset},
            {"brokers", *brokers},
            {"envelope", flowd::triggers::to_json(envelope)}};
  return report(body, json, [](const Json& r) {
    std::cout << "published trigger for " << r["envelope"]["workflow"].get<std::string>() << " to "
              << r["topic"].get<std::string>() << " partition " << r["partition"] << " offset "
              << r["offset"] << "\n";
  });
}

}  // namespace

std::function<int()> add_trigger_command(CLI::App& app) {
  auto o = std::make_shared<TriggerOptions>();
  auto* sub = app.add_subcommand("trigger", "Publish a trigger record (flowd envelope) to Kafka");
  sub->add_option("WORKFLOW", o->workflow, "NAME or NAME@VERSION")->required();
  sub->add_option("--version", o->version, "workflow version (default: the latest)")
      ->check(CLI::Range(1, 1'000'000'000));
  auto* input = sub->add_option("--input", o->input, "input as a JSON document");
  sub->add_option("--input-file", o->input_file, "read the input from a JSON file")
      ->excludes(input);
  sub->add_option("--context", o->context, "context as a JSON object");
  sub->add_option("--id", o->id, "event id: the dedupe key and the record key");
  sub->add_option("--topic", o->topic, "topic (default flowd.triggers)");
  sub->add_option("--brokers", o->brokers,
                  "bootstrap servers (FLOWD_KAFKA_BROKERS; default: the embedded broker's "
                  "address file .flowd/broker or FLOWD_KAFKA_BOOTSTRAP_FILE)");
  sub->add_option("--timeout", o->timeout_seconds, "seconds to wait for the broker")
      ->check(CLI::Range(1, 600));
  sub->add_option("--output,-o", o->output, "table or json")
      ->check(CLI::IsMember({"table", "json"}));
  return [sub, o] { return *sub ? run_trigger(*o) : -1; };
}

}  // namespace flowctl
