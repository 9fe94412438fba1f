// engine_bench: in-memory executions per second (3-step sequential workflow, 100-step DAG) and the
// engine's overhead per step, on one thread with the in-memory event log; the memory one forEach
// over 100,000 items takes. Ends with FIGURE lines (rates per second of wall time, and per second
// of the thread's CPU time, which a loaded machine disturbs less).
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>

#include "flowd/engine/engine.h"

namespace {

using flowd::Json;

std::shared_ptr<const flowd::Definition> load(const std::string& yaml) {
  auto loaded = flowd::load_definition(yaml, "bench.yaml");
  if (!loaded.definition) {
    for (const auto& d : loaded.diagnostics) std::cerr << d.format() << "\n";
    std::abort();
  }
  return loaded.definition;
}

std::string header(const std::string& name) {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: " + name +
         ", version: 1}\nspec:\n  maxParallel: 64\n  steps:\n";
}

std::string three_steps() {
  return header("three") +
         "    - {id: a, type: transform, with: {order: \"{{ input.orderId }}\"}}\n"
         "    - {id: b, type: transform, dependsOn: [a], with: {o: \"{{ steps.a.output.order "
         "}}\"}}\n"
         "    - {id: c, type: noop, dependsOn: [b]}\n";
}

std::string chain(int n) {
  std::string y = header("chain");
  for (int i = 0; i < n; ++i)
    y += "    - {id: s" + std::to_string(i) + ", type: noop" +
         (i ? ", dependsOn: [s" + std::to_string(i - 1) + "]" : std::string()) + "}\n";
  return y;
}

// 10 layers of 10 steps; every step depends on two steps of the layer before.
std::string dag100() {
  std::string y = header("dag");
  for (int layer = 0; layer < 10; ++layer)
    for (int i = 0; i < 10; ++i) {
      y += "    - {id: s" + std::to_string(layer) + "_" + std::to_string(i) + ", type: noop";
      if (layer > 0)
        y += ", dependsOn: [s" + std::to_string(layer - 1) + "_" + std::to_string(i) + ", s" +
             std::to_string(layer - 1) + "_" + std::to_string((i + 1) % 10) + "]";
      y += "}\n";
    }
  return y;
}

std::int64_t executions_run = 0;  // completed, over all runs (to divide `perf stat` counts by)

// Runs `batch` executions of `def` to completion per benchmark iteration.
void run_batches(benchmark::State& state, const std::string& yaml, int steps_per_execution) {
  boost::asio::io_context io(1);
  flowd::MemoryEventLog log;
  log.set_retain(false);
  flowd::StepRegistry registry;
  flowd::register_builtin_steps(registry, io);
  flowd::EngineDeps deps;
  deps.log = &log;
  deps.runners = &registry;
  flowd::Engine engine(io, std::move(deps));
  auto def = load(yaml);
  const int batch = static_cast<int>(state.range(0));
  std::int64_t completed = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) {
      flowd::StartOptions options;
      options.input = Json{{"orderId", i}};
      auto id = engine.start(def, std::move(options), [&](const flowd::ExecutionState& s) {
        if (s.status == flowd::ExecutionStatus::kCompleted) ++completed;
      });
      if (!id) std::abort();
    }
    io.restart();
    io.run();
  }
  executions_run += completed;
  if (completed != static_cast<std::int64_t>(state.iterations()) * batch) {
    state.SkipWithError("not every execution completed");
    return;
  }
  state.SetItemsProcessed(completed);
  state.counters["steps_per_execution"] = steps_per_execution;
  state.counters["events"] = static_cast<double>(log.total_events());
}

void BM_ThreeStepSequential(benchmark::State& state) {
  run_batches(state, three_steps(), 3);
}
void BM_Dag100(benchmark::State& state) {
  run_batches(state, dag100(), 100);
}
void BM_Chain20(benchmark::State& state) {
  run_batches(state, chain(20), 20);
}
void BM_Chain1(benchmark::State& state) {
  run_batches(state, chain(1), 1);
}

