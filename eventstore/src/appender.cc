#include "appender.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <unordered_map>

#include "pg.h"
#include "projection.h"

namespace flowd::eventstore::detail {

struct Appender::Outcome {
  enum class Kind { kPending, kAccepted, kDuplicate, kFailed };
  Kind kind = Kind::kPending;
  std::int64_t version = 0;
  std::string existing_id;  // kDuplicate
  StoreError error;         // kFailed
};

namespace {

// The first attempt may decide from the version cache; the others read every version.
constexpr int kMaxRaceAttempts = 5;
// Bound of the version cache (entries of executions that are not terminal; cleared when full).
constexpr std::size_t kMaxCachedVersions = 200'000;

const std::vector<std::string> kEventColumns = {"stream_id", "stream_version", "type", "step",
                                                "attempt",   "occurred_at",    "data", "metadata"};

// Statements of the appender connection. Constant SQL; every value is a parameter.
// Versions are read without locking: events' UNIQUE (stream_id, stream_version) checks them when
// the batch's events are copied. `terminal`: appends to an ended execution keep its row's version.
constexpr const char* kReadVersions =
    "SELECT id, flowd_stream_version(id, version), dedupe_key, terminal FROM executions "
    "WHERE id = ANY($1::text[]) OR dedupe_key = ANY($2::text[])";
// The projection of the whole batch and the notification in one round trip. Only executions that
// start, change status or end are in it (ProjectionDelta::changes_row). ins: rows of executions
// started in this batch; a row that exists already (same id or dedupe key: a concurrent start) is
// not inserted. upd: the other rows; NULL leaves a column as it is. The caller compares both
// counts with what it sent.
constexpr const char* kWriteProjection =
    "WITH ins AS ("
    " INSERT INTO executions (id, workflow, workflow_version, version, status, terminal, "
    "  dedupe_key, started_at, ended_at, error, retry_of, parent, owner, lease_until) "
    " SELECT u.id, u.workflow, u.wv, u.version, u.status, u.terminal, u.dedupe, "
    "  flowd_ts(u.started), flowd_ts(u.ended), u.error, u.retry_of, u.parent, $13::text, "
    "  CASE WHEN $13::text IS NULL THEN NULL ELSE now() + $14::bigint * interval '1 ms' END "
    " FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bool[], "
    "  $7::text[], $8::bigint[], $9::bigint[], $10::jsonb[], $11::text[], $12::text[]) "
    "  AS u(id, workflow, wv, version, status, terminal, dedupe, started, ended, error, retry_of, "
    "  parent) "
    " ON CONFLICT DO NOTHING RETURNING 1), "
    "upd AS ("
    " UPDATE executions e SET version = GREATEST(e.version, u.version), "
    "  status = COALESCE(u.status, e.status), terminal = e.terminal OR u.terminal, "
    "  ended_at = COALESCE(flowd_ts(u.ended), e.ended_at), error = COALESCE(u.error, e.error), "
    "  updated_at = now() "
    " FROM unnest($15::text[], $16::bigint[], $17::text[], $18::bool[], $19::bigint[], "
    "  $20::jsonb[]) AS u(id, version, status, terminal, ended, error) "
    " WHERE e.id = u.id RETURNING 1) "
    "SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd), "
    " (SELECT epoch FROM retention_epoch WHERE only_row), pg_notify($21, '')";

// Adds the microseconds since `since` to `counter` and restarts `since`.
void lap(std::atomic<std::uint64_t>& counter, std::chrono::steady_clock::time_point& since) {
  const auto now = std::chrono::steady_clock::now();
  counter.fetch_add(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::microseconds>(now - since).count()),
                    std::memory_order_relaxed);
  since = now;
}

struct StreamState {
  std::int64_t version = 0;  // before this batch (read or cached), then after its accepted requests
  bool known = false;        // read or cached: `version` is valid
  bool ended = false;        // read: the execution is terminal (appends still write its row)
};

// Another writer started an execution of this batch first (its row exists): re-run the batch.
struct RaceLost : std::runtime_error {
  RaceLost() : std::runtime_error("a concurrent writer started an execution of this batch") {}
};

std::string conflict_message(const AppendRequest& request, std::int64_t actual) {
  return "execution " + request.execution_id + ": expected version " +
         std::to_string(request.expected_version) + ", but the stream is at version " +
         std::to_string(actual);
}

template <class T>
void add_optional_json(ArrayLiteral& array, const std::optional<T>& value) {
  if (value) {
    array.add(std::string_view(dump_json(*value)));
  } else {
    array.add_null();
  }
}

}  // namespace

