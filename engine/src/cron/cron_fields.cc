// The cron expression parser (cron_fields.h): fields to bit sets, with messages that name the
// field and what is wrong in it.
#include "cron/cron_fields.h"

#include <array>
#include <bit>
#include <cctype>
#include <string>
#include <vector>

#include "cron/civil.h"

namespace flowd::cron {
namespace {

enum class FieldKind { kSecond, kMinute, kHour, kDayOfMonth, kMonth, kDayOfWeek };

struct FieldSpec {
  FieldKind kind;
  std::string_view name;
  int min;
  int max;
};

constexpr std::array<FieldSpec, 6> kFields{{
    {FieldKind::kSecond, "second", 0, 59},
    {FieldKind::kMinute, "minute", 0, 59},
    {FieldKind::kHour, "hour", 0, 23},
    {FieldKind::kDayOfMonth, "day-of-month", 1, 31},
    {FieldKind::kMonth, "month", 1, 12},
    {FieldKind::kDayOfWeek, "day-of-week", 0, 7},  // 0 and 7 are Sunday
}};

constexpr std::array<std::string_view, 12> kMonthNames{"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                       "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames{"SUN", "MON", "TUE", "WED",
                                                        "THU", "FRI", "SAT"};

struct Macro {
  std::string_view name;
  std::string_view fields;
};
constexpr std::array<Macro, 7> kMacros{{
    {"@yearly", "0 0 1 1 *"},
    {"@annually", "0 0 1 1 *"},
    {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"},
    {"@daily", "0 0 * * *"},
    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
}};

tl::unexpected<Error> field_error(const FieldSpec& field, const std::string& what) {
  return fail(ErrorCode::kInvalidDefinition, std::string(field.name) + ": " + what);
}

std::string quoted(std::string_view text) {
  return "'" + std::string(text) + "'";
}

std::string range_text(const FieldSpec& field) {
  return std::to_string(field.min) + "-" + std::to_string(field.max);
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text)
    if (c < '0' || c > '9') return false;
  return true;
}

// A number or a name, checked against the field's range. Numbers longer than five digits are out
// of range whatever they are, which also keeps the arithmetic far from overflow.
Result<int> parse_value(const FieldSpec& field, std::string_view text) {
  if (text.empty()) return field_error(field, "a value is missing");
  if (all_digits(text)) {
    if (text.size() > 5) {
      return field_error(field, std::string(text) + " is out of range " + range_text(field));
    }
    int value = 0;
    for (char c : text) value = value * 10 + (c - '0');
    if (value < field.min || value > field.max) {
      return field_error(field, std::to_string(value) + " is out of range " + range_text(field));
    }
    return value;
  }
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (field.kind == FieldKind::kMonth) {
    for (std::size_t i = 0; i < kMonthNames.size(); ++i)
      if (upper == kMonthNames[i]) return static_cast<int>(i) + 1;
  } else if (field.kind == FieldKind::kDayOfWeek) {
    for (std::size_t i = 0; i < kWeekdayNames.size(); ++i)
      if (upper == kWeekdayNames[i]) return static_cast<int>(i);
  } else {
    return field_error(field, quoted(text) + " is not a number");
  }
  for (char c : text) {
    if (!std::isalpha(static_cast<unsigned char>(c))) {
      return field_error(field, quoted(text) + " is neither a number nor a name");
    }
  }
  return field_error(field, "unknown name " + quoted(text));
}

// Sets bits lo..hi (step) of a field; day-of-week 7 folds onto 0 (Sunday).
void set_range(const FieldSpec& field, CronFields& out, int lo, int hi, int step) {
  for (int v = lo; v <= hi; v += step) {
    switch (field.kind) {
      case FieldKind::kSecond:
        out.seconds |= std::uint64_t{1} << v;
        break;
      case FieldKind::kMinute:
        out.minutes |= std::uint64_t{1} << v;
        break;
      case FieldKind::kHour:
        out.hours |= std::uint32_t{1} << v;
        break;
      case FieldKind::kDayOfMonth:
        out.days |= std::uint32_t{1} << v;
        break;
      case FieldKind::kMonth:
        out.months |= std::uint32_t{1} << v;
        break;
      case FieldKind::kDayOfWeek:
        out.weekdays |= static_cast<std::uint8_t>(1u << (v % 7));
        break;
    }
  }
}

// `L`, `L-n` (day-of-month) and `<w>L`, `<w>#k` (day-of-week). Returns false when `item` is not
// one of them, so the caller parses it as a plain value, range or step.
Result<bool> parse_special(const FieldSpec& field, CronFields& out, std::string_view item) {
  if (field.kind == FieldKind::kDayOfMonth) {
    if (item.find('W') != std::string_view::npos || item.find('w') != std::string_view::npos) {
      return field_error(field, quoted(item) + ": 'W' (nearest weekday) is not supported");
    }
    if (item == "L" || item == "l") {
      out.days_before_last |= 1u;
      return true;
    }
    if (item.size() >= 2 && (item[0] == 'L' || item[0] == 'l') && item[1] == '-') {
      const std::string_view n = item.substr(2);
      if (!all_digits(n)) {
        return field_error(field, quoted(item) + ": expected L-n with n a number of days 0-30");
      }
      if (n.size() > 2 || std::stoi(std::string(n)) > 30) {
        return field_error(field, quoted(item) + ": " + std::string(n) +
                                      " days before the last is out of range 0-30");
      }
      out.days_before_last |= std::uint32_t{1} << std::stoi(std::string(n));
      return true;
    }
    return false;
  }
  if (field.kind != FieldKind::kDayOfWeek) return false;
  if (const auto hash = item.find('#'); hash != std::string_view::npos) {
    auto weekday = parse_value(field, item.substr(0, hash));
    if (!weekday) return tl::unexpected(weekday.error());
    const std::string_view k = item.substr(hash + 1);
    if (!all_digits(k) || k.size() > 1 || k[0] < '1' || k[0] > '5') {
      return field_error(
          field, "occurrence " + quoted(k) + " in " + quoted(item) + " is out of range 1-5");
    }
    out.nth_weekdays[*weekday % 7] |= static_cast<std::uint8_t>(1u << (k[0] - '0'));
    return true;
  }
  if (item == "L" || item == "l") {
    return field_error(field, "'L' needs a weekday before it: 5L or FRIL is the last Friday");
  }
  if (item.size() >= 2 && (item.back() == 'L' || item.back() == 'l')) {
    auto weekday = parse_value(field, item.substr(0, item.size() - 1));
    if (!weekday) return tl::unexpected(weekday.error());
    out.last_weekdays |= static_cast<std::uint8_t>(1u << (*weekday % 7));
    return true;
  }
  return false;
}

Result<void> parse_item(const FieldSpec& field, CronFields& out, std::string_view item) {
  if (item.empty()) return field_error(field, "empty list item");
  auto special = parse_special(field, out, item);
  if (!special) return tl::unexpected(special.error());
  if (*special) return {};

  std::string_view base = item;
  int step = 1;
  bool stepped = false;
  if (const auto slash = item.find('/'); slash != std::string_view::npos) {
    base = item.substr(0, slash);
    const std::string_view step_text = item.substr(slash + 1);
    const int span = field.kind == FieldKind::kDayOfWeek ? 7 : field.max - field.min + 1;
    if (!all_digits(step_text)) {
      return field_error(field,
                         "step " + quoted(step_text) + " in " + quoted(item) + " is not a number");
    }
    if (step_text.size() > 3 || std::stoi(std::string(step_text)) > span ||
        std::stoi(std::string(step_text)) < 1) {
      return field_error(
          field, "step " + std::string(step_text) + " is out of range 1-" + std::to_string(span));
    }
    step = std::stoi(std::string(step_text));
    stepped = true;
  }

  int lo = field.min;
  int hi = field.kind == FieldKind::kDayOfWeek ? 6 : field.max;  // `*` is each day once
  if (base == "?") {
    if (field.kind != FieldKind::kDayOfMonth && field.kind != FieldKind::kDayOfWeek) {
      return field_error(field, "'?' is allowed only in day-of-month and day-of-week");
    }
    if (stepped) return field_error(field, quoted(item) + ": '?' takes no step");
  } else if (base != "*") {
    const auto dash = base.find('-');
    auto first = parse_value(field, base.substr(0, dash));
    if (!first) return tl::unexpected(first.error());
    lo = *first;
    if (dash != std::string_view::npos) {
      auto last = parse_value(field, base.substr(dash + 1));
      if (!last) return tl::unexpected(last.error());
      hi = *last;
      // FRI-SUN: a range that ends on Sunday ends on day 7.
      if (field.kind == FieldKind::kDayOfWeek && hi == 0 && lo > 0) hi = 7;
      if (hi < lo) {
        return field_error(field, "range " + std::string(base) + " goes backwards");
      }
    } else {
      hi = stepped ? field.max : lo;  // `a/n`: from a to the field's end
    }
  }
  set_range(field, out, lo, hi, step);
  return {};
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

std::vector<std::string_view> split_whitespace(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.push_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

Result<CronFields> parse_cron_fields(std::string_view expression) {
  std::vector<std::string_view> words = split_whitespace(expression);
  if (words.size() == 1 && words[0].starts_with('@')) {
    for (const auto& macro : kMacros) {
      if (words[0] == macro.name) return parse_cron_fields(macro.fields);
    }
    return fail(ErrorCode::kInvalidDefinition,
                "unknown macro " + quoted(words[0]) +
                    " (expected @yearly, @annually, @monthly, @weekly, @daily, @midnight or "
                    "@hourly)");
  }
  for (char c : expression) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      return fail(ErrorCode::kInvalidDefinition, "the expression contains a control character");
    }
  }
  if (words.size() != 5 && words.size() != 6) {
    return fail(ErrorCode::kInvalidDefinition,
                "expected 5 or 6 fields, got " + std::to_string(words.size()));
  }
  CronFields out;
  out.has_seconds = words.size() == 6;
  if (!out.has_seconds) out.seconds = 1;  // second 0
  const std::size_t first_field = out.has_seconds ? 0 : 1;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const FieldSpec& field = kFields[first_field + i];
    for (std::string_view item : split(words[i], ',')) {
      if (auto ok = parse_item(field, out, item); !ok) return tl::unexpected(ok.error());
    }
    const bool restricted = words[i][0] != '*' && words[i][0] != '?';
    if (field.kind == FieldKind::kDayOfMonth) out.day_of_month_restricted = restricted;
    if (field.kind == FieldKind::kDayOfWeek) out.day_of_week_restricted = restricted;
  }
  return out;
}

std::uint32_t day_mask(const CronFields& fields, int year, unsigned month) {
  const unsigned length = days_in_month(year, month);
  const std::uint32_t month_days = (std::uint32_t{1} << length) - 1;  // length <= 31

  std::uint32_t by_day_of_month = (fields.days >> 1) & month_days;
  for (std::uint32_t before = fields.days_before_last; before != 0; before &= before - 1) {
    const unsigned n = static_cast<unsigned>(std::countr_zero(before));
    if (n < length) by_day_of_month |= std::uint32_t{1} << (length - 1 - n);
  }

  // Weekday of day d is (first + d - 1) % 7; the first week's pattern repeats every 7 days.
  const unsigned first = weekday_of(days_from_civil(year, month, 1));
  std::uint32_t week = 0;
  for (unsigned d = 0; d < 7; ++d)
    if (fields.weekdays & (1u << ((first + d) % 7))) week |= 1u << d;
  std::uint32_t by_day_of_week =
      (week | week << 7 | week << 14 | week << 21 | week << 28) & month_days;
  for (unsigned w = 0; w < 7; ++w) {
    const unsigned first_w = (w + 7 - first) % 7;  // 0-based day of the first weekday w
    if (fields.last_weekdays & (1u << w)) {
      by_day_of_week |= std::uint32_t{1} << (first_w + (length - 1 - first_w) / 7 * 7);
    }
    for (unsigned k = 1; k <= 5; ++k) {
      const unsigned day = first_w + 7 * (k - 1);
      if ((fields.nth_weekdays[w] & (1u << k)) && day < length) by_day_of_week |= 1u << day;
    }
  }

  if (fields.day_of_month_restricted && fields.day_of_week_restricted) {
    return by_day_of_month | by_day_of_week;
  }
  return by_day_of_month & by_day_of_week;
}

}  // namespace flowd::cron
