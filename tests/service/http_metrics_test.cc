// flowd::http::MetricsRegistry: Prometheus text exposition that a strict parser accepts, label
// escaping, histogram buckets, thread safety.
#include <atomic>
#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <thread>

#include "http/metrics.h"

using namespace flowd::http;

namespace {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> help;
  std::map<std::string, std::string> type;
  std::vector<Sample> samples;

  double value(const std::string& name, const std::map<std::string, std::string>& labels) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    FAIL("no sample " << name);
    return 0;
  }
};

bool name_char(char c, bool first) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
         (!first && std::isdigit(static_cast<unsigned char>(c)));
}

// A strict parser of the text format 0.0.4 (what Prometheus' own parser insists on): every
// sample's family has HELP and TYPE lines before it, label values are quoted with \\ \" \n
// escapes only, values parse as floats. A malformed line fails the test.
Exposition parse(const std::string& text) {
  Exposition out;
  REQUIRE((text.empty() || text.back() == '\n'));
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    INFO("line: " << line);
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      auto rest = line.substr(7);
      auto sp = rest.find(' ');
      REQUIRE(sp != std::string::npos);
      auto name = rest.substr(0, sp);
      (line[2] == 'H' ? out.help : out.type)[name] = rest.substr(sp + 1);
      if (line[2] == 'T') {
        auto t = rest.substr(sp + 1);
        REQUIRE((t == "counter" || t == "gauge" || t == "histogram"));
      }
      continue;
    }
    REQUIRE_FALSE(line.empty());
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && name_char(line[i], i == 0)) s.name += line[i++];
    REQUIRE_FALSE(s.name.empty());
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (line.at(i) != '}') {
        std::string label;
        while (name_char(line.at(i), label.empty()) && line[i] != ':') label += line[i++];
        REQUIRE(line.at(i++) == '=');
        REQUIRE(line.at(i++) == '"');
        std::string value;
        while (line.at(i) != '"') {
          if (line[i] == '\\') {
            char e = line.at(++i);
            REQUIRE((e == '\\' || e == '"' || e == 'n'));
            value += e == 'n' ? '\n' : e;
            ++i;
          } else {
            value += line[i++];
          }
        }
        ++i;
        s.labels[label] = value;
        if (line.at(i) == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line.at(i++) == ' ');
    auto v = line.substr(i);
    if (v == "+Inf")
      s.value = INFINITY;
    else if (v == "-Inf")
      s.value = -INFINITY;
    else if (v == "NaN")
      s.value = NAN;
    else {
      std::size_t used = 0;
      s.value = std::stod(v, &used);
      REQUIRE(used == v.size());
    }
    auto family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      std::string sfx = suffix;
      if (!out.type.count(family) && family.size() > sfx.size() &&
          family.compare(family.size() - sfx.size(), sfx.size(), sfx) == 0)
        family = family.substr(0, family.size() - sfx.size());
    }
    REQUIRE(out.type.count(family) == 1);
    REQUIRE(out.help.count(family) == 1);
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace

TEST_CASE("Counters, gauges and histograms expose in the Prometheus text format",
          "[service][http][metrics]") {
  MetricsRegistry registry;
  auto& started =
      registry.counter("flowd_executions_started_total", "Executions started", {"workflow"});
  started.with({"order-processing"}).inc();
  started.with({"order-processing"}).inc(2);
  started.with({"fan-out"}).inc();
  started.with({"fan-out"}).inc(-5);  // ignored: counters do not go down
  auto& lag = registry.gauge("flowd_consumer_lag", "Records behind", {"topic", "partition"});
  lag.with({"orders", "0"}).set(42);
  lag.with({"orders", "1"}).set(7);
  lag.with({"orders", "1"}).dec(2);
  auto& latency =
      registry.histogram("flowd_step_duration_seconds", "Step latency", {"type"}, {0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 50.0}) latency.with({"http"}).observe(v);
  auto& plain = registry.gauge("flowd_up", "Whether it serves");
  plain.get().set(1);

  auto text = registry.expose();
  INFO(text);
  auto e = parse(text);
  CHECK(e.type.at("flowd_executions_started_total") == "counter");
  CHECK(e.type.at("flowd_consumer_lag") == "gauge");
  CHECK(e.type.at("flowd_step_duration_seconds") == "histogram");
  CHECK(e.help.at("flowd_executions_started_total") == "Executions started");
  CHECK(e.value("flowd_executions_started_total", {{"workflow", "order-processing"}}) == 3);
  CHECK(e.value("flowd_executions_started_total", {{"workflow", "fan-out"}}) == 1);
  CHECK(e.value("flowd_consumer_lag", {{"topic", "orders"}, {"partition", "0"}}) == 42);
  CHECK(e.value("flowd_consumer_lag", {{"topic", "orders"}, {"partition", "1"}}) == 5);
  CHECK(e.value("flowd_up", {}) == 1);
  // Buckets are cumulative and "less than or equal": 0.1 falls in le="0.1".
  CHECK(e.value("flowd_step_duration_seconds_bucket", {{"type", "http"}, {"le", "0.1"}}) == 2);
  CHECK(e.value("flowd_step_duration_seconds_bucket", {{"type", "http"}, {"le", "1"}}) == 3);
  CHECK(e.value("flowd_step_duration_seconds_bucket", {{"type", "http"}, {"le", "10"}}) == 4);
  CHECK(e.value("flowd_step_duration_seconds_bucket", {{"type", "http"}, {"le", "+Inf"}}) == 5);
  CHECK(e.value("flowd_step_duration_seconds_count", {{"type", "http"}}) == 5);
  CHECK(e.value("flowd_step_duration_seconds_sum", {{"type", "http"}}) ==
        Approx(0.05 + 0.1 + 0.5 + 2.0 + 50.0));
  // Families come sorted by name, so the text is stable.
  CHECK(text.find("flowd_consumer_lag") < text.find("flowd_executions_started_total"));
}

