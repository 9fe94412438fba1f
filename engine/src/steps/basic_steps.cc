#include "steps/basic_steps.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <utility>

#include "flowd/engine/timers.h"

namespace flowd::steps {
namespace asio = boost::asio;

namespace {

std::string text_of(const Json& value) {
  return value.is_string() ? value.get<std::string>() : value.dump();
}

// Wraps an already computed result as an awaitable (the step did its work synchronously).
asio::awaitable<Result<Json>> complete(Result<Json> result) {
  co_return result;
}

class TransformRunner final : public StepRunner {
 public:
  bool instant() const override { return true; }
  asio::awaitable<Result<Json>> run(StepCall call) override {
    Json out = call.with.is_null() ? Json::object() : std::move(call.with);
    return complete(std::move(out));
  }
};

class NoopRunner final : public StepRunner {
 public:
  bool instant() const override { return true; }
  asio::awaitable<Result<Json>> run(StepCall) override { return complete(Json::object()); }
};

void stderr_sink(std::string_view step, const std::string& message) {
  std::string line = "[log] ";
  line.append(step).append(": ").append(message).push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
}

class LogRunner final : public StepRunner {
 public:
  explicit LogRunner(LogSink sink) : sink_(sink ? std::move(sink) : LogSink(stderr_sink)) {}
  bool instant() const override { return true; }

  asio::awaitable<Result<Json>> run(StepCall call) override {
    if (!call.with.is_object() || !call.with.contains("message")) {
      return complete(
          fail(ErrorCode::kInvalidInput, "log step '" + call.step + "': with.message is required"));
    }
    std::string message = text_of(call.with["message"]);
    sink_(call.step, message);
    return complete(Json{{"message", std::move(message)}});
  }

 private:
  LogSink sink_;
};

// One sleep in flight; the cancel handler holds it weakly, so a late signal finds nothing.
struct SleepState {
  explicit SleepState(asio::io_context::executor_type ex) : timer(ex) {}
  asio::steady_timer timer;
};

// When a sleep ends: with.until (an RFC 3339 time), else with.duration after `now`.
Result<TimePoint> sleep_due(const std::string& step, const Json& with, TimePoint now) {
  auto invalid = [&](const std::string& what) {
    return fail(ErrorCode::kInvalidInput, "sleep step '" + step + "': " + what);
  };
  auto field = [&](const char* key) -> const Json* {
    if (!with.is_object()) return nullptr;
    auto it = with.find(key);
    return it == with.end() ? nullptr : &*it;
  };
  const Json* until = field("until");
  const Json* duration = field("duration");
  if (until != nullptr && duration != nullptr)
    return invalid("with.until and with.duration exclude each other");
  if (until != nullptr) {
    auto at =
        until->is_string() ? parse_instant(until->get_ref<const std::string&>()) : std::nullopt;
    if (!at)
      return invalid("with.until is not an RFC 3339 time (like 2026-11-21T10:00:00Z): " +
                     until->dump());
    return *at;
  }
  if (duration == nullptr) return invalid("with.duration or with.until is required");
  auto parsed = duration_input(*duration, "with.duration");
  if (!parsed) return invalid(parsed.error().message);
  return now + *parsed;
}

asio::awaitable<Result<Json>> sleep_for(asio::io_context::executor_type ex, StepCall call) {
  const TimePoint now = call.now == TimePoint{} ? Clock::now() : call.now;
  TimePoint due{};
  if (call.due_at) {
    due = *call.due_at;
  } else {
    auto computed = sleep_due(call.step, call.with, now);
    if (!computed) co_return tl::unexpected(computed.error());
    due = *computed;
  }
  auto state = std::make_shared<SleepState>(ex);
  state->timer.expires_after(time_until(due, now));
  std::weak_ptr<SleepState> weak = state;
  call.cancel->on_cancel([weak] {
    if (auto s = weak.lock()) s->timer.cancel();
  });
  if (call.cancel->cancelled()) {
    co_return fail(ErrorCode::kCancelled, "sleep step '" + call.step + "' cancelled");
  }
  boost::system::error_code ec;
  co_await state->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  if (call.cancel->cancelled()) {
    co_return fail(ErrorCode::kCancelled, "sleep step '" + call.step + "' cancelled");
  }
  if (ec) {
    co_return fail(ErrorCode::kInternal, "sleep step '" + call.step + "': " + ec.message());
  }
  // The duration as written (the same after a resume); for `until`, the time slept towards it.
  Json out = Json::object();
  if (call.with.contains("until")) {
    out["until"] = format_time(due);
    out["sleptMs"] = time_until(due, now).count();
  } else {
    auto duration = duration_input(call.with["duration"], "with.duration");
    out["sleptMs"] = duration ? duration->count() : time_until(due, now).count();
  }
  co_return out;
}

class SleepRunner final : public StepRunner {
 public:
  explicit SleepRunner(asio::io_context::executor_type ex) : ex_(ex) {}
  asio::awaitable<Result<Json>> run(StepCall call) override {
    return sleep_for(ex_, std::move(call));
  }
  Result<std::optional<TimePoint>> due_at(const std::string& step, const Json& with,
                                          TimePoint now) const override {
    auto due = sleep_due(step, with, now);
    if (!due) return tl::unexpected(due.error());
    return std::optional<TimePoint>(*due);
  }

