// DeadLetterStore over libpqxx 6.4: a small connection pool, parameters only (dynamic parameter
// lists of C strings, bytea as hex text, arrays as one literal value), errors as flowd::Error.
#include "flowd/dlq/dead_letter_store.h"

#include "rows.h"

#include <deque>
#include <mutex>
#include <pqxx/pqxx>
#include <stdexcept>

namespace flowd::dlq {

namespace {

constexpr std::size_t kRowsPerStatement = 500;  // 22 parameters a row, far below 65535
constexpr std::size_t kInsertParams = 22;

const char* const kKindNames[] = {"trigger", "execution"};
const char* const kStatusNames[] = {"pending", "retrying", "resolved", "discarded", "archived"};
constexpr int kStatusCount = 5;

std::string valid_text(std::string_view in);

// Parameter storage: C strings (nullptr = SQL NULL) whose text lives in `texts` (a deque, so
// earlier pointers survive later additions).
class Params {
 public:
  // Text parameters are made valid UTF-8 (bytea goes as hex text, which already is).
  void add(std::string text) {
    texts_.push_back(valid_text(text));
    values_.push_back(texts_.back().c_str());
  }
  void add_null() { values_.push_back(nullptr); }
  void add_optional(const std::string& text) {
    if (text.empty()) {
      add_null();
    } else {
      add(text);
    }
  }
  std::size_t size() const { return values_.size(); }
  const std::vector<const char*>& values() const { return values_; }

 private:
  std::deque<std::string> texts_;
  std::vector<const char*> values_;
};

// PostgreSQL text must be valid UTF-8 without NUL; reasons quote record bytes, so anything else
// becomes U+FFFD (deterministically: dedupe keys stay stable).
std::string valid_text(std::string_view in) {
  static const std::string replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    std::size_t len = 0;
    std::uint32_t min = 0;
    if (c == 0) {
      len = 0;
    } else if (c < 0x80) {
      len = 1;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, min = 0x10000;
    }
    bool ok = len > 0 && i + len <= in.size();
    std::uint32_t cp = len == 1 ? c : (len == 2 ? c & 0x1F : (len == 3 ? c & 0x0F : c & 0x07));
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto cc = static_cast<unsigned char>(in[i + k]);
      ok = (cc & 0xC0) == 0x80;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (ok && len > 1) ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += replacement;
      ++i;
    }
  }
  return out;
}

std::string hex_bytea(std::string_view bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 0xf];
  }
  return out;
}

std::string unhex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::runtime_error("dead_letters: bad hex from the database");
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  }
  return out;
}

// A bytea[] literal: {"\\x..",NULL}. Hex digits need no escaping beyond the backslash.
std::string bytea_array(const std::vector<const std::string*>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    if (items[i] == nullptr) {
      out += "NULL";
    } else {
      out += "\"\\";
      out += hex_bytea(*items[i]);
      out += '"';
    }
  }
  out += '}';
  return out;
}

std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::int64_t to_micros(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
TimePoint from_micros(std::int64_t micros) {
  return TimePoint(std::chrono::duration_cast<Clock::duration>(std::chrono::microseconds(micros)));
}

Error translate(const std::exception& e, std::string_view context) {
  std::string message = std::string("dead letters: ") + std::string(context) + ": " + e.what();
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return Error::make(ErrorCode::kExternal, std::move(message), true);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    if (state.rfind("08", 0) == 0 || state.rfind("57", 0) == 0 || state == "40001" ||
        state == "40P01" || state.rfind("53", 0) == 0) {
      return Error::make(ErrorCode::kExternal, std::move(message), true);
    }
    if (state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0) {
      return Error::make(ErrorCode::kInvalidInput, std::move(message));
    }
  }
  return Error::make(ErrorCode::kInternal, std::move(message));
}

// The SELECT list read_letter() expects.
constexpr const char* kColumns =
    "id, kind, status, dedupe_key, reason_code, reason_message, workflow, workflow_version,"
    " execution_id, failed_step, input::text, source_topic, source_partition, source_offset,"
    " flowd_micros(source_timestamp), consumer_group, encode(record_key, 'hex'),"
    " encode(record_value, 'hex'),"
    " (SELECT json_agg(encode(n, 'hex') ORDER BY i) FROM unnest(header_names)"
    "    WITH ORDINALITY AS h(n, i))::text,"
    " (SELECT json_agg(encode(v, 'hex') ORDER BY i) FROM unnest(header_values)"
    "    WITH ORDINALITY AS h(v, i))::text,"
    " attempts, last_error::text, retry_execution_id, flowd_micros(published_at),"
    " flowd_micros(created_at), flowd_micros(updated_at), flowd_micros(first_failed_at),"
    " flowd_micros(last_failed_at), trace_id, retries, resolution";

