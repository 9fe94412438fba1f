#pragma once
// MetricsRegistry is a small Prometheus client: counters, gauges and histograms, each a family
// with fixed label names whose children are made on first use of a label-value tuple, rendered in
// the Prometheus text exposition format (0.0.4) by expose().
//
// Lifecycle: make one registry at start-up and share it (std::shared_ptr) with everything that
// records; families and children live as long as the registry, so the references handed out stay
// valid and can be cached. Thread-safe: any thread may register, record and expose at any time.
// Invalid metric or label names, and label-value counts that do not match the family, are
// programmer errors (std::invalid_argument).
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace flowd::http {

// A value that only goes up (requests served, executions started).
class Counter {
 public:
  void inc(double amount = 1.0);  // amount must be >= 0 (a negative one is ignored)
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (executions in flight, consumer lag).
class Gauge {
 public:
  void set(double value) { value_.store(value, std::memory_order_relaxed); }
  void inc(double amount = 1.0) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void dec(double amount = 1.0) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Observations counted into buckets by upper bound (step latency, batch sizes).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // sorted, finite, strictly increasing
  void observe(double value);

  struct Snapshot {
    std::vector<double> bounds;             // upper bounds without +Inf
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (== count)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf)
  std::atomic<double> sum_{0.0};
};

// Label values of one child, in the order of the family's label names.
using LabelValues = std::vector<std::string>;

// One metric name with its help text and label names; children by label values.
template <class Metric>
class Family {
 public:
  // The child for these label values, made on first use. Throws std::invalid_argument when the
  // count differs from the family's label names.
  Metric& with(const LabelValues& values);
  Metric& with(std::initializer_list<std::string_view> values) {
    return with(LabelValues(values.begin(), values.end()));
  }
  // The only child of a family without labels.
  Metric& get() { return with(LabelValues{}); }

  const std::string& name() const { return name_; }
  const std::vector<std::string>& label_names() const { return labels_; }

 private:
  friend class MetricsRegistry;
  Family(std::string name, std::string help, std::vector<std::string> labels,
         std::function<std::unique_ptr<Metric>()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        labels_(std::move(labels)),
        make_(std::move(make)) {}

  std::string name_;
  std::string help_;
  std::vector<std::string> labels_;
  std::function<std::unique_ptr<Metric>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Metric>> children_;  // guarded by mutex_
};

extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Registers a family, or returns the one already registered under `name` when its type and
  // label names are the same (a different one under the same name throws).
  Family<Counter>& counter(std::string name, std::string help,
                           std::vector<std::string> labels = {});
  Family<Gauge>& gauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& histogram(std::string name, std::string help,
                               std::vector<std::string> labels = {},
                               std::vector<double> bounds = default_buckets());

  // Runs before every expose(): a place to set gauges computed on demand (consumer lag, DLQ
  // size). Hooks run on the exposing thread, outside the registry's locks.
  void on_collect(std::function<void()> hook);

  // Prometheus text format 0.0.4: families sorted by name, children by label values.
  std::string expose() const;

  // Latency buckets in seconds: 0.5 ms .. 10 s.
  static std::vector<double> default_buckets();
  // start, start*factor, ... (count bounds).
  static std::vector<double> exponential_buckets(double start, double factor, int count);

  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Entry {
    Type type;
    std::shared_ptr<void> family;  // Family<Counter|Gauge|Histogram>
  };
  template <class Metric>
  Family<Metric>& add(Type type, std::string name, std::string help,
                      std::vector<std::string> labels,
                      std::function<std::unique_ptr<Metric>()> make);

  mutable std::mutex mutex_;
  std::map<std::string, Entry> families_;     // guarded by mutex_
  std::vector<std::function<void()>> hooks_;  // guarded by mutex_
};

// Text-format helpers (exposed for tests): label values escape backslash, double quote and
// newline; HELP text escapes backslash and newline; numbers are shortest round-trip, with +Inf,
// -Inf and NaN.
std::string escape_label_value(std::string_view value);
std::string escape_help(std::string_view help);
std::string format_value(double value);

}  // namespace flowd::http
