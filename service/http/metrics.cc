#include "http/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace flowd::http {
namespace {

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// {a="x",b="y"} with `extra` (le="...") appended; "" when there are no labels at all.
std::string label_text(const std::vector<std::string>& names, const LabelValues& values,
                       std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i];
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  return out + "}";
}

void header(std::string& out, const std::string& name, const std::string& help,
            std::string_view type) {
  out += "# HELP " + name + " " + escape_help(help) + "\n";
  out += "# TYPE " + name + " " + std::string(type) + "\n";
}

}  // namespace

void Counter::inc(double amount) {
  if (!(amount >= 0)) return;  // counters never go down (and NaN is no amount)
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1]))
      throw std::invalid_argument("histogram bounds must be finite and strictly increasing");
  }
  counts_ = std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1);
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double value) {
  // The first bucket whose bound is >= value (Prometheus buckets are "less or equal").
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);
  counts_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;  // consistent with the +Inf bucket even while others observe
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <class Metric>
Metric& Family<Metric>::with(const LabelValues& values) {
  if (values.size() != labels_.size())
    throw std::invalid_argument("metric " + name_ + " takes " + std::to_string(labels_.size()) +
                                " label values, got " + std::to_string(values.size()));
  std::lock_guard lock(mutex_);
  auto it = children_.find(values);
  if (it == children_.end()) it = children_.emplace(values, make_()).first;
  return *it->second;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

template <class Metric>
Family<Metric>& MetricsRegistry::add(Type type, std::string name, std::string help,
                                     std::vector<std::string> labels,
                                     std::function<std::unique_ptr<Metric>()> make) {
  if (!valid_metric_name(name)) throw std::invalid_argument("invalid metric name: " + name);
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (!valid_label_name(labels[i]) || (type == Type::kHistogram && labels[i] == "le"))
      throw std::invalid_argument("invalid label name for " + name + ": " + labels[i]);
    for (std::size_t j = 0; j < i; ++j)
      if (labels[j] == labels[i])
        throw std::invalid_argument("duplicate label name for " + name + ": " + labels[i]);
  }
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = static_cast<Family<Metric>*>(it->second.family.get());
    if (it->second.type != type || existing->label_names() != labels)
      throw std::invalid_argument("metric " + name +
                                  " is already registered with another type or labels");
    return *existing;
  }
  auto family = std::shared_ptr<Family<Metric>>(
      new Family<Metric>(name, std::move(help), std::move(labels), std::move(make)));
  if (family->label_names().empty()) family->get();  // a label-less metric shows from the start
  families_.emplace(name, Entry{type, family});
  return *family;
}

Family<Counter>& MetricsRegistry::counter(std::string name, std::string help,
                                          std::vector<std::string> labels) {
  return add<Counter>(Type::kCounter, std::move(name), std::move(help), std::move(labels),
                      [] { return std::make_unique<Counter>(); });
}

Family<Gauge>& MetricsRegistry::gauge(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  return add<Gauge>(Type::kGauge, std::move(name), std::move(help), std::move(labels),
                    [] { return std::make_unique<Gauge>(); });
}

Family<Histogram>& MetricsRegistry::histogram(std::string name, std::string help,
                                              std::vector<std::string> labels,
                                              std::vector<double> bounds) {
  Histogram probe(bounds);  // validates the bounds now, not on first use
  (void)probe;
  return add<Histogram>(Type::kHistogram, std::move(name), std::move(help), std::move(labels),
                        [bounds] { return std::make_unique<Histogram>(bounds); });
}

void MetricsRegistry::on_collect(std::function<void()> hook) {
  std::lock_guard lock(mutex_);
  hooks_.push_back(std::move(hook));
}

std::string MetricsRegistry::expose() const {
  std::vector<std::function<void()>> hooks;
  std::vector<std::pair<std::string, Entry>> families;
  {
    std::lock_guard lock(mutex_);
    hooks = hooks_;
    families.assign(families_.begin(), families_.end());
  }
  for (const auto& hook : hooks) hook();

  std::string out;
  for (const auto& [name, entry] : families) {
    switch (entry.type) {
      case Type::kCounter:
      case Type::kGauge: {
        // Counter and Gauge families render alike; only the TYPE line differs.
        auto render = [&](auto* family) {
          header(out, name, family->help_, entry.type == Type::kCounter ? "counter" : "gauge");
          std::lock_guard lock(family->mutex_);
          for (const auto& [values, metric] : family->children_)
            out += name + label_text(family->labels_, values) + " " +
                   format_value(metric->value()) + "\n";
        };
        if (entry.type == Type::kCounter)
          render(static_cast<Family<Counter>*>(entry.family.get()));
        else
          render(static_cast<Family<Gauge>*>(entry.family.get()));
        break;
      }
      case Type::kHistogram: {
        auto* family = static_cast<Family<Histogram>*>(entry.family.get());
        header(out, name, family->help_, "histogram");
        std::lock_guard lock(family->mutex_);
        for (const auto& [values, metric] : family->children_) {
          auto s = metric->snapshot();
          for (std::size_t i = 0; i <= s.bounds.size(); ++i) {
            std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
            out += name + "_bucket" + label_text(family->labels_, values, "le", le) + " " +
                   std::to_string(s.cumulative[i]) + "\n";
          }
          auto labels = label_text(family->labels_, values);
          out += name + "_sum" + labels + " " + format_value(s.sum) + "\n";
          out += name + "_count" + labels + " " + std::to_string(s.count) + "\n";
        }
        break;
      }
    }
  }
  return out;
}

std::vector<double> MetricsRegistry::default_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> MetricsRegistry::exponential_buckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1)
    throw std::invalid_argument("exponential_buckets needs start > 0, factor > 1, count >= 1");
  std::vector<double> out;
  double bound = start;
  for (int i = 0; i < count; ++i, bound *= factor) out.push_back(bound);
  return out;
}

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", value);
}

}  // namespace flowd::http
