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

constexpr int kMaxRaceAttempts = 4;

const std::vector<std::string> kEventColumns = {"stream_id", "stream_version", "type", "step",
                                                "attempt",   "occurred_at",    "data", "metadata"};

// Statements of the appender connection. Constant SQL; every value is a parameter.
// Versions are read without locking; the conditional UPDATE below takes the row locks and fails
// (fewer rows returned) when another writer moved a stream in between: the batch is then re-run.
// Locking at read time (FOR UPDATE) would write a WAL record per row for nothing.
constexpr const char* kReadStreams =
    "SELECT stream_id, version FROM streams WHERE stream_id = ANY($1::text[])";
constexpr const char* kFindDedupe =
    "SELECT dedupe_key, id, version FROM executions WHERE dedupe_key = ANY($1::text[])";
constexpr const char* kInsertStreams =
    "INSERT INTO streams (stream_id, version) SELECT * FROM unnest($1::text[], $2::bigint[])";
constexpr const char* kUpdateStreams =
    "UPDATE streams s SET version = u.version "
    "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(stream_id, expected, version) "
    "WHERE s.stream_id = u.stream_id AND s.version = u.expected RETURNING s.stream_id";
constexpr const char* kInsertExecutions =
    "INSERT INTO executions (id, workflow, workflow_version, version, status, terminal, "
    " dedupe_key, started_at, ended_at, current_step, current_event, current_attempt, error, "
    " retry_of, parent, owner, lease_until) "
    "SELECT u.id, u.workflow, u.wv, u.version, u.status, u.terminal, u.dedupe, "
    " flowd_ts(u.started), flowd_ts(u.ended), u.step, u.event, u.attempt, u.error, u.retry_of, "
    " u.parent, $16::text, "
    " CASE WHEN $16::text IS NULL THEN NULL ELSE now() + $17::bigint * interval '1 ms' END "
    "FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::bool[], "
    " $7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::int[], "
    " $13::jsonb[], $14::text[], $15::text[]) "
    " AS u(id, workflow, wv, version, status, terminal, dedupe, started, ended, step, event, "
    " attempt, error, retry_of, parent)";
// One row per execution touched by the batch; NULL leaves a column as it is.
constexpr const char* kUpdateExecutions =
    "UPDATE executions e SET version = u.version, status = COALESCE(u.status, e.status), "
    " terminal = e.terminal OR u.terminal, ended_at = COALESCE(flowd_ts(u.ended), e.ended_at), "
    " current_step = COALESCE(u.step, e.current_step), "
    " current_event = COALESCE(u.event, e.current_event), "
    " current_attempt = CASE WHEN u.step IS NULL THEN e.current_attempt ELSE u.attempt END, "
    " error = COALESCE(u.error, e.error), updated_at = now() "
    "FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bool[], $5::bigint[], $6::text[], "
    " $7::text[], $8::int[], $9::jsonb[]) "
    " AS u(id, version, status, terminal, ended, step, event, attempt, error) "
    "WHERE e.id = u.id";
constexpr const char* kNotify = "SELECT pg_notify($1, '')";

// Adds the microseconds since `since` to `counter` and restarts `since`.
void lap(std::atomic<std::uint64_t>& counter, std::chrono::steady_clock::time_point& since) {
  const auto now = std::chrono::steady_clock::now();
  counter.fetch_add(static_cast<std::uint64_t>(
                        std::chrono::duration_cast<std::chrono::microseconds>(now - since).count()),
                    std::memory_order_relaxed);
  since = now;
}

struct StreamState {
  std::int64_t read = 0;     // version read at the start of the transaction
  std::int64_t version = 0;  // version after this batch's accepted requests
  bool exists = false;       // has a row in `streams`
  bool touched = false;      // this batch appends to it
};

// Another writer changed a stream between our read and our update: re-run the batch.
struct RaceLost : std::runtime_error {
  RaceLost() : std::runtime_error("a concurrent writer changed a stream of this batch") {}
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
  thread_ = std::thread([this] { run(); });
}

Appender::~Appender() {
  stop();
}

void Appender::submit(PendingAppend request) {
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    StoreError error{make_error_code(errc::shutting_down), "event store is closed"};
    if (request.on_start) request.on_start(tl::unexpected(error));
    if (request.on_append) request.on_append(tl::unexpected(error));
    return;
  }
  queued_events_ += request.request.events.size();
  queue_.push_back(std::move(request));
  lock.unlock();
  wake_.notify_one();
}

