// flowd::config: file + environment loading, defaults, and one problem per mistake.
#include <unistd.h>
#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include "flowd/config/config.h"

using namespace flowd::config;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string problems_text(const ConfigError& e) {
  return e.to_string();
}

}  // namespace

TEST_CASE("No file and no environment gives the documented defaults", "[config]") {
  auto c = load(std::nullopt, {});
  REQUIRE(c);
  CHECK(c->database.url == "postgresql://flowd@127.0.0.1:5432/flowd");
  CHECK(c->database.pool_size == 8);
  CHECK(c->engine.threads >= 1);
  CHECK(c->engine.max_in_flight == 1000);
  const std::string pid_suffix = "-" + std::to_string(getpid());
  REQUIRE(c->engine.instance_id.size() > pid_suffix.size());
  CHECK(c->engine.instance_id.ends_with(pid_suffix));
  CHECK(c->engine.lease_duration == 10s);
  CHECK(c->engine.snapshot_every == 100);
  CHECK(c->engine.shutdown_grace == 10s);
  CHECK(c->http.listen == "127.0.0.1:8080");
  CHECK(c->http.host == "127.0.0.1");
  CHECK(c->http.port == 8080);
  CHECK_FALSE(c->http.token.has_value());
  CHECK(c->http.max_body_bytes == 1048576);
  CHECK(c->kafka.embedded());
  CHECK(c->kafka.broker_list.empty());
  CHECK(c->kafka.group_id == "flowd");
  CHECK(c->kafka.dlq_topic == "flowd.dlq");
  CHECK(c->kafka.events_topic == "flowd.events");
  CHECK(c->kafka.bootstrap_file == ".flowd/broker");
  CHECK(c->kafka.partitions == 4);
  CHECK(c->kafka.session_timeout == 6s);
  CHECK(c->kafka.heartbeat_interval == 1s);
  CHECK(c->kafka.static_membership == "auto");
  CHECK(c->kafka.max_in_flight == 1000);
  CHECK(c->kafka.properties.empty());
  CHECK(c->workflows.dirs.empty());
  CHECK(c->log.level == "info");
  CHECK(c->log.format == LogFormat::kJson);
  CHECK(to_json(*c) == to_json(defaults()));
}

TEST_CASE("An empty file and keys without values keep the defaults", "[config]") {
  for (std::string text : {"", "# nothing\n", "http:\n", "http:\n  listen:\n  token: ~\n"}) {
    INFO(text);
    auto c = load_string(text, "f.yaml", {});
    REQUIRE(c);
    CHECK(to_json(*c) == to_json(defaults()));
  }
}