Appender::Appender(const StoreOptions& options) : options_(options) {
  const std::size_t lanes = std::max<std::size_t>(1, options_.appender_lanes);
  for (std::size_t i = 0; i < lanes; ++i) lanes_.push_back(std::make_unique<Lane>());
  for (auto& lane : lanes_) lane->thread = std::thread([this, l = lane.get()] { run(*l); });
}

Appender::~Appender() {
  stop();
}

Appender::Lane& Appender::lane_of(const std::string& execution_id) {
  if (lanes_.size() == 1) return *lanes_.front();
  return *lanes_[std::hash<std::string>{}(execution_id) % lanes_.size()];
}

void Appender::submit(PendingAppend request) {
  Lane& lane = lane_of(request.request.execution_id);
  std::unique_lock lock(lane.mutex);
  if (lane.stopping) {
    lock.unlock();
    StoreError error{make_error_code(errc::shutting_down), "event store is closed"};
    if (request.on_start) request.on_start(tl::unexpected(error));
    if (request.on_append) request.on_append(tl::unexpected(error));
    return;
  }
  lane.queued_events += request.request.events.size();
  lane.queue.push_back(std::move(request));
  lock.unlock();
  lane.wake.notify_one();
}

void Appender::stop() {
  for (auto& lane : lanes_) {
    {
      std::lock_guard lock(lane->mutex);
      lane->stopping = true;
    }
    lane->wake.notify_one();
  }
  for (auto& lane : lanes_) {
    if (lane->thread.joinable()) lane->thread.join();
  }
}

AppenderStats Appender::stats() const {
  AppenderStats s;
  s.batches = batches_.load();
  s.requests = requests_.load();
  s.events = events_.load();
  s.conflicts = conflicts_.load();
  s.duplicates = duplicates_.load();
  s.failures = failures_.load();
  s.max_batch_events = max_batch_events_.load();
  s.build_us = build_us_.load();
  s.cached_batches = cached_batches_.load();
  s.begin_us = begin_us_.load();
  s.check_us = check_us_.load();
  s.copy_us = copy_us_.load();
  s.projection_us = projection_us_.load();
  s.commit_us = commit_us_.load();
  s.callback_us = callback_us_.load();
  return s;
}

void Appender::connect_lane(Lane& lane) {
  lane.conn = connect(options_.url, "flowd-appender");
  // Every statement of this connection touches a batch's rows by key. Joined with unnest(), the
  // planner prefers a sequential scan of `executions` while it is small (tens of thousands of
  // rows): a scan per batch, 13 ms at 20,000 rows, growing with the table. Index lookups always
  // win here. (Constant text; this connection runs nothing else.)
  pqxx::nontransaction(*lane.conn).exec("SET enable_seqscan = off");
  // A sequential scan that setting could not avoid still costs 1e10 and so made PostgreSQL JIT-
  // compile the statement at every batch (0.4 s each: a one-row table read without its key).
  // Statements of a few milliseconds never gain from JIT.
  pqxx::nontransaction(*lane.conn).exec("SET jit = off");
  // A COPY waits for another writer's uncommitted event with the same (stream, version). Should
  // that writer hang with its transaction open, give up after a while instead of holding every
  // caller of the batch (and a stopping runner waiting for their answers) for ever.
  pqxx::nontransaction(*lane.conn).exec("SET lock_timeout = '30s'");
  lane.conn->prepare("flowd_read_versions", kReadVersions);
  lane.conn->prepare("flowd_write_projection", kWriteProjection);
}