std::string text_or_empty(const pqxx::field& f) {
  return f.is_null() ? std::string() : f.as<std::string>();
}

DeadLetter read_letter(const pqxx::row& row) {
  DeadLetter d;
  d.id = row[0].as<std::int64_t>();
  d.kind = parse_dead_letter_kind(row[1].as<std::string>()).value_or(DeadLetterKind::kTrigger);
  d.status =
      parse_dead_letter_status(row[2].as<std::string>()).value_or(DeadLetterStatus::kPending);
  d.dedupe_key = row[3].as<std::string>();
  d.reason_code = row[4].as<std::string>();
  d.reason_message = row[5].as<std::string>();
  d.workflow = text_or_empty(row[6]);
  if (!row[7].is_null()) d.workflow_version = row[7].as<int>();
  d.execution_id = text_or_empty(row[8]);
  d.failed_step = text_or_empty(row[9]);
  if (!row[10].is_null()) d.input = Json::parse(row[10].as<std::string>());
  if (!row[11].is_null()) {
    SourceRecord s;
    s.topic = row[11].as<std::string>();
    s.partition = row[12].is_null() ? 0 : row[12].as<std::int32_t>();
    s.offset = row[13].is_null() ? 0 : row[13].as<std::int64_t>();
    s.timestamp_ms = row[14].is_null() ? -1 : row[14].as<std::int64_t>() / 1000;
    s.consumer_group = text_or_empty(row[15]);
    if (!row[16].is_null()) s.key = unhex(row[16].as<std::string>());
    if (!row[17].is_null()) s.value = unhex(row[17].as<std::string>());
    if (!row[18].is_null()) {
      const Json names = Json::parse(row[18].as<std::string>());
      const Json values =
          row[19].is_null() ? Json::array() : Json::parse(row[19].as<std::string>());
      for (std::size_t i = 0; i < names.size(); ++i) {
        RecordHeader h;
        h.name = unhex(names[i].get<std::string>());
        if (i < values.size() && values[i].is_string())
          h.value = unhex(values[i].get<std::string>());
        s.headers.push_back(std::move(h));
      }
    }
    d.source = std::move(s);
  }
  d.attempts = row[20].as<int>();
  if (!row[21].is_null()) d.last_error = Json::parse(row[21].as<std::string>());
  d.retry_execution_id = text_or_empty(row[22]);
  if (!row[23].is_null()) d.published_at = from_micros(row[23].as<std::int64_t>());
  d.created_at = from_micros(row[24].as<std::int64_t>());
  d.updated_at = from_micros(row[25].as<std::int64_t>());
  if (!row[26].is_null()) d.first_failed_at = from_micros(row[26].as<std::int64_t>());
  if (!row[27].is_null()) d.last_failed_at = from_micros(row[27].as<std::int64_t>());
  d.trace_id = text_or_empty(row[28]);
  d.retries = row[29].as<int>();
  d.resolution = text_or_empty(row[30]);
  return d;
}

// Adds the 22 insert parameters of one letter.
void add_insert_params(Params& p, const DeadLetter& d) {
  p.add(std::string(to_string(d.kind)));
  p.add(std::string(to_string(d.status)));
  p.add(d.dedupe_key);
  p.add(d.reason_code);
  p.add(d.reason_message);
  p.add_optional(d.workflow);
  if (d.workflow_version) {
    p.add(std::to_string(*d.workflow_version));
  } else {
    p.add_null();
  }
  p.add_optional(d.execution_id);
  p.add_optional(d.failed_step);
  if (d.input.is_null()) {
    p.add_null();
  } else {
    p.add(d.input.dump(-1, ' ', false, Json::error_handler_t::replace));
  }
  if (d.source) {
    const SourceRecord& s = *d.source;
    p.add(s.topic);
    p.add(std::to_string(s.partition));
    p.add(std::to_string(s.offset));
    if (s.timestamp_ms >= 0) {
      p.add(std::to_string(s.timestamp_ms * 1000));
    } else {
      p.add_null();
    }
    p.add_optional(s.consumer_group);
    if (s.key) {
      p.add(hex_bytea(*s.key));
    } else {
      p.add_null();
    }
    p.add(hex_bytea(s.value));
    std::vector<const std::string*> names, values;
    for (const auto& h : s.headers) {
      names.push_back(&h.name);
      values.push_back(h.value ? &*h.value : nullptr);
    }
    p.add(bytea_array(names));
    p.add(bytea_array(values));
  } else {
    for (int i = 0; i < 7; ++i) p.add_null();
    p.add("{}");
    p.add("{}");
  }
  auto time = [&](const std::optional<TimePoint>& t) {
    if (t) {
      p.add(std::to_string(to_micros(*t)));
    } else {
      p.add_null();
    }
  };
  time(d.first_failed_at);
  time(d.last_failed_at ? d.last_failed_at : d.first_failed_at);
  p.add_optional(d.trace_id);
}

