// engine_bench: in-memory executions per second (3-step sequential workflow, 100-step DAG) and the
// engine's overhead per step, on one thread with the in-memory event log. Ends with FIGURE lines.
#include <benchmark/benchmark.h>

#include <boost/asio/io_context.hpp>
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

// Keeps each benchmark's items per second for the FIGURE lines.
class FigureReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& run : runs) {
      auto it = run.counters.find("items_per_second");
      if (it != run.counters.end()) rates[run.benchmark_name()] = it->second.value;
    }
  }
  std::map<std::string, double> rates;
};

double rate(const FigureReporter& r, const std::string& prefix) {
  for (const auto& [name, value] : r.rates)
    if (name.rfind(prefix, 0) == 0) return value;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  FigureReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  double three = rate(reporter, "BM_ThreeStepSequential");
  double dag = rate(reporter, "BM_Dag100");
  double chain20 = rate(reporter, "BM_Chain20");
  double chain1 = rate(reporter, "BM_Chain1");
  // Overhead of one more step: the time of a 20-step chain minus a 1-step one, over 19 steps.
  double per_step_us = chain20 > 0 && chain1 > 0 ? (1e6 / chain20 - 1e6 / chain1) / 19.0 : 0;
  std::cout << "FIGURE engine_three_step_executions_per_sec " << static_cast<long>(three)
            << " exec/s\n";
  std::cout << "FIGURE engine_dag100_executions_per_sec " << static_cast<long>(dag) << " exec/s\n";
  std::cout << "FIGURE engine_per_step_overhead " << per_step_us << " us\n";
  return 0;
}
