#pragma once
// The edge between the event store and libpqxx: connecting, translating pqxx exceptions into
// StoreError, encoding parameters (array literals, timestamps) and COPY text, decoding fields.
// Private to eventstore/src.
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <pqxx/pqxx>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "flowd/engine/event.h"
#include "flowd/engine/json.h"
#include "flowd/eventstore/errc.h"

namespace flowd::eventstore::detail {

// Opens a connection with the session settings the store relies on (UTC, UTF8, application_name).
// Throws pqxx exceptions.
std::unique_ptr<pqxx::connection> connect(const std::string& url,
                                          std::string_view application_name);

// Thrown inside the store when it was closed; translate() maps it to errc::shutting_down.
class StoreClosed : public std::runtime_error {
 public:
  StoreClosed() : std::runtime_error("event store is closed") {}
};

// pqxx / std exception -> StoreError. `context` says what was being done ("append batch").
StoreError translate(const std::exception& error, std::string_view context);
// Runs f() and turns any exception into a StoreError.
template <class T, class F>
StoreResult<T> guarded(std::string_view context, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    return tl::unexpected<StoreError>(translate(e, context));
  }
}
// True for SQLSTATEs where running the same transaction again can succeed (serialisation failure,
// deadlock, unique violation caused by a concurrent writer).
bool is_retryable_race(const pqxx::sql_error& error);
// True when the connection must be dropped after this exception.
bool breaks_connection(const std::exception& error);

// Microseconds since the Unix epoch; the SQL side converts with flowd_ts() / flowd_micros().
std::int64_t to_micros(TimePoint time);
TimePoint from_micros(std::int64_t micros);

// Builds a PostgreSQL array literal ({"a","b",NULL}) to pass as ONE parameter value: data never
// becomes SQL text.
class ArrayLiteral {
 public:
  void add(std::string_view value);
  void add(std::int64_t value);
  void add(bool value);
  void add_null();
  template <class T>
  void add(const std::optional<T>& value) {
    if (value) {
      add(*value);
    } else {
      add_null();
    }
  }
  const std::string& str();
  bool empty() const { return count_ == 0; }

 private:
  std::string text_ = "{";
  std::size_t count_ = 0;
  bool closed_ = false;
};

// COPY text format: appends `value` with backslash, tab, newline and CR escaped.
void append_copy_text(std::string& out, std::string_view value);
// COPY text for a timestamptz: "2026-11-21 10:00:00.123456+00".
void append_copy_timestamp(std::string& out, std::int64_t micros);

// Compact JSON text; invalid UTF-8 in strings is replaced rather than thrown.
std::string dump_json(const Json& value);
void dump_json_into(std::string& out, const Json& value);
// Parses a json/jsonb field (null field -> Json null).
Json parse_json(const pqxx::field& field);

std::optional<std::string> optional_text(const pqxx::field& field);
// A timestamptz column as PostgreSQL prints it in the session connect() sets up (ISO, UTC):
// "2026-11-21 10:00:00.123456+00". Parsing it here is cheaper than converting on the server.
// Throws std::runtime_error on anything else.
TimePoint parse_timestamp(std::string_view text);
TimePoint time_field(const pqxx::field& field);
std::optional<TimePoint> optional_time(const pqxx::field& field);

// Streams pre-formatted COPY text (rows separated by '\n', no trailing newline) into `table`.
void copy_rows(pqxx::transaction_base& tx, const std::string& table,
               const std::vector<std::string>& columns, const std::string& rows);

}  // namespace flowd::eventstore::detail