constexpr const char* kInsertHead =
    "INSERT INTO dead_letters (kind, status, dedupe_key, reason_code, reason_message, workflow,"
    " workflow_version, execution_id, failed_step, input, source_topic, source_partition,"
    " source_offset, source_timestamp, consumer_group, record_key, record_value, header_names,"
    " header_values, first_failed_at, last_failed_at, trace_id) VALUES ";

std::string insert_row_placeholders(std::size_t base) {
  static const char* const casts[] = {"text",    "text", "text", "text",  "text",  "text",
                                      "int",     "text", "text", "jsonb", "text",  "int",
                                      "bigint",  "",     "text", "bytea", "bytea", "bytea[]",
                                      "bytea[]", "",     "",     "text"};
  std::string out = "(";
  for (std::size_t i = 0; i < kInsertParams; ++i) {
    if (i > 0) out += ',';
    const std::string n = "$" + std::to_string(base + i + 1);
    if (i == 19 || i == 20) {
      out += "coalesce(flowd_ts(" + n + "::bigint), now())";
    } else if (i == 13) {
      out += "flowd_ts(" + n + "::bigint)";
    } else {
      out += n + "::" + casts[i];
    }
  }
  return out + ")";
}

}  // namespace

std::string_view to_string(DeadLetterKind kind) {
  return kKindNames[static_cast<int>(kind)];
}
std::string_view to_string(DeadLetterStatus status) {
  return kStatusNames[static_cast<int>(status)];
}
std::optional<DeadLetterKind> parse_dead_letter_kind(std::string_view text) {
  for (int i = 0; i < 2; ++i) {
    if (text == kKindNames[i]) return static_cast<DeadLetterKind>(i);
  }
  return std::nullopt;
}
std::optional<DeadLetterStatus> parse_dead_letter_status(std::string_view text) {
  for (int i = 0; i < kStatusCount; ++i) {
    if (text == kStatusNames[i]) return static_cast<DeadLetterStatus>(i);
  }
  return std::nullopt;
}

std::string trigger_dedupe_key(const std::string& topic, std::int32_t partition,
                               std::int64_t offset, const std::string& workflow) {
  std::string key =
      "trigger:" + topic + "/" + std::to_string(partition) + "/" + std::to_string(offset);
  if (!workflow.empty()) key += "#" + workflow;
  return key;
}

// ---- connections ------------------------------------------------------------------------------

class DeadLetterStore::Impl {
 public:
  explicit Impl(DeadLetterStoreOptions options) : options_(std::move(options)) {}

  // Runs f(work) in a transaction on a pooled connection; exceptions become Errors. A broken
  // connection is dropped, not returned to the pool.
  template <class T, class F>
  Result<T> run(std::string_view context, F&& f) {
    std::unique_ptr<pqxx::connection> conn;
    try {
      conn = acquire();
      pqxx::work tx(*conn);
      T value = f(tx);
      tx.commit();
      release(std::move(conn));
      return value;
    } catch (const std::exception& e) {
      Error error = translate(e, context);
      if (conn && conn->is_open() && !error.retryable) release(std::move(conn));
      return tl::unexpected(std::move(error));
    }
  }

 private:
  std::unique_ptr<pqxx::connection> acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        return conn;
      }
    }
    auto conn = std::make_unique<pqxx::connection>(options_.url);
    pqxx::nontransaction(*conn).exec("SET application_name = 'flowd-dlq'");
    return conn;
  }
  void release(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard lock(mutex_);
    if (idle_.size() < std::max<std::size_t>(options_.pool_size, 1)) {
      idle_.push_back(std::move(conn));
    }
  }

  DeadLetterStoreOptions options_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // GUARDED_BY(mutex_)
};