TEST_CASE("Valid configurations load to the values they say", "[config]") {
  struct Case {
    const char* name;
    std::string yaml;
    Environment env;
    std::function<void(const Config&)> check;
  };
  const std::vector<Case> cases = {
      {"database settings",
       "database: {url: 'postgres://u@db:5433/x', poolSize: 1000}\n",
       {},
       [](const Config& c) {
         CHECK(c.database.url == "postgres://u@db:5433/x");
         CHECK(c.database.pool_size == 1000);
       }},
      {"key=value conninfo",
       "database: {url: 'host=/tmp port=5432 dbname=flowd'}\n",
       {},
       [](const Config& c) { CHECK(c.database.url == "host=/tmp port=5432 dbname=flowd"); }},
      {"engine durations and numbers",
       "engine:\n  threads: 3\n  maxInFlight: 7\n  instanceId: node-a\n  leaseDuration: 2m\n"
       "  snapshotEvery: 0\n  shutdownGrace: 0ms\n",
       {},
       [](const Config& c) {
         CHECK(c.engine.threads == 3);
         CHECK(c.engine.max_in_flight == 7);
         CHECK(c.engine.instance_id == "node-a");
         CHECK(c.engine.lease_duration == 120s);
         CHECK(c.engine.snapshot_every == 0);
         CHECK(c.engine.shutdown_grace == 0ms);
       }},
      {"listen on port 0",
       "http: {listen: '127.0.0.1:0'}\n",
       {},
       [](const Config& c) {
         CHECK(c.http.host == "127.0.0.1");
         CHECK(c.http.port == 0);
       }},
      {"listen on IPv6",
       "http: {listen: '[::1]:9000'}\n",
       {},
       [](const Config& c) {
         CHECK(c.http.host == "::1");
         CHECK(c.http.port == 9000);
       }},
      {"listen on all interfaces",
       "http: {listen: ':8081'}\n",
       {},
       [](const Config& c) {
         CHECK(c.http.host == "0.0.0.0");
         CHECK(c.http.port == 8081);
       }},
      {"listen on localhost",
       "http: {listen: 'localhost:80'}\n",
       {},
       [](const Config& c) { CHECK(c.http.host == "127.0.0.1"); }},
      {"token and body limit",
       "http: {token: 's3cr3t-T0ken_=', maxBodyBytes: 10}\n",
       {},
       [](const Config& c) {
         CHECK(c.http.token == std::optional<std::string>("s3cr3t-T0ken_="));
         CHECK(c.http.max_body_bytes == 10);
       }},
      {"broker list as a string",
       "kafka: {brokers: 'k1:9092, k2:9093'}\n",
       {},
       [](const Config& c) {
         CHECK_FALSE(c.kafka.embedded());
         CHECK(c.kafka.broker_list == std::vector<std::string>{"k1:9092", "k2:9093"});
         CHECK(c.kafka.brokers == "k1:9092,k2:9093");
       }},
      {"broker list as a YAML list",
       "kafka:\n  brokers: [k1:9092, '[::1]:9092']\n",
       {},
       [](const Config& c) {
         CHECK(c.kafka.broker_list == std::vector<std::string>{"k1:9092", "[::1]:9092"});
       }},
      {"kafka names, sizes and properties",
       "kafka:\n  groupId: g\n  dlqTopic: my.dlq\n  eventsTopic: my_events-1\n"
       "  bootstrapFile: /run/broker\n  partitions: 12\n  sessionTimeout: 45s\n"
       "  maxInFlight: 5\n  properties:\n    security.protocol: SASL_SSL\n"
       "    enable.ssl.certificate.verification: false\n    fetch.wait.max.ms: 5\n",
       {},
       [](const Config& c) {
         CHECK(c.kafka.group_id == "g");
         CHECK(c.kafka.dlq_topic == "my.dlq");
         CHECK(c.kafka.events_topic == "my_events-1");
         CHECK(c.kafka.bootstrap_file == "/run/broker");
         CHECK(c.kafka.partitions == 12);
         CHECK(c.kafka.session_timeout == 45s);
         CHECK(c.kafka.max_in_flight == 5);
         CHECK(c.kafka.properties ==
               std::map<std::string, std::string>{{"security.protocol", "SASL_SSL"},
                                                  {"enable.ssl.certificate.verification", "false"},
                                                  {"fetch.wait.max.ms", "5"}});
       }},
      {"workflow folders as a list or one folder",
       "workflows: {dirs: [a, b/c]}\n",
       {},
       [](const Config& c) {
         CHECK(c.workflows.dirs == std::vector<std::string>{"a", "b/c"});
       }},
      {"one workflow folder",
       "workflows: {dirs: examples}\n",
       {},
       [](const Config& c) { CHECK(c.workflows.dirs == std::vector<std::string>{"examples"}); }},
      {"log settings",
       "log: {level: debug, format: text}\n",
       {},
       [](const Config& c) {
         CHECK(c.log.level == "debug");
         CHECK(c.log.format == LogFormat::kText);
       }},
      {"variables of other programs are ignored",
       "",
       {{"FLOWD_SERVER", "http://x"}, {"FLOWD_PG_INSTANCE", "test"}, {"PATH", "/bin"}},
       [](const Config& c) { CHECK(to_json(c) == to_json(defaults())); }},
  };
  for (const auto& test : cases) {
    DYNAMIC_SECTION(test.name) {
      auto c = load_string(test.yaml, "f.yaml", test.env);
      INFO((c ? std::string() : problems_text(c.error())));
      REQUIRE(c);
      test.check(*c);
    }
  }
}

