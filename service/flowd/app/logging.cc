#include "logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

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

// Writes each message's payload as one line on stderr. With `wrap`, the payload is text and
// becomes the message of a structured line first.
class LineSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  LineSink(bool wrap, bool text) : wrap_(wrap), text_(text) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string payload(msg.payload.data(), msg.payload.size());
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
};

// One mutex for every sink: lines of different loggers never interleave.
std::mutex& stderr_mutex() {
  static std::mutex m;
  return m;
}

// base_sink locks its own mutex; this forwarder serialises all sinks on the shared one.
class SharedLineSink : public spdlog::sinks::sink {
 public:
  SharedLineSink(bool wrap, bool text) : inner_(wrap, text) {}
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
                                            spdlog::level::level_enum level) {
  auto logger =
      std::make_shared<spdlog::logger>(name, std::make_shared<SharedLineSink>(wrap, text));
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
  access_ = make_logger("flowd.http", false, text_, level);
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