 private:
  asio::io_context::executor_type ex_;
};

Result<Json> fail_attempt(const StepCall& call) {
  auto invalid = [&](const std::string& what) {
    return fail(ErrorCode::kInvalidInput, "fail step '" + call.step + "': " + what);
  };
  const Json with = call.with.is_null() ? Json::object() : call.with;
  if (!with.is_object()) return invalid("with must be an object");

  std::optional<long long> times;
  if (auto it = with.find("times"); it != with.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<long long>() < 0) {
      return invalid("with.times must be a non-negative integer, got " + it->dump());
    }
    times = it->get<long long>();
  }
  ErrorCode code = ErrorCode::kExternal;
  if (auto it = with.find("code"); it != with.end() && !it->is_null()) {
    auto parsed = it->is_string() ? parse_error_code(it->get<std::string>()) : std::nullopt;
    if (!parsed) return invalid("with.code is not an error code: " + it->dump());
    code = *parsed;
  }
  bool retryable = code == ErrorCode::kTimeout || code == ErrorCode::kExternal;
  if (auto it = with.find("retryable"); it != with.end() && !it->is_null()) {
    if (!it->is_boolean()) return invalid("with.retryable must be a boolean, got " + it->dump());
    retryable = it->get<bool>();
  }

  if (!times || call.attempt <= *times) {
    std::string message;
    if (auto it = with.find("message"); it != with.end() && !it->is_null()) {
      message = text_of(*it);
    } else {
      message = "step '" + call.step + "' failed on purpose (attempt " +
                std::to_string(call.attempt) +
                (times ? " of " + std::to_string(*times) + " failing" : "") + ")";
    }
    return fail(code, std::move(message), retryable);
  }
  if (auto it = with.find("output"); it != with.end()) return *it;
  return Json{{"attempt", call.attempt}};
}

class FailRunner final : public StepRunner {
 public:
  bool instant() const override { return true; }
  asio::awaitable<Result<Json>> run(StepCall call) override { return complete(fail_attempt(call)); }
};

}  // namespace

Result<Millis> duration_input(const Json& value, std::string_view field) {
  if (value.is_string()) {
    auto parsed = parse_duration(value.get<std::string>());
    if (!parsed) {
      return fail(ErrorCode::kInvalidInput,
                  std::string(field) + " is not a duration (like 250ms, 5s, 10m): " + value.dump());
    }
    return *parsed;
  }
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<long long>() >= 0)) {
    return Millis(value.get<long long>());
  }
  return fail(ErrorCode::kInvalidInput,
              std::string(field) +
                  " must be a duration string or a non-negative number of milliseconds, got " +
                  value.dump());
}

std::shared_ptr<StepRunner> make_transform_runner() {
  return std::make_shared<TransformRunner>();
}
std::shared_ptr<StepRunner> make_noop_runner() {
  return std::make_shared<NoopRunner>();
}
std::shared_ptr<StepRunner> make_log_runner(LogSink sink) {
  return std::make_shared<LogRunner>(std::move(sink));
}
std::shared_ptr<StepRunner> make_sleep_runner(asio::io_context& io) {
  return std::make_shared<SleepRunner>(io.get_executor());
}
std::shared_ptr<StepRunner> make_fail_runner() {
  return std::make_shared<FailRunner>();
}

}  // namespace flowd::steps
