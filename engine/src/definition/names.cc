// Lexical rules of definitions (names.h).
#include "definition/names.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "flowd/engine/error.h"

namespace flowd::definition {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
      // Transposition ("tpye" for "type") counts as one edit.
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev[j - 1]);
      }
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

}  // namespace

const std::set<std::string>& builtin_types() {
  static const std::set<std::string> kTypes{"fail",  "http",      "log",     "noop",
                                            "sleep", "transform", "workflow"};
  return kTypes;
}

bool is_step_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!is_alpha(s[0]) && s[0] != '_') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '-'; });
}

bool is_workflow_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  if (!is_alpha(s[0]) && !is_digit(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

std::optional<WorkflowRef> parse_workflow_ref(std::string_view s) {
  WorkflowRef ref;
  const auto at = s.find('@');
  const std::string_view name = s.substr(0, at);
  if (!is_workflow_name(name)) return std::nullopt;
  ref.name = std::string(name);
  if (at != std::string_view::npos) {
    const std::string_view v = s.substr(at + 1);
    if (v.empty() || v.size() > 9 || v[0] == '0' || !std::all_of(v.begin(), v.end(), is_digit)) {
      return std::nullopt;
    }
    int version = 0;
    std::from_chars(v.data(), v.data() + v.size(), version);
    ref.version = version;
  }
  return ref;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!is_alpha(s[0]) && s[0] != '_') return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

bool is_reserved_name(std::string_view s) {
  return s == "input" || s == "steps" || s == "context" || s == "secrets" || s == "index";
}

bool is_step_field(std::string_view s) {
  return s == "output" || s == "status" || s == "error" || s == "attempts";
}

std::optional<Millis> parse_bounded_duration(std::string_view s) {
  std::size_t digits = 0;
  while (digits < s.size() && is_digit(s[digits])) ++digits;
  if (digits == 0 || digits > 10) return std::nullopt;
  return parse_duration(s);
}

std::string error_code_list() {
  static constexpr std::array kCodes{
      ErrorCode::kInvalidDefinition, ErrorCode::kInvalidInput, ErrorCode::kMissingInput,
      ErrorCode::kTimeout,           ErrorCode::kExternal,     ErrorCode::kNotFound,
      ErrorCode::kPermissionDenied,  ErrorCode::kCancelled,    ErrorCode::kInternal};
  std::string out;
  for (auto code : kCodes) {
    if (!out.empty()) out += ", ";
    out += to_string(code);
  }
  return out;
}

bool is_topic_name(std::string_view s) {
  if (s.empty() || s.size() > 249 || s == "." || s == "..") return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '-';
  });
}

bool is_timezone_name(std::string_view s) {
  if (s.empty() || s.size() > 64 || !is_alpha(s[0])) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '/' || c == '_' || c == '-' || c == '+';
  });
}

bool is_overlap_policy(std::string_view s) {
  return s == "skip" || s == "allow" || s == "bufferOne" || s == "bufferAll" || s == "cancelOther";
}

std::optional<std::string> closest(std::string_view word,
                                   const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = 0;
  for (const auto& c : candidates) {
    // Case-only differences ("DependsOn") are the likeliest typos of all.
    bool same_folded = c.size() == word.size();
    for (std::size_t i = 0; same_folded && i < c.size(); ++i) {
      same_folded = lower(c[i]) == lower(word[i]);
    }
    const std::size_t d = same_folded ? 0 : edit_distance(word, c);
    const std::size_t limit = std::min<std::size_t>(2, std::max<std::size_t>(1, c.size() / 3));
    if (d > limit) continue;
    if (!best || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace flowd::definition