Result<std::unique_ptr<DeadLetterStore>> DeadLetterStore::open(DeadLetterStoreOptions options) {
  if (options.url.empty()) return fail(ErrorCode::kInvalidInput, "dead letters: no database URL");
  auto impl = std::make_unique<Impl>(std::move(options));
  auto migrated = impl->run<bool>("open", [](pqxx::work& tx) {
    return tx.exec("SELECT to_regclass('dead_letters') IS NOT NULL")[0][0].as<bool>();
  });
  if (!migrated) return tl::unexpected(migrated.error());
  if (!*migrated) {
    return fail(
        ErrorCode::kInternal,
        "dead letters: table dead_letters missing: open the event store (migrations) first");
  }
  return std::unique_ptr<DeadLetterStore>(new DeadLetterStore(std::move(impl)));
}

DeadLetterStore::DeadLetterStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DeadLetterStore::~DeadLetterStore() = default;

Result<InsertOutcome> DeadLetterStore::insert(const DeadLetter& letter) {
  auto outcomes = insert_batch({letter});
  if (!outcomes) return tl::unexpected(outcomes.error());
  return outcomes->front();
}

Result<std::vector<InsertOutcome>> DeadLetterStore::insert_batch(
    const std::vector<DeadLetter>& letters) {
  for (const auto& d : letters) {
    if (d.dedupe_key.empty() || d.reason_code.empty()) {
      return fail(ErrorCode::kInvalidInput,
                  "dead letters: insert: every row needs a dedupe key and a reason code");
    }
  }
  return impl_->run<std::vector<InsertOutcome>>("insert", [&](pqxx::work& tx) {
    std::map<std::string, InsertOutcome> by_key;
    for (std::size_t start = 0; start < letters.size(); start += kRowsPerStatement) {
      const std::size_t end = std::min(letters.size(), start + kRowsPerStatement);
      Params params;
      std::string sql = kInsertHead;
      for (std::size_t i = start; i < end; ++i) {
        if (i > start) sql += ',';
        sql += insert_row_placeholders(params.size());
        add_insert_params(params, letters[i]);
      }
      sql += " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key";
      std::string created = "{";
      for (const auto& row :
           tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params.values()))) {
        by_key[row[1].as<std::string>()] = InsertOutcome{row[0].as<std::int64_t>(), true};
        if (created.size() > 1) created += ',';
        created += row[0].as<std::string>();
      }
      created += '}';
      if (created.size() > 2) {
        tx.exec_params(
            "INSERT INTO dead_letter_events (dead_letter_id, type, actor)"
            " SELECT unnest($1::bigint[]), 'Created', 'flowd'",
            created);
      }
    }
    // Keys as stored (valid_text), to find the rows that existed already.
    std::vector<std::string> keys, missing;
    for (const auto& d : letters) {
      keys.push_back(valid_text(d.dedupe_key));
      if (by_key.find(keys.back()) == by_key.end()) missing.push_back(keys.back());
    }
    if (!missing.empty()) {
      for (const auto& row : tx.exec_params(
               "SELECT id, dedupe_key FROM dead_letters WHERE dedupe_key = ANY($1::text[])",
               text_array(missing))) {
        by_key[row[1].as<std::string>()] = InsertOutcome{row[0].as<std::int64_t>(), false};
      }
    }
    std::vector<InsertOutcome> out;
    out.reserve(letters.size());
    for (const auto& key : keys) out.push_back(by_key.at(key));
    return out;
  });
}

Result<std::optional<DeadLetter>> DeadLetterStore::get(std::int64_t id) {
  return impl_->run<std::optional<DeadLetter>>("get", [&](pqxx::work& tx) {
    auto rows =
        tx.exec_params(std::string("SELECT ") + kColumns + " FROM dead_letters WHERE id = $1", id);
    if (rows.empty()) return std::optional<DeadLetter>();
    return std::optional<DeadLetter>(read_letter(rows[0]));
  });
}

