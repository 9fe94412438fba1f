// EventStore: lifecycle, writes, reads, replay and snapshots. Queries of the executions
// projection, leases, definitions and retention are in queries.cc.
#include "flowd/eventstore/event_store.h"

#include <future>
#include <limits>
#include <map>

#include "flowd/eventstore/migrations.h"
#include "flowd/eventstore/state_json.h"
#include "records.h"
#include "store_impl.h"
#include "subscription_impl.h"

namespace flowd::eventstore {

using detail::ConnectionPool;

// --- lifecycle ---------------------------------------------------------------------------------

EventStore::Impl::Impl(StoreOptions opts)
    : options(std::move(opts)),
      appender(options),
      pool(options.url, options.pool_size, detail::store_statements()) {}

EventStore::Impl::~Impl() {
  close();
}

void EventStore::Impl::close() {
  std::call_once(closed_, [this] {
    appender.stop();
    pool.close();
  });
}

StoreResult<std::unique_ptr<EventStore>> EventStore::open(StoreOptions options) {
  if (options.url.empty()) return store_fail(errc::invalid_argument, "open: no database URL");
  if (options.max_batch_events == 0) options.max_batch_events = 1;
  if (options.migrate) {
    auto report = migrate(options.url);
    if (!report) return tl::unexpected(report.error());
  } else {
    auto version = database_schema_version(options.url);
    if (!version) return tl::unexpected(version.error());
    const int latest = latest_schema_version();
    if (*version > latest) {
      return store_fail(errc::schema_too_new, "database schema version " +
                                                  std::to_string(*version) +
                                                  " is newer than this flowd binary supports (" +
                                                  std::to_string(latest) + "); upgrade flowd");
    }
    if (*version < latest) {
      return store_fail(errc::database, "database schema version " + std::to_string(*version) +
                                            ", this flowd needs " + std::to_string(latest) +
                                            ": run the migrations");
    }
  }
  return std::unique_ptr<EventStore>(new EventStore(std::make_unique<Impl>(std::move(options))));
}

EventStore::EventStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

EventStore::~EventStore() {
  close();
}

void EventStore::close() {
  impl_->close();
}

const StoreOptions& EventStore::options() const {
  return impl_->options;
}

AppenderStats EventStore::appender_stats() const {
  return impl_->appender.stats();
}

// --- writes ------------------------------------------------------------------------------------

void EventStore::append(AppendRequest request, AppendCallback done) {
  append(std::move(request), Json::object(),
         [done = std::move(done)](StoreResult<std::int64_t> result) {
           if (result) {
             done(*result);
           } else {
             done(tl::unexpected(to_error(result.error())));
           }
         });
}

void EventStore::append(AppendRequest request, Json metadata, StoreAppendCallback done) {
  detail::PendingAppend pending;
  pending.request = std::move(request);
  pending.metadata = std::move(metadata);
  pending.on_append = std::move(done);
  impl_->appender.submit(std::move(pending));
}

StoreResult<std::int64_t> EventStore::append_sync(AppendRequest request, Json metadata) {
  std::promise<StoreResult<std::int64_t>> promise;
  auto future = promise.get_future();
  append(std::move(request), std::move(metadata),
         [&promise](StoreResult<std::int64_t> result) { promise.set_value(std::move(result)); });
  return future.get();
}

void EventStore::start_execution(AppendRequest request, Json metadata, StartCallback done) {
  detail::PendingAppend pending;
  pending.request = std::move(request);
  pending.metadata = std::move(metadata);
  pending.start = true;
  pending.on_start = std::move(done);
  impl_->appender.submit(std::move(pending));
}

StoreResult<StartOutcome> EventStore::start_execution_sync(AppendRequest request, Json metadata) {
  std::promise<StoreResult<StartOutcome>> promise;
  auto future = promise.get_future();
  start_execution(
      std::move(request), std::move(metadata),
      [&promise](StoreResult<StartOutcome> result) { promise.set_value(std::move(result)); });
  return future.get();
}

// --- reads -------------------------------------------------------------------------------------

namespace {

std::int64_t clamp_count(std::size_t count) {
  return static_cast<std::int64_t>(
      std::min<std::size_t>(count, static_cast<std::size_t>(std::numeric_limits<int>::max())));
}

}  // namespace

StoreResult<std::vector<RecordedEvent>> EventStore::read_stream(const std::string& execution_id,
                                                                std::int64_t from_version,
                                                                std::size_t max_count) {
  return impl_->pool.run<std::vector<RecordedEvent>>(
      "read_stream", [&](pqxx::connection& conn) -> StoreResult<std::vector<RecordedEvent>> {
        pqxx::nontransaction tx(conn);
        const auto rows = tx.exec_prepared("flowd_read_stream", stream_name(execution_id),
                                           from_version, clamp_count(max_count));
        std::vector<RecordedEvent> events;
        events.reserve(rows.size());
        for (const auto& row : rows) events.push_back(detail::decode_event(row));
        return events;
      });
}

StoreResult<std::int64_t> EventStore::stream_version(const std::string& execution_id) {
  return impl_->pool.run<std::int64_t>(
      "stream_version", [&](pqxx::connection& conn) -> StoreResult<std::int64_t> {
        pqxx::nontransaction tx(conn);
        const auto rows = tx.exec_prepared("flowd_stream_version", execution_id);
        return rows.empty() ? 0 : rows[0][0].as<std::int64_t>();
      });
}

StoreResult<std::vector<RecordedEvent>> EventStore::read_all(Position after, std::size_t max_count,
                                                             ReadDetail what) {
  const bool full = what == ReadDetail::kFull;
  return impl_->pool.run<std::vector<RecordedEvent>>(
      "read_all", [&](pqxx::connection& conn) -> StoreResult<std::vector<RecordedEvent>> {
        pqxx::nontransaction tx(conn);
        const auto rows = tx.exec_prepared(full ? "flowd_read_all" : "flowd_read_all_fold",
                                           std::to_string(after.tx_id), after.global_position,
                                           clamp_count(max_count));
        std::vector<RecordedEvent> events;
        events.reserve(rows.size());
        for (const auto& row : rows) {
          events.push_back(full ? detail::decode_event(row) : detail::decode_fold_event(row));
        }
        return events;
      });
}

StoreResult<std::unique_ptr<Subscription>> EventStore::subscribe(Position after,
                                                                 Subscription::Handler handler,
                                                                 SubscriptionOptions options) {
  if (!handler) return store_fail(errc::invalid_argument, "subscribe: no handler");
  return std::unique_ptr<Subscription>(
      std::make_unique<detail::SubscriptionImpl>(impl_->options.url, impl_->options.notify_channel,
                                                 after, std::move(handler), std::move(options)));
}

// --- replay and snapshots ----------------------------------------------------------------------

namespace {

constexpr std::int64_t kReplayPage = 5'000;

StoreResult<std::optional<ExecutionState>> load_snapshot_on(pqxx::connection& conn,
                                                            const std::string& execution_id,
                                                            std::int64_t at_most) {
  pqxx::nontransaction tx(conn);
  const auto rows = tx.exec_prepared("flowd_load_snapshot", execution_id, at_most);
  if (rows.empty()) return std::optional<ExecutionState>();
  auto state = snapshot_from_json(detail::parse_json(rows[0][1]));
  if (!state) {
    return store_fail(errc::database, "snapshot of " + execution_id + " at version " +
                                          rows[0][0].as<std::string>() +
                                          " is unreadable: " + state.error().message);
  }
  state->id = execution_id;
  return std::optional<ExecutionState>(std::move(*state));
}

}  // namespace

namespace {

// Folds one row (stream_version, type, step, attempt, occurred_at, data from column `first` on)
// into `state`; an error when it is not the next version or cannot be read.
StoreResult<void> fold_row(ExecutionState& state, const std::string& stream, const pqxx::row& row,
                           pqxx::row::size_type first) {
  Event event;
  event.version = row[first].as<std::int64_t>();
  if (event.version != state.version + 1) {
    return store_fail(errc::database, "stream " + stream + " has a gap after version " +
                                          std::to_string(state.version));
  }
  const auto& type_field = row[first + 1];
  const auto type = parse_event_type(std::string_view(type_field.c_str(), type_field.size()));
  if (!type) {
    return store_fail(errc::database, "stream " + stream + " version " +
                                          std::to_string(event.version) + ": unknown event type " +
                                          type_field.c_str());
  }
  event.type = *type;
  if (!row[first + 2].is_null()) event.step.assign(row[first + 2].c_str(), row[first + 2].size());
  if (!row[first + 3].is_null()) event.attempt = row[first + 3].as<int>();
  event.time = detail::time_field(row[first + 4]);
  event.data = detail::parse_json(row[first + 5]);
  state.apply(event);
  state.version = event.version;
  return {};
}

}  // namespace

StoreResult<ExecutionState> EventStore::load_state(const std::string& execution_id,
                                                   std::optional<std::int64_t> at) {
  const std::int64_t upto = at.value_or(std::numeric_limits<std::int64_t>::max());
  return impl_->pool.run<ExecutionState>(
      "load_state", [&](pqxx::connection& conn) -> StoreResult<ExecutionState> {
        ExecutionState state;
        state.id = execution_id;
        auto snapshot = load_snapshot_on(conn, execution_id, upto);
        if (!snapshot) return tl::unexpected(snapshot.error());
        if (*snapshot) state = std::move(**snapshot);
        const std::string stream = stream_name(execution_id);
        for (;;) {
          pqxx::nontransaction tx(conn);
          const auto rows =
              tx.exec_prepared("flowd_replay_page", stream, state.version + 1, upto, kReplayPage);
          for (const auto& row : rows) {
            if (auto folded = fold_row(state, stream, row, 0); !folded) {
              return tl::unexpected(folded.error());
            }
          }
          if (static_cast<std::int64_t>(rows.size()) < kReplayPage) break;
        }
        if (state.version == 0) {
          return store_fail(errc::not_found, "execution " + execution_id + " has no events");
        }
        return state;
      });
}

StoreResult<std::vector<StoreResult<ExecutionState>>> EventStore::load_states(
    const std::vector<std::string>& execution_ids) {
  using States = std::vector<StoreResult<ExecutionState>>;
  return impl_->pool.run<States>("load_states", [&](pqxx::connection& conn) -> StoreResult<States> {
    // Streams still being folded, by stream name (the order of the events query).
    struct Fold {
      std::size_t index;  // in execution_ids
      ExecutionState state;
      std::optional<StoreError> error;
    };
    std::map<std::string, Fold> folds;
    for (std::size_t i = 0; i < execution_ids.size(); ++i) {
      Fold fold{i, ExecutionState{}, std::nullopt};
      fold.state.id = execution_ids[i];
      folds.emplace(stream_name(execution_ids[i]), std::move(fold));
    }
    {
      detail::ArrayLiteral ids;
      for (const auto& id : execution_ids) ids.add(std::string_view(id));
      pqxx::nontransaction tx(conn);
      for (const auto& row : tx.exec_prepared("flowd_load_snapshots", ids.str())) {
        const std::string id = row[0].as<std::string>();
        auto state = snapshot_from_json(detail::parse_json(row[2]));
        Fold& fold = folds.at(stream_name(id));
        if (!state) {
          fold.error = StoreError{make_error_code(errc::database),
                                  "snapshot of " + id + " at version " + row[1].c_str() +
                                      " is unreadable: " + state.error().message};
          continue;
        }
        fold.state = std::move(*state);
        fold.state.id = id;
      }
    }
    // Pages of events of every stream still open, in (stream, version) order: a page that is
    // full ends inside its last stream, which goes on in the next page with those after it.
    auto open = folds.begin();
    while (open != folds.end()) {
      detail::ArrayLiteral streams, after;
      for (auto it = open; it != folds.end(); ++it) {
        streams.add(std::string_view(it->first));
        after.add(it->second.state.version);
      }
      pqxx::nontransaction tx(conn);
      const auto rows =
          tx.exec_prepared("flowd_replay_streams", streams.str(), after.str(), kReplayPage);
      for (const auto& row : rows) {
        const std::string stream = row[0].as<std::string>();
        if (open->first != stream) open = folds.find(stream);
        Fold& fold = open->second;
        if (fold.error) continue;
        if (auto folded = fold_row(fold.state, stream, row, 1); !folded) {
          fold.error = folded.error();
        }
      }
      if (static_cast<std::int64_t>(rows.size()) < kReplayPage) break;
      // Every stream before the last row's one is complete; that one may go on.
      open = folds.find(rows.back()[0].as<std::string>());
    }
    // An index no fold answers is a repeated id (the map kept its first occurrence).
    States out(execution_ids.size(),
               tl::unexpected(StoreError{make_error_code(errc::invalid_argument),
                                         "load_states: an execution id is given twice"}));
    for (auto& [stream, fold] : folds) {
      if (fold.error) {
        out[fold.index] = tl::unexpected(*fold.error);
      } else if (fold.state.version == 0) {
        out[fold.index] =
            store_fail(errc::not_found, "execution " + fold.state.id + " has no events");
      } else {
        out[fold.index] = std::move(fold.state);
      }
    }
    return out;
  });
}

StoreResult<void> EventStore::save_snapshot(const ExecutionState& state) {
  if (state.id.empty() || state.version < 1) {
    return store_fail(errc::invalid_argument, "save_snapshot: state without id or events");
  }
  const std::string text = detail::dump_json(snapshot_to_json(state));
  return impl_->pool.run<void>("save_snapshot", [&](pqxx::connection& conn) -> StoreResult<void> {
    pqxx::work tx(conn);
    tx.exec_prepared("flowd_save_snapshot", state.id, state.version, text);
    tx.commit();
    return {};
  });
}

StoreResult<std::optional<ExecutionState>> EventStore::load_snapshot(
    const std::string& execution_id, std::optional<std::int64_t> at_most) {
  return impl_->pool.run<std::optional<ExecutionState>>(
      "load_snapshot", [&](pqxx::connection& conn) {
        return load_snapshot_on(conn, execution_id,
                                at_most.value_or(std::numeric_limits<std::int64_t>::max()));
      });
}

StoreResult<int> EventStore::schema_version() {
  return impl_->pool.run<int>("schema_version", [&](pqxx::connection& conn) -> StoreResult<int> {
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec("SELECT COALESCE(max(version), 0) FROM flowd_schema_version");
    return rows[0][0].as<int>();
  });
}

}  // namespace flowd::eventstore
