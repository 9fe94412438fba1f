#include "pg.h"

#include <cstdio>
#include <cstring>

// tablewriter is the 6.4 API that takes raw COPY text; stream_to (its successor) only takes
// tuples, which costs a string per field. It is deprecated in 6.4, not removed.
#include <pqxx/internal/ignore-deprecated-post.hxx>
#include <pqxx/internal/ignore-deprecated-pre.hxx>
#include <pqxx/tablewriter>

namespace flowd::eventstore::detail {

std::unique_ptr<pqxx::connection> connect(const std::string& url,
                                          std::string_view application_name) {
  auto conn = std::make_unique<pqxx::connection>(url);
  // Constants only: no caller data in these statements.
  pqxx::nontransaction setup(*conn);
  setup.exec("SET TIME ZONE 'UTC'");
  setup.exec("SET DateStyle = 'ISO'");
  setup.exec("SET client_encoding = 'UTF8'");
  setup.exec_params("SELECT set_config('application_name', $1, false)",
                    std::string(application_name));
  setup.commit();
  return conn;
}

namespace {

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.size() >= prefix.size() && std::string_view(s).substr(0, prefix.size()) == prefix;
}

std::string first_line(const char* what) {
  std::string text(what);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

bool is_retryable_race(const pqxx::sql_error& error) {
  const std::string& state = error.sqlstate();
  return state == "40001" || state == "40P01" || state == "23505";
}

bool breaks_connection(const std::exception& error) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    // 08: connection exception; 57P0x: the server terminated this session.
    const std::string& state = sql->sqlstate();
    return starts_with(state, "08") || starts_with(state, "57P");
  }
  return dynamic_cast<const pqxx::broken_connection*>(&error) != nullptr ||
         dynamic_cast<const pqxx::in_doubt_error*>(&error) != nullptr;
}

StoreError translate(const std::exception& error, std::string_view context) {
  std::string where(context);
  auto make = [&](errc code, std::string message) {
    return StoreError{make_error_code(code), where + ": " + std::move(message)};
  };
  if (dynamic_cast<const StoreClosed*>(&error)) {
    return make(errc::shutting_down, "event store is closed");
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&error)) {
    return make(errc::unknown_outcome,
                "connection lost while committing; the write may or may not be durable: " +
                    first_line(error.what()));
  }
  if (dynamic_cast<const pqxx::broken_connection*>(&error)) {
    return make(errc::unavailable, "database unavailable: " + first_line(error.what()));
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&error)) {
    const std::string& state = sql->sqlstate();
    std::string message = first_line(error.what());
    if (!state.empty()) message += " (SQLSTATE " + state + ")";
    // 08: connection exception, 53: insufficient resources, 57P: operator intervention.
    if (starts_with(state, "08") || starts_with(state, "53") || starts_with(state, "57P")) {
      return make(errc::unavailable, message);
    }
    // 22: data exception (bad text for jsonb, \u0000, out of range, ...).
    if (starts_with(state, "22")) return make(errc::invalid_argument, message);
    return make(errc::database, message);
  }
  if (dynamic_cast<const pqxx::failure*>(&error)) {
    return make(errc::database, first_line(error.what()));
  }
  return make(errc::database, first_line(error.what()));
}

std::int64_t to_micros(TimePoint time) {
  return std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
}

TimePoint from_micros(std::int64_t micros) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
}

void ArrayLiteral::add(std::string_view value) {
  if (count_++ > 0) text_ += ',';
  text_ += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') text_ += '\\';
    text_ += c;
  }
  text_ += '"';
}

void ArrayLiteral::add(std::int64_t value) {
  if (count_++ > 0) text_ += ',';
  text_ += std::to_string(value);
}

void ArrayLiteral::add(bool value) {
  if (count_++ > 0) text_ += ',';
  text_ += value ? 't' : 'f';
}

void ArrayLiteral::add_null() {
  if (count_++ > 0) text_ += ',';
  text_ += "NULL";
}

const std::string& ArrayLiteral::str() {
  if (!closed_) {
    text_ += '}';
    closed_ = true;
  }
  return text_;
}