void Appender::run(Lane& lane) {
  try {
    connect_lane(lane);
  } catch (const std::exception&) {
    lane.conn.reset();  // the first batch reconnects and reports the failure to its callers
  }
  std::vector<PendingAppend> batch;
  bool busy = false;
  for (;;) {
    {
      std::unique_lock lock(lane.mutex);
      lane.wake.wait(lock, [&] { return lane.stopping || !lane.queue.empty(); });
      if (lane.queue.empty()) break;  // stopping, and everything answered
      // Under load, linger briefly so the next transaction carries more.
      if (busy && !lane.stopping && options_.max_batch_wait.count() > 0 &&
          lane.queued_events < options_.max_batch_events) {
        lane.wake.wait_for(lock, options_.max_batch_wait, [&] {
          return lane.stopping || lane.queued_events >= options_.max_batch_events;
        });
      }
      std::size_t events = 0;
      while (!lane.queue.empty()) {
        const std::size_t n = lane.queue.front().request.events.size();
        if (!batch.empty() && events + n > options_.max_batch_events) break;
        events += n;
        batch.push_back(std::move(lane.queue.front()));
        lane.queue.pop_front();
      }
      lane.queued_events -= events;
    }
    busy = batch.size() > 1;
    process(lane, batch);
    batch.clear();
  }
  lane.conn.reset();
}

void Appender::process(Lane& lane, std::vector<PendingAppend>& batch) {
  std::vector<Outcome> outcomes(batch.size());
  auto fail_all = [&](const StoreError& error, bool keep_rejections) {
    for (auto& outcome : outcomes) {
      if (keep_rejections &&
          (outcome.kind == Outcome::Kind::kDuplicate ||
           (outcome.kind == Outcome::Kind::kFailed && outcome.error.is(errc::conflict)))) {
        continue;
      }
      outcome.kind = Outcome::Kind::kFailed;
      outcome.error = error;
    }
  };
  for (int attempt = 1;; ++attempt) {
    if (!lane.conn) {
      try {
        connect_lane(lane);
      } catch (const std::exception& e) {
        lane.conn.reset();
        fail_all(translate(e, "append: connect"), false);
        break;
      }
    }
    try {
      write_batch(lane, batch, outcomes, attempt == 1);
      break;
    } catch (const std::exception& e) {
      const bool broken = breaks_connection(e) || !lane.conn->is_open();
      if (broken) lane.conn.reset();
      const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
      const bool lost = dynamic_cast<const RaceLost*>(&e) != nullptr;
      if (!broken && (lost || (sql != nullptr && is_retryable_race(*sql))) &&
          attempt < kMaxRaceAttempts) {
        continue;  // another instance won a race; the next attempt sees its commit
      }
      if (!broken && (sql != nullptr || lost) && batch.size() > 1) {
        // One request is bad (as data, or it keeps colliding): give each its own transaction so
        // only the culprit fails.
        for (auto& request : batch) {
          std::vector<PendingAppend> single;
          single.push_back(std::move(request));
          process(lane, single);
        }
        return;
      }
      const bool in_doubt = dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr;
      fail_all(translate(e, "append"), in_doubt);
      break;
    }
  }
  deliver(batch, outcomes);
}

