// schemas/openapi.yaml and the registered routes describe the same API: every route is in the
// file and every path and method of the file is a route (or one of the server's built-ins).
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <set>

#include "api_fixture.h"

namespace flowd::api::testing {

TEST_CASE("Every route is in openapi.yaml and every operation there is a route", "[api][openapi]") {
  YAML::Node spec = YAML::LoadFile(std::string(FLOWD_SOURCE_DIR) + "/schemas/openapi.yaml");
  std::set<std::string> documented;
  for (const auto& path : spec["paths"]) {
    for (const auto& op : path.second) {
      std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      std::transform(method.begin(), method.end(), method.begin(), ::toupper);
      documented.insert(method + " " + path.first.as<std::string>());
      INFO(method << " " << path.first.as<std::string>());
      CHECK(op.second["operationId"]);
      CHECK(op.second["responses"]);
    }
  }

  ApiFixture f;
  std::set<std::string> served = {"GET /healthz", "GET /readyz", "GET /metrics"};
  for (const auto& [verb, pattern] : f.server().server().router().routes())
    served.insert(std::string(http::to_std(boost::beast::http::to_string(verb))) + " " + pattern);

  for (const auto& route : served) {
    INFO("served but not documented: " << route);
    CHECK(documented.count(route) == 1);
  }
  for (const auto& operation : documented) {
    INFO("documented but not served: " << operation);
    CHECK(served.count(operation) == 1);
  }
}

}  // namespace flowd::api::testing