TEST_CASE("Environment variables override the file and the defaults", "[config]") {
  const std::string yaml =
      "database: {url: 'postgresql://file/db', poolSize: 3}\n"
      "engine: {maxInFlight: 10, leaseDuration: 5s}\n"
      "http: {listen: '127.0.0.1:1', token: from-file}\n"
      "kafka: {brokers: embedded, properties: {client.id: file, acks: all}}\n"
      "workflows: {dirs: [from-file]}\n"
      "log: {level: warn}\n";
  Environment env = {
      {"FLOWD_DATABASE_URL", "postgresql://env/db"},
      {"FLOWD_ENGINE_MAX_IN_FLIGHT", "20"},
      {"FLOWD_ENGINE_LEASE_DURATION", "1m"},
      {"FLOWD_ENGINE_INSTANCE_ID", "env-node"},
      {"FLOWD_HTTP_LISTEN", "0.0.0.0:0"},
      {"FLOWD_HTTP_TOKEN", "from-env"},
      {"FLOWD_KAFKA_BROKERS", "a:1,b:2"},
      {"FLOWD_KAFKA_PROPERTIES_CLIENT_ID", "env"},
      {"FLOWD_KAFKA_PROPERTIES", R"({"sasl.username": "u", "linger.ms": 5})"},
      {"FLOWD_WORKFLOWS_DIRS", "x, y"},
      {"FLOWD_LOG_FORMAT", "text"},
  };
  auto c = load_string(yaml, "f.yaml", env);
  INFO((c ? std::string() : problems_text(c.error())));
  REQUIRE(c);
  CHECK(c->database.url == "postgresql://env/db");
  CHECK(c->database.pool_size == 3);  // file, no variable
  CHECK(c->engine.max_in_flight == 20);
  CHECK(c->engine.lease_duration == 60s);
  CHECK(c->engine.instance_id == "env-node");
  CHECK(c->http.host == "0.0.0.0");
  CHECK(c->http.port == 0);
  CHECK(c->http.token == std::optional<std::string>("from-env"));
  CHECK(c->kafka.broker_list == std::vector<std::string>{"a:1", "b:2"});
  CHECK(c->kafka.properties.at("client.id") == "env");
  CHECK(c->kafka.properties.at("acks") == "all");
  CHECK(c->kafka.properties.at("sasl.username") == "u");
  CHECK(c->kafka.properties.at("linger.ms") == "5");
  CHECK(c->workflows.dirs == std::vector<std::string>{"x", "y"});
  CHECK(c->log.level == "warn");
  CHECK(c->log.format == LogFormat::kText);
  CHECK(c->kafka.session_timeout == 6s);  // neither: default
}

TEST_CASE("An empty environment variable counts as unset", "[config]") {
  auto c = load_string("http: {token: file-token}\n", "f.yaml",
                       {{"FLOWD_HTTP_TOKEN", ""}, {"FLOWD_ENGINE_THREADS", ""}});
  REQUIRE(c);
  CHECK(c->http.token == std::optional<std::string>("file-token"));
}