Result<std::vector<DeadLetter>> DeadLetterStore::list(const DeadLetterQuery& query) {
  return impl_->run<std::vector<DeadLetter>>("list", [&](pqxx::work& tx) {
    Params p;
    auto opt = [&](const std::optional<std::string>& v) {
      if (v) {
        p.add(*v);
      } else {
        p.add_null();
      }
    };
    opt(query.kind ? std::optional<std::string>(std::string(to_string(*query.kind)))
                   : std::nullopt);
    opt(query.status ? std::optional<std::string>(std::string(to_string(*query.status)))
                     : std::nullopt);
    opt(query.workflow);
    opt(query.reason_code);
    opt(query.source_topic);
    opt(query.since ? std::optional<std::string>(std::to_string(to_micros(*query.since)))
                    : std::nullopt);
    opt(query.before_id ? std::optional<std::string>(std::to_string(*query.before_id))
                        : std::nullopt);
    p.add(std::to_string(std::clamp<std::size_t>(query.limit, 1, 10'000)));
    opt(query.until ? std::optional<std::string>(std::to_string(to_micros(*query.until)))
                    : std::nullopt);
    const std::string sql =
        std::string("SELECT ") + kColumns +
        " FROM dead_letters WHERE ($1::text IS NULL OR kind = $1)"
        " AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR workflow = $3)"
        " AND ($4::text IS NULL OR reason_code = $4) AND ($5::text IS NULL OR source_topic = $5)"
        " AND ($6::bigint IS NULL OR created_at >= flowd_ts($6::bigint))"
        " AND ($7::bigint IS NULL OR id < $7::bigint)"
        " AND ($9::bigint IS NULL OR created_at < flowd_ts($9::bigint))"
        " ORDER BY id DESC LIMIT $8::bigint";
    std::vector<DeadLetter> out;
    for (const auto& row : tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()))) {
      out.push_back(read_letter(row));
    }
    return out;
  });
}

Result<std::map<DeadLetterStatus, std::int64_t>> DeadLetterStore::count_by_status(
    std::optional<DeadLetterKind> kind) {
  return impl_->run<std::map<DeadLetterStatus, std::int64_t>>("count", [&](pqxx::work& tx) {
    Params p;
    if (kind) {
      p.add(std::string(to_string(*kind)));
    } else {
      p.add_null();
    }
    std::map<DeadLetterStatus, std::int64_t> out;
    for (int i = 0; i < kStatusCount; ++i) out[static_cast<DeadLetterStatus>(i)] = 0;
    for (const auto& row : tx.exec_params(
             "SELECT status, count(*) FROM dead_letters WHERE ($1::text IS NULL OR kind = $1)"
             " GROUP BY status",
             pqxx::prepare::make_dynamic_params(p.values()))) {
      if (auto s = parse_dead_letter_status(row[0].as<std::string>())) {
        out[*s] = row[1].as<std::int64_t>();
      }
    }
    return out;
  });
}

Result<void> DeadLetterStore::mark_published(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return {};
  std::string array = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) array += ',';
    array += std::to_string(ids[i]);
  }
  array += '}';
  auto done = impl_->run<bool>("mark published", [&](pqxx::work& tx) {
    tx.exec_params(
        "UPDATE dead_letters SET published_at = now(), updated_at = now()"
        " WHERE id = ANY($1::bigint[]) AND published_at IS NULL",
        array);
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

Result<std::vector<DeadLetter>> DeadLetterStore::list_unpublished(
    std::chrono::milliseconds older_than, std::size_t limit) {
  return impl_->run<std::vector<DeadLetter>>("list unpublished", [&](pqxx::work& tx) {
    std::vector<DeadLetter> out;
    for (const auto& row : tx.exec_params(
             std::string("SELECT ") + kColumns +
                 " FROM dead_letters WHERE published_at IS NULL AND kind = 'trigger'"
                 " AND created_at < now() - $1::bigint * interval '1 millisecond'"
                 " ORDER BY created_at LIMIT $2::bigint",
             static_cast<std::int64_t>(older_than.count()), static_cast<std::int64_t>(limit))) {
      out.push_back(read_letter(row));
    }
    return out;
  });
}

Result<std::vector<DeadLetter>> DeadLetterStore::list_unpublished_of(DeadLetterKind kind,
                                                                     std::size_t limit) {
  return impl_->run<std::vector<DeadLetter>>("list unpublished", [&](pqxx::work& tx) {
    std::vector<DeadLetter> out;
    for (const auto& row :
         tx.exec_params(std::string("SELECT ") + kColumns +
                            " FROM dead_letters WHERE published_at IS NULL AND kind = $1"
                            " ORDER BY created_at LIMIT $2::bigint",
                        std::string(to_string(kind)), static_cast<std::int64_t>(limit))) {
      out.push_back(read_letter(row));
    }
    return out;
  });
}

Result<void> DeadLetterStore::transact(std::string_view context,
                                       const std::function<void(void* work)>& f) {
  auto done = impl_->run<bool>(context, [&](pqxx::work& tx) {
    f(&tx);
    return true;
  });
  if (!done) return tl::unexpected(done.error());
  return {};
}

DeadLetter read_dead_letter_row(const pqxx::row& row) {
  return read_letter(row);
}
const char* dead_letter_columns() {
  return kColumns;
}
Error translate_database_error(const std::exception& e, std::string_view context) {
  return translate(e, context);
}

}  // namespace flowd::dlq
