#pragma once
// Test harness for the executor: an io_context, a MemoryEventLog, the built-in runners plus a
// Gate runner whose calls wait until the test releases them (to observe concurrency without
// sleeps), and helpers to load YAML and drive the loop until a condition holds.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <functional>
#include <map>

#include "flowd/engine/engine.h"

namespace flowd::test {

// Calls block until released (or cancelled); records concurrency and order.
class Gate : public StepRunner {
 public:
  explicit Gate(boost::asio::io_context& io) : io_(io) {}

  boost::asio::awaitable<Result<Json>> run(StepCall call) override {
    ++current;
    max_seen = std::max(max_seen, current);
    order.push_back("start:" + call.step);
    calls[call.step]++;
    auto timer = std::make_shared<boost::asio::steady_timer>(
        io_, boost::asio::steady_timer::time_point::max());
    waiting.push_back(timer);
    call.cancel->on_cancel([timer] { timer->cancel(); });
    boost::system::error_code ec;
    co_await timer->async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    --current;
    order.push_back("end:" + call.step);
    if (call.cancel->cancelled()) {
      ++cancelled;
      co_return fail(ErrorCode::kCancelled, "gate cancelled");
    }
    co_return Json{{"step", call.step}, {"with", call.with}};
  }

  // Releases every call waiting now.
  void release_all() {
    auto now = std::move(waiting);
    waiting.clear();
    for (auto& t : now) t->cancel();
  }

  int current = 0;
  int max_seen = 0;
  int cancelled = 0;
  std::vector<std::string> order;
  std::map<std::string, int> calls;
  std::vector<std::shared_ptr<boost::asio::steady_timer>> waiting;

 private:
  boost::asio::io_context& io_;
};

// Counts calls per step path and echoes `with`.
class Counter : public StepRunner {
 public:
  boost::asio::awaitable<Result<Json>> run(StepCall call) override {
    calls[call.step]++;
    keys.push_back(call.idempotency_key);
    co_return call.with;
  }
  bool instant() const override { return true; }
  std::map<std::string, int> calls;
  std::vector<std::string> keys;
};

struct Harness {
  boost::asio::io_context io;
  MemoryEventLog log;
  StepRegistry registry;
  DefinitionSet definitions;
  std::shared_ptr<Gate> gate = std::make_shared<Gate>(io);
  std::shared_ptr<Counter> counter = std::make_shared<Counter>();
  std::vector<std::string> logged;
  std::unique_ptr<Engine> engine;

  explicit Harness(std::function<double()> random = [] { return 0.0; }) {
    BuiltinOptions builtin;
    builtin.log_sink = [this](std::string_view, const std::string& m) { logged.push_back(m); };
    register_builtin_steps(registry, io, builtin);
    registry.add("gate", gate);
    registry.add("count", counter);
    EngineDeps deps;
    deps.log = &log;
    deps.runners = &registry;
    deps.definitions = &definitions;
    deps.random = std::move(random);
    deps.secrets = Json{{"TOKEN", "s3cret"}};
    engine = std::make_unique<Engine>(io, std::move(deps));
  }

  std::shared_ptr<const Definition> load(const std::string& yaml) {
    std::set<std::string> types = registry.types();
    LoadResult loaded = load_definition(yaml, "test.yaml", types);
    for (const auto& d : loaded.diagnostics) UNSCOPED_INFO(d.format());
    REQUIRE(loaded.diagnostics.empty());
    REQUIRE(loaded.definition);
    definitions.add(loaded.definition);
    return loaded.definition;
  }

  // Starts an execution; returns its id. `final` is set when it ends.
  std::string start(std::shared_ptr<const Definition> def, Json input = Json::object()) {
    StartOptions options;
    options.input = std::move(input);
    auto id = engine->start(std::move(def), std::move(options),
                            [this](const ExecutionState& s) { final_states[s.id] = s; });
    REQUIRE(id);
    return *id;
  }

  // Runs the loop until `done()` holds; fails the test if it does not within `limit`.
  void run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      io.restart();
      io.run_one_for(std::chrono::milliseconds(50));
    }
  }

  // Starts and runs to the end.
  ExecutionState run(const std::string& yaml, Json input = Json::object()) {
    auto id = start(load(yaml), std::move(input));
    run_until([&] { return final_states.count(id) > 0; });
    return final_states.at(id);
  }

  std::vector<std::string> event_types(const std::string& id) const {
    std::vector<std::string> out;
    for (const Event& e : log.read(id))
      out.push_back(std::string(to_string(e.type)) + (e.step.empty() ? "" : ":" + e.step));
    return out;
  }

  std::map<std::string, ExecutionState> final_states;
};

}  // namespace flowd::test