TEST_CASE("Label values and help text are escaped", "[service][http][metrics]") {
  MetricsRegistry registry;
  auto& c = registry.counter("weird_total", "Help with \\ backslash\nand newline", {"v"});
  const std::string nasty = "a\"quote\" back\\slash\nnew line {}=,";
  c.with({nasty}).inc();
  auto text = registry.expose();
  INFO(text);
  CHECK(text.find("# HELP weird_total Help with \\\\ backslash\\nand newline\n") !=
        std::string::npos);
  CHECK(text.find(R"(weird_total{v="a\"quote\" back\\slash\nnew line {}=,"} 1)") !=
        std::string::npos);
  auto e = parse(text);
  CHECK(e.value("weird_total", {{"v", nasty}}) == 1);
  CHECK(escape_label_value("plain") == "plain");
  CHECK(format_value(INFINITY) == "+Inf");
  CHECK(format_value(-INFINITY) == "-Inf");
  CHECK(format_value(NAN) == "NaN");
  CHECK(format_value(3) == "3");
  CHECK(format_value(0.25) == "0.25");
}

TEST_CASE("Registering a metric again returns the same family; a conflict is an error",
          "[service][http][metrics]") {
  MetricsRegistry registry;
  auto& a = registry.counter("x_total", "X", {"l"});
  auto& b = registry.counter("x_total", "X again", {"l"});
  CHECK(&a == &b);
  CHECK_THROWS_AS(registry.gauge("x_total", "X"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("x_total", "X", {"other"}), std::invalid_argument);
  CHECK_THROWS_AS(a.with({"1", "2"}), std::invalid_argument);
  for (const char* bad : {"", "1abc", "has-dash", "sp ace"})
    CHECK_THROWS_AS(registry.counter(bad, "h"), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("y_total", "h", {"__reserved"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.counter("y_total", "h", {"a", "a"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h", "h", {"le"}), std::invalid_argument);
  CHECK_THROWS_AS(registry.histogram("h2", "h", {}, {1, 1}), std::invalid_argument);
  CHECK(MetricsRegistry::exponential_buckets(1, 2, 4) == std::vector<double>{1, 2, 4, 8});
}

TEST_CASE("Collect hooks run before every exposition", "[service][http][metrics]") {
  MetricsRegistry registry;
  auto& dlq = registry.gauge("flowd_dlq_size", "Dead letters").get();
  int calls = 0;
  registry.on_collect([&] { dlq.set(++calls * 10); });
  CHECK(parse(registry.expose()).value("flowd_dlq_size", {}) == 10);
  CHECK(parse(registry.expose()).value("flowd_dlq_size", {}) == 20);
}

TEST_CASE("Metrics can be recorded and exposed from many threads at once",
          "[service][http][metrics]") {
  MetricsRegistry registry;
  auto& counter = registry.counter("hits_total", "Hits", {"worker"});
  auto& hist = registry.histogram("lat_seconds", "Latency", {}, {0.5});
  auto& gauge = registry.gauge("level", "Level").get();
  constexpr int kThreads = 4, kPerThread = 5000;
  std::vector<std::thread> threads;
  std::atomic<int> malformed{0};  // Catch assertions are not thread-safe: count, check after
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.with({std::to_string(i % 3)}).inc();
        hist.get().observe(t % 2 ? 0.25 : 0.75);
        gauge.inc();
        if (i % 500 == 0) {
          auto text = registry.expose();
          if (text.empty() || text.back() != '\n') ++malformed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(malformed == 0);
  auto e = parse(registry.expose());
  double total = 0;
  for (const auto& s : e.samples)
    if (s.name == "hits_total") total += s.value;
  CHECK(total == kThreads * kPerThread);
  CHECK(e.value("lat_seconds_count", {}) == kThreads * kPerThread);
  CHECK(e.value("lat_seconds_bucket", {{"le", "0.5"}}) == kThreads * kPerThread / 2);
  CHECK(e.value("level", {}) == kThreads * kPerThread);
}
