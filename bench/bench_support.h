#pragma once
// What the PostgreSQL benchmarks share: collecting figures (printed as they come, and as
// `FIGURE <name> <value> <unit>` lines at the end) and a server URL pointed at one database.
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace flowd::bench {

inline std::vector<std::pair<std::string, std::string>>& figures() {
  static std::vector<std::pair<std::string, std::string>> all;  // name, "value unit"
  return all;
}

inline void figure(const std::string& name, double value, const std::string& unit) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", value);
  figures().emplace_back(name, std::string(buf) + " " + unit);
  std::printf("  %-44s %s %s\n", name.c_str(), buf, unit.c_str());
  std::fflush(stdout);
}

inline void print_figures() {
  for (const auto& [name, value] : figures())
    std::printf("FIGURE %s %s\n", name.c_str(), value.c_str());
}

// `url` (URI or key=value conninfo) with its database replaced by `db`.
inline std::string with_database(const std::string& url, const std::string& db) {
  const auto scheme = url.find("://");
  if (scheme == std::string::npos) return url + " dbname=" + db;
  const auto path = url.find('/', scheme + 3);
  if (path == std::string::npos) return url + "/" + db;
  const auto query = url.find('?', path);
  return url.substr(0, path + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

}  // namespace flowd::bench
