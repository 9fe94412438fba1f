#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "pg.h"
#include "records.h"
#include "subscription_impl.h"

namespace flowd::eventstore::detail {
namespace {

// LISTEN on the channel; a notification only wakes the reader, the log itself is the truth.
class Wakeup final : public pqxx::notification_receiver {
 public:
  Wakeup(pqxx::connection_base& conn, const std::string& channel)
      : pqxx::notification_receiver(conn, channel) {}
  void operator()(const std::string&, int) override {}
};

constexpr const char* kReadAll = "SELECT " FLOWD_EVENT_COLUMNS
                                 " FROM events "
                                 "WHERE (tx_id, global_position) > ($1::xid8, $2::bigint) "
                                 "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) "
                                 "ORDER BY tx_id, global_position LIMIT $3";

}  // namespace

SubscriptionImpl::SubscriptionImpl(std::string url, std::string channel, Position after,
                                   Handler handler, SubscriptionOptions options)
    : url_(std::move(url)),
      channel_(std::move(channel)),
      handler_(std::move(handler)),
      options_(std::move(options)),
      wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      position_(after) {
  thread_ = std::thread([this] { run(); });
}

SubscriptionImpl::~SubscriptionImpl() {
  stop();  // destroying it from its own handler is a programmer error (std::terminate)
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void SubscriptionImpl::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

Position SubscriptionImpl::position() const {
  std::lock_guard lock(mutex_);
  return position_;
}

void SubscriptionImpl::wait(int socket, std::chrono::milliseconds timeout) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  ::poll(fds, socket >= 0 ? 2 : 1, static_cast<int>(timeout.count()));
}

void SubscriptionImpl::run() {
  std::unique_ptr<pqxx::connection> conn;
  std::unique_ptr<Wakeup> wakeup;
  const auto batch = static_cast<std::int64_t>(std::max<std::size_t>(options_.batch_size, 1));
  auto backoff = std::chrono::milliseconds(100);
  // A notification means something committed after our position. When it is not visible yet (a
  // transaction older than it, anywhere in the cluster, holds the read horizon back), look again
  // soon, backing off, rather than waiting a whole poll interval.
  constexpr auto kFirstRecheck = std::chrono::milliseconds(5);
  constexpr auto kMaxRecheck = std::chrono::milliseconds(1'000);
  bool pending = true;  // the log may hold events we have not seen
  auto recheck = kFirstRecheck;
  Position position = this->position();
  while (!stopping_) {
    try {
      if (!conn) {
        conn = connect(url_, "flowd-subscription");
        conn->prepare("flowd_subscription_read", kReadAll);
        wakeup = std::make_unique<Wakeup>(*conn, channel_);
      }
      // Drain what is visible, then sleep until notified or the poll interval passes.
      std::size_t delivered = 0;
      for (;;) {
        pqxx::result rows;
        {
          pqxx::nontransaction tx(*conn);
          rows = tx.exec_prepared("flowd_subscription_read", std::to_string(position.tx_id),
                                  position.global_position, batch);
        }
        for (const auto& row : rows) {
          if (stopping_) break;
          RecordedEvent event = decode_event(row);
          const Position next = event.position;
          handler_(event);
          ++delivered;
          position = next;
          std::lock_guard lock(mutex_);
          position_ = position;
        }
        if (stopping_ || static_cast<std::int64_t>(rows.size()) < batch) break;
      }
      if (stopping_) break;
      if (delivered > 0) {
        pending = false;
        recheck = kFirstRecheck;
      }
      if (conn->get_notifs() > 0) {
        pending = true;
      } else {
        auto timeout = options_.poll_interval;
        if (pending) {
          timeout = std::min(timeout, recheck);
          recheck = std::min(recheck * 2, kMaxRecheck);
        }
        wait(conn->sock(), timeout);
        if (conn->get_notifs() > 0) pending = true;
      }
      backoff = std::chrono::milliseconds(100);
    } catch (const std::exception& e) {
      if (options_.on_error) options_.on_error(translate(e, "subscription"));
      if (breaks_connection(e) || !conn || !conn->is_open()) {
        wakeup.reset();
        conn.reset();
      }
      wait(-1, backoff);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5'000));
    }
  }
  wakeup.reset();
  conn.reset();
}

}  // namespace flowd::eventstore::detail
