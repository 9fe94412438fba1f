// Loading and validating the service configuration. One table (`setting_table()`) describes every
// setting: its section and key (which give the file path and the environment variable) and how
// a raw value from either source is checked and stored. The file is walked once, the environment
// once; every problem is collected, none stops the pass.
#include "flowd/config/config.h"

#include <arpa/inet.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace flowd::config {
namespace {

using Problems = std::vector<Problem>;

// One raw value for one setting, from the file (node) or from an environment variable (text).
struct Raw {
  const YAML::Node* node = nullptr;
  std::string text;
  std::string where;    // "file:line:col" or "FLOWD_..."
  std::string setting;  // "http.listen"
  std::string source;   // the file's name (for the locations of nested nodes)

  bool from_env() const { return node == nullptr; }
  // The same setting, located at a node nested in this one.
  Raw at(const YAML::Node& nested, std::string nested_setting = {}) const;
};

std::string location(std::string_view source, const YAML::Mark& mark) {
  if (mark.line < 0) return std::string(source);
  return std::string(source) + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

Raw Raw::at(const YAML::Node& nested, std::string nested_setting) const {
  Raw r = *this;
  r.where = location(source, nested.Mark());
  if (!nested_setting.empty()) r.setting = std::move(nested_setting);
  return r;
}

void report(Problems& out, const Raw& raw, std::string message) {
  out.push_back(Problem{raw.where, raw.setting, std::move(message)});
}

std::string show(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string kind_of(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Null:
      return "null";
    default:
      return "a scalar";
  }
}

std::string trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    auto pos = s.find(sep, start);
    parts.push_back(trim(s.substr(start, pos == std::string_view::npos ? pos : pos - start)));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return parts;
}

// Levenshtein distance over lower-cased text with '_' and '-' dropped, so "pool_size" is close
// to "poolSize" and "MAX_INFLIGHT" to "MAX_IN_FLIGHT"; one word a prefix of the other ("warning",
// "warn") counts as one edit.
std::size_t distance(std::string_view a, std::string_view b) {
  auto norm = [](std::string_view s) {
    std::string out;
    for (char c : s) {
      if (c == '_' || c == '-') continue;
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
  };
  std::string x = norm(a), y = norm(b);
  if (std::min(x.size(), y.size()) >= 3 && x != y && (x.starts_with(y) || y.starts_with(x)))
    return 1;
  std::vector<std::size_t> prev(y.size() + 1), cur(y.size() + 1);
  for (std::size_t j = 0; j <= y.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= x.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= y.size(); ++j) {
      std::size_t sub = prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[y.size()];
}

// " (did you mean 'x'?)" when a candidate is close enough, else "".
std::string suggestion(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = SIZE_MAX;
  for (const auto& c : candidates) {
    auto d = distance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  if (best.empty() || best_distance > limit) return {};
  return " (did you mean '" + best + "'?)";
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += sep;
    out += items[i];
  }
  return out;
}

// The raw value as one scalar string; reports and returns empty for mappings and lists.
std::optional<std::string> scalar(const Raw& raw, Problems& out, std::string_view expected) {
  if (raw.from_env()) return raw.text;
  if (!raw.node->IsScalar()) {
    report(out, raw, "expected " + std::string(expected) + ", got " + kind_of(*raw.node));
    return std::nullopt;
  }
  return raw.node->Scalar();
}

std::optional<std::int64_t> parse_int(std::string_view text) {
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<std::int64_t> integer(const Raw& raw, Problems& out, std::int64_t min,
                                    std::int64_t max) {
  auto text = scalar(raw, out, "an integer");
  if (!text) return std::nullopt;
  auto t = trim(*text);
  auto value = parse_int(t);
  if (!value) {
    bool digits = !t.empty() && std::all_of(t.begin() + (t[0] == '-'), t.end(),
                                            [](char c) { return c >= '0' && c <= '9'; });
    report(out, raw,
           digits ? "number " + t + " is out of range " + std::to_string(min) + ".." +
                        std::to_string(max)
                  : "expected an integer, got " + show(*text));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    report(out, raw,
           std::to_string(*value) + " is out of range " + std::to_string(min) + ".." +
               std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<Millis> duration(const Raw& raw, Problems& out, Millis min, Millis max) {
  auto text = scalar(raw, out, "a duration");
  if (!text) return std::nullopt;
  auto value = parse_duration(trim(*text));
  if (!value) {
    report(out, raw,
           "expected a duration like 500ms, 30s, 5m, 1h or 7d (one integer and a unit), got " +
               show(*text));
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    report(out, raw,
           format_duration(*value) + " is out of range " + format_duration(min) + ".." +
               format_duration(max));
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> string(const Raw& raw, Problems& out, bool allow_empty = false) {
  auto text = scalar(raw, out, "a string");
  if (!text) return std::nullopt;
  if (!allow_empty && trim(*text).empty()) {
    report(out, raw, "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<std::string> one_of(const Raw& raw, Problems& out,
                                  const std::vector<std::string>& options) {
  auto text = scalar(raw, out, "one of " + join(options, ", "));
  if (!text) return std::nullopt;
  if (std::find(options.begin(), options.end(), *text) != options.end()) return text;
  report(out, raw,
         "expected one of " + join(options, ", ") + ", got " + show(*text) +
             suggestion(*text, options));
  return std::nullopt;
}

// A list from a YAML sequence of scalars, a YAML scalar (`split_scalars`: comma-separated, else
// one item) or an environment variable (comma-separated).
std::optional<std::vector<std::string>> list(const Raw& raw, Problems& out, bool split_scalars) {
  std::vector<std::string> items;
  if (raw.from_env() || raw.node->IsScalar()) {
    std::string text = raw.from_env() ? raw.text : raw.node->Scalar();
    if (raw.from_env() || split_scalars) return split(text, ',');
    items.push_back(text);
    return items;
  }
  if (!raw.node->IsSequence()) {
    report(out, raw, "expected a list, got " + kind_of(*raw.node));
    return std::nullopt;
  }
  bool ok = true;
  for (const auto& item : *raw.node) {
    if (!item.IsScalar()) {
      report(out, raw.at(item), "list items must be strings, got " + kind_of(item));
      ok = false;
      continue;
    }
    items.push_back(trim(item.Scalar()));
  }
  if (!ok) return std::nullopt;
  return items;
}

bool is_ipv4(const std::string& s) {
  in_addr a{};
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}
bool is_ipv6(const std::string& s) {
  in6_addr a{};
  return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

// "host:port" / "[v6]:port" split; port as text. Empty when there is no port separator.
std::optional<std::pair<std::string, std::string>> split_host_port(std::string_view text) {
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      return std::nullopt;
    return std::pair{std::string(text.substr(1, close - 1)), std::string(text.substr(close + 2))};
  }
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  return std::pair{std::string(host), std::string(text.substr(colon + 1))};
}

std::optional<int> parse_port(const std::string& text, int min) {
  auto v = parse_int(text);
  if (!v || *v < min || *v > 65535) return std::nullopt;
  return static_cast<int>(*v);
}

void apply_listen(Config& c, const Raw& raw, Problems& out) {
  auto text = string(raw, out);
  if (!text) return;
  auto hp = split_host_port(trim(*text));
  if (!hp) {
    report(
        out, raw,
        "expected HOST:PORT such as 127.0.0.1:8080, 0.0.0.0:0 or [::1]:8080, got " + show(*text));
    return;
  }
  auto [host, port_text] = *hp;
  auto port = parse_port(port_text, 0);
  if (!port) {
    report(out, raw, "port must be an integer 0..65535 (0: any free port), got " + show(port_text));
    return;
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (!is_ipv4(host) && !is_ipv6(host)) {
    report(out, raw,
           "host must be an IP address (or localhost, or empty for all interfaces), got " +
               show(host));
    return;
  }
  c.http.listen = trim(*text);
  c.http.host = host;
  c.http.port = static_cast<std::uint16_t>(*port);
}

bool valid_hostname(const std::string& h) {
  if (h.empty() || h.size() > 253) return false;
  return std::all_of(h.begin(), h.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '-' || ch == '_';
  });
}

void apply_brokers(Config& c, const Raw& raw, Problems& out) {
  auto items = list(raw, out, true);
  if (!items) return;
  if (items->size() == 1 && (*items)[0] == "embedded") {
    c.kafka.brokers = "embedded";
    c.kafka.broker_list.clear();
    return;
  }
  bool ok = true;
  for (const auto& item : *items) {
    auto hp = split_host_port(item);
    bool good = false;
    if (item == "embedded") {
      report(out, raw, "\"embedded\" cannot be combined with other brokers");
      ok = false;
      continue;
    }
    if (hp) {
      auto [host, port] = *hp;
      good = (valid_hostname(host) || is_ipv6(host)) && parse_port(port, 1).has_value();
    }
    if (!good) {
      report(out, raw,
             "expected \"embedded\" or a comma-separated list of HOST:PORT, got broker " +
                 show(item) + (item.empty() ? " (an empty entry)" : ""));
      ok = false;
    }
  }
  if (!ok) return;
  c.kafka.broker_list = *items;
  c.kafka.brokers = join(*items, ",");
}

bool valid_topic(const std::string& t) {
  if (t.empty() || t.size() > 249 || t == "." || t == "..") return false;
  return std::all_of(t.begin(), t.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '.' || ch == '_' || ch == '-';
  });
}

std::function<void(Config&, const Raw&, Problems&)> topic(std::string KafkaConfig::*field) {
  return [field](Config& c, const Raw& raw, Problems& out) {
    auto text = string(raw, out);
    if (!text) return;
    if (!valid_topic(*text)) {
      report(out, raw,
             "not a valid Kafka topic name (1..249 of a-z A-Z 0-9 . _ -), got " + show(*text));
      return;
    }
    c.kafka.*field = *text;
  };
}

// librdkafka keys flowd sets itself; setting them in properties would fight the named settings.
const std::map<std::string, std::string>& owned_properties() {
  static const std::map<std::string, std::string> owned = {
      {"bootstrap.servers", "kafka.brokers"},
      {"metadata.broker.list", "kafka.brokers"},
      {"group.id", "kafka.groupId"},
      {"session.timeout.ms", "kafka.sessionTimeout"},
      {"heartbeat.interval.ms", "kafka.heartbeatInterval"},
      {"group.instance.id", "kafka.staticMembership"},
  };
  return owned;
}

void set_property(Config& c, const Raw& raw, Problems& out, const std::string& key,
                  const std::string& value) {
  if (key.empty()) {
    report(out, raw, "property names must not be empty");
    return;
  }
  if (auto it = owned_properties().find(key); it != owned_properties().end()) {
    report(out, raw, "property " + show(key) + " is set by " + it->second + "; use that instead");
    return;
  }
  c.kafka.properties[key] = value;
}

void apply_properties(Config& c, const Raw& raw, Problems& out) {
  if (raw.from_env()) {
    // FLOWD_KAFKA_PROPERTIES: a JSON object of exact librdkafka keys.
    auto doc = nlohmann::json::parse(raw.text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
      report(out, raw,
             "expected a JSON object of librdkafka properties such as "
             "{\"security.protocol\": \"SSL\"}");
      return;
    }
    for (const auto& [key, value] : doc.items()) {
      if (value.is_object() || value.is_array() || value.is_null()) {
        report(out, raw, "property " + show(key) + " must be a string, number or boolean");
        continue;
      }
      set_property(c, raw, out, key, value.is_string() ? value.get<std::string>() : value.dump());
    }
    return;
  }
  if (!raw.node->IsMap()) {
    report(out, raw, "expected a mapping of librdkafka properties, got " + kind_of(*raw.node));
    return;
  }
  for (const auto& entry : *raw.node) {
    auto key = entry.first.Scalar();
    Raw at = raw.at(entry.second, raw.setting + "." + key);
    if (!entry.second.IsScalar()) {
      report(out, at,
             "property values must be strings, numbers or booleans, got " + kind_of(entry.second));
      continue;
    }
    set_property(c, at, out, key, entry.second.Scalar());
  }
}

struct Setting {
  std::string section;
  std::string key;
  std::string help;
  std::function<void(Config&, const Raw&, Problems&)> apply;

  std::string name() const { return section + "." + key; }
  std::string env() const { return env_name(section, key); }
};

using Apply = std::function<void(Config&, const Raw&, Problems&)>;

template <class T>
Apply int_field(T& (*field)(Config&), std::int64_t min, std::int64_t max) {
  return [=](Config& c, const Raw& raw, Problems& out) {
    if (auto v = integer(raw, out, min, max)) field(c) = static_cast<T>(*v);
  };
}

Apply duration_field(Millis& (*field)(Config&), Millis min, Millis max) {
  return [=](Config& c, const Raw& raw, Problems& out) {
    if (auto v = duration(raw, out, min, max)) field(c) = *v;
  };
}

Apply string_field(std::string& (*field)(Config&)) {
  return [=](Config& c, const Raw& raw, Problems& out) {
    if (auto v = string(raw, out)) field(c) = trim(*v);
  };
}

// http.tokens: a list of NAME:ROLE:SHA256HEX.
void apply_tokens(Config& c, const Raw& raw, Problems& out) {
  auto items = list(raw, out, true);
  if (!items) return;
  std::vector<HttpConfig::ApiToken> tokens;
  for (const auto& item : *items) {
    auto first = item.find(':');
    auto second = first == std::string::npos ? first : item.find(':', first + 1);
    if (second == std::string::npos) {
      report(out, raw, "expected NAME:ROLE:SHA256HEX, got " + show(item.substr(0, 40)));
      return;
    }
    HttpConfig::ApiToken t{trim(item.substr(0, first)),
                           trim(item.substr(first + 1, second - first - 1)),
                           trim(item.substr(second + 1))};
    std::transform(t.sha256.begin(), t.sha256.end(), t.sha256.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (t.name.empty()) return report(out, raw, "a token needs a name (NAME:ROLE:SHA256HEX)");
    if (t.role != "reader" && t.role != "operator")
      return report(
          out, raw,
          "token " + show(t.name) + ": role must be reader or operator, got " + show(t.role));
    bool hex = t.sha256.size() == 64 && std::all_of(t.sha256.begin(), t.sha256.end(), [](char ch) {
                 return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f');
               });
    if (!hex)
      return report(out, raw,
                    "token " + show(t.name) +
                        ": expected the token's SHA-256 as 64 hex digits (printf %s TOKEN | "
                        "sha256sum), not the token itself");
    for (const auto& other : tokens)
      if (other.name == t.name) return report(out, raw, "token name " + show(t.name) + " twice");
    tokens.push_back(std::move(t));
  }
  c.http.tokens = std::move(tokens);
}

constexpr Millis kSecond{1000};
constexpr Millis kHour{3'600'000};

const std::vector<Setting>& setting_table() {
  static const std::vector<Setting> table = {
      {"database", "url",
       "PostgreSQL connection string (URL postgresql://user@host:port/db or key=value pairs)",
       [](Config& c, const Raw& raw, Problems& out) {
         auto v = string(raw, out);
         if (!v) return;
         auto text = trim(*v);
         auto scheme = text.find("://");
         if (scheme != std::string::npos && text.substr(0, scheme) != "postgresql" &&
             text.substr(0, scheme) != "postgres") {
           report(out, raw,
                  "URL scheme must be postgresql:// or postgres://, got " +
                      show(text.substr(0, scheme + 3)));
           return;
         }
         if (scheme == std::string::npos && text.find('=') == std::string::npos) {
           report(out, raw,
                  "expected a URL postgresql://user@host:port/db or key=value pairs, got " +
                      show(text));
           return;
         }
         c.database.url = text;
       }},
      {"database", "poolSize", "connections in the pool (1..1000)",
       int_field<int>([](Config& c) -> int& { return c.database.pool_size; }, 1, 1000)},
      {"engine", "threads",
       "reserved (1..1024; default: the CPU count): flowd runs executions on one engine thread "
       "for now, which is not its limit",
       int_field<int>([](Config& c) -> int& { return c.engine.threads; }, 1, 1024)},
      {"engine", "maxInFlight", "executions running at once on this instance (1..1000000)",
       int_field<int>([](Config& c) -> int& { return c.engine.max_in_flight; }, 1, 1'000'000)},
      {"engine", "instanceId", "this instance's name in leases and logs (default: hostname-pid)",
       string_field([](Config& c) -> std::string& { return c.engine.instance_id; })},
      {"engine", "leaseDuration",
       "how long an instance owns an execution without renewing the lease (1s..1h)",
       duration_field([](Config& c) -> Millis& { return c.engine.lease_duration; }, kSecond,
                      kHour)},
      {"engine", "snapshotEvery", "events between state snapshots, 0 = never (0..1000000)",
       int_field<int>([](Config& c) -> int& { return c.engine.snapshot_every; }, 0, 1'000'000)},
      {"engine", "shutdownGrace",
       "time in-flight steps get to finish on SIGTERM before they are checkpointed (0ms..1h)",
       duration_field([](Config& c) -> Millis& { return c.engine.shutdown_grace; }, Millis(0),
                      kHour)},
      {"http", "listen", "HTTP API address HOST:PORT (port 0: any free port)", apply_listen},
      {"http", "token",
       "bearer token required on every endpoint but /healthz and /readyz (unset: no auth)",
       [](Config& c, const Raw& raw, Problems& out) {
         auto v = string(raw, out, true);
         if (!v) return;
         if (v->empty()) {
           c.http.token.reset();
           return;
         }
         // RFC 6750 b64token: what can follow "Bearer " in a header.
         bool ok = std::all_of(v->begin(), v->end(), [](char ch) {
           return std::isalnum(static_cast<unsigned char>(ch)) ||
                  std::string_view("-._~+/=").find(ch) != std::string_view::npos;
         });
         if (!ok) {
           report(out, raw, "token may only contain letters, digits and - . _ ~ + / = (RFC 6750)");
           return;
         }
         c.http.token = *v;
       }},
      {"http", "maxBodyBytes", "largest request body accepted (1..1073741824)",
       int_field<std::size_t>([](Config& c) -> std::size_t& { return c.http.max_body_bytes; }, 1,
                              1LL << 30)},
      {"kafka", "brokers", "\"embedded\" (in-process broker) or HOST:PORT,HOST:PORT",
       apply_brokers},
      {"kafka", "groupId", "consumer group of the trigger consumers",
       [](Config& c, const Raw& raw, Problems& out) {
         if (auto v = string(raw, out)) c.kafka.group_id = trim(*v);
       }},
      {"kafka", "dlqTopic", "topic dead letters are published to", topic(&KafkaConfig::dlq_topic)},
      {"kafka", "eventsTopic", "topic execution events are relayed to",
       topic(&KafkaConfig::events_topic)},
      {"kafka", "bootstrapFile", "file the embedded broker's bootstrap address is written to",
       string_field([](Config& c) -> std::string& { return c.kafka.bootstrap_file; })},
      {"kafka", "partitions", "partitions of topics the embedded broker creates (1..1000)",
       int_field<int>([](Config& c) -> int& { return c.kafka.partitions; }, 1, 1000)},
      {"kafka", "sessionTimeout", "consumer group session timeout (1s..30m)",
       duration_field([](Config& c) -> Millis& { return c.kafka.session_timeout; }, kSecond,
                      Millis(1'800'000))},
      {"kafka", "maxInFlight",
       "trigger records being started at once before partitions pause (1..1000000)",
       int_field<int>([](Config& c) -> int& { return c.kafka.max_in_flight; }, 1, 1'000'000)},
      {"kafka", "properties",
       "librdkafka properties passed through (TLS, SASL, ...); see README for the variables",
       nullptr},  // handled by apply_properties (needs per-entry locations)
      {"kafka", "heartbeatInterval",
       "consumer group heartbeat interval (100ms..1m, < sessionTimeout)",
       duration_field([](Config& c) -> Millis& { return c.kafka.heartbeat_interval; }, Millis(100),
                      Millis(60'000))},
      {"kafka", "staticMembership",
       "static group membership with group.instance.id = engine.instanceId: auto, on, off",
       [](Config& c, const Raw& raw, Problems& out) {
         auto v = string(raw, out);
         if (!v) return;
         const std::string mode = trim(*v);
         if (mode != "auto" && mode != "on" && mode != "off") {
           report(out, raw, "expected auto, on or off, got " + show(mode));
           return;
         }
         c.kafka.static_membership = mode;
       }},
      {"workflows", "dirs", "folders whose definitions are applied at start-up",
       [](Config& c, const Raw& raw, Problems& out) {
         auto items = list(raw, out, false);
         if (!items) return;
         std::vector<std::string> dirs;
         for (auto& d : *items) {
           if (d.empty()) {
             report(out, raw, "folder names must not be empty");
             return;
           }
           dirs.push_back(d);
         }
         c.workflows.dirs = std::move(dirs);
       }},
      {"log", "level", "trace, debug, info, warn, error, critical or off",
       [](Config& c, const Raw& raw, Problems& out) {
         if (auto v =
                 one_of(raw, out, {"trace", "debug", "info", "warn", "error", "critical", "off"}))
           c.log.level = *v;
       }},
      {"log", "format", "json (one object per line) or text",
       [](Config& c, const Raw& raw, Problems& out) {
         if (auto v = one_of(raw, out, {"json", "text"}))
           c.log.format = *v == "json" ? LogFormat::kJson : LogFormat::kText;
       }},
      {"http", "tokens",
       "named API tokens NAME:ROLE:SHA256HEX (role reader or operator; the token's SHA-256, "
       "never the token)",
       apply_tokens},
      {"webhooks", "maxBodyBytes", "largest webhook delivery accepted (1..1073741824)",
       int_field<std::size_t>([](Config& c) -> std::size_t& { return c.webhooks.max_body_bytes; },
                              1, 1LL << 30)},
      {"webhooks", "rate", "deliveries per second each webhook accepts (1..1000000)",
       [](Config& c, const Raw& raw, Problems& out) {
         if (auto v = integer(raw, out, 1, 1'000'000)) c.webhooks.rate = static_cast<double>(*v);
       }},
      {"webhooks", "burst", "deliveries a webhook accepts at once above its rate (1..1000000)",
       int_field<int>([](Config& c) -> int& { return c.webhooks.burst; }, 1, 1'000'000)},
      {"webhooks", "tolerance",
       "timestamped signatures (standard, stripe): allowed clock distance (1s..1h)",
       duration_field([](Config& c) -> Millis& { return c.webhooks.tolerance; }, kSecond, kHour)},
      {"secrets", "dir", "folder with one file per secret (Kubernetes secret volume); unset: none",
       string_field([](Config& c) -> std::string& { return c.secrets.dir; })},
  };
  return table;
}

std::vector<std::string> sections() {
  std::vector<std::string> out;
  for (const auto& s : setting_table())
    if (std::find(out.begin(), out.end(), s.section) == out.end()) out.push_back(s.section);
  return out;
}

std::vector<std::string> keys_of(const std::string& section) {
  std::vector<std::string> out;
  for (const auto& s : setting_table())
    if (s.section == section) out.push_back(s.key);
  return out;
}

const Setting* find_setting(const std::string& section, const std::string& key) {
  for (const auto& s : setting_table())
    if (s.section == section && s.key == key) return &s;
  return nullptr;
}

void apply_file(Config& c, const YAML::Node& root, std::string_view source, Problems& out) {
  auto where_of = [&](const YAML::Node& n) { return location(source, n.Mark()); };
  if (root.IsNull()) return;  // an empty file: all defaults
  if (!root.IsMap()) {
    out.push_back(Problem{where_of(root), "",
                          "the configuration must be a mapping of sections (" +
                              join(sections(), ", ") + "), got " + kind_of(root)});
    return;
  }
  std::map<std::string, std::string> seen_sections;
  for (const auto& section_entry : root) {
    const auto& key_node = section_entry.first;
    std::string section = key_node.Scalar();
    auto key_where = where_of(key_node);
    if (auto it = seen_sections.find(section); it != seen_sections.end()) {
      out.push_back(Problem{key_where, section, "duplicate section (first at " + it->second + ")"});
      continue;
    }
    seen_sections[section] = key_where;
    auto known = sections();
    if (std::find(known.begin(), known.end(), section) == known.end()) {
      out.push_back(Problem{key_where, section,
                            "unknown section '" + section + "'" + suggestion(section, known) +
                                "; sections are " + join(known, ", ")});
      continue;
    }
    const auto& body = section_entry.second;
    if (body.IsNull()) continue;
    if (!body.IsMap()) {
      out.push_back(
          Problem{where_of(body), section, "expected a mapping of settings, got " + kind_of(body)});
      continue;
    }
    std::map<std::string, std::string> seen_keys;
    for (const auto& entry : body) {
      std::string key = entry.first.Scalar();
      auto at = where_of(entry.first);
      std::string name = section + "." + key;
      if (auto it = seen_keys.find(key); it != seen_keys.end()) {
        out.push_back(Problem{at, name, "duplicate key (first at " + it->second + ")"});
        continue;
      }
      seen_keys[key] = at;
      const Setting* setting = find_setting(section, key);
      if (!setting) {
        out.push_back(Problem{at, name,
                              "unknown key '" + key + "' in " + section +
                                  suggestion(key, keys_of(section)) + "; known keys are " +
                                  join(keys_of(section), ", ")});
        continue;
      }
      if (entry.second.IsNull()) continue;  // `key:` or `key: ~` keeps the default
      Raw raw{&entry.second, {}, where_of(entry.second), name, std::string(source)};
      if (setting->apply)
        setting->apply(c, raw, out);
      else
        apply_properties(c, raw, out);
    }
  }
}

constexpr std::string_view kPrefix = "FLOWD_";
constexpr std::string_view kPropertyPrefix = "FLOWD_KAFKA_PROPERTIES_";

void apply_env(Config& c, const Environment& env, Problems& out) {
  std::vector<std::string> all_env;
  for (const auto& s : setting_table()) all_env.push_back(s.env());
  for (const auto& [name, value] : env) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    if (value.empty()) continue;  // an empty variable counts as unset
    const Setting* setting = nullptr;
    for (const auto& s : setting_table())
      if (s.env() == name) setting = &s;
    if (setting) {
      Raw raw{nullptr, value, name, setting->name(), {}};
      if (setting->apply)
        setting->apply(c, raw, out);
      else
        apply_properties(c, raw, out);
      continue;
    }
    if (name.rfind(kPropertyPrefix, 0) == 0) {
      // FLOWD_KAFKA_PROPERTIES_SSL_CA_LOCATION -> ssl.ca.location
      std::string key;
      for (char ch : name.substr(kPropertyPrefix.size()))
        key += ch == '_' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      Raw raw{nullptr, value, name, "kafka.properties." + key, {}};
      set_property(c, raw, out, key, value);
      continue;
    }
    // Only variables of a known section are ours to judge: FLOWD_SERVER (flowctl), FLOWD_PG_*
    // (scripts) and the like belong to other programs.
    for (const auto& section : sections()) {
      auto prefix = std::string(kPrefix) + upper_snake(section) + "_";
      if (name.rfind(prefix, 0) == 0) {
        out.push_back(Problem{name, "",
                              "unknown setting variable" + suggestion(name, all_env) +
                                  "; see config/README.md for the list"});
        break;
      }
    }
  }
}

std::string default_instance_id() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, 5, "host");
  return std::string(host) + "-" + std::to_string(getpid());
}

void resolve_defaults(Config& c) {
  if (c.engine.threads <= 0)
    c.engine.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (c.engine.instance_id.empty()) {
    c.engine.instance_id = default_instance_id();
    c.engine.instance_id_generated = true;
  }
  if (c.kafka.heartbeat_interval <= Millis(0))
    c.kafka.heartbeat_interval = std::min(kSecond, c.kafka.session_timeout / 3);
}

void cross_check(const Config& c, Problems& out) {
  if (c.kafka.dlq_topic == c.kafka.events_topic)
    out.push_back(
        Problem{"kafka", "kafka.eventsTopic",
                "must differ from kafka.dlqTopic (both are " + show(c.kafka.dlq_topic) + ")"});
  if (c.kafka.heartbeat_interval >= c.kafka.session_timeout)
    out.push_back(Problem{"kafka", "kafka.heartbeatInterval",
                          "must be shorter than kafka.sessionTimeout (" +
                              format_duration(c.kafka.heartbeat_interval) +
                              " >= " + format_duration(c.kafka.session_timeout) + ")"});
}

Result<Config> finish(Config c, Problems problems) {
  resolve_defaults(c);
  cross_check(c, problems);
  if (!problems.empty()) return tl::unexpected(ConfigError{std::move(problems)});
  return c;
}

}  // namespace

std::string Problem::to_string() const {
  std::string out = where.empty() ? std::string("config") : where;
  out += ": ";
  if (!setting.empty()) out += setting + ": ";
  return out + message;
}

std::string ConfigError::to_string() const {
  std::string out;
  for (const auto& p : problems) {
    if (!out.empty()) out += '\n';
    out += p.to_string();
  }
  return out;
}

Environment process_environment() {
  Environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<Config> load_string(std::string_view yaml, std::string_view source_name,
                           const Environment& env) {
  Config c;
  Problems problems;
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    apply_file(c, root, source_name, problems);
  } catch (const YAML::Exception& e) {
    problems.push_back(Problem{location(source_name, e.mark), "", "YAML syntax: " + e.msg});
  }
  apply_env(c, env, problems);
  return finish(std::move(c), std::move(problems));
}

Result<Config> load(const std::optional<std::filesystem::path>& file, const Environment& env) {
  if (!file) {
    Config c;
    Problems problems;
    apply_env(c, env, problems);
    return finish(std::move(c), std::move(problems));
  }
  std::ifstream in(*file, std::ios::binary);
  std::error_code ec;
  if (!in || std::filesystem::is_directory(*file, ec)) {
    Config c;
    Problems problems{Problem{file->string(), "", "cannot read the configuration file"}};
    apply_env(c, env, problems);
    return finish(std::move(c), std::move(problems));
  }
  std::stringstream text;
  text << in.rdbuf();
  return load_string(text.str(), file->string(), env);
}

Config defaults() {
  Config c;
  resolve_defaults(c);
  return c;
}

nlohmann::json to_json(const Config& c, bool redact) {
  using nlohmann::json;
  json properties = json::object();
  for (const auto& [k, v] : c.kafka.properties) properties[k] = v;
  json token = nullptr;
  if (c.http.token) token = redact ? json("<redacted>") : json(*c.http.token);
  json tokens = json::array();
  for (const auto& t : c.http.tokens) tokens.push_back(t.name + ":" + t.role + ":" + t.sha256);
  return json{
      {"database", {{"url", c.database.url}, {"poolSize", c.database.pool_size}}},
      {"engine",
       {{"threads", c.engine.threads},
        {"maxInFlight", c.engine.max_in_flight},
        {"instanceId", c.engine.instance_id},
        {"leaseDuration", format_duration(c.engine.lease_duration)},
        {"snapshotEvery", c.engine.snapshot_every},
        {"shutdownGrace", format_duration(c.engine.shutdown_grace)}}},
      {"http",
       {{"listen", c.http.listen},
        {"token", token},
        {"maxBodyBytes", c.http.max_body_bytes},
        {"tokens", tokens}}},
      {"kafka",
       {{"brokers", c.kafka.brokers},
        {"groupId", c.kafka.group_id},
        {"dlqTopic", c.kafka.dlq_topic},
        {"eventsTopic", c.kafka.events_topic},
        {"bootstrapFile", c.kafka.bootstrap_file},
        {"partitions", c.kafka.partitions},
        {"sessionTimeout", format_duration(c.kafka.session_timeout)},
        {"maxInFlight", c.kafka.max_in_flight},
        {"properties", properties},
        {"heartbeatInterval", format_duration(c.kafka.heartbeat_interval)},
        {"staticMembership", c.kafka.static_membership}}},
      {"workflows", {{"dirs", c.workflows.dirs}}},
      {"log",
       {{"level", c.log.level}, {"format", c.log.format == LogFormat::kJson ? "json" : "text"}}},
      {"webhooks",
       {{"maxBodyBytes", c.webhooks.max_body_bytes},
        {"rate", static_cast<std::int64_t>(c.webhooks.rate)},
        {"burst", c.webhooks.burst},
        {"tolerance", format_duration(c.webhooks.tolerance)}}},
      {"secrets", {{"dir", c.secrets.dir.empty() ? json(nullptr) : json(c.secrets.dir)}}},
  };
}

const std::vector<SettingInfo>& settings() {
  static const std::vector<SettingInfo> infos = [] {
    std::vector<SettingInfo> out;
    for (const auto& s : setting_table()) out.push_back(SettingInfo{s.name(), s.env(), s.help});
    return out;
  }();
  return infos;
}

std::string upper_snake(std::string_view camel) {
  std::string out;
  for (std::size_t i = 0; i < camel.size(); ++i) {
    char ch = camel[i];
    bool upper = ch >= 'A' && ch <= 'Z';
    if (upper && i > 0) {
      char prev = camel[i - 1];
      bool prev_lower = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
      bool next_lower = i + 1 < camel.size() && camel[i + 1] >= 'a' && camel[i + 1] <= 'z';
      bool prev_upper = prev >= 'A' && prev <= 'Z';
      if (prev_lower || (prev_upper && next_lower)) out += '_';
    }
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::string env_name(std::string_view section, std::string_view key) {
  return std::string(kPrefix) + upper_snake(section) + "_" + upper_snake(key);
}

std::optional<Millis> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0 || digits > 15) return std::nullopt;
  std::int64_t n = 0;
  std::from_chars(text.data(), text.data() + digits, n);
  auto unit = text.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = 86'400'000;
  else
    return std::nullopt;
  if (n > INT64_MAX / scale) return std::nullopt;
  return Millis(n * scale);
}

std::string format_duration(Millis d) {
  auto ms = d.count();
  struct Unit {
    std::int64_t scale;
    const char* name;
  };
  for (Unit u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"}, Unit{1000, "s"}})
    if (ms != 0 && ms % u.scale == 0) return std::to_string(ms / u.scale) + u.name;
  return std::to_string(ms) + "ms";
}

std::string KafkaConfig::group_instance_id(const EngineConfig& engine) const {
  if (static_membership == "off") return {};
  if (static_membership == "auto" && engine.instance_id_generated) return {};
  return engine.instance_id;
}

}  // namespace flowd::config
