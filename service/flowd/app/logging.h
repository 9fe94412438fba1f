#pragma once
// The daemon's logs: one JSON object per line on stderr ({"time","level","message", fields...}),
// or readable text with `log.format: text`. Lines about an execution carry its id (and trace id
// when the trigger brought one) as fields.
//
// Everything goes through spdlog loggers sharing one sink, so lines never interleave:
//  - write(): structured lines built here;
//  - access_logger(): lines that already are JSON objects (the HTTP server's access log);
//  - plain_logger(): formatted text messages (libraries' warnings) wrapped into the same shape.
#include <memory>
#include <string>
#include <string_view>

#include "flowd/config/config.h"
#include "flowd/engine/json.h"

namespace spdlog {
class logger;
}

namespace flowd {
class SecretMasker;
}

namespace flowd::app {

class Log {
 public:
  explicit Log(const config::LogConfig& config);

  void write(std::string_view level, const std::string& message, const Json& fields = {}) const;
  std::shared_ptr<spdlog::logger> access_logger() const { return access_; }
  std::shared_ptr<spdlog::logger> plain_logger() const { return plain_; }
  // Values to mask ("***") in every line of every logger, from now on (process-wide).
  static void set_masker(std::shared_ptr<const SecretMasker> masker);

 private:
  bool text_ = false;
  std::shared_ptr<spdlog::logger> structured_;
  std::shared_ptr<spdlog::logger> access_;
  std::shared_ptr<spdlog::logger> plain_;
};

}  // namespace flowd::app
