#include "logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "flowd/engine/event.h"
#include "flowd/engine/secrets.h"

namespace flowd::app {
namespace {

// Every secret value the engine resolved: masked in every line, whoever wrote it.
std::mutex masker_mutex;
std::shared_ptr<const SecretMasker> masker;  // GUARDED_BY(masker_mutex)

std::string masked(std::string line) {
  std::shared_ptr<const SecretMasker> m;
  {
    std::lock_guard lock(masker_mutex);
    m = masker;
  }
  return m ? m->mask(std::move(line)) : line;
}

std::string now_text() {
  return format_time(Clock::now());
}

// An access log line (a JSON object from the HTTP server) as text:
// "<time> <level> http request method=GET path=/x status=200 durationMs=1.2 ...".
std::string access_text(const std::string& payload) {
  auto j = nlohmann::ordered_json::parse(payload, nullptr, false);
  if (!j.is_object()) return payload;
  std::string line = j.value("ts", now_text()) + " " + j.value("level", "info") + " " +
                     j.value("msg", "http request");
  auto field = [&line](const std::string& key, const nlohmann::ordered_json& value) {
    line += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  };
  // The fields people scan for first, then the rest as they come.
  static const char* const kFirst[] = {"method", "path", "status", "durationMs"};
  for (const char* key : kFirst)
    if (auto it = j.find(key); it != j.end()) field(key, *it);
  for (const auto& [key, value] : j.items()) {
    if (key == "ts" || key == "level" || key == "msg" ||
        std::find(std::begin(kFirst), std::end(kFirst), key) != std::end(kFirst))
      continue;
    field(key, value);
  }
  return line;
}

// Writes each message's payload as one line on stderr. With `wrap`, the payload is text and
// becomes the message of a structured line first. With `json_payload` (the access log) the
// payload is a JSON object, written as it is or, in text mode, as text.
class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineSink(bool wrap, bool text, bool json_payload = false)
      : wrap_(wrap), text_(text), json_payload_(json_payload) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string payload(msg.payload.data(), msg.payload.size());
    if (json_payload_ && text_) payload = access_text(payload);
    if (wrap_) {
      const auto level = spdlog::level::to_string_view(msg.level);
      if (text_) {
        payload = now_text() + " " + std::string(level.data(), level.size()) + " " + payload;
      } else {
        payload = nlohmann::ordered_json{
            {"time", now_text()},
            {"level", std::string(level.data(), level.size())},
            {"message",
             payload}}.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
      }
    }
    payload = masked(std::move(payload));
    payload += '\n';
    std::fwrite(payload.data(), 1, payload.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }

 private:
  bool wrap_;
  bool text_;
  bool json_payload_;
};

// One mutex for every sink: lines of different loggers never interleave.
std::mutex& stderr_mutex() {
  static std::mutex m;
  return m;
}

// base_sink locks its own mutex; this forwarder serialises all sinks on the shared one.
class SharedLineSink : public spdlog::sinks::sink {
 public:
  SharedLineSink(bool wrap, bool text, bool json_payload) : inner_(wrap, text, json_payload) {}
  void log(const spdlog::details::log_msg& msg) override {
    std::lock_guard lock(stderr_mutex());
    inner_.log(msg);
  }
  void flush() override {
    std::lock_guard lock(stderr_mutex());
    inner_.flush();
  }
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

 private:
  LineSink inner_;
};

spdlog::level::level_enum parse_level(std::string_view level) {
  return spdlog::level::from_str(std::string(level));
}

std::shared_ptr<spdlog::logger> make_logger(const std::string& name, bool wrap, bool text,
                                            spdlog::level::level_enum level,
                                            bool json_payload = false) {
  auto logger = std::make_shared<spdlog::logger>(
      name, std::make_shared<SharedLineSink>(wrap, text, json_payload));
  logger->set_level(level);
  logger->flush_on(spdlog::level::warn);
  return logger;
}

std::string text_line(std::string_view level, const std::string& message, const Json& fields) {
  std::string line = now_text() + " " + std::string(level) + " " + message;
  if (fields.is_object())
    for (const auto& [key, value] : fields.items())
      line += " " + key + "=" + (value.is_string() ? value.get<std::string>() : value.dump());
  return line;
}

}  // namespace

void Log::set_masker(std::shared_ptr<const SecretMasker> secrets) {
  std::lock_guard lock(masker_mutex);
  masker = std::move(secrets);
}

Log::Log(const config::LogConfig& config) : text_(config.format == config::LogFormat::kText) {
  const auto level = parse_level(config.level);
  structured_ = make_logger("flowd", false, text_, level);
  access_ = make_logger("flowd.http", false, text_, level, true);
  plain_ = make_logger("flowd.lib", true, text_, level);
}

void Log::write(std::string_view level, const std::string& message, const Json& fields) const {
  const auto lvl = parse_level(level);
  if (!structured_->should_log(lvl)) return;
  std::string line;
  if (text_) {
    line = text_line(level, message, fields);
  } else {
    // Ordered: time, level and message lead every line; fields follow.
    nlohmann::ordered_json out{{"time", now_text()}, {"level", level}, {"message", message}};
    if (fields.is_object())
      for (const auto& [key, value] : fields.items()) out[key] = value;
    line = out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
  structured_->log(lvl, "{}", line);
}

}  // namespace flowd::app