TEST_CASE("Each mistake is one problem naming where it is", "[config]") {
  struct Expect {
    std::string where;  // exact location
    std::string text;   // part of the message
  };
  struct Case {
    const char* name;
    std::string yaml;
    Environment env;
    std::vector<Expect> expected;
  };
  const std::vector<Case> cases = {
      {"unknown key with a suggestion",
       "http:\n  listn: 127.0.0.1:1\n",
       {},
       {{"f.yaml:2:3", "unknown key 'listn' in http (did you mean 'listen'?)"}}},
      {"snake_case key suggests the camelCase one",
       "database:\n  pool_size: 3\n",
       {},
       {{"f.yaml:2:3", "(did you mean 'poolSize'?)"}}},
      {"unknown section",
       "engien: {threads: 2}\n",
       {},
       {{"f.yaml:1:1", "unknown section 'engien' (did you mean 'engine'?)"}}},
      {"nothing close: no suggestion",
       "http: {zzzzzzzz: 1}\n",
       {},
       {{"f.yaml:1:8", "unknown key 'zzzzzzzz' in http; known keys are listen, token"}}},
      {"duplicate key",
       "log:\n  level: info\n  level: debug\n",
       {},
       {{"f.yaml:3:3", "duplicate key (first at f.yaml:2:3)"}}},
      {"not a mapping at the top",
       "- a\n- b\n",
       {},
       {{"f.yaml:1:1", "must be a mapping of sections"}}},
      {"section is a scalar",
       "http: 8080\n",
       {},
       {{"f.yaml:1:7", "http: expected a mapping of settings, got a scalar"}}},
      {"integer expected",
       "engine:\n  maxInFlight: lots\n",
       {},
       {{"f.yaml:2:16", "engine.maxInFlight: expected an integer, got \"lots\""}}},
      {"fraction is not an integer",
       "database: {poolSize: 1.5}\n",
       {},
       {{"f.yaml:1:22", "expected an integer, got \"1.5\""}}},
      {"mapping where a number belongs",
       "database: {poolSize: {a: 1}}\n",
       {},
       {{"f.yaml:1:22", "expected an integer, got a mapping"}}},
      {"integer out of range",
       "database: {poolSize: 0}\n",
       {},
       {{"f.yaml:1:22", "0 is out of range 1..1000"}}},
      {"huge integer",
       "engine: {maxInFlight: 99999999999999999999999}\n",
       {},
       {{"f.yaml:1:23", "out of range 1..1000000"}}},
      {"bad duration",
       "engine: {leaseDuration: 30 seconds}\n",
       {},
       {{"f.yaml:1:25", "expected a duration like 500ms, 30s"}}},
      {"bare number is not a duration",
       "kafka: {sessionTimeout: 30}\n",
       {},
       {{"f.yaml:1:25", "expected a duration"}}},
      {"duration out of range",
       "engine: {leaseDuration: 500ms}\n",
       {},
       {{"f.yaml:1:25", "500ms is out of range 1s..1h"}}},
      {"listen without a port",
       "http: {listen: '127.0.0.1'}\n",
       {},
       {{"f.yaml:1:16", "expected HOST:PORT"}}},
      {"listen port out of range",
       "http: {listen: '127.0.0.1:70000'}\n",
       {},
       {{"f.yaml:1:16", "port must be an integer 0..65535"}}},
      {"listen on a host name",
       "http: {listen: 'example.com:80'}\n",
       {},
       {{"f.yaml:1:16", "host must be an IP address"}}},
      {"unbracketed IPv6",
       "http: {listen: '::1:80'}\n",
       {},
       {{"f.yaml:1:16", "expected HOST:PORT"}}},
      {"token with a space",
       "http: {token: 'a b'}\n",
       {},
       {{"f.yaml:1:15", "token may only contain"}}},
      {"broker without a port",
       "kafka: {brokers: 'k1:9092,k2'}\n",
       {},
       {{"f.yaml:1:18", "got broker \"k2\""}}},
      {"empty broker entry",
       "kafka: {brokers: 'k1:9092,'}\n",
       {},
       {{"f.yaml:1:18", "(an empty entry)"}}},
      {"embedded mixed with brokers",
       "kafka: {brokers: [embedded, 'k:1']}\n",
       {},
       {{"f.yaml:1:18", "\"embedded\" cannot be combined"}}},
      {"bad topic name",
       "kafka: {dlqTopic: 'dead letters'}\n",
       {},
       {{"f.yaml:1:19", "not a valid Kafka topic name"}}},
      {"same topic twice",
       "kafka: {dlqTopic: x, eventsTopic: x}\n",
       {},
       {{"kafka", "kafka.eventsTopic: must differ from kafka.dlqTopic"}}},
      {"property set by a named setting",
       "kafka:\n  properties:\n    bootstrap.servers: k:1\n",
       {},
       {{"f.yaml:3:24", "is set by kafka.brokers"}}},
      {"nested property value",
       "kafka:\n  properties:\n    ssl: {ca: x}\n",
       {},
       {{"f.yaml:3:10", "kafka.properties.ssl: property values must be"}}},
      {"list item not a string",
       "workflows:\n  dirs:\n    - a\n    - {b: 1}\n",
       {},
       {{"f.yaml:4:7", "list items must be strings, got a mapping"}}},
      {"unknown log level suggests",
       "log: {level: warning}\n",
       {},
       {{"f.yaml:1:14",
         "expected one of trace, debug, info, warn, error, critical, off, got "
         "\"warning\" (did you mean 'warn'?)"}}},
      {"bad log format",
       "log: {format: xml}\n",
       {},
       {{"f.yaml:1:15", "expected one of json, text"}}},
      {"database URL with another scheme",
       "database: {url: 'mysql://x/y'}\n",
       {},
       {{"f.yaml:1:17", "URL scheme must be postgresql://"}}},
      {"YAML syntax error", "http: {listen: [\n", {}, {{"f.yaml:2:1", "YAML syntax"}}},
      {"bad integer in the environment",
       "",
       {{"FLOWD_ENGINE_MAX_IN_FLIGHT", "lots"}},
       {{"FLOWD_ENGINE_MAX_IN_FLIGHT", "engine.maxInFlight: expected an integer, got \"lots\""}}},
      {"bad duration in the environment",
       "",
       {{"FLOWD_ENGINE_SHUTDOWN_GRACE", "2 hours"}},
       {{"FLOWD_ENGINE_SHUTDOWN_GRACE", "expected a duration"}}},
      {"bad listen in the environment",
       "",
       {{"FLOWD_HTTP_LISTEN", "nowhere"}},
       {{"FLOWD_HTTP_LISTEN", "expected HOST:PORT"}}},
      {"misspelled variable of a known section",
       "",
       {{"FLOWD_HTTP_LISTN", "127.0.0.1:1"}},
       {{"FLOWD_HTTP_LISTN", "unknown setting variable (did you mean 'FLOWD_HTTP_LISTEN'?)"}}},
      {"properties variable that is not a JSON object",
       "",
       {{"FLOWD_KAFKA_PROPERTIES", "acks=all"}},
       {{"FLOWD_KAFKA_PROPERTIES", "expected a JSON object"}}},
      {"owned property through the environment",
       "",
       {{"FLOWD_KAFKA_PROPERTIES_GROUP_ID", "x"}},
       {{"FLOWD_KAFKA_PROPERTIES_GROUP_ID",
         "kafka.properties.group.id: property \"group.id\" is "
         "set by kafka.groupId"}}},
      {"every problem in one pass, file order then variables",
       "database: {poolSize: -1}\nhttp: {listen: x, bogus: 1}\nlog: {level: loud}\n",
       {{"FLOWD_ENGINE_THREADS", "0"}, {"FLOWD_KAFKA_PARTITIONS", "many"}},
       {{"f.yaml:1:22", "-1 is out of range"},
        {"f.yaml:2:16", "expected HOST:PORT"},
        {"f.yaml:2:19", "unknown key 'bogus'"},
        {"f.yaml:3:14", "expected one of"},
        {"FLOWD_ENGINE_THREADS", "0 is out of range 1..1024"},
        {"FLOWD_KAFKA_PARTITIONS", "expected an integer"}}},
  };
  for (const auto& test : cases) {
    DYNAMIC_SECTION(test.name) {
      auto c = load_string(test.yaml, "f.yaml", test.env);
      REQUIRE_FALSE(c);
      const auto& problems = c.error().problems;
      INFO(c.error().to_string());
      REQUIRE(problems.size() == test.expected.size());
      for (std::size_t i = 0; i < problems.size(); ++i) {
        CHECK(problems[i].where == test.expected[i].where);
        CHECK_THAT(problems[i].to_string(), Catch::Contains(test.expected[i].text));
      }
    }
  }
}

