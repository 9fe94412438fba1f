// Loading and validating workflow definitions (definition.h): text -> SourceDocument (document.h)
// -> a checked Definition. Every check runs even after others failed, so one pass reports every
// problem; docs/definitions.md lists the rules.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <utility>

#include "definition/document.h"
#include "definition/input_schema.h"
#include "definition/names.h"
#include "definition/webhook_names.h"
#include "flowd/engine/cron.h"
#include "flowd/engine/definition.h"
#include "flowd/engine/timers.h"

namespace flowd {
namespace {

using definition::pointer_child;
using definition::pointer_to_path;
using definition::SourceDocument;

constexpr std::string_view kApiVersion = "flowd/v1";
constexpr std::string_view kKind = "Workflow";
constexpr std::int64_t kMaxRetryAttempts = 100;
constexpr double kMaxMultiplier = 100.0;
constexpr double kMaxJitter = 0.25;
constexpr std::int64_t kMaxParallelLimit = 10'000;
constexpr std::int64_t kMaxVersion = 1'000'000'000;
constexpr std::int64_t kMaxCatchup = 100'000;  // missed ticks a cron trigger may run after downtime

// Where a template is evaluated decides which names it can see.
struct RefUse {
  std::string pointer;  // the string holding the template
  std::size_t offset = 0;
  std::string text;   // the path as written
  std::string root;   // first segment
  std::string step;   // `steps.<id>`: the id
  std::string field;  // `steps.<id>.<field>`
  bool field_is_index = false;
  bool has_field = false;
};

struct LevelMeta;

// What the graph checks need to know of a step, kept beside its StepDef while loading.
struct StepMeta {
  std::string pointer;
  std::string id;  // empty when missing or malformed
  std::string id_pointer;
  std::vector<std::pair<std::string, std::string>> depends_on;  // (id, pointer)
  std::vector<RefUse> refs;        // if, switch, with: evaluated inside the forEach item
  std::vector<RefUse> items_refs;  // forEach.items: evaluated before iterating
  std::string item_var;            // forEach `as`; empty when the step is no forEach
  std::string fallback_step;
  std::string fallback_pointer;
  std::vector<LevelMeta> groups;  // inline groups: the step's own, its switch cases', default's
};

// One list of steps (spec.steps or an inline group) and the references of its `output`.
struct LevelMeta {
  std::string pointer;
  std::vector<StepMeta> steps;
  std::vector<RefUse> output_refs;
};

std::string in_quotes(std::string_view s) {
  return "'" + std::string(s) + "'";
}

std::string json_type(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    default:
      return "binary data";
  }
}

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

std::string format_number(double d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", d);
  return buffer;
}

// Splits "column N: what" (expr's syntax errors) into N-1 and what.
std::pair<std::optional<std::size_t>, std::string> split_column(const std::string& message) {
  constexpr std::string_view kPrefix = "column ";
  if (!message.starts_with(kPrefix)) return {std::nullopt, message};
  std::size_t i = kPrefix.size();
  std::size_t column = 0;
  bool digits = false;
  while (i < message.size() && message[i] >= '0' && message[i] <= '9') {
    column = column * 10 + static_cast<std::size_t>(message[i] - '0');
    digits = true;
    ++i;
    if (column > (1u << 30)) return {std::nullopt, message};
  }
  if (!digits || column == 0 || message.compare(i, 2, ": ") != 0) return {std::nullopt, message};
  return {column - 1, message};
}

class Loader {
 public:
  Loader(const SourceDocument& doc, std::string source, const std::set<std::string>& step_types)
      : doc_(doc), source_(std::move(source)), step_types_(step_types) {}

  LoadResult load() {
    auto def = std::make_shared<Definition>();
    def->source_name = source_;
    def->document = doc_.root;
    load_root(*def);
    LoadResult result;
    if (doc_.is_json) {
      result.diagnostics = std::move(diagnostics_);
    } else {
      std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                       [](const Diagnostic& a, const Diagnostic& b) {
                         return std::pair(a.location.line, a.location.column) <
                                std::pair(b.location.line, b.location.column);
                       });
      result.diagnostics = std::move(diagnostics_);
    }
    if (result.diagnostics.empty()) result.definition = std::move(def);
    return result;
  }

 private:
  // ---- reporting -----------------------------------------------------------------------------

  void report(SourceLocation where, const std::string& subject_pointer, const std::string& text) {
    Diagnostic d;
    d.source = source_;
    d.location = std::move(where);
    const std::string subject = describe(subject_pointer);
    d.message = subject.empty() ? text : subject + ": " + text;
    diagnostics_.push_back(std::move(d));
  }
  // A problem with the value at `pointer`.
  void error(const std::string& pointer, const std::string& text) {
    report(doc_.at(pointer), pointer, text);
  }

  // "step 'fetch' retry.jitter" for a pointer inside a step, else the path ("spec.timeout").
  std::string describe(const std::string& pointer) const {
    std::string p = pointer;
    while (true) {
      if (auto it = labels_.find(p); it != labels_.end()) {
        const std::string rest = pointer_to_path(std::string_view(pointer).substr(p.size()));
        return rest.empty() ? it->second : it->second + " " + rest;
      }
      if (p.empty()) break;
      p.erase(p.rfind('/'));
    }
    return pointer_to_path(pointer);
  }

  std::string where_text(const SourceLocation& loc) const {
    if (loc.line > 0) return "line " + std::to_string(loc.line);
    return loc.pointer.empty() ? std::string("/") : loc.pointer;
  }

  // ---- field access ------------------------------------------------------------------------

  static const Json* member(const Json& obj, std::string_view key) {
    auto it = obj.find(std::string(key));
    return it == obj.end() ? nullptr : &*it;
  }

  const Json* required(const Json& obj, const std::string& pointer, std::string_view key) {
    const Json* v = member(obj, key);
    if (v == nullptr) error(pointer, "missing required field " + in_quotes(key));
    return v;
  }