void append_copy_text(std::string& out, std::string_view value) {
  std::size_t start = 0;
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escaped = nullptr;
    switch (c) {
      case '\\':
        escaped = "\\\\";
        break;
      case '\t':
        escaped = "\\t";
        break;
      case '\n':
        escaped = "\\n";
        break;
      case '\r':
        escaped = "\\r";
        break;
      default:
        continue;
    }
    out.append(value.data() + start, i - start);
    out += escaped;
    start = i + 1;
  }
  out.append(value.data() + start, value.size() - start);
}

namespace {

// Days since 1970-01-01 -> civil date (Howard Hinnant's algorithm).
void civil_from_days(std::int64_t z, int& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
}

}  // namespace

void append_copy_timestamp(std::string& out, std::int64_t micros) {
  constexpr std::int64_t kPerDay = 86'400'000'000;
  std::int64_t days = micros / kPerDay;
  std::int64_t rest = micros % kPerDay;
  if (rest < 0) {
    rest += kPerDay;
    --days;
  }
  int y = 0;
  unsigned m = 0, d = 0;
  civil_from_days(days, y, m, d);
  const auto secs = rest / 1'000'000;
  const auto frac = rest % 1'000'000;
  char buf[128];
  const int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02u %02d:%02d:%02d.%06d+00", y, m, d,
                              static_cast<int>(secs / 3600), static_cast<int>(secs / 60 % 60),
                              static_cast<int>(secs % 60), static_cast<int>(frac));
  out.append(buf, static_cast<std::size_t>(n));
}

void dump_json_into(std::string& out, const Json& value) {
  out += value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string dump_json(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json parse_json(const pqxx::field& field) {
  if (field.is_null()) return Json();
  const char* text = field.c_str();
  return Json::parse(text, text + field.size());
}

std::optional<std::string> optional_text(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return std::string(field.c_str(), field.size());
}

namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

TimePoint parse_timestamp(std::string_view text) {
  std::size_t pos = 0;
  auto fail = [&]() -> TimePoint {
    throw std::runtime_error("unexpected timestamp format '" + std::string(text) + "'");
  };
  auto number = [&](std::size_t width, std::int64_t& out) {
    if (pos + width > text.size()) return false;
    out = 0;
    for (std::size_t i = 0; i < width; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos += width;
    return true;
  };
  auto expect = [&](char c) { return pos < text.size() && text[pos++] == c; };
  std::int64_t y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!number(4, y) || !expect('-') || !number(2, mo) || !expect('-') || !number(2, d) ||
      !expect(' ') || !number(2, h) || !expect(':') || !number(2, mi) || !expect(':') ||
      !number(2, sec)) {
    return fail();
  }
  std::int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (digits < 6) micros = micros * 10 + (text[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return fail();
    for (; digits < 6; ++digits) micros *= 10;
  }
  std::int64_t offset = 0;  // seconds east of UTC
  if (pos < text.size()) {
    const char sign = text[pos++];
    if (sign != '+' && sign != '-') return fail();
    std::int64_t oh = 0, om = 0, os = 0;
    if (!number(2, oh)) return fail();
    if (pos < text.size() && (!expect(':') || !number(2, om))) return fail();
    if (pos < text.size() && (!expect(':') || !number(2, os))) return fail();
    offset = (sign == '+' ? 1 : -1) * (oh * 3600 + om * 60 + os);
  }
  if (pos != text.size()) return fail();
  const std::int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  const std::int64_t seconds = days * 86'400 + h * 3'600 + mi * 60 + sec - offset;
  return from_micros(seconds * 1'000'000 + micros);
}

TimePoint time_field(const pqxx::field& field) {
  return parse_timestamp(std::string_view(field.c_str(), field.size()));
}

std::optional<TimePoint> optional_time(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return time_field(field);
}

void copy_rows(pqxx::transaction_base& tx, const std::string& table,
               const std::vector<std::string>& columns, const std::string& rows) {
#include <pqxx/internal/ignore-deprecated-pre.hxx>
  pqxx::tablewriter writer(tx, table, columns.begin(), columns.end());
  writer.write_raw_line(rows);
  writer.complete();
#include <pqxx/internal/ignore-deprecated-post.hxx>
}

}  // namespace flowd::eventstore::detail