TEST_CASE("A missing configuration file is a problem naming the file", "[config]") {
  auto c = load(std::filesystem::path("/nonexistent/flowd.yaml"), {{"FLOWD_LOG_LEVEL", "x"}});
  REQUIRE_FALSE(c);
  REQUIRE(c.error().problems.size() == 2);  // the environment is still checked
  CHECK(c.error().problems[0].to_string() ==
        "/nonexistent/flowd.yaml: cannot read the configuration file");
  CHECK(c.error().problems[1].where == "FLOWD_LOG_LEVEL");
}

TEST_CASE("A file on disk is loaded and named in problems", "[config]") {
  auto path = std::filesystem::temp_directory_path() /
              ("flowd-config-test-" + std::to_string(getpid()) + ".yaml");
  {
    std::ofstream out(path);
    out << "http:\n  listen: 127.0.0.1:0\n  maxBodyBytes: nope\n";
  }
  auto c = load(path, {});
  std::filesystem::remove(path);
  REQUIRE_FALSE(c);
  REQUIRE(c.error().problems.size() == 1);
  CHECK(c.error().problems[0].where == path.string() + ":3:17");
}

TEST_CASE("The example configuration is valid and shows every setting", "[config]") {
  const std::string path = std::string(FLOWD_SOURCE_DIR) + "/config/flowd.example.yaml";
  auto c = load(path, {});
  INFO((c ? std::string() : problems_text(c.error())));
  REQUIRE(c);
  CHECK(c->kafka.embedded());
  CHECK(c->http.listen == "127.0.0.1:8080");
  const auto text = read_file(path);
  for (const auto& s : settings()) {
    auto key = s.name.substr(s.name.find('.') + 1);
    INFO(s.name);
    CHECK(text.find("  " + key + ":") != std::string::npos);
  }
}