  void check_fields(const Json& obj, const std::string& pointer,
                    std::initializer_list<std::string_view> allowed) {
    std::vector<std::string> names(allowed.begin(), allowed.end());
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (std::find(names.begin(), names.end(), it.key()) != names.end()) continue;
      const std::string child = pointer_child(pointer, it.key());
      std::string text = "unknown field " + in_quotes(it.key());
      if (auto s = definition::closest(it.key(), names)) {
        text += " (did you mean " + in_quotes(*s) + "?)";
      } else {
        text += " (allowed: " + join(names, ", ") + ")";
      }
      report(doc_.key_at(child), pointer, text);
    }
  }

  bool expect_object(const Json& v, const std::string& pointer, std::string_view what = {}) {
    if (v.is_object()) return true;
    std::string text = "must be an object";
    if (!what.empty()) text = std::string(what) + " must be an object";
    error(pointer, text + ", got " + json_type(v));
    return false;
  }

  bool expect_array(const Json& v, const std::string& pointer) {
    if (v.is_array()) return true;
    error(pointer, "must be an array, got " + json_type(v));
    return false;
  }

  std::optional<std::string> get_string(const Json& v, const std::string& pointer,
                                        bool non_empty = true) {
    if (!v.is_string()) {
      std::string text = "must be a string, got " + json_type(v);
      if (v.is_object()) text += " (a '{{ template }}' must be quoted in YAML)";
      error(pointer, text);
      return std::nullopt;
    }
    const auto& s = v.get_ref<const std::string&>();
    if (non_empty && s.empty()) {
      error(pointer, "must not be empty");
      return std::nullopt;
    }
    return s;
  }

  std::optional<std::int64_t> get_integer(const Json& v, const std::string& pointer,
                                          std::int64_t min, std::int64_t max) {
    if (!v.is_number_integer()) {
      error(pointer, "must be an integer, got " + json_type(v));
      return std::nullopt;
    }
    const bool too_big =
        v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max);
    const std::int64_t n = too_big ? max : v.get<std::int64_t>();
    if (too_big || n < min || n > max) {
      error(pointer, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", got " + v.dump());
      return std::nullopt;
    }
    return n;
  }

  std::optional<double> get_number(const Json& v, const std::string& pointer, double min,
                                   double max) {
    if (!v.is_number()) {
      error(pointer, "must be a number, got " + json_type(v));
      return std::nullopt;
    }
    const double d = v.get<double>();
    if (!(d >= min && d <= max)) {
      error(pointer, "must be between " + format_number(min) + " and " + format_number(max) +
                         ", got " + v.dump());
      return std::nullopt;
    }
    return d;
  }

  std::optional<bool> get_bool(const Json& v, const std::string& pointer) {
    if (!v.is_boolean()) {
      error(pointer, "must be true or false, got " + json_type(v));
      return std::nullopt;
    }
    return v.get<bool>();
  }

  std::optional<Millis> get_duration(const Json& v, const std::string& pointer, bool allow_zero) {
    if (!v.is_string()) {
      error(pointer,
            "must be a duration string like 250ms, 5s, 10m, 1h or 7d, got " + json_type(v));
      return std::nullopt;
    }
    const auto& s = v.get_ref<const std::string&>();
    auto d = definition::parse_bounded_duration(s);
    if (!d) {
      error(pointer, "invalid duration " + in_quotes(s) +
                         ": use 1 to 10 digits and one unit: 250ms, 5s, 10m, 1h or 7d");
      return std::nullopt;
    }
    if (!allow_zero && d->count() == 0) {
      error(pointer, "must be longer than 0, got " + in_quotes(s));
      return std::nullopt;
    }
    return d;
  }

  // ---- templates and conditions --------------------------------------------------------------

  void add_refs(const std::vector<Reference>& references, const std::string& pointer,
                std::vector<RefUse>* out) {
    if (out == nullptr) return;
    for (const Reference& r : references) {
      RefUse u;
      u.pointer = pointer;
      u.offset = r.offset;
      u.text = r.path.text;
      const auto& segs = r.path.segments;
      if (!segs.empty()) {
        if (const auto* root = std::get_if<std::string>(&segs[0])) u.root = *root;
      }
      u.step = std::string(r.path.step_id());
      if (!u.step.empty() && segs.size() > 2) {
        u.has_field = true;
        if (const auto* f = std::get_if<std::string>(&segs[2])) {
          u.field = *f;
        } else {
          u.field_is_index = true;
        }
      }
      out->push_back(std::move(u));
    }
  }

  void syntax_error(const std::string& pointer, const std::string& kind,
                    const std::string& message) {
    auto [column, text] = split_column(message);
    SourceLocation loc = column ? doc_.inside(pointer, *column) : doc_.at(pointer);
    report(std::move(loc), pointer, "malformed " + kind + ": " + text);
  }

  std::optional<Template> compile_template(const std::string& text, const std::string& pointer,
                                           std::vector<RefUse>* refs) {
    auto t = Template::parse(text);
    if (!t) {
      syntax_error(pointer, "template", t.error().message);
      return std::nullopt;
    }
    add_refs(t->references(), pointer, refs);
    return std::move(*t);
  }

  std::optional<Condition> compile_condition(const Json& v, const std::string& pointer,
                                             std::vector<RefUse>* refs) {
    auto text = get_string(v, pointer);
    if (!text) return std::nullopt;
    auto c = Condition::parse(*text);
    if (!c) {
      syntax_error(pointer, "condition", c.error().message);
      return std::nullopt;
    }
    add_refs(c->references(), pointer, refs);
    return std::move(*c);
  }

  // Every string of `value` holding `{{` must parse; references are collected for the graph
  // checks. Strings are checked one by one so that each bad one is reported.
  bool check_json_strings(const Json& value, const std::string& pointer,
                          std::vector<RefUse>* refs) {
    bool ok = true;
    if (value.is_string()) {
      const auto& s = value.get_ref<const std::string&>();
      if (s.find("{{") != std::string::npos) ok = compile_template(s, pointer, refs).has_value();
    } else if (value.is_object()) {
      for (auto it = value.begin(); it != value.end(); ++it) {
        ok = check_json_strings(it.value(), pointer_child(pointer, it.key()), refs) && ok;
      }
    } else if (value.is_array()) {
      for (std::size_t i = 0; i < value.size(); ++i) {
        ok = check_json_strings(value[i], pointer_child(pointer, i), refs) && ok;
      }
    }
    return ok;
  }

  std::optional<JsonTemplate> compile_json(const Json& value, const std::string& pointer,
                                           std::vector<RefUse>* refs) {
    if (!check_json_strings(value, pointer, refs)) return std::nullopt;
    auto t = JsonTemplate::compile(value);
    if (!t) {
      error(pointer, t.error().message);
      return std::nullopt;
    }
    return std::move(*t);
  }

  // ---- the document ----------------------------------------------------------------------------

  void load_root(Definition& def) {
    const Json& root = doc_.root;
    if (!root.is_object()) {
      error("", "a definition must be an object with apiVersion, kind, metadata and spec, got " +
                    json_type(root));
      return;
    }
    check_fields(root, "", {"apiVersion", "kind", "metadata", "spec"});
    if (const Json* v = required(root, "", "apiVersion")) {
      if (!v->is_string() || v->get_ref<const std::string&>() != kApiVersion) {
        error("/apiVersion", "must be " + in_quotes(kApiVersion) + ", got " + v->dump());
      }
    }
    if (const Json* v = required(root, "", "kind")) {
      if (!v->is_string() || v->get_ref<const std::string&>() != kKind) {
        error("/kind", "must be " + in_quotes(kKind) + ", got " + v->dump());
      }
    }
    if (const Json* v = required(root, "", "metadata")) load_metadata(*v, def);
    if (const Json* v = required(root, "", "spec")) load_spec(*v, def);
  }

  void load_metadata(const Json& v, Definition& def) {
    const std::string p = "/metadata";
    if (!expect_object(v, p)) return;
    check_fields(v, p, {"name", "version", "description"});
    if (const Json* name = required(v, p, "name")) {
      if (auto s = get_string(*name, p + "/name")) {
        if (definition::is_workflow_name(*s)) {
          def.name = *s;
        } else {
          error(p + "/name", "invalid name " + in_quotes(*s) + ": " +
                                 std::string(definition::kWorkflowNameRule));
        }
      }
    }
    if (const Json* version = required(v, p, "version")) {
      if (auto n = get_integer(*version, p + "/version", 1, kMaxVersion)) {
        def.version = static_cast<int>(*n);
      }
    }
    if (const Json* d = member(v, "description")) {
      if (auto s = get_string(*d, p + "/description", false)) def.description = *s;
    }
  }

  void load_spec(const Json& v, Definition& def) {
    const std::string p = "/spec";
    if (!expect_object(v, p)) return;
    check_fields(v, p,
                 {"input", "timeout", "maxParallel", "defaults", "steps", "output", "triggers",
                  "deadLetter", "onFailure"});
    if (const Json* input = member(v, "input")) load_input_schema(*input, def);
    if (const Json* t = member(v, "timeout")) {
      if (auto d = get_duration(*t, p + "/timeout", false)) def.timeout = *d;
    }
    if (const Json* m = member(v, "maxParallel")) {
      if (auto n = get_integer(*m, p + "/maxParallel", 1, kMaxParallelLimit)) {
        def.max_parallel = static_cast<int>(*n);
      }
    }
    if (const Json* d = member(v, "defaults")) load_defaults(*d, def);
    LevelMeta root_level;
    root_level.pointer = p + "/steps";
    if (const Json* steps = required(v, p, "steps")) {
      if (expect_array(*steps, p + "/steps")) {
        def.steps = load_level(*steps, p + "/steps", 0, root_level);
      }
    }
    if (const Json* output = member(v, "output")) {
      def.output = compile_json(*output, p + "/output", &root_level.output_refs);
    }
    if (const Json* triggers = member(v, "triggers")) load_triggers(*triggers, def);
    if (const Json* d = member(v, "deadLetter")) load_dead_letter(*d, def);
    if (const Json* f = member(v, "onFailure")) load_on_failure(*f, def);
    check_level(root_level, {}, {});
  }

  void load_input_schema(const Json& v, Definition& def) {
    const std::string p = "/spec/input";
    if (!v.is_object() && !v.is_boolean()) {
      error(p, "must be a JSON Schema (an object or a boolean), got " + json_type(v));
      return;
    }
    def.input_schema = v;
    auto problems = definition::compile_input_schema(v, def.compiled_input_schema);
    for (const auto& problem : problems) {
      report(doc_.at(p + problem.pointer), p + problem.pointer, problem.message);
    }
  }

  void load_defaults(const Json& v, Definition& def) {
    const std::string p = "/spec/defaults";
    if (!expect_object(v, p)) return;
    check_fields(v, p, {"timeout", "retry"});
    if (const Json* t = member(v, "timeout")) {
      if (auto d = get_duration(*t, p + "/timeout", false)) def.default_step_timeout = *d;
    }
    if (const Json* r = member(v, "retry")) {
      if (auto policy = load_retry(*r, p + "/retry", RetryPolicy{})) {
        def.default_retry = *policy;
        default_retry_ = *policy;
      }
    }
  }

  // ---- steps ---------------------------------------------------------------------------------

  std::vector<StepDef> load_level(const Json& steps, const std::string& pointer, int depth,
                                  LevelMeta& meta) {
    std::vector<StepDef> out;
    meta.pointer = pointer;
    for (std::size_t i = 0; i < steps.size(); ++i) {
      StepDef step;
      StepMeta m;
      load_step(steps[i], pointer_child(pointer, i), depth, step, m);
      out.push_back(std::move(step));
      meta.steps.push_back(std::move(m));
    }
    return out;
  }

  void load_step(const Json& v, const std::string& p, int depth, StepDef& step, StepMeta& m) {
    m.pointer = p;
    step.location = doc_.at(p);
    if (!v.is_object()) {
      error(p, "a step must be an object, got " + json_type(v));
      return;
    }
    if (const Json* id = required(v, p, "id")) {
      m.id_pointer = p + "/id";
      if (auto s = get_string(*id, m.id_pointer)) {
        if (definition::is_step_id(*s)) {
          step.id = *s;
          m.id = *s;
          labels_[p] = "step " + in_quotes(*s);
          all_ids_.insert(*s);
        } else {
          error(m.id_pointer,
                "invalid step id " + in_quotes(*s) + ": " + std::string(definition::kStepIdRule));
        }
      }
    }
    check_fields(v, p,
                 {"id", "type", "with", "steps", "output", "dependsOn", "if", "switch", "forEach",
                  "timeout", "retry", "fallback", "continueOnError", "onMissing", "compensate"});
    if (const Json* deps = member(v, "dependsOn")) {
      const std::string dp = p + "/dependsOn";
      if (expect_array(*deps, dp)) {
        for (std::size_t i = 0; i < deps->size(); ++i) {
          const std::string ip = pointer_child(dp, i);
          if (auto s = get_string((*deps)[i], ip)) {
            step.depends_on.push_back(*s);
            m.depends_on.emplace_back(*s, ip);
          }
        }
      }
    }
    if (const Json* cond = member(v, "if")) {
      step.condition = compile_condition(*cond, p + "/if", &m.refs);
    }
    if (const Json* each = member(v, "forEach")) load_for_each(*each, p + "/forEach", step, m);

    const bool has_type = v.contains("type");
    const bool has_steps = v.contains("steps");
    const bool has_switch = v.contains("switch");
    const int kinds = int{has_type} + int{has_steps} + int{has_switch};
    if (kinds == 0) {
      error(p, "needs one of 'type' (one action), 'steps' (a group) or 'switch'");
    } else if (kinds > 1) {
      std::vector<std::string> present;
      if (has_type) present.push_back("'type'");
      if (has_steps) present.push_back("'steps'");
      if (has_switch) present.push_back("'switch'");
      error(p, "has " + join(present, " and ") + ": a step is one action ('type'), one group " +
                   "('steps') or one 'switch'");
    }
    if (has_switch) {
      step.switch_def = load_switch(v["switch"], p + "/switch", depth, m);
    }
    load_body(v, p, depth, step.body, m);
    if (const Json* t = member(v, "timeout"))
      step.timeout = get_duration(*t, p + "/timeout", false);
    if (const Json* r = member(v, "retry"))
      step.retry = load_retry(*r, p + "/retry", default_retry_);
    if (const Json* f = member(v, "fallback")) load_fallback(*f, p + "/fallback", step, m);
    if (const Json* c = member(v, "continueOnError")) {
      step.continue_on_error = get_bool(*c, p + "/continueOnError").value_or(false);
    }
    if (const Json* o = member(v, "onMissing")) load_on_missing(*o, p + "/onMissing", step);
    if (const Json* c = member(v, "compensate")) load_compensate(*c, p + "/compensate", step);
  }