void Appender::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
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
  s.check_us = check_us_.load();
  s.streams_us = streams_us_.load();
  s.copy_us = copy_us_.load();
  s.projection_us = projection_us_.load();
  s.commit_us = commit_us_.load();
  s.callback_us = callback_us_.load();
  return s;
}

void Appender::prepare_statements() {
  conn_->prepare("flowd_read_streams", kReadStreams);
  conn_->prepare("flowd_find_dedupe", kFindDedupe);
  conn_->prepare("flowd_insert_streams", kInsertStreams);
  conn_->prepare("flowd_update_streams", kUpdateStreams);
  conn_->prepare("flowd_insert_executions", kInsertExecutions);
  conn_->prepare("flowd_update_executions", kUpdateExecutions);
  conn_->prepare("flowd_notify", kNotify);
}

void Appender::run() {
  try {
    conn_ = connect(options_.url, "flowd-appender");
    prepare_statements();
  } catch (const std::exception&) {
    conn_.reset();  // the first batch reconnects and reports the failure to its callers
  }
  std::vector<PendingAppend> batch;
  bool busy = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping, and everything answered
      // Under load, linger briefly so the next transaction carries more.
      if (busy && !stopping_ && options_.max_batch_wait.count() > 0 &&
          queued_events_ < options_.max_batch_events) {
        wake_.wait_for(lock, options_.max_batch_wait,
                       [&] { return stopping_ || queued_events_ >= options_.max_batch_events; });
      }
      std::size_t events = 0;
      while (!queue_.empty()) {
        const std::size_t n = queue_.front().request.events.size();
        if (!batch.empty() && events + n > options_.max_batch_events) break;
        events += n;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      queued_events_ -= events;
    }
    busy = batch.size() > 1;
    process(batch);
    batch.clear();
  }
  conn_.reset();
}

