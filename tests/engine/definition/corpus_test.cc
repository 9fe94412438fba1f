// The definition corpus (tests/corpus/definitions) through both the C++ loader and the published
// JSON Schema (schemas/workflow.schema.json, as embedded in the binaries): they must agree.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "definition/document.h"
#include "definition/input_schema.h"
#include "flowd/engine/definition.h"
#include "flowd/schemas/embedded.h"

namespace {

namespace fs = std::filesystem;
using flowd::Json;

const fs::path kCorpus = fs::path(FLOWD_SOURCE_DIR) / "tests" / "corpus" / "definitions";

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<fs::path> corpus(const std::string& kind) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(kCorpus / kind)) {
    const auto ext = entry.path().extension();
    if (ext == ".yaml" || ext == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The published schema, compiled once.
const flowd::CompiledSchema& workflow_schema() {
  static const std::shared_ptr<const flowd::CompiledSchema> schema = [] {
    const auto text = flowd::schemas::file("workflow.schema.json");
    REQUIRE_FALSE(text.empty());
    std::shared_ptr<const flowd::CompiledSchema> compiled;
    auto problems = flowd::definition::compile_input_schema(Json::parse(text), compiled);
    for (const auto& p : problems) FAIL("workflow.schema.json" << p.pointer << ": " << p.message);
    return compiled;
  }();
  return *schema;
}

// The schema's verdict on a file's document; nullopt when the text does not parse.
std::optional<std::vector<std::string>> schema_errors(const fs::path& path) {
  auto parsed = flowd::definition::parse_document(read_text(path), path.string());
  if (parsed.document == nullptr) return std::nullopt;
  return flowd::definition::validate_with_schema(workflow_schema().schema, parsed.document->root);
}

struct Expectation {
  std::string schema;  // fail | pass | skip
  int count = -1;
  std::vector<std::string> messages;
};

Expectation read_expectation(const fs::path& path) {
  Expectation e;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.starts_with("schema: ")) {
      e.schema = line.substr(8);
    } else if (line.starts_with("count: ")) {
      e.count = std::stoi(line.substr(7));
    } else if (line.starts_with("expect: ")) {
      e.messages.push_back(line.substr(8));
    } else {
      FAIL(path.string() << ": unknown line '" << line << "'");
    }
  }
  return e;
}

std::string formatted(const flowd::Diagnostics& diagnostics) {
  std::string out;
  for (const auto& d : diagnostics) out += d.format() + "\n";
  return out;
}

}  // namespace

TEST_CASE("Every valid corpus definition passes both the loader and the published schema",
          "[engine][definition][corpus]") {
  const auto files = corpus("valid");
  REQUIRE(files.size() >= 8);
  flowd::DefinitionSet set;
  std::vector<std::shared_ptr<const flowd::Definition>> loaded;
  for (const auto& path : files) {
    INFO(path.filename().string());
    auto result = flowd::load_definition_file(path.string());
    INFO(formatted(result.diagnostics));
    REQUIRE(result.diagnostics.empty());
    REQUIRE(result.definition != nullptr);
    auto errors = schema_errors(path);
    REQUIRE(errors.has_value());
    for (const auto& e : *errors) UNSCOPED_INFO(e);
    CHECK(errors->empty());
    // The stored document is the text as JSON: the schema sees the same thing.
    auto parsed = flowd::definition::parse_document(read_text(path), path.string());
    CHECK(result.definition->document == parsed.document->root);
    set.add(result.definition);
    loaded.push_back(result.definition);
  }
  // The corpus's sub-workflow refs (order-processing -> invoice@2 -> archive) resolve.
  for (const auto& def : loaded) {
    INFO(def->ref());
    auto diagnostics = flowd::check_sub_workflows(*def, set);
    INFO(formatted(diagnostics));
    CHECK(diagnostics.empty());
  }
}

TEST_CASE(
    "Every invalid corpus definition fails the loader with its expected messages, and the "
    "schema agrees on the structural ones",
    "[engine][definition][corpus]") {
  const auto files = corpus("invalid");
  REQUIRE(files.size() >= 40);
  int structural = 0;
  int semantic = 0;
  for (const auto& path : files) {
    INFO(path.filename().string());
    const fs::path expect_path = path.string() + ".expect";
    REQUIRE(fs::exists(expect_path));
    const Expectation expected = read_expectation(expect_path);
    REQUIRE_FALSE(expected.messages.empty());

    auto result = flowd::load_definition_file(path.string());
    const std::string text = formatted(result.diagnostics);
    INFO("diagnostics:\n" << text);
    CHECK(result.definition == nullptr);
    CHECK_FALSE(result.diagnostics.empty());
    for (const auto& message : expected.messages) {
      INFO("expected: " << message);
      CHECK(text.find(message) != std::string::npos);
    }
    if (expected.count >= 0) CHECK(result.diagnostics.size() == std::size_t(expected.count));

    auto errors = schema_errors(path);
    if (expected.schema == "skip") {
      CHECK_FALSE(errors.has_value());
      continue;
    }
    REQUIRE(errors.has_value());
    std::string schema_text;
    for (const auto& e : *errors) schema_text += e + "\n";
    INFO("schema:\n" << schema_text);
    if (expected.schema == "fail") {
      ++structural;
      CHECK_FALSE(errors->empty());
    } else {
      REQUIRE(expected.schema == "pass");
      ++semantic;
      CHECK(errors->empty());
    }
  }
  CHECK(structural >= 15);
  CHECK(semantic >= 15);
}

TEST_CASE("The embedded workflow schema is the file in schemas/", "[engine][definition][corpus]") {
  const auto text = read_text(fs::path(FLOWD_SOURCE_DIR) / "schemas" / "workflow.schema.json");
  CHECK(std::string(flowd::schemas::file("workflow.schema.json")) == text);
  const Json schema = Json::parse(text);
  CHECK(schema["$schema"] == "http://json-schema.org/draft-07/schema#");
}
