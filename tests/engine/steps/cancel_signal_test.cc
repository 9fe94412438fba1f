// CancelSignal semantics and the StepRegistry.
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <vector>

#include "flowd/engine/step_runner.h"

namespace flowd {
namespace {

TEST_CASE("CancelSignal runs each handler once, in registration order", "[engine][steps]") {
  CancelSignal signal;
  std::vector<int> calls;
  signal.on_cancel([&] { calls.push_back(1); });
  signal.on_cancel([&] { calls.push_back(2); });
  CHECK_FALSE(signal.cancelled());
  CHECK(calls.empty());

  signal.cancel();
  CHECK(signal.cancelled());
  CHECK(calls == std::vector<int>{1, 2});

  signal.cancel();  // a second cancel runs nothing again
  CHECK(calls == std::vector<int>{1, 2});
}

TEST_CASE("CancelSignal runs a handler registered after cancel at once", "[engine][steps]") {
  CancelSignal signal;
  signal.cancel();
  int runs = 0;
  signal.on_cancel([&] { ++runs; });
  CHECK(runs == 1);
  signal.cancel();
  CHECK(runs == 1);
}

TEST_CASE("CancelSignal handler may register another handler while cancelling", "[engine][steps]") {
  CancelSignal signal;
  std::vector<std::string> calls;
  signal.on_cancel([&] {
    calls.push_back("outer");
    signal.on_cancel([&] { calls.push_back("inner"); });
  });
  signal.cancel();
  CHECK(calls == std::vector<std::string>{"outer", "inner"});
}

TEST_CASE("CancelSignal ignores empty handlers", "[engine][steps]") {
  CancelSignal signal;
  signal.on_cancel({});
  signal.cancel();
  signal.on_cancel({});
  CHECK(signal.cancelled());
}

class NamedRunner final : public StepRunner {
 public:
  boost::asio::awaitable<Result<Json>> run(StepCall) override { co_return Json("named"); }
};

TEST_CASE("StepRegistry finds what was added and lists workflow too", "[engine][steps]") {
  StepRegistry registry;
  CHECK(registry.find("custom") == nullptr);
  CHECK(registry.types() == std::set<std::string>{"workflow"});

  auto first = std::make_shared<NamedRunner>();
  auto second = std::make_shared<NamedRunner>();
  registry.add("custom", first);
  CHECK(registry.find("custom") == first.get());
  registry.add("custom", second);  // a later add replaces
  CHECK(registry.find("custom") == second.get());
  CHECK(registry.find("Custom") == nullptr);
  CHECK(registry.types() == std::set<std::string>{"custom", "workflow"});
}

TEST_CASE("StepRegistry refuses a null runner and the reserved workflow type", "[engine][steps]") {
  StepRegistry registry;
  CHECK_THROWS_AS(registry.add("custom", nullptr), std::invalid_argument);
  CHECK_THROWS_AS(registry.add("workflow", std::make_shared<NamedRunner>()), std::invalid_argument);
  CHECK_THROWS_AS(registry.add("", std::make_shared<NamedRunner>()), std::invalid_argument);
}

TEST_CASE("register_builtin_steps registers exactly the builtin step types", "[engine][steps]") {
  boost::asio::io_context io;
  StepRegistry registry;
  register_builtin_steps(registry, io);
  CHECK(builtin_step_types() ==
        std::set<std::string>{"transform", "sleep", "log", "noop", "fail", "http", "workflow"});
  CHECK(registry.types() == builtin_step_types());
  for (const auto& type : builtin_step_types()) {
    if (type == "workflow") {
      CHECK(registry.find(type) == nullptr);  // run by the engine itself
    } else {
      CHECK(registry.find(type) != nullptr);
    }
  }
}

TEST_CASE("Builtin runners that never wait say they are instant", "[engine][steps]") {
  boost::asio::io_context io;
  StepRegistry registry;
  register_builtin_steps(registry, io);
  for (const char* type : {"transform", "noop", "log", "fail"}) {
    INFO(type);
    CHECK(registry.find(type)->instant());
  }
  for (const char* type : {"sleep", "http"}) {
    INFO(type);
    CHECK_FALSE(registry.find(type)->instant());
  }
}

}  // namespace
}  // namespace flowd