void Appender::process(std::vector<PendingAppend>& batch) {
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
    if (!conn_) {
      try {
        conn_ = connect(options_.url, "flowd-appender");
        prepare_statements();
      } catch (const std::exception& e) {
        conn_.reset();
        fail_all(translate(e, "append: connect"), false);
        break;
      }
    }
    try {
      write_batch(batch, outcomes);
      break;
    } catch (const std::exception& e) {
      const bool broken = breaks_connection(e) || !conn_->is_open();
      if (broken) conn_.reset();
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
          process(single);
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

void Appender::write_batch(std::vector<PendingAppend>& batch, std::vector<Outcome>& outcomes) {
  std::fill(outcomes.begin(), outcomes.end(), Outcome{});
  auto clock = std::chrono::steady_clock::now();
  pqxx::work tx(*conn_);

  // 1. Lock and read the streams; look up dedupe keys.
  std::vector<std::string> names(batch.size());
  std::map<std::string, StreamState> streams;
  std::vector<std::optional<std::string>> keys(batch.size());
  ArrayLiteral key_array;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    names[i] = stream_name(batch[i].request.execution_id);
    streams.try_emplace(names[i]);
    if (!batch[i].request.events.empty()) {
      keys[i] = dedupe_key_of(batch[i].request.events.front());
      if (keys[i]) key_array.add(std::string_view(*keys[i]));
    }
  }
  {
    ArrayLiteral stream_array;
    for (const auto& entry : streams) stream_array.add(std::string_view(entry.first));
    for (const auto& row : tx.exec_prepared("flowd_read_streams", stream_array.str())) {
      auto& state = streams[row[0].as<std::string>()];
      state.read = state.version = row[1].as<std::int64_t>();
      state.exists = true;
    }
  }
  struct Used {
    std::string execution_id;
    std::int64_t version = -1;  // -1: started in this batch, read the stream at the end
  };
  std::unordered_map<std::string, Used> used;
  if (!key_array.empty()) {
    for (const auto& row : tx.exec_prepared("flowd_find_dedupe", key_array.str())) {
      used[row[0].as<std::string>()] = Used{row[1].as<std::string>(), row[2].as<std::int64_t>()};
    }
  }

  lap(check_us_, clock);

  // 2. Decide, assign versions, build the COPY text and the projection deltas.
  std::map<std::string, ProjectionDelta> deltas;  // by execution id
  std::string copy;
  std::size_t events = 0;
  const std::int64_t now_us = to_micros(Clock::now());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const AppendRequest& request = batch[i].request;
    Outcome& outcome = outcomes[i];
    StreamState& stream = streams[names[i]];
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
    if (keys[i]) used.emplace(*keys[i], Used{request.execution_id, -1});
    // Accepted.
    Json metadata = batch[i].metadata.is_object() ? batch[i].metadata : Json::object();
    if (!metadata.contains("actor")) metadata["actor"] = options_.actor;
    std::string metadata_text;
    append_copy_text(metadata_text, dump_json(metadata));
    std::string stream_text;
    append_copy_text(stream_text, names[i]);
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
    stream.touched = true;
    outcome.kind = Outcome::Kind::kAccepted;
    outcome.version = version;
  }
  for (auto& outcome : outcomes) {
    if (outcome.kind == Outcome::Kind::kDuplicate && outcome.version < 0) {
      outcome.version = streams[stream_name(outcome.existing_id)].version;
    }
  }
  lap(build_us_, clock);
  if (events == 0) {
    tx.abort();  // nothing to write: only checks and rejections
    return;
  }

  // 3. Streams, events, projections, notification.
  {
    ArrayLiteral new_ids, new_versions, old_ids, old_expected, old_versions;
    std::size_t updates = 0;
    for (const auto& [name, state] : streams) {  // in stream order: one lock order everywhere
      if (!state.touched) continue;
      if (state.exists) {
        old_ids.add(std::string_view(name));
        old_expected.add(state.read);
        old_versions.add(state.version);
        ++updates;
      } else {
        new_ids.add(std::string_view(name));
        new_versions.add(state.version);
      }
    }
    if (!new_ids.empty()) {
      // A concurrent creator of the same stream makes this fail (unique violation): re-run.
      tx.exec_prepared("flowd_insert_streams", new_ids.str(), new_versions.str());
    }
    if (updates > 0) {
      const auto moved = tx.exec_prepared("flowd_update_streams", old_ids.str(), old_expected.str(),
                                          old_versions.str());
      if (moved.size() != updates) throw RaceLost();
    }
  }
  lap(streams_us_, clock);
  copy.pop_back();  // the last newline
  copy_rows(tx, "events", kEventColumns, copy);
  lap(copy_us_, clock);
  {
    ArrayLiteral ins[15];
    ArrayLiteral upd[9];
    for (const auto& [id, d] : deltas) {
      const std::optional<std::string> status =
          d.status ? std::optional<std::string>(std::string(to_string(*d.status))) : std::nullopt;
      ArrayLiteral* step = nullptr;  // the step, event, attempt triple
      if (d.started) {
        ins[0].add(std::string_view(id));
        ins[1].add(std::string_view(d.workflow));
        ins[2].add(static_cast<std::int64_t>(d.workflow_version));
        ins[3].add(d.version);
        ins[4].add(std::string_view(status.value_or("")));
        ins[5].add(d.terminal);
        ins[6].add(d.dedupe_key);
        ins[7].add(d.started_at_us);
        ins[8].add(d.ended_at_us);
        step = &ins[9];
        add_optional_json(ins[12], d.error);
        ins[13].add(d.retry_of);
        ins[14].add(d.parent);
      } else {
        upd[0].add(std::string_view(id));
        upd[1].add(d.version);
        upd[2].add(status);
        upd[3].add(d.terminal);
        upd[4].add(d.ended_at_us);
        step = &upd[5];
        add_optional_json(upd[8], d.error);
      }
      if (d.current_step) {
        step[0].add(std::string_view(d.current_step->step));
        step[1].add(std::string_view(d.current_step->event));
        step[2].add(static_cast<std::int64_t>(d.current_step->attempt));
      } else {
        step[0].add_null();
        step[1].add_null();
        step[2].add_null();
      }
    }
    if (!ins[0].empty()) {
      const char* owner = options_.owner.empty() ? nullptr : options_.owner.c_str();
      tx.exec_prepared("flowd_insert_executions", ins[0].str(), ins[1].str(), ins[2].str(),
                       ins[3].str(), ins[4].str(), ins[5].str(), ins[6].str(), ins[7].str(),
                       ins[8].str(), ins[9].str(), ins[10].str(), ins[11].str(), ins[12].str(),
                       ins[13].str(), ins[14].str(), owner,
                       static_cast<std::int64_t>(options_.lease_ttl.count()));
    }
    if (!upd[0].empty()) {
      tx.exec_prepared("flowd_update_executions", upd[0].str(), upd[1].str(), upd[2].str(),
                       upd[3].str(), upd[4].str(), upd[5].str(), upd[6].str(), upd[7].str(),
                       upd[8].str());
    }
  }
  tx.exec_prepared("flowd_notify", options_.notify_channel);
  lap(projection_us_, clock);
  tx.commit();
  lap(commit_us_, clock);

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
