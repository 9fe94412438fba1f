#pragma once
// Helpers for the step runner tests: run coroutines on an io_context to completion and build
// StepCalls.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <utility>

#include "flowd/engine/step_runner.h"

namespace flowd::testing {

inline StepCall make_call(std::string type, Json with, int attempt = 1) {
  StepCall call;
  call.execution_id = "exec-1";
  call.step = "s1";
  call.attempt = attempt;
  call.idempotency_key = "exec-1/s1/" + std::to_string(attempt);
  call.type = std::move(type);
  call.with = std::move(with);
  return call;
}

// Runs `body` on `io` until it finished and `io` ran out of work (so nothing it started, such as a
// timer, was left behind); `on_done` runs when the body finished (e.g. to stop a test server).
inline void run_io(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> body,
                   std::function<void()> on_done = {}) {
  bool done = false;
  std::exception_ptr error;
  boost::asio::co_spawn(io, std::move(body), [&](std::exception_ptr e) {
    done = true;
    error = e;
    if (on_done) on_done();
  });
  io.restart();
  io.run_for(std::chrono::seconds(20));
  REQUIRE(done);
  REQUIRE(io.stopped());  // out of work, not out of time
  if (error) std::rethrow_exception(error);
}

// One call of `runner` on `io`, to completion.
inline Result<Json> run_step(boost::asio::io_context& io, StepRunner& runner, StepCall call) {
  std::optional<Result<Json>> out;
  run_io(io, [&]() -> boost::asio::awaitable<void> { out = co_await runner.run(std::move(call)); });
  REQUIRE(out.has_value());
  return *out;
}

}  // namespace flowd::testing
