// transform, noop, log, sleep and fail runners.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "flowd/engine/step_runner.h"
#include "step_test_util.h"

namespace flowd {
namespace {

using testing::make_call;
using testing::run_step;
using Steady = std::chrono::steady_clock;

struct Fixture {
  boost::asio::io_context io;
  StepRegistry registry;
  std::vector<std::pair<std::string, std::string>> logged;

  Fixture() {
    BuiltinOptions options;
    options.log_sink = [this](std::string_view step, const std::string& message) {
      logged.emplace_back(std::string(step), message);
    };
    register_builtin_steps(registry, io, options);
  }

  Result<Json> run(const std::string& type, Json with, int attempt = 1) {
    return run_step(io, *registry.find(type), make_call(type, std::move(with), attempt));
  }
};

TEST_CASE("transform outputs its resolved with as given", "[engine][steps]") {
  Fixture f;
  const std::vector<std::pair<Json, Json>> cases = {
      {Json{{"a", 1}, {"b", {{"c", "x"}}}}, Json{{"a", 1}, {"b", {{"c", "x"}}}}},
      {Json::array({1, "two", nullptr}), Json::array({1, "two", nullptr})},
      {Json("text"), Json("text")},
      {Json::object(), Json::object()},
      {Json(nullptr), Json::object()},  // no `with` at all
  };
  for (const auto& [with, expected] : cases) {
    INFO(with.dump());
    auto out = f.run("transform", with);
    REQUIRE(out.has_value());
    CHECK(*out == expected);
  }
}

TEST_CASE("noop outputs an empty object whatever it is given", "[engine][steps]") {
  Fixture f;
  for (const Json& with : {Json(nullptr), Json{{"ignored", true}}}) {
    auto out = f.run("noop", with);
    REQUIRE(out.has_value());
    CHECK(*out == Json::object());
  }
}

TEST_CASE("log sends the message to the sink and outputs it", "[engine][steps]") {
  Fixture f;
  const std::vector<std::pair<Json, std::string>> cases = {
      {"order 42 reserved", "order 42 reserved"},
      {"", ""},
      {7, "7"},
      {true, "true"},
      {nullptr, "null"},
      {Json{{"id", 1}}, R"({"id":1})"},
      {Json::array({1, 2}), "[1,2]"},
  };
  for (const auto& [message, text] : cases) {
    INFO(message.dump());
    f.logged.clear();
    auto out = f.run("log", Json{{"message", message}});
    REQUIRE(out.has_value());
    CHECK(*out == Json{{"message", text}});
    REQUIRE(f.logged.size() == 1);
    CHECK(f.logged[0].first == "s1");
    CHECK(f.logged[0].second == text);
  }
}

TEST_CASE("log without a message is invalid input", "[engine][steps]") {
  Fixture f;
  for (const Json& with : {Json(nullptr), Json::object(), Json{{"msg", "typo"}}}) {
    INFO(with.dump());
    auto out = f.run("log", with);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == ErrorCode::kInvalidInput);
    CHECK_FALSE(out.error().retryable);
    CHECK_THAT(out.error().message, Catch::Contains("with.message"));
  }
  CHECK(f.logged.empty());
}

TEST_CASE("log with the default sink writes and outputs the message", "[engine][steps]") {
  boost::asio::io_context io;
  StepRegistry registry;
  register_builtin_steps(registry, io);
  auto out = run_step(io, *registry.find("log"), make_call("log", Json{{"message", "to stderr"}}));
  REQUIRE(out.has_value());
  CHECK(*out == Json{{"message", "to stderr"}});
}

TEST_CASE("sleep waits its duration and reports it", "[engine][steps]") {
  Fixture f;
  const std::vector<std::pair<Json, long long>> cases = {
      {"30ms", 30}, {"0ms", 0}, {25, 25}, {0, 0}};
  for (const auto& [duration, ms] : cases) {
    INFO(duration.dump());
    auto start = Steady::now();
    auto out = f.run("sleep", Json{{"duration", duration}});
    auto waited = Steady::now() - start;
    REQUIRE(out.has_value());
    CHECK(*out == Json{{"sleptMs", ms}});
    CHECK(waited >= std::chrono::milliseconds(ms));
  }
}

TEST_CASE("sleep with a bad duration is invalid input, not retryable", "[engine][steps]") {
  Fixture f;
  const std::vector<Json> cases = {
      Json::object(),               // missing
      Json{{"duration", "soon"}},   // not a duration
      Json{{"duration", "-5ms"}},   // signed
      Json{{"duration", "1.5s"}},   // fraction
      Json{{"duration", -1}},       // negative number
      Json{{"duration", 1.5}},      // fractional number
      Json{{"duration", true}},     // wrong type
      Json{{"duration", nullptr}},  // null
      Json(nullptr),                // no with
  };
  for (const auto& with : cases) {
    INFO(with.dump());
    auto out = f.run("sleep", with);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == ErrorCode::kInvalidInput);
    CHECK_FALSE(out.error().retryable);
    CHECK_THAT(out.error().message, Catch::Contains("duration"));
  }
}