void Appender::write_batch(Lane& lane, std::vector<PendingAppend>& batch,
                           std::vector<Outcome>& outcomes, bool trust_cache) {
  std::fill(outcomes.begin(), outcomes.end(), Outcome{});
  auto clock = std::chrono::steady_clock::now();
  pqxx::work tx(*lane.conn);
  lap(begin_us_, clock);

  // 1. The current version of every stream: from the cache when each stream's first request
  //    agrees with it (or, for a stream the cache does not know, starts it), else read.
  std::unordered_map<std::string, StreamState> streams;  // by execution id
  bool from_cache = false;  // some stream's version came from the cache
  std::vector<std::optional<std::string>> keys(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const AppendRequest& request = batch[i].request;
    if (!request.events.empty()) keys[i] = dedupe_key_of(request.events.front());
    auto [it, first] = streams.try_emplace(request.execution_id);
    // An append without events is checked against the database: nothing else would verify it.
    if (!first || !trust_cache || request.events.empty()) continue;
    StreamState& state = it->second;
    if (const auto cached = lane.version_cache.find(request.execution_id);
        cached != lane.version_cache.end()) {
      if (cached->second == request.expected_version) {
        state.version = cached->second;
        state.known = true;
        from_cache = true;
      }
    } else if (request.expected_version == 0 &&
               request.events.front().type == EventType::kExecutionStarted) {
      state.known = true;  // assumed new: the INSERT verifies it (and its dedupe key)
    }
  }
  struct Used {
    std::string execution_id;
    std::int64_t version = -1;  // -1: started in this batch, take the stream's version at the end
  };
  std::unordered_map<std::string, Used> used;  // dedupe keys already taken
  {
    ArrayLiteral id_array, key_array;
    for (const auto& [id, state] : streams) {
      if (!state.known) id_array.add(std::string_view(id));
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (keys[i] && !streams[batch[i].request.execution_id].known) {
        key_array.add(std::string_view(*keys[i]));
      }
    }
    if (id_array.empty()) {
      cached_batches_.fetch_add(1, std::memory_order_relaxed);
    } else {
      for (const auto& row :
           tx.exec_prepared("flowd_read_versions", id_array.str(), key_array.str())) {
        const std::string id = row[0].as<std::string>();
        const std::int64_t version = row[1].as<std::int64_t>();
        if (const auto it = streams.find(id); it != streams.end() && !it->second.known) {
          it->second.version = version;
          it->second.ended = row[3].as<bool>();
        }
        if (!row[2].is_null()) used[row[2].as<std::string>()] = Used{id, version};
      }
      for (auto& entry : streams) entry.second.known = true;
    }
  }
  lap(check_us_, clock);

  // 2. Decide, assign versions, build the COPY text and the projection deltas.
  std::map<std::string, ProjectionDelta> deltas;  // by execution id
  std::string& copy = lane.copy_buffer;
  copy.clear();
  std::size_t events = 0;
  const std::int64_t now_us = to_micros(Clock::now());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const AppendRequest& request = batch[i].request;
    Outcome& outcome = outcomes[i];
    StreamState& stream = streams[request.execution_id];
    auto fail = [&](errc code, std::string message) {
      outcome.kind = Outcome::Kind::kFailed;
      outcome.error = StoreError{make_error_code(code), std::move(message)};
    };
    if (request.execution_id.empty()) {
      fail(errc::invalid_argument, "append: empty execution id");
      continue;
    }
    if (batch[i].start &&
        (request.events.empty() || request.events.front().type != EventType::kExecutionStarted ||
         request.expected_version != 0)) {
      fail(errc::invalid_argument, "start_execution " + request.execution_id +
                                       ": needs expected version 0 and ExecutionStarted first");
      continue;
    }
    if (keys[i]) {
      // A used key wins over a version conflict: a start retried after an unknown outcome learns
      // that its execution exists.
      if (const auto it = used.find(*keys[i]); it != used.end()) {
        outcome.kind = Outcome::Kind::kDuplicate;
        outcome.existing_id = it->second.execution_id;
        outcome.version = it->second.version;
        continue;
      }
    }
    if (request.expected_version != stream.version) {
      fail(errc::conflict, conflict_message(request, stream.version));
      continue;
    }
    if (request.events.empty()) {
      outcome.kind = Outcome::Kind::kAccepted;
      outcome.version = stream.version;
      continue;
    }
    // The executions row is the stream's version: it is created by ExecutionStarted, version 1.
    if (stream.version == 0 && request.events.front().type != EventType::kExecutionStarted) {
      fail(errc::invalid_argument, "append to execution " + request.execution_id +
                                       ": a new stream must start with ExecutionStarted");
      continue;
    }
    if (std::any_of(request.events.begin() + 1, request.events.end(),
                    [](const Event& e) { return e.type == EventType::kExecutionStarted; }) ||
        (stream.version > 0 && request.events.front().type == EventType::kExecutionStarted)) {
      fail(errc::invalid_argument, "append to execution " + request.execution_id +
                                       ": ExecutionStarted can only be its first event");
      continue;
    }
    if (keys[i]) used.emplace(*keys[i], Used{request.execution_id, -1});
    // Accepted.
    Json metadata = batch[i].metadata.is_object() ? batch[i].metadata : Json::object();
    if (!metadata.contains("actor")) metadata["actor"] = options_.actor;
    std::string metadata_text;
    append_copy_text(metadata_text, dump_json(metadata));
    std::string stream_text;
    append_copy_text(stream_text, stream_name(request.execution_id));
    ProjectionDelta& delta = deltas[request.execution_id];
    delta.execution_id = request.execution_id;
    std::int64_t version = stream.version;
    for (const Event& event : request.events) {
      ++version;
      const std::int64_t time_us = event.time == TimePoint{} ? now_us : to_micros(event.time);
      copy += stream_text;
      copy += '\t';
      copy += std::to_string(version);
      copy += '\t';
      append_copy_text(copy, to_string(event.type));
      copy += '\t';
      if (event.step.empty()) {
        copy += "\\N";
      } else {
        append_copy_text(copy, event.step);
      }
      copy += '\t';
      if (event.attempt > 0) {
        copy += std::to_string(event.attempt);
      } else {
        copy += "\\N";
      }
      copy += '\t';
      append_copy_timestamp(copy, time_us);
      copy += '\t';
      append_copy_text(copy, dump_json(event.data));
      copy += '\t';
      copy += metadata_text;
      copy += '\n';
      delta.apply(event, version, time_us);
    }
    events += request.events.size();
    stream.version = version;
    outcome.kind = Outcome::Kind::kAccepted;
    outcome.version = version;
  }
  for (auto& outcome : outcomes) {
    if (outcome.kind == Outcome::Kind::kDuplicate && outcome.version < 0) {
      outcome.version = streams[outcome.existing_id].version;
    }
  }
  lap(build_us_, clock);
  if (events == 0) {
    tx.abort();  // nothing to write: only checks and rejections
    return;
  }

  // 3. The events, whose unique (stream_id, stream_version) checks every version decided above
  //    (a stream another writer moved fails the COPY); then the projection, the notification and
  //    the retention epoch.
  copy.pop_back();  // the last newline
  copy_rows(tx, "events", kEventColumns, copy);
  lap(copy_us_, clock);
  {
    ArrayLiteral ins[12];
    ArrayLiteral upd[6];
    std::size_t inserts = 0, updates = 0;
    for (const auto& [id, d] : deltas) {
      if (!d.changes_row() && !streams[id].ended) continue;
      const std::optional<std::string> status =
          d.status ? std::optional<std::string>(std::string(to_string(*d.status))) : std::nullopt;
      if (d.started) {
        ++inserts;
        ins[0].add(std::string_view(id));
        ins[1].add(std::string_view(d.workflow));
        ins[2].add(static_cast<std::int64_t>(d.workflow_version));
        ins[3].add(d.version);
        ins[4].add(std::string_view(status.value_or("")));
        ins[5].add(d.terminal);
        ins[6].add(d.dedupe_key);
        ins[7].add(d.started_at_us);
        ins[8].add(d.ended_at_us);
        add_optional_json(ins[9], d.error);
        ins[10].add(d.retry_of);
        ins[11].add(d.parent);
      } else {
        ++updates;
        upd[0].add(std::string_view(id));
        upd[1].add(d.version);
        upd[2].add(status);
        upd[3].add(d.terminal);
        upd[4].add(d.ended_at_us);
        add_optional_json(upd[5], d.error);
      }
    }
    const char* owner = options_.owner.empty() ? nullptr : options_.owner.c_str();
    const auto row = tx.exec_prepared1(
        "flowd_write_projection", ins[0].str(), ins[1].str(), ins[2].str(), ins[3].str(),
        ins[4].str(), ins[5].str(), ins[6].str(), ins[7].str(), ins[8].str(), ins[9].str(),
        ins[10].str(), ins[11].str(), owner, static_cast<std::int64_t>(options_.lease_ttl.count()),
        upd[0].str(), upd[1].str(), upd[2].str(), upd[3].str(), upd[4].str(), upd[5].str(),
        options_.notify_channel);
    if (row[0].as<std::size_t>() != inserts || row[1].as<std::size_t>() != updates) {
      throw RaceLost();
    }
    // Retention deleted events since this lane last looked: a cached version may belong to a
    // stream that ended and lost its events, where the COPY collides with nothing.
    if (const auto epoch = row[2].as<std::int64_t>(); epoch != lane.retention_epoch) {
      const bool stale = from_cache;
      lane.version_cache.clear();
      lane.retention_epoch = epoch;
      if (stale) throw RaceLost();
    }
  }
  lap(projection_us_, clock);
  tx.commit();
  lap(commit_us_, clock);

  if (lane.version_cache.size() > kMaxCachedVersions / lanes_.size()) lane.version_cache.clear();
  for (const auto& [id, d] : deltas) {
    if (d.terminal || streams[id].ended) {
      lane.version_cache.erase(id);  // no more appends expected; a late one reads `ended` again
    } else {
      lane.version_cache[id] = d.version;
    }
  }
  batches_.fetch_add(1, std::memory_order_relaxed);
  events_.fetch_add(events, std::memory_order_relaxed);
  std::uint64_t seen = max_batch_events_.load(std::memory_order_relaxed);
  while (events > seen && !max_batch_events_.compare_exchange_weak(seen, events)) {
  }
}

