#pragma once
// The flowd service configuration: a YAML file (`flowd --config FILE`), overridden setting by
// setting by `FLOWD_<SECTION>_<KEY>` environment variables, defaults for whatever neither sets.
// Loading validates everything in one pass and reports every problem with where it came from
// (`file:line:col` or the environment variable). The mapping and every setting are documented in
// config/README.md; config/flowd.example.yaml is a complete example.
//
// Config is a plain value: load it once at start-up and hand the sections to whoever needs them.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace flowd::config {

using Millis = std::chrono::milliseconds;

struct DatabaseConfig {
  // libpq connection string: a URL (postgresql://user@host:port/db) or key=value pairs.
  std::string url = "postgresql://flowd@127.0.0.1:5432/flowd";
  int pool_size = 8;
};

struct EngineConfig {
  int threads = 0;                     // after loading: as set, else the CPU count (>= 1)
  int max_in_flight = 1000;            // executions running at once on this instance
  std::string instance_id;             // default: "<hostname>-<pid>"
  bool instance_id_generated = false;  // set by loading: instance_id is the hostname-pid default
  Millis lease_duration{10'000};       // how long an instance owns an execution without renewing
  int snapshot_every = 100;            // events between state snapshots; 0 disables snapshots
  Millis shutdown_grace{10'000};       // time in-flight work gets on SIGTERM before checkpointing
};

struct HttpConfig {
  std::string listen = "127.0.0.1:8080";  // as written
  std::string host = "127.0.0.1";         // parsed from listen: an IP literal (IPv6 unbracketed)
  std::uint16_t port = 8080;              // parsed from listen; 0 lets the kernel pick
  std::optional<std::string> token;       // bearer token; empty = no authentication
  std::size_t max_body_bytes = 1 << 20;
  // Named API tokens with roles, "name:role:sha256hex" (role reader or operator; the SHA-256 of
  // the token in hex, never the token): see docs/api.md. `token` above counts as one operator
  // token named "token".
  struct ApiToken {
    std::string name;
    std::string role;    // reader | operator
    std::string sha256;  // lower-case hex, 64 digits
  };
  std::vector<ApiToken> tokens;
};

// Webhook endpoints (POST /hooks/<path>), see service/webhooks/README.md.
struct WebhooksConfig {
  std::size_t max_body_bytes = 256 * 1024;  // larger deliveries get 413
  double rate = 50;                         // deliveries per second per webhook (token bucket)
  int burst = 100;                          // bucket size
  Millis tolerance{300'000};  // timestamped signatures: allowed clock distance (per-hook override)
};

// Secret providers: FLOWD_SECRET_<NAME> variables, then files in `dir` (when set).
struct SecretsConfig {
  std::string dir;  // e.g. /run/secrets/flowd (a Kubernetes secret volume); empty: none
};

struct KafkaConfig {
  std::string brokers = "embedded";      // "embedded" or "host:port,host:port"
  std::vector<std::string> broker_list;  // parsed from brokers; empty when embedded
  std::string group_id = "flowd";
  std::string dlq_topic = "flowd.dlq";
  std::string events_topic = "flowd.events";
  std::string bootstrap_file = ".flowd/broker";  // where the embedded broker's address is written
  int partitions = 4;                            // partitions of topics the embedded broker makes
  Millis session_timeout{6'000};                 // consumer group session.timeout.ms
  int max_in_flight = 1000;  // trigger records being started before partitions are paused
  std::map<std::string, std::string> properties;  // passed through to librdkafka as they are
  // heartbeat.interval.ms, below session_timeout; after loading: as set, else
  // min(1s, session_timeout / 3).
  Millis heartbeat_interval{0};
  // Static group membership (group.instance.id = engine.instanceId): "auto" = when
  // engine.instanceId is set (a generated hostname-pid id changes with every start), "on", "off".
  std::string static_membership = "auto";
  // The group.instance.id the consumer uses, or "" for dynamic membership.
  std::string group_instance_id(const EngineConfig& engine) const;

  bool embedded() const { return brokers == "embedded"; }
};

struct WorkflowsConfig {
  std::vector<std::string> dirs;  // folders whose definitions are applied at start-up
};

enum class LogFormat { kJson, kText };

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error, critical, off
  LogFormat format = LogFormat::kJson;
};

struct Config {
  DatabaseConfig database;
  EngineConfig engine;
  HttpConfig http;
  KafkaConfig kafka;
  WorkflowsConfig workflows;
  LogConfig log;
  WebhooksConfig webhooks;
  SecretsConfig secrets;
};

// One thing wrong with the configuration. `where` is "path/to/flowd.yaml:12:5" for the file or
// "FLOWD_HTTP_LISTEN" for the environment; `setting` is the dotted name ("http.listen").
struct Problem {
  std::string where;
  std::string setting;
  std::string message;

  // "flowd.yaml:12:5: http.listen: expected HOST:PORT, got \"8080\""
  std::string to_string() const;
};

struct ConfigError {
  std::vector<Problem> problems;  // in file order, then environment variables by name

  // One line per problem, newline-separated.
  std::string to_string() const;
};

template <class T>
using Result = tl::expected<T, ConfigError>;

// Environment variables by name; process_environment() reads the real one.
using Environment = std::map<std::string, std::string>;
Environment process_environment();

// Loads `file` (when given) and applies the FLOWD_* variables of `env` over it. Every problem of
// the file and the environment is reported at once; nothing partial is returned.
Result<Config> load(const std::optional<std::filesystem::path>& file, const Environment& env);
// The same with the YAML text given; `source_name` names it in problems.
Result<Config> load_string(std::string_view yaml, std::string_view source_name,
                           const Environment& env);

// The configuration with no file and no environment (instance id and threads resolved).
Config defaults();

// The configuration in the file's shape (camelCase keys); the token is shown as "<redacted>"
// unless `redact` is false. Loading the dump gives back the same configuration.
nlohmann::json to_json(const Config& config, bool redact = true);

// Every setting: its dotted name, environment variable and a one-line description (the table in
// config/README.md is made of these; a test keeps them in step).
struct SettingInfo {
  std::string name;  // "engine.maxInFlight"
  std::string env;   // "FLOWD_ENGINE_MAX_IN_FLIGHT"
  std::string help;
};
const std::vector<SettingInfo>& settings();

// "maxInFlight" -> "MAX_IN_FLIGHT"; env_name("engine", "maxInFlight") ->
// "FLOWD_ENGINE_MAX_IN_FLIGHT".
std::string upper_snake(std::string_view camel);
std::string env_name(std::string_view section, std::string_view key);

// Durations as in workflow definitions: one integer and a unit (250ms, 30s, 10m, 1h, 7d).
std::optional<Millis> parse_duration(std::string_view text);
std::string format_duration(Millis d);

}  // namespace flowd::config