TEST_CASE("sleep stops promptly when its CancelSignal fires while waiting", "[engine][steps]") {
  Fixture f;
  auto call = make_call("sleep", Json{{"duration", "1h"}});
  auto signal = call.cancel;
  std::optional<Result<Json>> out;
  auto start = Steady::now();
  // co_spawn starts the runner first; the posted cancel runs once it waits on its timer.
  boost::asio::co_spawn(
      f.io,
      [&]() -> boost::asio::awaitable<void> {
        out = co_await f.registry.find("sleep")->run(std::move(call));
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  boost::asio::post(f.io, [&] {
    CHECK_FALSE(out.has_value());  // still sleeping
    signal->cancel();
  });
  f.io.run_for(std::chrono::seconds(20));
  REQUIRE(out.has_value());
  CHECK(Steady::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(out->has_value());
  CHECK(out->error().code == ErrorCode::kCancelled);
  CHECK(f.io.stopped());  // the timer is gone: nothing left to run
}

TEST_CASE("sleep on an already cancelled signal returns at once", "[engine][steps]") {
  Fixture f;
  auto call = make_call("sleep", Json{{"duration", "1h"}});
  call.cancel->cancel();
  auto start = Steady::now();
  auto out = run_step(f.io, *f.registry.find("sleep"), std::move(call));
  CHECK(Steady::now() - start < std::chrono::seconds(5));
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == ErrorCode::kCancelled);
}

TEST_CASE("sleep tolerates a cancel after it finished", "[engine][steps]") {
  Fixture f;
  auto call = make_call("sleep", Json{{"duration", "1ms"}});
  auto signal = call.cancel;
  auto out = run_step(f.io, *f.registry.find("sleep"), std::move(call));
  REQUIRE(out.has_value());
  signal->cancel();  // the sleep's state is gone; the handler must find nothing to touch
  CHECK(signal->cancelled());
}

struct FailCase {
  const char* name;
  Json with;
  int attempt;
  bool fails;
  ErrorCode code;
  bool retryable;
  Json output;  // when it does not fail
};

TEST_CASE("fail fails its first `times` attempts, then succeeds", "[engine][steps]") {
  Fixture f;
  const std::vector<FailCase> cases = {
      {"no times fails every attempt", Json::object(), 1, true, ErrorCode::kExternal, true, {}},
      {"no times fails attempt 9", Json::object(), 9, true, ErrorCode::kExternal, true, {}},
      {"null with fails", Json(nullptr), 3, true, ErrorCode::kExternal, true, {}},
      {"attempt within times", Json{{"times", 2}}, 2, true, ErrorCode::kExternal, true, {}},
      {"attempt after times", Json{{"times", 2}}, 3, false, {}, false, Json{{"attempt", 3}}},
      {"times 0 never fails", Json{{"times", 0}}, 1, false, {}, false, Json{{"attempt", 1}}},
      {"custom output",
       Json{{"times", 1}, {"output", {{"ok", true}}}},
       2,
       false,
       {},
       false,
       Json{{"ok", true}}},
      {"null output", Json{{"times", 1}, {"output", nullptr}}, 2, false, {}, false, Json(nullptr)},
      {"TIMEOUT is retryable", Json{{"code", "TIMEOUT"}}, 1, true, ErrorCode::kTimeout, true, {}},
      {"INVALID_INPUT is not",
       Json{{"code", "INVALID_INPUT"}},
       1,
       true,
       ErrorCode::kInvalidInput,
       false,
       {}},
      {"INTERNAL is not", Json{{"code", "INTERNAL"}}, 1, true, ErrorCode::kInternal, false, {}},
      {"retryable forced on",
       Json{{"code", "NOT_FOUND"}, {"retryable", true}},
       1,
       true,
       ErrorCode::kNotFound,
       true,
       {}},
      {"retryable forced off",
       Json{{"code", "EXTERNAL"}, {"retryable", false}},
       1,
       true,
       ErrorCode::kExternal,
       false,
       {}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto out = f.run("fail", c.with, c.attempt);
    REQUIRE(out.has_value() == !c.fails);
    if (c.fails) {
      CHECK(out.error().code == c.code);
      CHECK(out.error().retryable == c.retryable);
      CHECK_FALSE(out.error().message.empty());
    } else {
      CHECK(*out == c.output);
    }
  }
}

TEST_CASE("fail uses the given message", "[engine][steps]") {
  Fixture f;
  auto out = f.run("fail", Json{{"code", "INVALID_INPUT"}, {"message", "unknown payment method"}});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().message == "unknown payment method");
  auto dflt = f.run("fail", Json{{"times", 3}}, 2);
  REQUIRE_FALSE(dflt.has_value());
  CHECK_THAT(dflt.error().message, Catch::Contains("attempt 2"));
}

TEST_CASE("fail with malformed options is invalid input", "[engine][steps]") {
  Fixture f;
  const std::vector<Json> cases = {
      Json{{"times", -1}}, Json{{"times", "2"}},       Json{{"times", 1.5}}, Json{{"code", "NOPE"}},
      Json{{"code", 3}},   Json{{"retryable", "yes"}}, Json::array({1}),
  };
  for (const auto& with : cases) {
    INFO(with.dump());
    auto out = f.run("fail", with, 5);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == ErrorCode::kInvalidInput);
    CHECK_FALSE(out.error().retryable);
  }
}

}  // namespace
}  // namespace flowd
