// EventStore: the executions projection, leases, the definition registry and retention; and the
// statements prepared on every pool connection. Constant SQL only: every value is a parameter.
#include <limits>

#include "records.h"
#include "store_impl.h"

namespace flowd::eventstore {

namespace detail {

const std::vector<Statement>& store_statements() {
  static const std::vector<Statement> statements = {
      {"flowd_read_stream",
       "SELECT " FLOWD_EVENT_COLUMNS " FROM events WHERE stream_id = $1 AND stream_version >= $2 "
       "ORDER BY stream_version LIMIT $3"},
      {"flowd_stream_version",
       "SELECT flowd_stream_version(id, version) FROM executions WHERE id = $1"},
      // Gap-safe tail: only transactions older than every running one are visible in order.
      {"flowd_read_all", "SELECT " FLOWD_EVENT_COLUMNS " FROM events "
                         "WHERE (tx_id, global_position) > ($1::xid8, $2::bigint) "
                         "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
                         "ORDER BY tx_id, global_position LIMIT $3"},
      {"flowd_read_all_fold", "SELECT " FLOWD_FOLD_EVENT_COLUMNS " FROM events "
                              "WHERE (tx_id, global_position) > ($1::xid8, $2::bigint) "
                              "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
                              "ORDER BY tx_id, global_position LIMIT $3"},
      {"flowd_replay_page",
       "SELECT stream_version, type, step, attempt, occurred_at, data FROM events "
       "WHERE stream_id = $1 AND stream_version >= $2 AND stream_version <= $3 "
       "ORDER BY stream_version LIMIT $4"},
      // Events after the given version of each of many streams, in (stream, version) order: one
      // query resumes a whole claim (EventStore::load_states).
      {"flowd_replay_streams",
       "SELECT e.stream_id, e.stream_version, e.type, e.step, e.attempt, e.occurred_at, e.data "
       "FROM unnest($1::text[], $2::bigint[]) AS u(stream_id, after) "
       "JOIN events e ON e.stream_id = u.stream_id AND e.stream_version > u.after "
       "ORDER BY e.stream_id COLLATE \"C\", e.stream_version LIMIT $3"},
      {"flowd_load_snapshots",
       "SELECT DISTINCT ON (execution_id) execution_id, version, state FROM snapshots "
       "WHERE execution_id = ANY($1::text[]) ORDER BY execution_id, version DESC"},
      {"flowd_save_snapshot",
       "INSERT INTO snapshots (execution_id, version, state) VALUES ($1, $2, $3::jsonb) "
       "ON CONFLICT DO NOTHING"},
      {"flowd_load_snapshot",
       "SELECT version, state FROM snapshots WHERE execution_id = $1 AND version <= $2 "
       "ORDER BY version DESC LIMIT 1"},
      {"flowd_get_execution",
       "SELECT " FLOWD_EXECUTION_COLUMNS " FROM execution_summaries WHERE id = $1"},
      {"flowd_list_executions",
       "SELECT " FLOWD_EXECUTION_COLUMNS " FROM execution_summaries "
       "WHERE ($1::text IS NULL OR workflow = $1::text) AND ($2::text IS NULL OR status = "
       "$2::text) "
       "AND ($3::bigint IS NULL OR started_at >= flowd_ts($3::bigint)) "
       "AND ($4::bigint IS NULL OR (started_at, id) < (flowd_ts($4::bigint), $5::text)) "
       "AND ($7::bigint IS NULL OR started_at < flowd_ts($7::bigint)) "
       "ORDER BY started_at DESC, id DESC LIMIT $6"},
      {"flowd_count_executions",
       "SELECT status, count(*) FROM executions "
       "WHERE ($1::text IS NULL OR workflow = $1::text) "
       "AND ($2::bigint IS NULL OR started_at >= flowd_ts($2::bigint)) "
       "AND ($3::bigint IS NULL OR started_at < flowd_ts($3::bigint)) GROUP BY status"},
      {"flowd_find_dedupe_key", "SELECT id FROM executions WHERE dedupe_key = $1"},
      // A sub-workflow execution runs inside its parent's run: whoever holds the parent's live
      // lease may take the child's at once (the previous owner lost the parent, so it no longer
      // runs the child, even if the child's own lease has not lapsed yet).
      {"flowd_claim",
       "UPDATE executions c SET owner = $2, lease_until = now() + $3::bigint * interval '1 ms' "
       "WHERE c.id = $1 AND NOT c.terminal "
       "AND (c.owner IS NULL OR c.owner = $2 OR c.lease_until IS NULL OR c.lease_until < now() "
       "     OR EXISTS (SELECT 1 FROM executions p WHERE p.id = c.parent AND p.owner = $2 "
       "                AND p.lease_until >= now())) "
       "RETURNING c.id"},
      {"flowd_execution_exists", "SELECT 1 FROM executions WHERE id = $1"},
      {"flowd_renew",
       "UPDATE executions SET lease_until = now() + $3::bigint * interval '1 ms' "
       "WHERE id = $1 AND owner = $2 AND NOT terminal RETURNING id"},
      // Sub-workflow executions (parent set) run inside their parent's run, which adopts them
      // after a resume: they are renewed with it but never resumed or claimed on their own. An
      // orphan (its parent ended) is not renewed: its lease lapses and claim_orphans closes it.
      {"flowd_renew_all",
       "WITH r AS (UPDATE executions e SET lease_until = now() + $2::bigint * interval '1 ms' "
       " WHERE owner = $1 AND NOT terminal AND (parent IS NULL OR EXISTS "
       "  (SELECT 1 FROM executions p WHERE p.id = e.parent AND NOT p.terminal)) "
       " RETURNING id, parent) "
       "SELECT id FROM r WHERE parent IS NULL"},
      // Running sub-workflow executions whose parent ended (or does not exist) and whose lease
      // lapsed, oldest first (the partial index executions_children finds them).
      {"flowd_claim_orphans",
       "UPDATE executions e SET owner = $1, lease_until = now() + $2::bigint * interval '1 ms' "
       "FROM (SELECT c.id FROM executions c WHERE c.parent IS NOT NULL AND NOT c.terminal "
       "      AND (c.lease_until IS NULL OR c.lease_until < now()) "
       "      AND NOT EXISTS (SELECT 1 FROM executions p WHERE p.id = c.parent AND NOT p.terminal) "
       "      ORDER BY c.started_at, c.id LIMIT $3 FOR UPDATE OF c SKIP LOCKED) o "
       "WHERE e.id = o.id RETURNING e.id"},
      {"flowd_release",
       "UPDATE executions SET owner = NULL, lease_until = NULL "
       "WHERE id = ANY($1::text[]) AND owner = $2"},
      {"flowd_list_resumable",
       "SELECT " FLOWD_EXECUTION_COLUMNS " FROM execution_summaries "
       "WHERE NOT terminal AND parent IS NULL AND (lease_until IS NULL OR lease_until < now()) "
       "ORDER BY started_at, id LIMIT $1"},
      {"flowd_claim_resumable",
       "UPDATE executions e SET owner = $1, lease_until = now() + $2::bigint * interval '1 ms' "
       "FROM (SELECT id FROM executions WHERE NOT terminal AND parent IS NULL "
       "      AND (lease_until IS NULL OR lease_until < now()) "
       "      ORDER BY started_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) c "
       "WHERE e.id = c.id RETURNING e.id"},
      {"flowd_definition_lock", "SELECT pg_advisory_xact_lock(1718382436, hashtext($1))"},
      {"flowd_sha256", "SELECT encode(sha256(convert_to($1::text, 'UTF8')), 'hex')"},
      {"flowd_definition_at",
       "SELECT name, version, content_hash, document, created_at "
       "FROM workflow_definitions WHERE name = $1 AND version = $2"},
      {"flowd_definition_latest",
       "SELECT name, version, content_hash, document, created_at "
       "FROM workflow_definitions WHERE name = $1 ORDER BY version DESC LIMIT 1"},
      {"flowd_definition_insert",
       "INSERT INTO workflow_definitions (name, version, content_hash, document) "
       "VALUES ($1, $2, $3, $4::jsonb) "
       "RETURNING name, version, content_hash, document, created_at"},
      {"flowd_definition_list",
       "SELECT name, version, content_hash, document, created_at "
       "FROM workflow_definitions WHERE $1::text IS NULL OR name = $1::text ORDER BY name, "
       "version"},
      {"flowd_retention_count",
       "SELECT count(*), COALESCE(sum(version), 0)::bigint, "
       " (SELECT count(*) FROM snapshots s JOIN executions x ON x.id = s.execution_id "
       "  WHERE x.terminal AND x.purged_at IS NULL "
       "  AND x.ended_at < now() - $1::bigint * interval '1 ms') "
       "FROM executions WHERE terminal AND purged_at IS NULL "
       "AND ended_at < now() - $1::bigint * interval '1 ms'"},
      {"flowd_retention_pick",
       "SELECT id FROM executions WHERE terminal AND purged_at IS NULL "
       "AND ended_at < now() - $1::bigint * interval '1 ms' "
       "ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED"},
      {"flowd_retention_events", "DELETE FROM events WHERE stream_id = ANY($1::text[])"},
      {"flowd_retention_snapshots", "DELETE FROM snapshots WHERE execution_id = ANY($1::text[])"},
      {"flowd_retention_epoch", "UPDATE retention_epoch SET epoch = epoch + 1"},
      {"flowd_retention_mark",
       "UPDATE executions SET purged_at = now() WHERE id = ANY($1::text[])"},
  };
  return statements;
}

}  // namespace detail

namespace {

std::int64_t millis(std::chrono::milliseconds ttl) {
  return static_cast<std::int64_t>(ttl.count());
}

std::int64_t clamp_limit(std::size_t limit) {
  return static_cast<std::int64_t>(std::min<std::size_t>(limit, 1'000'000));
}

std::vector<std::string> ids_of(const pqxx::result& rows) {
  std::vector<std::string> ids;
  ids.reserve(rows.size());
  for (const auto& row : rows) ids.push_back(row[0].as<std::string>());
  return ids;
}

// Runs the claim statement `flowd_<what>` (owner, ttl, limit) and returns the claimed ids.
StoreResult<std::vector<std::string>> claim_batch(detail::ConnectionPool& pool,
                                                  const std::string& what, const std::string& owner,
                                                  std::chrono::milliseconds ttl,
                                                  std::size_t limit) {
  if (owner.empty()) return store_fail(errc::invalid_argument, what + ": empty owner");
  const std::string statement = "flowd_" + what;
  return pool.run<std::vector<std::string>>(
      what, [&](pqxx::connection& conn) -> StoreResult<std::vector<std::string>> {
        pqxx::work tx(conn);
        const auto rows = tx.exec_prepared(statement, owner, millis(ttl), clamp_limit(limit));
        tx.commit();
        return ids_of(rows);
      });
}

// Page token: "<started_at micros>:<id>" of the last row of the previous page.
std::optional<std::pair<std::int64_t, std::string>> parse_page_token(const std::string& token) {
  const auto colon = token.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  try {
    std::size_t used = 0;
    const std::int64_t micros = std::stoll(token.substr(0, colon), &used);
    if (used != colon) return std::nullopt;
    return std::make_pair(micros, token.substr(colon + 1));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

DefinitionRecord decode_definition(const pqxx::row& row) {
  DefinitionRecord out;
  out.name = row[0].as<std::string>();
  out.version = row[1].as<int>();
  out.content_hash = row[2].as<std::string>();
  out.document = detail::parse_json(row[3]);
  out.created_at = detail::time_field(row[4]);
  return out;
}

}  // namespace

// --- executions projection ---------------------------------------------------------------------

StoreResult<std::optional<ExecutionRecord>> EventStore::get_execution(
    const std::string& execution_id) {
  return impl_->pool.run<std::optional<ExecutionRecord>>(
      "get_execution", [&](pqxx::connection& conn) -> StoreResult<std::optional<ExecutionRecord>> {
        pqxx::nontransaction tx(conn);
        const auto rows = tx.exec_prepared("flowd_get_execution", execution_id);
        if (rows.empty()) return std::optional<ExecutionRecord>();
        return std::optional<ExecutionRecord>(detail::decode_execution(rows[0]));
      });
}

StoreResult<ExecutionPage> EventStore::list_executions(const ExecutionQuery& query) {
  std::optional<std::pair<std::int64_t, std::string>> after;
  if (!query.page_token.empty()) {
    after = parse_page_token(query.page_token);
    if (!after) return store_fail(errc::invalid_argument, "list_executions: bad page token");
  }
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, 10'000);
  const std::optional<std::string> status =
      query.status ? std::optional<std::string>(std::string(to_string(*query.status)))
                   : std::nullopt;
  return impl_->pool.run<ExecutionPage>(
      "list_executions", [&](pqxx::connection& conn) -> StoreResult<ExecutionPage> {
        pqxx::nontransaction tx(conn);
        const std::string since =
            query.since ? std::to_string(detail::to_micros(*query.since)) : std::string();
        const std::string after_micros = after ? std::to_string(after->first) : std::string();
        const std::string until =
            query.until ? std::to_string(detail::to_micros(*query.until)) : std::string();
        const auto rows = tx.exec_prepared(
            "flowd_list_executions", query.workflow ? query.workflow->c_str() : nullptr,
            status ? status->c_str() : nullptr, query.since ? since.c_str() : nullptr,
            after ? after_micros.c_str() : nullptr, after ? after->second.c_str() : nullptr,
            static_cast<std::int64_t>(limit + 1), query.until ? until.c_str() : nullptr);
        ExecutionPage page;
        for (const auto& row : rows) {
          if (page.items.size() == limit) {
            const auto& last = page.items.back();
            page.next_page_token =
                std::to_string(detail::to_micros(last.started_at)) + ":" + last.id;
            break;
          }
          page.items.push_back(detail::decode_execution(row));
        }
        return page;
      });
}

StoreResult<std::map<std::string, std::int64_t>> EventStore::count_executions(
    const ExecutionQuery& query) {
  using Counts = std::map<std::string, std::int64_t>;
  return impl_->pool.run<Counts>(
      "count_executions", [&](pqxx::connection& conn) -> StoreResult<Counts> {
        pqxx::nontransaction tx(conn);
        const std::string since =
            query.since ? std::to_string(detail::to_micros(*query.since)) : std::string();
        const std::string until =
            query.until ? std::to_string(detail::to_micros(*query.until)) : std::string();
        const auto rows = tx.exec_prepared(
            "flowd_count_executions", query.workflow ? query.workflow->c_str() : nullptr,
            query.since ? since.c_str() : nullptr, query.until ? until.c_str() : nullptr);
        Counts counts;
        for (const auto& row : rows) counts[row[0].as<std::string>()] = row[1].as<std::int64_t>();
        return counts;
      });
}

StoreResult<std::optional<std::string>> EventStore::find_by_dedupe_key(
    const std::string& dedupe_key) {
  return impl_->pool.run<std::optional<std::string>>(
      "find_by_dedupe_key", [&](pqxx::connection& conn) -> StoreResult<std::optional<std::string>> {
        pqxx::nontransaction tx(conn);
        const auto rows = tx.exec_prepared("flowd_find_dedupe_key", dedupe_key);
        if (rows.empty()) return std::optional<std::string>();
        return std::optional<std::string>(rows[0][0].as<std::string>());
      });
}

// --- leases ------------------------------------------------------------------------------------

StoreResult<bool> EventStore::claim(const std::string& execution_id, const std::string& owner,
                                    std::chrono::milliseconds ttl) {
  if (owner.empty()) return store_fail(errc::invalid_argument, "claim: empty owner");
  return impl_->pool.run<bool>("claim", [&](pqxx::connection& conn) -> StoreResult<bool> {
    pqxx::work tx(conn);
    const auto rows = tx.exec_prepared("flowd_claim", execution_id, owner, millis(ttl));
    if (rows.empty() && tx.exec_prepared("flowd_execution_exists", execution_id).empty()) {
      return store_fail(errc::not_found, "claim: no execution " + execution_id);
    }
    tx.commit();
    return !rows.empty();
  });
}

StoreResult<bool> EventStore::renew(const std::string& execution_id, const std::string& owner,
                                    std::chrono::milliseconds ttl) {
  return impl_->pool.run<bool>("renew", [&](pqxx::connection& conn) -> StoreResult<bool> {
    pqxx::work tx(conn);
    const auto rows = tx.exec_prepared("flowd_renew", execution_id, owner, millis(ttl));
    tx.commit();
    return !rows.empty();
  });
}

StoreResult<std::vector<std::string>> EventStore::renew_all(const std::string& owner,
                                                            std::chrono::milliseconds ttl) {
  return impl_->pool.run<std::vector<std::string>>(
      "renew_all", [&](pqxx::connection& conn) -> StoreResult<std::vector<std::string>> {
        pqxx::work tx(conn);
        const auto rows = tx.exec_prepared("flowd_renew_all", owner, millis(ttl));
        tx.commit();
        return ids_of(rows);
      });
}

StoreResult<void> EventStore::release(const std::vector<std::string>& execution_ids,
                                      const std::string& owner) {
  if (execution_ids.empty()) return {};
  detail::ArrayLiteral ids;
  for (const auto& id : execution_ids) ids.add(std::string_view(id));
  return impl_->pool.run<void>("release", [&](pqxx::connection& conn) -> StoreResult<void> {
    pqxx::work tx(conn);
    tx.exec_prepared("flowd_release", ids.str(), owner);
    tx.commit();
    return {};
  });
}

StoreResult<std::vector<ExecutionRecord>> EventStore::list_resumable(std::size_t limit) {
  return impl_->pool.run<std::vector<ExecutionRecord>>(
      "list_resumable", [&](pqxx::connection& conn) -> StoreResult<std::vector<ExecutionRecord>> {
        pqxx::nontransaction tx(conn);
        std::vector<ExecutionRecord> out;
        for (const auto& row : tx.exec_prepared("flowd_list_resumable", clamp_limit(limit))) {
          out.push_back(detail::decode_execution(row));
        }
        return out;
      });
}

StoreResult<std::vector<std::string>> EventStore::claim_resumable(const std::string& owner,
                                                                  std::chrono::milliseconds ttl,
                                                                  std::size_t limit) {
  return claim_batch(impl_->pool, "claim_resumable", owner, ttl, limit);
}

StoreResult<std::vector<std::string>> EventStore::claim_orphans(const std::string& owner,
                                                                std::chrono::milliseconds ttl,
                                                                std::size_t limit) {
  return claim_batch(impl_->pool, "claim_orphans", owner, ttl, limit);
}

// --- definition registry -----------------------------------------------------------------------

StoreResult<DefinitionRecord> EventStore::apply_definition(const Json& document) {
  if (!document.is_object()) {
    return store_fail(errc::invalid_argument, "apply_definition: the document is not an object");
  }
  const auto metadata = document.find("metadata");
  if (metadata == document.end() || !metadata->is_object() || !metadata->contains("name") ||
      !(*metadata)["name"].is_string() || (*metadata)["name"].get<std::string>().empty()) {
    return store_fail(errc::invalid_argument, "apply_definition: metadata.name is missing");
  }
  const std::string name = (*metadata)["name"].get<std::string>();
  std::optional<int> declared;
  if (const auto v = metadata->find("version"); v != metadata->end() && !v->is_null()) {
    if (!v->is_number_integer() || v->get<std::int64_t>() < 1 ||
        v->get<std::int64_t>() > std::numeric_limits<int>::max()) {
      return store_fail(errc::invalid_argument, "apply_definition: metadata.version of " + name +
                                                    " must be a positive integer");
    }
    declared = v->get<int>();
  }
  Json content = document;
  content["metadata"].erase("version");
  const std::string canonical = detail::dump_json(content);  // objects are sorted: canonical

  return impl_->pool.run<DefinitionRecord>(
      "apply_definition", [&](pqxx::connection& conn) -> StoreResult<DefinitionRecord> {
        pqxx::work tx(conn);
        tx.exec_prepared("flowd_definition_lock", name);
        const std::string hash =
            tx.exec_prepared("flowd_sha256", canonical)[0][0].as<std::string>();
        int version = 1;
        if (declared) {
          const auto rows = tx.exec_prepared("flowd_definition_at", name, *declared);
          if (!rows.empty()) {
            DefinitionRecord existing = decode_definition(rows[0]);
            if (existing.content_hash != hash) {
              return store_fail(errc::definition_conflict,
                                "workflow " + name + "@" + std::to_string(*declared) +
                                    " already exists with different content; definitions are "
                                    "immutable: bump metadata.version or omit it");
            }
            return existing;
          }
          version = *declared;
        } else {
          const auto rows = tx.exec_prepared("flowd_definition_latest", name);
          if (!rows.empty()) {
            DefinitionRecord latest = decode_definition(rows[0]);
            if (latest.content_hash == hash) return latest;
            version = latest.version + 1;
          }
        }
        Json stored = document;
        stored["metadata"]["version"] = version;
        const auto rows = tx.exec_prepared("flowd_definition_insert", name, version, hash,
                                           detail::dump_json(stored));
        DefinitionRecord created = decode_definition(rows[0]);
        tx.commit();
        created.created = true;
        return created;
      });
}

StoreResult<std::optional<DefinitionRecord>> EventStore::get_definition(
    const std::string& name, std::optional<int> version) {
  return impl_->pool.run<std::optional<DefinitionRecord>>(
      "get_definition",
      [&](pqxx::connection& conn) -> StoreResult<std::optional<DefinitionRecord>> {
        pqxx::nontransaction tx(conn);
        const auto rows = version ? tx.exec_prepared("flowd_definition_at", name, *version)
                                  : tx.exec_prepared("flowd_definition_latest", name);
        if (rows.empty()) return std::optional<DefinitionRecord>();
        return std::optional<DefinitionRecord>(decode_definition(rows[0]));
      });
}

StoreResult<std::vector<DefinitionRecord>> EventStore::list_definitions(
    const std::optional<std::string>& name) {
  return impl_->pool.run<std::vector<DefinitionRecord>>(
      "list_definitions",
      [&](pqxx::connection& conn) -> StoreResult<std::vector<DefinitionRecord>> {
        pqxx::nontransaction tx(conn);
        std::vector<DefinitionRecord> out;
        for (const auto& row :
             tx.exec_prepared("flowd_definition_list", name ? name->c_str() : nullptr)) {
          out.push_back(decode_definition(row));
        }
        return out;
      });
}

// --- retention ---------------------------------------------------------------------------------

StoreResult<RetentionReport> EventStore::purge(const RetentionRequest& request) {
  if (request.older_than.count() < 0) {
    return store_fail(errc::invalid_argument, "purge: negative age");
  }
  const std::int64_t age = millis(request.older_than);
  const std::int64_t batch = clamp_limit(std::max<std::size_t>(request.batch_size, 1));
  RetentionReport report;
  report.dry_run = request.dry_run;
  if (request.dry_run) {
    return impl_->pool.run<RetentionReport>(
        "purge", [&](pqxx::connection& conn) -> StoreResult<RetentionReport> {
          pqxx::read_transaction tx(conn);
          const auto row = tx.exec_prepared("flowd_retention_count", age)[0];
          report.executions = row[0].as<std::int64_t>();
          report.events = row[1].as<std::int64_t>();
          report.snapshots = row[2].as<std::int64_t>();
          return report;
        });
  }
  for (;;) {
    auto step = impl_->pool.run<std::int64_t>(
        "purge", [&](pqxx::connection& conn) -> StoreResult<std::int64_t> {
          pqxx::work tx(conn);
          tx.exec("SET LOCAL flowd.allow_delete = 'on'");
          const auto picked = tx.exec_prepared("flowd_retention_pick", age, batch);
          if (picked.empty()) return 0;
          detail::ArrayLiteral ids, streams;
          for (const auto& row : picked) {
            const auto id = row[0].as<std::string>();
            ids.add(std::string_view(id));
            streams.add(std::string_view(stream_name(id)));
          }
          const auto events = tx.exec_prepared("flowd_retention_events", streams.str());
          const auto snapshots = tx.exec_prepared("flowd_retention_snapshots", ids.str());
          tx.exec_prepared("flowd_retention_mark", ids.str());
          // Appenders that decide from cached versions notice and read again (migration 0008).
          tx.exec_prepared("flowd_retention_epoch");
          tx.commit();
          report.events += events.affected_rows();
          report.snapshots += snapshots.affected_rows();
          report.executions += static_cast<std::int64_t>(picked.size());
          report.batches += 1;
          return static_cast<std::int64_t>(picked.size());
        });
    if (!step) return tl::unexpected(step.error());
    if (*step < batch) break;
  }
  return report;
}

}  // namespace flowd::eventstore
