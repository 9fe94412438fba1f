#pragma once
// Small helpers the flowctl commands share: environment variables and URL path/query encoding.
#include <cctype>
#include <cstdlib>
#include <string>
#include <string_view>

namespace flowctl {

// The variable's value, "" when unset.
inline std::string env(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

// Percent-encodes everything but RFC 3986's unreserved characters (for paths and queries).
inline std::string url_encode(std::string_view text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace flowctl
