#include "outbox_relay.h"

#include <pqxx/pqxx>

namespace flowd::service {

namespace {

// Advisory lock key: (class, hashtext(name)). The class keeps flowd's relay locks apart from the
// event store's migration lock and from anyone else's.
constexpr int kLockClass = 0x666c7264;  // "flrd"

std::string what_of(const std::exception& e) {
  std::string text = e.what();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

// The relay's own PostgreSQL session: it holds the advisory lock while it lives, and writes the
// checkpoint (so a relay that lost its session, and with it the lock, cannot move it).
class OutboxRelay::Session {
 public:
  explicit Session(const std::string& url, std::string name) : name_(std::move(name)) {
    conn_ = std::make_unique<pqxx::connection>(url);
    pqxx::nontransaction(*conn_).exec("SET application_name = 'flowd-outbox-relay'");
  }

  bool try_lock() {
    pqxx::nontransaction tx(*conn_);
    return tx
        .exec_params("SELECT pg_try_advisory_lock($1::int, hashtext($2))", kLockClass, name_)[0][0]
        .as<bool>();
  }

  eventstore::Position load_checkpoint() {
    pqxx::work tx(*conn_);
    tx.exec_params("INSERT INTO relay_checkpoints (name) VALUES ($1) ON CONFLICT DO NOTHING",
                   name_);
    auto row = tx.exec_params(
        "SELECT tx_id::text, global_position FROM relay_checkpoints WHERE name = $1", name_)[0];
    tx.commit();
    return eventstore::Position{row[0].as<std::uint64_t>(), row[1].as<std::int64_t>()};
  }

  void save_checkpoint(eventstore::Position position, std::size_t delivered) {
    pqxx::work tx(*conn_);
    tx.exec_params(
        "UPDATE relay_checkpoints SET tx_id = $2::text::xid8, global_position = $3,"
        " published = published + $4, updated_at = now() WHERE name = $1",
        name_, std::to_string(position.tx_id), position.global_position,
        static_cast<std::int64_t>(delivered));
    tx.commit();
  }

  void ping() { pqxx::nontransaction(*conn_).exec("SELECT 1"); }

 private:
  std::string name_;
  std::unique_ptr<pqxx::connection> conn_;
};

Json event_message(const eventstore::RecordedEvent& event) {
  Json out = to_json(event.event);
  out["executionId"] = event.execution_id;
  out["eventId"] = event.event_id;
  out["position"] = {{"txId", std::to_string(event.position.tx_id)},
                     {"globalPosition", event.position.global_position}};
  out["metadata"] = event.metadata;
  out["recordedAt"] = format_time(event.recorded_at);
  return out;
}

namespace {

triggers::OutboxMessage to_message(const eventstore::RecordedEvent& event) {
  triggers::OutboxMessage m;
  m.id = event.position.global_position;
  m.execution_id = event.execution_id;
  m.event_type = std::string(to_string(event.event.type));
  m.value = event_message(event).dump(-1, ' ', false, Json::error_handler_t::replace);
  m.headers.push_back({"flowd-event-id", event.event_id});
  m.headers.push_back({"flowd-event-version", std::to_string(event.event.version)});
  m.headers.push_back({"flowd-event-position", std::to_string(event.position.global_position)});
  m.headers.push_back({"flowd-event-tx", std::to_string(event.position.tx_id)});
  if (event.metadata.is_object()) {
    for (const char* name : {"traceparent", "tracestate"}) {
      if (auto it = event.metadata.find(name); it != event.metadata.end() && it->is_string()) {
        m.headers.push_back({name, it->get<std::string>()});
      }
    }
  }
  return m;
}

}  // namespace

OutboxRelay::OutboxRelay(eventstore::EventStore& store,
                         std::shared_ptr<triggers::OutboxPublisher> publisher,
                         OutboxRelayOptions options)
    : store_(store), publisher_(std::move(publisher)), options_(std::move(options)) {
  if (options_.batch_size == 0) options_.batch_size = 1;
}

OutboxRelay::~OutboxRelay() {
  stop();
}

void OutboxRelay::start() {
  std::lock_guard lock(mutex_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { run(); });
}

void OutboxRelay::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

OutboxRelayStats OutboxRelay::stats() const {
  OutboxRelayStats s;
  s.published = published_.load();
  s.batches = batches_.load();
  s.failures = failures_.load();
  s.active = active_.load();
  std::lock_guard lock(mutex_);
  s.checkpoint = checkpoint_;
  return s;
}

bool OutboxRelay::sleep(std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, wait, [this] { return stopping_; });
}

void OutboxRelay::run() {
  bool announced_standby = false;
  while (!sleep(std::chrono::milliseconds(0))) {
    std::unique_ptr<Session> session;
    try {
      session = std::make_unique<Session>(options_.url, options_.name);
      if (!session->try_lock()) {
        if (!announced_standby) log("info", "outbox relay on standby: another instance relays");
        announced_standby = true;
        session.reset();
        if (sleep(options_.lock_retry)) return;
        continue;
      }
      announced_standby = false;
      active_ = true;
      relay(*session);  // returns on stop; throws when the session broke
      active_ = false;
      return;  // the session's end releases the lock
    } catch (const std::exception& e) {
      active_ = false;
      failures_.fetch_add(1);
      log("warn", "outbox relay: database session lost, retrying: " + what_of(e));
      session.reset();
      if (sleep(options_.lock_retry)) return;
    }
  }
}

void OutboxRelay::relay(Session& session) {
  eventstore::Position position = session.load_checkpoint();
  {
    std::lock_guard lock(mutex_);
    checkpoint_ = position;
  }
  log("info", "outbox relay active", {{"globalPosition", position.global_position}});
  std::chrono::milliseconds backoff = options_.retry_backoff;
  auto last_ping = std::chrono::steady_clock::now();
  for (;;) {
    if (sleep(std::chrono::milliseconds(0))) return;
    auto events = store_.read_all(position, options_.batch_size);
    if (!events) {
      log("warn", "outbox relay: reading the log failed: " + events.error().message);
      if (sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_retry_backoff);
      continue;
    }
    if (events->empty()) {
      // Idle: make sure the lock's session still lives, so a dead one is noticed.
      if (std::chrono::steady_clock::now() - last_ping > options_.lock_retry) {
        session.ping();
        last_ping = std::chrono::steady_clock::now();
      }
      if (sleep(options_.poll_interval)) return;
      continue;
    }
    std::vector<triggers::OutboxMessage> batch;
    batch.reserve(events->size());
    for (const auto& event : *events) batch.push_back(to_message(event));
    auto reports = publisher_->publish_and_wait(std::move(batch), options_.delivery_timeout);
    batches_.fetch_add(1);
    // Delivered prefix: the checkpoint may move only over events whose report succeeded and
    // every event before them.
    std::size_t delivered = 0;
    while (delivered < reports.size() && reports[delivered].delivery) ++delivered;
    if (delivered > 0) {
      const eventstore::Position last = (*events)[delivered - 1].position;
      session.save_checkpoint(last, delivered);
      published_.fetch_add(delivered);
      position = last;
      std::lock_guard lock(mutex_);
      checkpoint_ = position;
    }
    if (delivered < reports.size()) {
      failures_.fetch_add(1);
      log("warn",
          "outbox relay: delivery to " + publisher_->topic() +
              " failed, publishing again from the checkpoint: " +
              reports[delivered].delivery.error().message,
          {{"globalPosition", (*events)[delivered].position.global_position}});
      if (sleep(backoff)) return;
      backoff = std::min(backoff * 2, options_.max_retry_backoff);
      continue;
    }
    backoff = options_.retry_backoff;
  }
}

void OutboxRelay::log(std::string_view level, const std::string& message, const Json& fields) {
  if (options_.log) options_.log(level, message, fields);
}

}  // namespace flowd::service