TEST_CASE("The README documents every setting and its variable", "[config]") {
  const auto text = read_file(std::string(FLOWD_SOURCE_DIR) + "/config/README.md");
  REQUIRE_FALSE(text.empty());
  for (const auto& s : settings()) {
    INFO(s.name);
    CHECK(text.find("| " + s.name + " | " + s.env) != std::string::npos);
  }
}

TEST_CASE("The effective configuration dumps to a file that loads back the same", "[config]") {
  auto c = load_string(
      "http: {token: tok, listen: '[::1]:0'}\nkafka: {brokers: 'a:1,b:2', properties: {x.y: z}}\n"
      "workflows: {dirs: [d]}\nengine: {leaseDuration: 90s}\n",
      "f.yaml", {});
  REQUIRE(c);
  auto redacted = to_json(*c);
  CHECK(redacted["http"]["token"] == "<redacted>");
  auto dumped = to_json(*c, false);
  auto again = load_string(dumped.dump(), "dump.json", {});
  INFO((again ? std::string() : problems_text(again.error())));
  REQUIRE(again);
  CHECK(to_json(*again, false) == dumped);
  CHECK(dumped["engine"]["leaseDuration"] == "90s");
}

TEST_CASE("Setting names map to FLOWD_ variables in UPPER_SNAKE", "[config]") {
  struct Case {
    const char* section;
    const char* key;
    const char* env;
  };
  const Case cases[] = {
      {"database", "url", "FLOWD_DATABASE_URL"},
      {"kafka", "brokers", "FLOWD_KAFKA_BROKERS"},
      {"http", "listen", "FLOWD_HTTP_LISTEN"},
      {"http", "token", "FLOWD_HTTP_TOKEN"},
      {"engine", "maxInFlight", "FLOWD_ENGINE_MAX_IN_FLIGHT"},
      {"http", "maxBodyBytes", "FLOWD_HTTP_MAX_BODY_BYTES"},
      {"kafka", "dlqTopic", "FLOWD_KAFKA_DLQ_TOPIC"},
      {"engine", "instanceId", "FLOWD_ENGINE_INSTANCE_ID"},
      {"x", "httpURLValue", "FLOWD_X_HTTP_URL_VALUE"},
  };
  for (const auto& c : cases) CHECK(env_name(c.section, c.key) == c.env);
  // The table has one variable per setting, and no two alike.
  std::set<std::string> seen;
  for (const auto& s : settings()) CHECK(seen.insert(s.env).second);
  CHECK(seen.size() == settings().size());
}

