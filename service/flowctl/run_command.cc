#include "run_command.h"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "flowd/engine/engine.h"

namespace flowctl {
namespace {

using flowd::Json;

// Forwards appends to a MemoryEventLog and prints each event as a timeline line.
class TimelineLog : public flowd::EventLog {
 public:
  TimelineLog(std::ostream& out, bool enabled) : out_(out), enabled_(enabled) {}

  void append(flowd::AppendRequest request, flowd::AppendCallback done) override {
    if (enabled_)
      for (const flowd::Event& e : request.events) print(request.execution_id, e);
    memory_.append(std::move(request), std::move(done));
  }

 private:
  void print(const std::string& execution, const flowd::Event& e) {
    if (start_ == flowd::TimePoint{}) start_ = e.time;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(e.time - start_).count();
    std::string what;
    const Json& d = e.data;
    switch (e.type) {
      case flowd::EventType::kExecutionStarted:
        what = fmt::format("execution {} of {}@{} started", execution, d.value("workflow", ""),
                           d.value("version", 0));
        break;
      case flowd::EventType::kStepStarted:
        what = fmt::format("{:<24} started (attempt {})", e.step, e.attempt);
        break;
      case flowd::EventType::kStepCompleted:
        what = fmt::format("{:<24} succeeded {}", e.step, excerpt(d.value("output", Json())));
        break;
      case flowd::EventType::kStepFailed:
        what = fmt::format("{:<24} failed: {} {}", e.step, d["error"].value("code", std::string()),
                           d["error"].value("message", std::string()));
        break;
      case flowd::EventType::kStepRetryScheduled:
        what = fmt::format("{:<24} retry in {}ms (attempt {})", e.step, d.value("delayMs", 0),
                           d.value("nextAttempt", 0));
        break;
      case flowd::EventType::kStepSkipped:
        what = fmt::format("{:<24} skipped: {}", e.step, d.value("reason", ""));
        break;
      case flowd::EventType::kStepFallbackUsed:
        what = fmt::format("{:<24} fallback used: {}", e.step, d.value("kind", ""));
        break;
      case flowd::EventType::kStepScheduled:
        return;  // the start line follows at once; keep the timeline short
      default:
        what = fmt::format("{} {}", flowd::to_string(e.type), d.empty() ? "" : excerpt(d));
    }
    out_ << fmt::format("{:>7}ms  {}\n", ms, what);
  }

  static std::string excerpt(const Json& value) {
    std::string text = value.dump();
    return text.size() > 120 ? text.substr(0, 117) + "..." : text;
  }

  std::ostream& out_;
  bool enabled_;
  flowd::MemoryEventLog memory_;
  flowd::TimePoint start_{};
};

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Loads every other definition in `dir` so `type: workflow` steps resolve. Files that fail to
// load are reported only when something refers to them (check_sub_workflows names the ref).
void load_neighbours(const std::string& dir, const std::string& skip, flowd::DefinitionSet& set) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    auto ext = entry.path().extension().string();
    if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
    if (std::filesystem::equivalent(entry.path(), skip, ec)) continue;
    auto loaded = flowd::load_definition_file(entry.path().string());
    if (loaded.definition) set.add(loaded.definition);
  }
}

Json result_json(const flowd::ExecutionState& s) {
  Json doc{{"status", flowd::to_string(s.status)}, {"output", s.output}};
  if (s.error) doc["error"] = flowd::to_json(*s.error);
  Json steps = Json::object();
  for (const auto& [path, st] : s.steps) {
    Json j{{"status", flowd::to_string(st.status)}, {"attempts", st.attempts}};
    if (!st.output.is_null()) j["output"] = st.output;
    if (st.error && st.status == flowd::StepStatus::kFailed) j["error"] = flowd::to_json(*st.error);
    steps[path] = std::move(j);
  }
  doc["steps"] = std::move(steps);
  return doc;
}

void print_summary(const flowd::ExecutionState& s, std::ostream& out) {
  out << fmt::format("\nexecution {} {} in {}ms\n", s.id, flowd::to_string(s.status),
                     s.duration_ms());
  out << fmt::format("  {:<28} {:<10} {:>8} {:>10}\n", "STEP", "STATUS", "ATTEMPTS", "DURATION");
  for (const auto& [path, st] : s.steps)
    out << fmt::format("  {:<28} {:<10} {:>8} {:>8}ms\n", path, flowd::to_string(st.status),
                       st.attempts, st.duration_ms);
  if (s.error)
    out << fmt::format("error: {} {}{}\n", flowd::to_string(s.error->code), s.error->message,
                       s.failed_step.empty() ? "" : " (step " + s.failed_step + ")");
  out << "output: " << s.output.dump(2) << "\n";
}

}  // namespace

int run_local(const RunOptions& options, std::ostream& out, std::ostream& err) {
  auto loaded = flowd::load_definition_file(options.file);
  if (!loaded.definition) {
    for (const auto& d : loaded.diagnostics) err << d.format() << "\n";
    return 2;
  }
  Json input = Json::object();
  std::string input_text = options.input_json;
  if (!options.input_file.empty()) {
    auto text = read_file(options.input_file);
    if (!text) {
      err << "flowctl: cannot read --input-file " << options.input_file << "\n";
      return 2;
    }
    input_text = *text;
  }
  if (!input_text.empty()) {
    try {
      input = Json::parse(input_text);
    } catch (const Json::parse_error& e) {
      err << "flowctl: --input is not valid JSON: " << e.what() << "\n";
      return 2;
    }
  }

  flowd::DefinitionSet definitions;
  definitions.add(loaded.definition);
  std::string dir = options.definitions_dir.empty()
                        ? std::filesystem::path(options.file).parent_path().string()
                        : options.definitions_dir;
  load_neighbours(dir.empty() ? "." : dir, options.file, definitions);
  auto problems = flowd::check_sub_workflows(*loaded.definition, definitions);
  if (!problems.empty()) {
    for (const auto& d : problems) err << d.format() << "\n";
    return 2;
  }

  boost::asio::io_context io;
  TimelineLog log(out, !options.json_output);
  flowd::StepRegistry registry;
  flowd::BuiltinOptions builtin;
  std::ostream& log_out = options.json_output ? err : out;
  builtin.log_sink = [&log_out](std::string_view step, const std::string& message) {
    log_out << fmt::format("{:>9}  {:<24} log: {}\n", "", step, message);
  };
  flowd::register_builtin_steps(registry, io, builtin);
  flowd::EngineDeps deps;
  deps.log = &log;
  deps.runners = &registry;
  deps.definitions = &definitions;
  flowd::Engine engine(io, std::move(deps));

  std::optional<flowd::ExecutionState> final_state;
  flowd::StartOptions start;
  start.input = std::move(input);
  auto id = engine.start(loaded.definition, std::move(start),
                         [&](const flowd::ExecutionState& s) { final_state = s; });
  if (!id) {
    err << "flowctl: " << flowd::to_string(id.error().code) << ": " << id.error().message << "\n";
    return 2;
  }
  io.run();
  if (!final_state) {
    err << "flowctl: the execution did not finish\n";
    return 1;
  }
  if (options.json_output) {
    out << result_json(*final_state).dump() << "\n";
  } else {
    print_summary(*final_state, out);
  }
  return final_state->status == flowd::ExecutionStatus::kCompleted ? 0 : 1;
}

}  // namespace flowctl