void Appender::deliver(std::vector<PendingAppend>& batch, std::vector<Outcome>& outcomes) {
  auto clock = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    PendingAppend& request = batch[i];
    Outcome& outcome = outcomes[i];
    requests_.fetch_add(1, std::memory_order_relaxed);
    switch (outcome.kind) {
      case Outcome::Kind::kAccepted:
        if (request.on_start) {
          request.on_start(StartOutcome{request.request.execution_id, outcome.version, false});
        } else {
          request.on_append(outcome.version);
        }
        break;
      case Outcome::Kind::kDuplicate:
        duplicates_.fetch_add(1, std::memory_order_relaxed);
        if (request.on_start) {
          request.on_start(StartOutcome{outcome.existing_id, outcome.version, true});
        } else {
          request.on_append(tl::unexpected(
              StoreError{make_error_code(errc::duplicate),
                         "execution " + request.request.execution_id + ": dedupe key " +
                             dedupe_key_of(request.request.events.front()).value_or("") +
                             " already started execution " + outcome.existing_id}));
        }
        break;
      case Outcome::Kind::kPending:
      case Outcome::Kind::kFailed: {
        if (outcome.kind == Outcome::Kind::kPending) {
          outcome.error = StoreError{make_error_code(errc::database), "append: not processed"};
        }
        (outcome.error.is(errc::conflict) ? conflicts_ : failures_)
            .fetch_add(1, std::memory_order_relaxed);
        if (request.on_start) {
          request.on_start(tl::unexpected(outcome.error));
        } else {
          request.on_append(tl::unexpected(outcome.error));
        }
        break;
      }
    }
  }
  lap(callback_us_, clock);
}

}  // namespace flowd::eventstore::detail