TEST_CASE("Durations parse as one integer and a unit", "[config]") {
  struct Case {
    const char* text;
    std::optional<Millis> value;
  };
  const Case cases[] = {
      {"250ms", Millis(250)},    {"5s", Millis(5000)},        {"10m", Millis(600'000)},
      {"1h", Millis(3'600'000)}, {"7d", Millis(604'800'000)}, {"0ms", Millis(0)},
      {"", std::nullopt},        {"5", std::nullopt},         {"s", std::nullopt},
      {"-5s", std::nullopt},     {"1.5s", std::nullopt},      {"5 s", std::nullopt},
      {"1m30s", std::nullopt},   {"5S", std::nullopt},        {"9999999999999999d", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(parse_duration(c.text) == c.value);
  }
  CHECK(format_duration(Millis(90'000)) == "90s");
  CHECK(format_duration(Millis(1500)) == "1500ms");
  CHECK(format_duration(Millis(0)) == "0ms");
}

TEST_CASE("Group timings and static membership follow the instance id", "[config][takeover]") {
  auto generated = load_string("", "f.yaml", {});
  REQUIRE(generated);
  CHECK(generated->engine.instance_id_generated);
  CHECK(generated->kafka.group_instance_id(generated->engine).empty());  // hostname-pid: dynamic
  auto named = load_string("engine: {instanceId: node-1}\n", "f.yaml", {});
  REQUIRE(named);
  CHECK(named->kafka.group_instance_id(named->engine) == "node-1");
  auto off =
      load_string("engine: {instanceId: node-1}\nkafka: {staticMembership: off}\n", "f.yaml", {});
  REQUIRE(off);
  CHECK(off->kafka.group_instance_id(off->engine).empty());
  auto on = load_string("kafka: {staticMembership: on}\n", "f.yaml", {});
  REQUIRE(on);
  CHECK(on->kafka.group_instance_id(on->engine) == on->engine.instance_id);

  auto short_session = load_string("kafka: {sessionTimeout: 1500ms}\n", "f.yaml", {});
  REQUIRE(short_session);
  CHECK(short_session->kafka.heartbeat_interval == 500ms);  // a third of the session
  auto slow_beat =
      load_string("kafka: {sessionTimeout: 6s, heartbeatInterval: 6s}\n", "f.yaml", {});
  REQUIRE_FALSE(slow_beat);
  CHECK(problems_text(slow_beat.error()).find("kafka.heartbeatInterval") != std::string::npos);
  auto bad = load_string("kafka: {staticMembership: maybe}\n", "f.yaml", {});
  REQUIRE_FALSE(bad);
  CHECK(problems_text(bad.error()).find("auto, on or off") != std::string::npos);
  auto owned = load_string("kafka: {properties: {group.instance.id: x}}\n", "f.yaml", {});
  REQUIRE_FALSE(owned);
  CHECK(problems_text(owned.error()).find("kafka.staticMembership") != std::string::npos);
}