#include "failure_handling_loader.inc"

  // `type` + `with`, or `steps` + `output`, from a step, a switch case or a switch default.
  void load_body(const Json& v, const std::string& p, int depth, StepBody& body, StepMeta& m) {
    body.location = doc_.at(p);
    const Json* type = member(v, "type");
    const Json* with = member(v, "with");
    const Json* steps = member(v, "steps");
    const Json* output = member(v, "output");
    if (with != nullptr && type == nullptr) {
      report(doc_.key_at(p + "/with"), p, "'with' needs a 'type'");
    }
    if (output != nullptr && steps == nullptr) {
      report(doc_.key_at(p + "/output"), p, "'output' belongs to a group: it needs 'steps'");
    }
    if (type != nullptr) {
      if (auto t = get_string(*type, p + "/type")) {
        body.type = *t;
        if (!step_types_.count(*t)) {
          std::vector<std::string> known(step_types_.begin(), step_types_.end());
          std::string text = "unknown step type " + in_quotes(*t);
          if (auto s = definition::closest(*t, known)) {
            text += " (did you mean " + in_quotes(*s) + "?)";
          } else {
            text += " (known: " + join(known, ", ") + ")";
          }
          error(p + "/type", text);
        }
      }
      const Json empty = Json::object();
      const Json& with_value = with != nullptr ? *with : empty;
      std::vector<RefUse> with_refs;
      if (auto compiled = compile_json(with_value, p + "/with", &with_refs)) {
        body.with = std::move(*compiled);
      }
      check_secret_step_type(body.type, with_refs);
      m.refs.insert(m.refs.end(), with_refs.begin(), with_refs.end());
      if (!body.type.empty()) check_with(body.type, with, p);
    }
    if (steps != nullptr) {
      const std::string sp = p + "/steps";
      if (!expect_array(*steps, sp)) return;
      if (depth + 1 > kMaxNestingDepth) {
        error(sp, "groups nest deeper than " + std::to_string(kMaxNestingDepth) +
                      " levels (a group inside a group inside ...)");
        return;
      }
      if (steps->empty()) {
        error(sp, "a group needs at least one step");
        return;
      }
      LevelMeta group;
      body.steps = load_level(*steps, sp, depth + 1, group);
      if (output != nullptr) body.output = compile_json(*output, p + "/output", &group.output_refs);
      m.groups.push_back(std::move(group));
    }
  }

  // What the built-in step types need in `with`; templated values are checked when they run.
  void check_with(const std::string& type, const Json* with, const std::string& p) {
    const std::string wp = p + "/with";
    auto literal = [](const Json& v) {
      return v.is_string() && v.get_ref<const std::string&>().find("{{") == std::string::npos;
    };
    auto need_object = [&]() {
      if (with == nullptr) {
        error(p, "a '" + type + "' step needs 'with'");
        return false;
      }
      return expect_object(*with, wp, "with");
    };
    if (type == "workflow") {
      if (!need_object()) return;
      check_fields(*with, wp, {"ref", "input"});
      if (const Json* ref = required(*with, wp, "ref")) {
        if (auto s = get_string(*ref, wp + "/ref")) {
          if (!definition::parse_workflow_ref(*s)) {
            error(wp + "/ref", "invalid ref " + in_quotes(*s) + ": use name or name@version (" +
                                   std::string(definition::kWorkflowNameRule) + ")");
          }
        }
      }
    } else if (type == "sleep") {
      if (!need_object()) return;
      // `until` (durable timers): an RFC 3339 time or a template resolved when the step runs.
      if (const Json* until = member(*with, "until")) {
        if (member(*with, "duration") != nullptr) {
          error(wp, "a 'sleep' step takes 'duration' or 'until', not both");
        } else if (literal(*until)) {
          if (!parse_rfc3339_ms(until->get_ref<const std::string&>()))
            error(wp + "/until", "invalid time " + in_quotes(until->get<std::string>()) +
                                     ": use RFC 3339, like 2026-11-21T10:00:00Z");
        } else if (!until->is_string()) {
          error(wp + "/until",
                "must be an RFC 3339 time string or a template, got " + json_type(*until));
        }
        return;
      }
      if (const Json* d = required(*with, wp, "duration")) {
        if (literal(*d)) {
          get_duration(*d, wp + "/duration", true);
        } else if (!d->is_string()) {
          error(wp + "/duration", "must be a duration string or a template, got " + json_type(*d));
        }
      }
    } else if (type == "http") {
      if (!need_object()) return;
      if (const Json* url = required(*with, wp, "url")) get_string(*url, wp + "/url");
    } else if (type == "fail") {
      if (with == nullptr || !with->is_object()) return;
      if (const Json* code = member(*with, "code")) {
        if (literal(*code)) {
          const auto& s = code->get_ref<const std::string&>();
          if (!parse_error_code(s)) {
            error(wp + "/code", "unknown error code " + in_quotes(s) + " (" +
                                    definition::error_code_list() + ")");
          }
        } else if (!code->is_string()) {
          error(wp + "/code", "must be an error code string, got " + json_type(*code));
        }
      }
      if (const Json* times = member(*with, "times")) {
        if (!times->is_string()) get_integer(*times, wp + "/times", 0, kMaxRetryAttempts * 10);
      }
    }
  }

  std::optional<SwitchDef> load_switch(const Json& v, const std::string& p, int depth,
                                       StepMeta& m) {
    if (!expect_object(v, p)) return std::nullopt;
    check_fields(v, p, {"value", "cases", "default"});
    SwitchDef def;
    bool ok = true;
    if (const Json* value = required(v, p, "value")) {
      if (auto c = compile_condition(*value, p + "/value", &m.refs)) {
        def.value = std::move(*c);
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const Json* cases = required(v, p, "cases")) {
      const std::string cp = p + "/cases";
      if (expect_array(*cases, cp)) {
        if (cases->empty()) error(cp, "a switch needs at least one case");
        std::vector<std::pair<Json, std::size_t>> seen;
        for (std::size_t i = 0; i < cases->size(); ++i) {
          const Json& c = (*cases)[i];
          const std::string ip = pointer_child(cp, i);
          if (!expect_object(c, ip, "a case")) continue;
          check_fields(c, ip, {"match", "type", "with", "steps", "output"});
          check_body_choice(c, ip);
          SwitchCase sc;
          if (const Json* match = required(c, ip, "match")) {
            sc.match = *match;
            for (const auto& [earlier, index] : seen) {
              if (earlier == *match) {
                error(ip + "/match", "repeats the match " + match->dump() + " of case " +
                                         std::to_string(index + 1));
              }
            }
            seen.emplace_back(*match, i);
          }
          load_body(c, ip, depth, sc.body, m);
          def.cases.push_back(std::move(sc));
        }
      }
    } else {
      ok = false;
    }
    if (const Json* d = member(v, "default")) {
      const std::string dp = p + "/default";
      if (expect_object(*d, dp, "default")) {
        check_fields(*d, dp, {"type", "with", "steps", "output"});
        check_body_choice(*d, dp);
        StepBody body;
        load_body(*d, dp, depth, body, m);
        def.default_body = std::move(body);
      }
    }
    if (!ok) return std::nullopt;
    return def;
  }

  // A case or default runs one action or one group.
  void check_body_choice(const Json& v, const std::string& p) {
    const bool has_type = v.contains("type");
    const bool has_steps = v.contains("steps");
    if (!has_type && !has_steps) error(p, "needs 'type' (one action) or 'steps' (a group)");
    if (has_type && has_steps) error(p, "has both 'type' and 'steps': use one");
  }

  void load_for_each(const Json& v, const std::string& p, StepDef& step, StepMeta& m) {
    if (!expect_object(v, p)) return;
    check_fields(v, p, {"items", "as", "maxParallel"});
    ForEachDef def;
    bool ok = true;
    if (const Json* items = required(v, p, "items")) {
      if (auto s = get_string(*items, p + "/items")) {
        if (auto t = compile_template(*s, p + "/items", &m.items_refs)) {
          if (!t->is_whole_value()) {
            error(p + "/items",
                  "must be one template naming an array, like \"{{ input.items }}\", got " +
                      in_quotes(*s));
            ok = false;
          } else {
            def.items = std::move(*t);
          }
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (const Json* as = member(v, "as")) {
      if (auto s = get_string(*as, p + "/as")) {
        if (!definition::is_identifier(*s)) {
          error(p + "/as",
                "must be an identifier (letters, digits and '_', not starting with a "
                "digit), got " +
                    in_quotes(*s));
          ok = false;
        } else if (definition::is_reserved_name(*s)) {
          error(p + "/as", in_quotes(*s) +
                               " is a reserved name (input, steps, context, secrets, "
                               "index)");
          ok = false;
        } else {
          def.as = *s;
        }
      } else {
        ok = false;
      }
    }
    if (const Json* mp = member(v, "maxParallel")) {
      if (auto n = get_integer(*mp, p + "/maxParallel", 1, kMaxParallelLimit)) {
        def.max_parallel = static_cast<int>(*n);
      }
    }
    m.item_var = def.as;
    if (ok) step.for_each = std::move(def);
  }

  std::optional<RetryPolicy> load_retry(const Json& v, const std::string& p, RetryPolicy base) {
    if (!expect_object(v, p)) return std::nullopt;
    check_fields(v, p, {"maxAttempts", "backoff", "multiplier", "maxBackoff", "jitter", "on"});
    RetryPolicy r = std::move(base);
    bool ok = true;
    auto fail_if = [&](bool failed) { ok = ok && !failed; };
    if (const Json* n = member(v, "maxAttempts")) {
      auto x = get_integer(*n, p + "/maxAttempts", 1, kMaxRetryAttempts);
      fail_if(!x);
      if (x) r.max_attempts = static_cast<int>(*x);
    }
    std::optional<Millis> backoff;
    std::optional<Millis> max_backoff;
    if (const Json* b = member(v, "backoff")) {
      backoff = get_duration(*b, p + "/backoff", true);
      fail_if(!backoff);
      if (backoff) r.backoff = *backoff;
    }
    if (const Json* mult = member(v, "multiplier")) {
      auto x = get_number(*mult, p + "/multiplier", 1.0, kMaxMultiplier);
      fail_if(!x);
      if (x) r.multiplier = *x;
    }
    if (const Json* mb = member(v, "maxBackoff")) {
      max_backoff = get_duration(*mb, p + "/maxBackoff", false);
      fail_if(!max_backoff);
      if (max_backoff) r.max_backoff = *max_backoff;
    }
    if (const Json* j = member(v, "jitter")) {
      auto x = get_number(*j, p + "/jitter", 0.0, kMaxJitter);
      fail_if(!x);
      if (x) r.jitter = *x;
    }
    if (const Json* on = member(v, "on")) {
      const std::string op = p + "/on";
      if (expect_array(*on, op)) {
        r.on.clear();
        for (std::size_t i = 0; i < on->size(); ++i) {
          const std::string ip = pointer_child(op, i);
          auto s = get_string((*on)[i], ip);
          if (!s) {
            ok = false;
            continue;
          }
          auto code = parse_error_code(*s);
          if (!code) {
            error(ip, "unknown error code " + in_quotes(*s) + " (" + definition::error_code_list() +
                          ")");
            ok = false;
          } else if (std::find(r.on.begin(), r.on.end(), *code) != r.on.end()) {
            error(ip, "lists " + in_quotes(*s) + " twice");
            ok = false;
          } else {
            r.on.push_back(*code);
          }
        }
      } else {
        ok = false;
      }
    }
    if (max_backoff && r.max_backoff < r.backoff) {
      error(p + "/maxBackoff", "is shorter than backoff (" + format_duration(r.backoff) + ")");
      ok = false;
    } else if (r.max_backoff < r.backoff) {
      r.max_backoff = r.backoff;  // no cap given: the backoff itself is the cap
    }
    if (!ok) return std::nullopt;
    return r;
  }

  void load_fallback(const Json& v, const std::string& p, StepDef& step, StepMeta& m) {
    if (!expect_object(v, p)) return;
    check_fields(v, p, {"value", "skip", "step"});
    const int count = int{v.contains("value")} + int{v.contains("skip")} + int{v.contains("step")};
    if (count != 1) {
      error(p,
            "needs exactly one of 'value' (use this output), 'skip: true' or 'step' (run "
            "another step's body)");
      return;
    }
    if (const Json* value = member(v, "value")) {
      step.fallback.kind = Fallback::Kind::kValue;
      step.fallback.value = *value;
    } else if (const Json* skip = member(v, "skip")) {
      if (auto b = get_bool(*skip, p + "/skip")) {
        if (!*b) {
          error(p + "/skip", "must be true (remove the fallback to have none)");
        } else {
          step.fallback.kind = Fallback::Kind::kSkip;
        }
      }
    } else if (const Json* other = member(v, "step")) {
      if (auto s = get_string(*other, p + "/step")) {
        step.fallback.kind = Fallback::Kind::kStep;
        step.fallback.step = *s;
        m.fallback_step = *s;
        m.fallback_pointer = p + "/step";
      }
    }
  }

  void load_on_missing(const Json& v, const std::string& p, StepDef& step) {
    auto s = get_string(v, p);
    if (!s) return;
    if (*s == "fail") {
      step.on_missing = OnMissing::kFail;
    } else if (*s == "null") {
      step.on_missing = OnMissing::kNull;
    } else if (*s == "wait") {
      step.on_missing = OnMissing::kWait;
    } else {
      error(p, "must be fail, null or wait, got " + in_quotes(*s));
    }
  }

  // ---- triggers ------------------------------------------------------------------------------

  void load_triggers(const Json& v, Definition& def) {
    const std::string p = "/spec/triggers";
    if (!expect_array(v, p)) return;
    int crons = 0;                                  // default names count cron triggers only
    std::map<std::string, std::string> cron_names;  // name -> pointer of its trigger
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string ip = pointer_child(p, i);
      const Json& t = v[i];
      if (!expect_object(t, ip, "a trigger")) continue;
      check_fields(t, ip, {"kafka", "cron", "webhook"});
      if (t.size() != 1) {
        if (t.empty() || t.contains("kafka") + t.contains("cron") + t.contains("webhook") > 1) {
          error(ip, "a trigger has exactly one of 'kafka', 'cron' or 'webhook'");
        }
        continue;
      }
      TriggerDef trigger;
      trigger.location = doc_.at(ip);
      if (const Json* k = member(t, "kafka")) {
        trigger.kind = TriggerDef::Kind::kKafka;
        if (!load_kafka(*k, ip + "/kafka")) continue;
        trigger.spec = *k;
      } else if (const Json* c = member(t, "cron")) {
        trigger.kind = TriggerDef::Kind::kCron;
        trigger.cron = load_cron(*c, ip + "/cron", def.name + "-cron-" + std::to_string(crons++));
        if (!trigger.cron) continue;
        if (auto [it, fresh] = cron_names.emplace(trigger.cron->name, ip); !fresh) {
          error(ip + "/cron", "two cron triggers are named " + in_quotes(trigger.cron->name) +
                                  " (the first at " + where_text(doc_.at(it->second)) + ")");
          continue;
        }
        trigger.spec = *c;
      } else if (const Json* w = member(t, "webhook")) {
        trigger.kind = TriggerDef::Kind::kWebhook;
        if (!load_webhook(*w, ip + "/webhook")) continue;
        trigger.spec = *w;
      } else {
        continue;  // unknown field, reported above
      }
      def.triggers.push_back(std::move(trigger));
    }
  }

  bool load_kafka(const Json& v, const std::string& p) {
    if (!expect_object(v, p)) return false;
    const std::size_t before = diagnostics_.size();
    check_fields(v, p, {"topic", "filter", "input"});
    if (const Json* topic = required(v, p, "topic")) {
      if (auto s = get_string(*topic, p + "/topic")) {
        if (!definition::is_topic_name(*s)) {
          error(p + "/topic",
                "invalid topic " + in_quotes(*s) + ": up to 249 letters, digits, '.', '_' and '-'");
        }
      }
    }
    std::vector<RefUse> refs;
    if (const Json* f = member(v, "filter")) compile_condition(*f, p + "/filter", &refs);
    if (const Json* in = member(v, "input")) compile_json(*in, p + "/input", &refs);
    check_trigger_refs(refs, {"event"}, "a kafka trigger");
    return diagnostics_.size() == before;
  }

  // The trigger as the scheduler reads it (CronTrigger), or nullopt after reporting why not.
  std::optional<CronTrigger> load_cron(const Json& v, const std::string& p,
                                       const std::string& default_name) {
    if (!expect_object(v, p)) return std::nullopt;
    const std::size_t before = diagnostics_.size();
    check_fields(v, p,
                 {"schedule", "timezone", "overlap", "catchupWindow", "maxCatchup", "jitter",
                  "input", "pauseOnFailure", "startAt", "endAt", "name"});
    CronTrigger cron;
    cron.name = default_name;
    if (const Json* n = member(v, "name")) {
      if (auto s = get_string(*n, p + "/name")) {
        if (!definition::is_workflow_name(*s)) {
          error(p + "/name", "invalid schedule name " + in_quotes(*s) + ": " +
                                 std::string(definition::kWorkflowNameRule));
        }
        cron.name = *s;
      }
    }
    if (const Json* tz = member(v, "timezone")) {
      if (auto s = get_string(*tz, p + "/timezone")) {
        if (!definition::is_timezone_name(*s)) {
          error(p + "/timezone", "invalid time zone " + in_quotes(*s) +
                                     ": use an IANA name like Europe/Berlin or UTC");
        } else if (!is_known_time_zone(*s)) {
          error(p + "/timezone", "unknown time zone " + in_quotes(*s) +
                                     ": not in this machine's IANA time zone database");
        }
        cron.timezone = *s;
      }
    }
    if (const Json* s = required(v, p, "schedule")) {
      if (auto text = get_string(*s, p + "/schedule")) {
        if (auto parsed = CronSchedule::parse(*text); !parsed) {
          error(p + "/schedule", parsed.error().message);
        }
        cron.schedule = *text;
      }
    }
    if (const Json* o = member(v, "overlap")) {
      if (auto s = get_string(*o, p + "/overlap")) {
        if (auto policy = parse_overlap_policy(*s)) {
          cron.overlap = *policy;
        } else {
          error(p + "/overlap", "must be one of " + std::string(definition::kOverlapPolicies) +
                                    ", got " + in_quotes(*s));
        }
      }
    }
    if (const Json* w = member(v, "catchupWindow")) {
      if (auto d = get_duration(*w, p + "/catchupWindow", true)) cron.catchup_window = *d;
    }
    if (const Json* m = member(v, "maxCatchup")) {
      if (auto n = get_integer(*m, p + "/maxCatchup", 0, kMaxCatchup)) {
        cron.max_catchup = static_cast<int>(*n);
      }
    }
    if (const Json* j = member(v, "jitter")) {
      if (auto d = get_duration(*j, p + "/jitter", true)) cron.jitter = *d;
    }
    if (const Json* f = member(v, "pauseOnFailure")) {
      if (auto b = get_bool(*f, p + "/pauseOnFailure")) cron.pause_on_failure = *b;
    }
    for (auto [key, field] :
         {std::pair{"startAt", &CronTrigger::start_at}, std::pair{"endAt", &CronTrigger::end_at}}) {
      const Json* t = member(v, key);
      if (t == nullptr) continue;
      if (auto s = get_string(*t, p + "/" + key)) {
        if (auto at = parse_rfc3339(*s)) {
          cron.*field = *at;
        } else {
          error(p + "/" + key,
                "invalid time " + in_quotes(*s) + ": use RFC 3339, e.g. 2026-03-29T01:00:00Z");
        }
      }
    }
    if (cron.start_at && cron.end_at && *cron.end_at <= *cron.start_at) {
      error(p + "/endAt", "must be after startAt (" + format_utc(*cron.start_at) + ")");
    }
    std::vector<RefUse> refs;
    if (const Json* in = member(v, "input")) {
      compile_json(*in, p + "/input", &refs);
      cron.input = *in;
    }
    check_trigger_refs(refs, {"tick", "schedule"}, "a cron trigger");
    if (diagnostics_.size() != before) return std::nullopt;
    return cron;
  }

  // webhook: {path, secret, signature, filter?, input?}; see service/webhooks/README.md.
  bool load_webhook(const Json& v, const std::string& p) {
    if (!expect_object(v, p)) return false;
    const std::size_t before = diagnostics_.size();
    check_fields(v, p, {"path", "secret", "signature", "filter", "input", "rateLimit"});
    if (const Json* limit = member(v, "rateLimit")) load_rate_limit(*limit, p + "/rateLimit");
    if (const Json* path = required(v, p, "path")) {
      if (auto s = get_string(*path, p + "/path")) {
        if (auto why = definition::check_webhook_path(*s))
          error(p + "/path", "webhook path " + in_quotes(*s) + " " + *why);
      }
    }
    if (const Json* secret = required(v, p, "secret")) {
      if (auto s = get_string(*secret, p + "/secret")) {
        if (!definition::is_secret_name(*s))
          error(p + "/secret", "names a secret (FLOWD_SECRET_<NAME> or a file in secrets.dir): " +
                                   in_quotes(*s) + " is not a name ([A-Za-z_][A-Za-z0-9_.-]*)");
      }
    }
    if (const Json* sig = required(v, p, "signature")) load_signature(*sig, p + "/signature");
    std::vector<RefUse> refs;
    if (const Json* f = member(v, "filter")) compile_condition(*f, p + "/filter", &refs);
    if (const Json* in = member(v, "input")) compile_json(*in, p + "/input", &refs);
    check_trigger_refs(refs, {"request"}, "a webhook trigger");
    return diagnostics_.size() == before;
  }

  // {perSecond: number > 0, burst: integer >= 1}: this webhook's token bucket.
  void load_rate_limit(const Json& v, const std::string& p) {
    if (!expect_object(v, p, "rateLimit ({perSecond, burst})")) return;
    check_fields(v, p, {"perSecond", "burst"});
    if (const Json* r = required(v, p, "perSecond"))
      if (!r->is_number() || !(r->get<double>() > 0) || r->get<double>() > 1e6)
        error(p + "/perSecond", "must be a number in (0, 1000000], got " + r->dump());
    if (const Json* b = required(v, p, "burst"))
      if (!b->is_number_integer() || b->get<std::int64_t>() < 1 || b->get<std::int64_t>() > 1000000)
        error(p + "/burst", "must be an integer in 1..1000000, got " + b->dump());
  }

  // "github" or {scheme, header?, tolerance?}; header is for (and required by) hmac-sha256.
  void load_signature(const Json& v, const std::string& p) {
    std::optional<std::string> scheme;
    std::string scheme_pointer = p;
    if (v.is_string()) {
      scheme = get_string(v, p);
    } else {
      if (!expect_object(v, p, "signature (a scheme name or {scheme, header, tolerance})")) return;
      check_fields(v, p, {"scheme", "header", "tolerance"});
      scheme_pointer = p + "/scheme";
      if (const Json* s = required(v, p, "scheme")) scheme = get_string(*s, scheme_pointer);
      if (const Json* t = member(v, "tolerance")) get_duration(*t, p + "/tolerance", false);
    }
    if (!scheme) return;
    if (!definition::is_signature_scheme(*scheme)) {
      error(scheme_pointer, "must be one of " + std::string(definition::kSignatureSchemes) +
                                ", got " + in_quotes(*scheme));
      return;
    }
    const Json* header = v.is_object() ? member(v, "header") : nullptr;
    if (*scheme == "hmac-sha256" && header == nullptr)
      error(p, "hmac-sha256 needs 'header': the request header that carries the signature");
    if (*scheme != "hmac-sha256" && header != nullptr)
      error(p + "/header", "only hmac-sha256 takes a header; " + *scheme + " uses its own");
    if (header) get_string(*header, p + "/header");
  }

  void check_trigger_refs(const std::vector<RefUse>& refs, const std::vector<std::string>& roots,
                          const std::string& what) {
    std::string seen;
    for (std::size_t i = 0; i < roots.size(); ++i) {
      seen += (i == 0 ? "" : i + 1 == roots.size() ? " and " : ", ") + in_quotes(roots[i]);
    }
    for (const RefUse& u : refs) {
      if (std::find(roots.begin(), roots.end(), u.root) != roots.end()) continue;
      report(doc_.inside(u.pointer, u.offset), u.pointer,
             "{{ " + u.text + " }}: " + what + " sees only " + seen + " (" + roots[0] + ".…)");
    }
  }

  // ---- graph checks --------------------------------------------------------------------------

  // Checks one level: ids, dependsOn, cycles, fallbacks, references; then its groups. `outer`
  // holds the ids visible from enclosing levels, `vars` the forEach names in scope.
  void check_level(const LevelMeta& level, const std::set<std::string>& outer,
                   const std::set<std::string>& vars) {
    const std::size_t n = level.steps.size();
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < n; ++i) {
      const StepMeta& s = level.steps[i];
      if (s.id.empty()) continue;
      auto [it, inserted] = index.emplace(s.id, i);
      if (!inserted) {
        error(s.id_pointer, "duplicate step id " + in_quotes(s.id) + " (first defined at " +
                                where_text(doc_.at(level.steps[it->second].id_pointer)) + ")");
      }
    }
    std::vector<std::string> level_ids;
    for (const auto& [id, i] : index) level_ids.push_back(id);

    // dependsOn edges (i depends on j).
    std::vector<std::vector<std::size_t>> edges(n);
    for (std::size_t i = 0; i < n; ++i) {
      const StepMeta& s = level.steps[i];
      std::set<std::string> listed;
      for (const auto& [dep, dp] : s.depends_on) {
        if (!listed.insert(dep).second) {
          error(dp, "lists " + in_quotes(dep) + " twice");
          continue;
        }
        if (!s.id.empty() && dep == s.id) {
          error(dp, "dependency cycle: " + s.id + " -> " + s.id +
                        " (a step cannot depend on "
                        "itself)");
          continue;
        }
        auto it = index.find(dep);
        if (it == index.end()) {
          std::string text = "unknown step " + in_quotes(dep);
          if (auto c = definition::closest(dep, level_ids)) {
            text += " (did you mean " + in_quotes(*c) + "?)";
          } else if (outer.count(dep) || all_ids_.count(dep)) {
            text +=
                " (dependsOn names steps of the same list; steps outside it are already "
                "done or not visible here)";
          }
          error(dp, text);
          continue;
        }
        edges[i].push_back(it->second);
      }
    }
    report_cycles(level, edges);

    // Transitive upstream of each step.
    std::vector<std::set<std::string>> upstream(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::size_t> stack(edges[i].begin(), edges[i].end());
      std::vector<bool> seen(n, false);
      while (!stack.empty()) {
        const std::size_t j = stack.back();
        stack.pop_back();
        if (seen[j]) continue;
        seen[j] = true;
        if (!level.steps[j].id.empty()) upstream[i].insert(level.steps[j].id);
        for (std::size_t k : edges[j]) stack.push_back(k);
      }
    }

    for (std::size_t i = 0; i < n; ++i) {
      const StepMeta& s = level.steps[i];
      if (!s.fallback_step.empty()) {
        if (s.fallback_step == s.id) {
          error(s.fallback_pointer, "names the step itself");
        } else if (!index.count(s.fallback_step)) {
          std::string text = "unknown step " + in_quotes(s.fallback_step);
          if (auto c = definition::closest(s.fallback_step, level_ids)) {
            text += " (did you mean " + in_quotes(*c) + "?)";
          }
          error(s.fallback_pointer, text);
        }
      }
      std::set<std::string> visible = outer;
      visible.insert(upstream[i].begin(), upstream[i].end());
      std::set<std::string> inner_vars = vars;
      if (!s.item_var.empty()) {
        inner_vars.insert(s.item_var);
        inner_vars.insert("index");
      }
      for (const RefUse& u : s.items_refs) check_ref(u, s.id, visible, vars, index);
      for (const RefUse& u : s.refs) check_ref(u, s.id, visible, inner_vars, index);
      for (const LevelMeta& group : s.groups) check_level(group, visible, inner_vars);
    }

    // A group's (or the workflow's) output runs after every step of the list.
    std::set<std::string> all = outer;
    for (const auto& [id, i] : index) all.insert(id);
    for (const RefUse& u : level.output_refs) check_ref(u, "", all, vars, index);
  }

  void check_ref(const RefUse& u, const std::string& self, const std::set<std::string>& visible,
                 const std::set<std::string>& vars,
                 const std::map<std::string, std::size_t>& level_index) {
    auto bad = [&](const std::string& text) {
      report(doc_.inside(u.pointer, u.offset), u.pointer, "{{ " + u.text + " }}: " + text);
    };
    if (u.root == "steps") {
      if (!self.empty() && u.step == self) {
        bad("a step cannot read its own result");
        return;
      }
      if (!visible.count(u.step)) {
        if (level_index.count(u.step)) {
          bad("step " + in_quotes(u.step) +
              " is not upstream: add it to dependsOn (directly or "
              "through a step that depends on it)");
        } else if (all_ids_.count(u.step)) {
          bad("step " + in_quotes(u.step) +
              " is not visible here (a step sees the steps it "
              "depends on and, inside a group, those its group depends on)");
        } else {
          std::vector<std::string> candidates(visible.begin(), visible.end());
          std::string text = "there is no step " + in_quotes(u.step);
          if (auto c = definition::closest(u.step, candidates)) {
            text += " (did you mean " + in_quotes(*c) + "?)";
          }
          bad(text);
        }
        return;
      }
      if (u.has_field && (u.field_is_index || !definition::is_step_field(u.field))) {
        bad("a step result has output, status, error and attempts");
      }
      return;
    }
    if (u.root == "secrets") {
      if (!in_step_with(u.pointer))
        report(doc_.inside(u.pointer, u.offset), u.pointer,
               "{{ " + u.text + " }}: secrets may only be used in a step's 'with' (not in " +
                   "output, if, switch, forEach.items or triggers), so their values never reach " +
                   "the event log");
      return;
    }
    if (u.root == "input" || u.root == "context") return;
    if (vars.count(u.root)) return;
    std::vector<std::string> names{"input", "steps", "context", "secrets"};
    names.insert(names.end(), vars.begin(), vars.end());
    std::string text = "unknown name " + in_quotes(u.root);
    if (auto c = definition::closest(u.root, names)) {
      text += " (did you mean " + in_quotes(*c) + "?)";
    } else {
      text += " (known here: " + join(names, ", ") + ")";
    }
    if (u.root == "item" || u.root == "index") text += "; item and index exist inside a forEach";
    bad(text);
  }

  // Whether `pointer` lies inside the `with` of a step, a switch case or a switch default
  // (`.../steps/N/with...`, `.../cases/N/with...`, `.../default/with...`), and not inside an
  // output object on the way there. Plain segment checks: GCC 12 warns inside std::regex.
  static bool in_step_with(const std::string& pointer) {
    std::vector<std::string> segments;
    for (std::size_t at = 0; at < pointer.size();) {
      const std::size_t slash = pointer.find('/', at + 1);
      const std::size_t end = slash == std::string::npos ? pointer.size() : slash;
      segments.push_back(pointer.substr(at + 1, end - at - 1));
      at = end;
    }
    auto is_index = [](const std::string& s) {
      return !s.empty() &&
             std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    for (std::size_t i = 1; i < segments.size(); ++i) {
      if (segments[i] != "with") continue;
      std::size_t start = 0;
      if (segments[i - 1] == "default") {
        start = i - 1;
      } else if (i >= 2 && (segments[i - 2] == "steps" || segments[i - 2] == "cases") &&
                 is_index(segments[i - 1])) {
        start = i - 2;
      } else {
        continue;
      }
      // A `with` key inside an output object is not a step's with.
      return std::find(segments.begin(), segments.begin() + static_cast<long>(start), "output") ==
             segments.begin() + static_cast<long>(start);
    }
    return false;
  }

  // transform, log and workflow steps copy their `with` into an event or a log line (output,
  // message, the child's input): secrets there would be persisted on purpose.
  void check_secret_step_type(const std::string& type, const std::vector<RefUse>& refs) {
    if (type != "transform" && type != "log" && type != "workflow") return;
    for (const RefUse& u : refs)
      if (u.root == "secrets")
        report(doc_.inside(u.pointer, u.offset), u.pointer,
               "{{ " + u.text + " }}: a " + type + " step's 'with' may not use secrets (it " +
                   "becomes " +
                   (type == "log"        ? "a log line"
                    : type == "workflow" ? "the child's input"
                                         : "the step's output") +
                   ", which is stored); pass secrets only to steps that call out, such as http");
  }

  // Reports one cycle per strongly connected component of the dependsOn graph.
  void report_cycles(const LevelMeta& level, const std::vector<std::vector<std::size_t>>& edges) {
    const std::size_t n = edges.size();
    // Tarjan's algorithm, iterative.
    std::vector<int> order(n, -1), low(n, 0), component(n, -1);
    std::vector<bool> on_stack(n, false);
    std::vector<std::size_t> stack;
    int counter = 0;
    int components = 0;
    for (std::size_t start = 0; start < n; ++start) {
      if (order[start] >= 0) continue;
      std::vector<std::pair<std::size_t, std::size_t>> work{{start, 0}};
      while (!work.empty()) {
        auto& [v, next] = work.back();
        if (next == 0) {
          order[v] = low[v] = counter++;
          stack.push_back(v);
          on_stack[v] = true;
        }
        if (next < edges[v].size()) {
          const std::size_t w = edges[v][next++];
          if (order[w] < 0) {
            work.emplace_back(w, 0);
          } else if (on_stack[w]) {
            low[v] = std::min(low[v], order[w]);
          }
          continue;
        }
        if (low[v] == order[v]) {
          while (true) {
            const std::size_t w = stack.back();
            stack.pop_back();
            on_stack[w] = false;
            component[w] = components;
            if (w == v) break;
          }
          ++components;
        }
        const std::size_t done = v;
        work.pop_back();
        if (!work.empty()) low[work.back().first] = std::min(low[work.back().first], low[done]);
      }
    }
    std::vector<std::vector<std::size_t>> members(static_cast<std::size_t>(components));
    for (std::size_t i = 0; i < n; ++i)
      members[static_cast<std::size_t>(component[i])].push_back(i);
    for (const auto& m : members) {
      if (m.size() < 2) continue;
      // Shortest path from the first member back to itself, within the component.
      const std::size_t first = m.front();
      const int c = component[first];
      std::vector<std::size_t> parent(n, n);
      std::vector<std::size_t> queue{first};
      std::size_t last = n;
      for (std::size_t q = 0; q < queue.size() && last == n; ++q) {
        const std::size_t v = queue[q];
        for (std::size_t w : edges[v]) {
          if (component[w] != c) continue;
          if (w == first) {
            last = v;
            break;
          }
          if (parent[w] == n) {
            parent[w] = v;
            queue.push_back(w);
          }
        }
      }
      if (last == n) continue;  // cannot happen in a component of two or more
      std::vector<std::size_t> path{first};
      for (std::size_t v = last; v != first; v = parent[v]) path.push_back(v);
      std::reverse(path.begin() + 1, path.end());
      std::string text = "dependency cycle: ";
      for (std::size_t v : path) text += level.steps[v].id + " -> ";
      text += level.steps[first].id;
      error(level.steps[first].pointer + "/dependsOn", text);
    }
  }

  const SourceDocument& doc_;
  std::string source_;
  const std::set<std::string>& step_types_;
  Diagnostics diagnostics_;
  std::map<std::string, std::string> labels_;  // step pointer -> "step 'id'"
  std::set<std::string> all_ids_;
  RetryPolicy default_retry_;
};

}  // namespace

LoadResult load_definition(std::string_view text, std::string source_name,
                           const std::set<std::string>& step_types) {
  auto parsed = definition::parse_document(text, source_name);
  if (parsed.document == nullptr) {
    LoadResult result;
    result.diagnostics = std::move(parsed.diagnostics);
    return result;
  }
  Loader loader(*parsed.document, source_name, step_types);
  LoadResult result = loader.load();
  if (!parsed.diagnostics.empty()) {
    result.definition.reset();
    result.diagnostics.insert(result.diagnostics.begin(), parsed.diagnostics.begin(),
                              parsed.diagnostics.end());
  }
  return result;
}

LoadResult load_definition(std::string_view text, std::string source_name) {
  return load_definition(text, std::move(source_name), definition::builtin_types());
}

}  // namespace flowd
