#pragma once
// Shared by the dlq sources that query dead_letters themselves (projector, reprocessor): the
// SELECT list of a whole row and its reader, defined in dead_letter_store.cc. Private to dlq/src.
#include <pqxx/pqxx>

#include "flowd/dlq/dead_letter_store.h"

namespace flowd::dlq {

// "id, kind, status, ..." as read_dead_letter_row() reads it.
const char* dead_letter_columns();
DeadLetter read_dead_letter_row(const pqxx::row& row);
// pqxx exceptions as flowd::Error (EXTERNAL + retryable when the database is away).
Error translate_database_error(const std::exception& e, std::string_view context);

// Appends one audit event to dead_letter_events in `tx`.
inline void record_action(pqxx::work& tx, std::int64_t id, const std::string& type,
                          const std::string& actor, const std::string& reason, const Json& data) {
  tx.exec_params(
      "INSERT INTO dead_letter_events (dead_letter_id, type, actor, reason, data)"
      " VALUES ($1, $2, $3, NULLIF($4, ''), $5::jsonb)",
      id, type, actor, reason, data.dump(-1, ' ', false, Json::error_handler_t::replace));
}

}  // namespace flowd::dlq