BENCHMARK(BM_ThreeStepSequential)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Dag100)->Arg(20)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain20)->Arg(200)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Chain1)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// Keeps each benchmark's items per second (of wall time and of CPU time) for the FIGURE lines.
class FigureReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it == run.counters.end() || run.iterations == 0) continue;
      rates[run.benchmark_name()] = it->second.value;
      // items/s of wall time x wall seconds / CPU seconds = items/s of CPU time.
      double cpu = run.GetAdjustedCPUTime(), real = run.GetAdjustedRealTime();
      cpu_rates[run.benchmark_name()] = cpu > 0 ? it->second.value * real / cpu : 0;
    }
  }
  std::map<std::string, double> rates;
  std::map<std::string, double> cpu_rates;
};

double rate(const std::map<std::string, double>& rates, const std::string& prefix) {
  for (const auto& [name, value] : rates)
    if (name.rfind(prefix, 0) == 0) return value;
  return 0;
}

double per_step_us(const std::map<std::string, double>& rates) {
  // Overhead of one more step: the time of a 20-step chain minus a 1-step one, over 19 steps.
  double chain20 = rate(rates, "BM_Chain20"), chain1 = rate(rates, "BM_Chain1");
  return chain20 > 0 && chain1 > 0 ? (1e6 / chain20 - 1e6 / chain1) / 19.0 : 0;
}

// A /proc/self/status field in kB (VmRSS, VmHWM).
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// One forEach over `count` items of a transform step, with a log that counts events and keeps
// none: the growth of the peak RSS is what the engine itself holds (input, state, outputs).
double for_each_peak_rss_mb(int count) {
  boost::asio::io_context io(1);
  flowd::MemoryEventLog log;
  log.set_retain(false);
  flowd::StepRegistry registry;
  flowd::register_builtin_steps(registry, io);
  flowd::EngineDeps deps;
  deps.log = &log;
  deps.runners = &registry;
  flowd::Engine engine(io, std::move(deps));
  auto def = load(header("foreach") +
                  "    - id: each\n"
                  "      forEach: {items: \"{{ input.items }}\", maxParallel: 8}\n"
                  "      type: transform\n"
                  "      with: {sku: \"{{ item.sku }}\", n: \"{{ index }}\"}\n"
                  "  output: {count: \"{{ steps.each.output.itemCount }}\"}\n");
  flowd::StartOptions options;
  options.input = Json{{"items", Json::array()}};
  for (int i = 0; i < count; ++i)
    options.input["items"].push_back(Json{{"sku", "sku-" + std::to_string(i)}, {"qty", i % 7}});
  const long before = status_kb("VmRSS");
  bool ok = false;
  auto id = engine.start(def, std::move(options), [&](const flowd::ExecutionState& s) {
    ok = s.status == flowd::ExecutionStatus::kCompleted && s.output.value("count", 0) == count;
  });
  if (!id) std::abort();
  io.run();
  const long peak = status_kb("VmHWM");
  if (!ok) {
    std::cerr << "forEach over " << count << " items did not complete\n";
    std::abort();
  }
  std::cerr << "forEach " << count << " items: " << log.total_events() << " events\n";
  return static_cast<double>(peak - before) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  // First, while the peak RSS is still the process's start-up size.
  // FLOWD_BENCH_NO_FOREACH=1 skips it (to profile the executions alone).
  const double for_each_mb =
      std::getenv("FLOWD_BENCH_NO_FOREACH") ? 0 : for_each_peak_rss_mb(100'000);
  FigureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::cerr << "executions run: " << executions_run << "\n";
  const auto& cpu = reporter.cpu_rates;
  std::cout << "FIGURE engine_three_step_executions_per_cpu_sec "
            << static_cast<long>(rate(cpu, "BM_ThreeStepSequential")) << " exec/s\n";
  std::cout << "FIGURE engine_dag100_executions_per_cpu_sec "
            << static_cast<long>(rate(cpu, "BM_Dag100")) << " exec/s\n";
  std::cout << "FIGURE engine_per_step_overhead_cpu " << per_step_us(cpu) << " us\n";
  std::cout << "FIGURE engine_foreach_100k_peak_rss_mb " << for_each_mb << " MB\n";
  std::cout << "FIGURE engine_three_step_executions_per_sec "
            << static_cast<long>(rate(reporter.rates, "BM_ThreeStepSequential")) << " exec/s\n";
  std::cout << "FIGURE engine_dag100_executions_per_sec "
            << static_cast<long>(rate(reporter.rates, "BM_Dag100")) << " exec/s\n";
  std::cout << "FIGURE engine_per_step_overhead " << per_step_us(reporter.rates) << " us\n";
  return 0;
}
