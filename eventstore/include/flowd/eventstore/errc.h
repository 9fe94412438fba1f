#pragma once
// The event store's errors: `errc` codes in their own std::error_category, a StoreError carrying
// one with a message, and StoreResult<T>. libpqxx exceptions never cross the module's edge: they
// are translated to these in eventstore/src. Callers that only speak flowd::Error (the engine's
// EventLog) get to_error(), which keeps the contract of event_log.h (a conflict is kInternal with a
// message naming both versions).
#include <string>
#include <system_error>
#include <tl/expected.hpp>

#include "flowd/engine/error.h"

namespace flowd::eventstore {

enum class errc {
  conflict = 1,         // expected version differs from the stream's version
  duplicate,            // an execution with this dedupe key exists (start returns it as a value)
  not_found,            // no such execution / definition
  schema_too_new,       // the database was migrated by a newer flowd than this binary
  schema_modified,      // an applied migration differs from the one compiled into this binary
  definition_conflict,  // name@version exists with different content
  invalid_argument,     // rejected as data (by the API or by PostgreSQL, e.g. \u0000 in jsonb)
  unavailable,          // cannot connect, or the connection broke before commit: nothing written
  unknown_outcome,      // the connection broke during commit: the write may or may not be durable
  shutting_down,        // the store is closed
  database,             // any other database failure
};

const std::error_category& category() noexcept;
std::error_code make_error_code(errc code) noexcept;

// An expected failure of the store: a code (errc in category()) and a message saying what and
// where.
struct StoreError {
  std::error_code code;
  std::string message;

  bool is(errc e) const { return code == make_error_code(e); }
  // Trying the same call again can succeed (unavailable). unknown_outcome is not blindly
  // retryable: read the stream first. Races (serialisation failures, deadlocks) are retried
  // inside the store and never surface.
  bool retryable() const;
};

template <class T>
using StoreResult = tl::expected<T, StoreError>;

inline tl::unexpected<StoreError> store_fail(errc code, std::string message) {
  return tl::unexpected<StoreError>(StoreError{make_error_code(code), std::move(message)});
}

// StoreError -> flowd::Error: not_found -> kNotFound, invalid_argument and duplicate ->
// kInvalidInput, unavailable -> kExternal (retryable), shutting_down -> kCancelled, everything else
// (conflict included) -> kInternal.
Error to_error(const StoreError& error);

}  // namespace flowd::eventstore

template <>
struct std::is_error_code_enum<flowd::eventstore::errc> : std::true_type {};
