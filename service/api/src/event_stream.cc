// GET /api/v1/executions/{id}/events/stream: the stored events after `after` / Last-Event-ID,
// then the live ones from the store's subscription, until the terminal event (then an `end`
// frame) or until the client or the server goes away.
//
// Threads: the stream is opened on a worker (blocking reads); live events arrive on the
// subscription's own thread; a timer on the connection's strand schedules a safety re-read on a
// worker every ApiOptions::sse_poll. Every send happens under LiveStream::mutex, which keeps
// frames in version order and each version sent once.
#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "api_state.h"
#include "flowd/api/convert.h"
#include "flowd/eventstore/event_store.h"

namespace flowd::api::detail {

using eventstore::RecordedEvent;

struct LiveStream {
  std::string execution_id;
  std::shared_ptr<http::SseStream> sse;

  std::mutex mutex;
  std::int64_t last = 0;  // GUARDED_BY(mutex): version of the last event sent
  bool ended = false;     // GUARDED_BY(mutex)
  std::unique_ptr<eventstore::Subscription> subscription;  // GUARDED_BY(mutex)
  std::shared_ptr<boost::asio::steady_timer> timer;        // made and used on the sse strand
};

namespace {

std::string_view final_status(EventType type) {
  switch (type) {
    case EventType::kExecutionCompleted:
      return "completed";
    case EventType::kExecutionFailed:
      return "failed";
    case EventType::kExecutionCancelled:
      return "cancelled";
    case EventType::kExecutionTimedOut:
      return "timed_out";
    default:
      return "unknown";
  }
}

// Sends `e` when it is the next version; true when the stream goes on. Holds live.mutex.
bool send_locked(LiveStream& live, const RecordedEvent& e) {
  if (live.ended || e.event.version != live.last + 1) return !live.ended;
  std::string id = std::to_string(e.event.version);
  if (!live.sse->send_json(to_string(e.event.type), event_json(e), id)) {
    live.ended = true;
    return false;
  }
  live.last = e.event.version;
  if (is_terminal(e.event.type)) {
    live.sse->send_json("end", Json{{"status", final_status(e.event.type)}});
    live.sse->close();
    live.ended = true;
    return false;
  }
  return true;
}

// Reads and sends every stored event after live.last; false when the stream ended. Holds
// live.mutex. `last_seen` gets the newest event read (for the subscription's start).
bool catch_up_locked(eventstore::EventStore& store, LiveStream& live,
                     std::optional<eventstore::Position>* last_seen = nullptr) {
  while (!live.ended) {
    auto batch = store.read_stream(live.execution_id, live.last + 1, 500);
    if (!batch) return !live.ended;  // transient: the subscription or the poll tries again
    for (const auto& e : *batch) {
      if (last_seen) *last_seen = e.position;
      if (!send_locked(live, e)) return false;
    }
    if (batch->size() < 500) break;
  }
  return !live.ended;
}

void arm_poll(const std::shared_ptr<ApiState>& state, const std::shared_ptr<LiveStream>& live) {
  auto timer = live->timer;
  timer->expires_after(state->options.sse_poll);
  std::weak_ptr<ApiState> weak_state = state;
  std::weak_ptr<LiveStream> weak_live = live;
  timer->async_wait([timer, weak_state, weak_live](boost::system::error_code ec) {
    if (ec) return;  // cancelled: the stream ended
    auto s = weak_state.lock();
    auto l = weak_live.lock();
    if (!s || !l) return;
    s->pool.post([s, l] {
      std::lock_guard lock(l->mutex);
      catch_up_locked(s->operations.store(), *l);
    });
    arm_poll(s, l);
  });
}

}  // namespace

void stop_live_stream(const std::shared_ptr<ApiState>& state,
                      const std::shared_ptr<LiveStream>& live) {
  std::unique_ptr<eventstore::Subscription> subscription;
  {
    std::lock_guard lock(live->mutex);
    live->ended = true;
    subscription = std::move(live->subscription);
  }
  // Outside the mutex: stop() waits for a handler that may be waiting for it.
  if (subscription) subscription->stop();
  subscription.reset();
  std::lock_guard lock(state->mutex);
  if (state->live.erase(live) && state->live_gauge) state->live_gauge->dec();
}

void stop_all_live_streams(const std::shared_ptr<ApiState>& state) {
  std::set<std::shared_ptr<LiveStream>> live;
  {
    std::lock_guard lock(state->mutex);
    live = state->live;
  }
  for (const auto& l : live) {
    l->sse->close();
    stop_live_stream(state, l);
  }
}

void open_event_stream(const std::shared_ptr<ApiState>& state, const http::Request& req,
                       http::Responder res) {
  const std::string id(req.param("id"));
  auto& store = state->operations.store();

  std::int64_t after = 0;
  if (std::string last_id(req.header("Last-Event-ID")); !last_id.empty()) {
    try {
      std::size_t used = 0;
      after = std::stoll(last_id, &used);
      if (used != last_id.size() || after < 0) throw std::invalid_argument(last_id);
    } catch (const std::exception&) {
      state->count("streamExecutionEvents", http::codes::kInvalidInput);
      return res.fail(
          ApiError::invalid_input("Last-Event-ID '" + last_id + "' is not an event version"));
    }
  } else {
    auto q = req.query_int("after", 0, INT64_MAX);
    if (!q) {
      state->count("streamExecutionEvents", q.error().code);
      return res.fail(q.error());
    }
    after = q->value_or(0);
  }
  auto record = store.get_execution(id);
  if (!record || !*record) {
    ApiError error = record ? execution_not_found(id) : from_store(record.error());
    state->count("streamExecutionEvents", error.code);
    return res.fail(std::move(error));
  }
  if (after > (*record)->version) {
    state->count("streamExecutionEvents", http::codes::kInvalidInput);
    return res.fail(ApiError::invalid_input("after " + std::to_string(after) +
                                            " is beyond the execution's " +
                                            std::to_string((*record)->version) + " events"));
  }
  state->count("streamExecutionEvents", "OK");

  auto live = std::make_shared<LiveStream>();
  live->execution_id = id;
  live->last = after;
  live->sse = res.start_sse();
  {
    std::lock_guard lock(state->mutex);
    if (state->shut_down) {
      live->sse->close();
      return;
    }
    state->live.insert(live);
    if (state->live_gauge) state->live_gauge->inc();
  }
  std::weak_ptr<ApiState> weak_state = state;
  live->sse->on_close([weak_state, live] {
    if (live->timer) live->timer->cancel();
    auto s = weak_state.lock();
    if (!s) return;
    // Joining the subscription's thread blocks: do it on a worker, never on the strand.
    if (!s->pool.post([s, live] { stop_live_stream(s, live); }, true)) stop_live_stream(s, live);
  });

  std::unique_lock lock(live->mutex);
  std::optional<eventstore::Position> last_seen;
  if (!catch_up_locked(store, *live, &last_seen)) return;
  if ((*record)->terminal() && live->last >= (*record)->version) {
    // Nothing more will come (also when retention removed the events).
    live->sse->send_json("end", Json{{"status", to_string((*record)->status)}});
    live->sse->close();
    live->ended = true;
    return;
  }
  if (!last_seen && live->last > 0) {
    auto at = store.read_stream(id, live->last, 1);
    if (at && !at->empty()) last_seen = at->front().position;
  }
  // Subscribe from just before the newest event seen: later events of this execution come after
  // it in the global order (the version check drops repeats; a gap is filled from the stream).
  eventstore::Position start;
  if (last_seen) start = eventstore::Position{last_seen->tx_id, last_seen->global_position - 1};
  std::weak_ptr<LiveStream> weak_live = live;
  auto* store_ptr = &store;
  auto subscription = store.subscribe(start, [weak_live, store_ptr](const RecordedEvent& e) {
    auto l = weak_live.lock();
    if (!l || e.execution_id != l->execution_id) return;
    std::lock_guard guard(l->mutex);
    if (l->ended || e.event.version <= l->last) return;
    if (e.event.version == l->last + 1) {
      send_locked(*l, e);
    } else {
      catch_up_locked(*store_ptr, *l);
    }
  });
  if (!subscription) {
    live->sse->comment("live updates unavailable: " + subscription.error().message);
    live->sse->close();
    live->ended = true;
    return;
  }
  live->subscription = std::move(*subscription);
  // Events committed between the first read and the subscription's start.
  if (!catch_up_locked(store, *live)) return;
  lock.unlock();
  boost::asio::post(live->sse->executor(), [state, live] {
    if (!live->sse->open()) return;
    live->timer = std::make_shared<boost::asio::steady_timer>(live->sse->executor());
    arm_poll(state, live);
  });
}

}  // namespace flowd::api::detail
