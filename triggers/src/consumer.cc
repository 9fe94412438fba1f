// TriggerConsumer (consumer.h): one librdkafka consumer, one poll thread, offsets stored in
// partition order after the sink's completion.
#include "flowd/triggers/consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <utility>

#include "rdkafka_util.h"

namespace flowd::triggers {

namespace {

using Clock = std::chrono::steady_clock;

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  bool operator<(const TopicPartition& o) const {
    return std::tie(topic, partition) < std::tie(o.topic, o.partition);
  }
};

std::string describe(const TopicPartition& tp) {
  return tp.topic + "[" + std::to_string(tp.partition) + "]";
}

// One polled record that is not yet complete.
struct Slot {
  std::shared_ptr<const Record> record;
  std::uint64_t token = 0;  // the current submission; a retried record gets a new one
  int attempts = 0;
  bool submitted = false;  // counts in in_flight
  bool done = false;
};

struct PartitionState {
  std::uint64_t epoch = 0;             // which assignment; completions of an older one are ignored
  std::map<std::int64_t, Slot> slots;  // by offset
  std::int64_t stored_next = -1;       // last offset stored (+1)
};

struct RetryDue {
  TopicPartition tp;
  std::uint64_t epoch = 0;
  std::int64_t offset = 0;
  std::uint64_t token = 0;
  Clock::time_point due;
};

}  // namespace

// State shared between the consumer, its poll thread and the Completions it handed out (which
// may outlive it). Everything below is GUARDED_BY(mutex).
struct ConsumerCore {
  std::mutex mutex;
  std::condition_variable changed;   // a submitted record completed
  rd_kafka_t* rk = nullptr;          // null once the consumer is closed: completions store nothing
  rd_kafka_queue_t* wake = nullptr;  // the consumer queue: yielding it wakes the poll thread
  std::map<TopicPartition, PartitionState> partitions;
  std::vector<RetryDue> retries;
  std::uint64_t next_epoch = 1;
  std::uint64_t next_token = 1;
  std::size_t in_flight = 0;
  bool paused = false;
  std::size_t max_in_flight = 1;
  Millis retry_backoff{200};
  Millis max_retry_backoff{10'000};
  ConsumerStats stats;

  void wake_poller() {
    if (wake != nullptr) rd_kafka_queue_yield(wake);
  }

  // Drops the complete records at the head of the partition and stores the offset after them.
  void advance(const TopicPartition& tp, PartitionState& p) {
    std::int64_t last = -1;
    while (!p.slots.empty() && p.slots.begin()->second.done) {
      last = p.slots.begin()->first;
      p.slots.erase(p.slots.begin());
    }
    if (last < 0 || rk == nullptr) return;
    rdk::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
        last + 1;
    const rd_kafka_resp_err_t err = rd_kafka_offsets_store(rk, list.get());
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && list->elems[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      p.stored_next = last + 1;
      ++stats.offsets_stored;
    } else {
      const rd_kafka_resp_err_t e = err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : list->elems[0].err;
      spdlog::warn("kafka consumer: storing offset {} of {} failed: {}", last + 1, describe(tp),
                   rd_kafka_err2str(e));
    }
  }

  Millis backoff(int attempts) const {
    Millis d = retry_backoff;
    for (int i = 1; i < attempts && d < max_retry_backoff; ++i) d *= 2;
    return std::min(d, max_retry_backoff);
  }

  // `filtered`: the record went to no sink (no filter matched); stored like a started one.
  void complete(const TopicPartition& tp, std::uint64_t epoch, std::int64_t offset,
                std::uint64_t token, Outcome outcome, bool filtered = false) {
    std::lock_guard lock(mutex);
    auto pit = partitions.find(tp);
    if (pit == partitions.end() || pit->second.epoch != epoch) return;  // handed back
    PartitionState& p = pit->second;
    auto sit = p.slots.find(offset);
    if (sit == p.slots.end()) return;
    Slot& slot = sit->second;
    if (slot.token != token || !slot.submitted || slot.done) return;
    slot.submitted = false;
    --in_flight;
    switch (outcome) {
      case Outcome::kStarted:
        ++(filtered ? stats.filtered : stats.started);
        slot.done = true;
        break;
      case Outcome::kDeadLettered:
        ++stats.dead_lettered;
        slot.done = true;
        break;
      case Outcome::kRetryLater:
        ++stats.retried;
        retries.push_back(
            RetryDue{tp, epoch, offset, token, Clock::now() + backoff(slot.attempts)});
        break;
    }
    if (slot.done) advance(tp, p);
    changed.notify_all();
    // The poll thread resumes paused partitions and resubmits retries.
    if ((paused && in_flight <= max_in_flight / 2) || outcome == Outcome::kRetryLater) {
      wake_poller();
    }
  }
};

struct Completion::State {
  std::shared_ptr<ConsumerCore> core;
  TopicPartition tp;
  std::uint64_t epoch = 0;
  std::int64_t offset = 0;
  std::uint64_t token = 0;
  std::atomic<bool> called{false};

  ~State() {
    if (!called.exchange(true)) core->complete(tp, epoch, offset, token, Outcome::kRetryLater);
  }
};

void Completion::operator()(Outcome outcome) const {
  if (!state_ || state_->called.exchange(true)) return;
  state_->core->complete(state_->tp, state_->epoch, state_->offset, state_->token, outcome);
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::kStarted:
      return "started";
    case Outcome::kDeadLettered:
      return "dead-lettered";
    case Outcome::kRetryLater:
      return "retry-later";
  }
  return "retry-later";
}

namespace {

class TriggerConsumerImpl final : public TriggerConsumer {
 public:
  TriggerConsumerImpl(ConsumerConfig config, std::shared_ptr<const TriggerRouter> router,
                      TriggerSink& sink)
      : config_(std::move(config)),
        router_(std::move(router)),
        sink_(sink),
        core_(std::make_shared<ConsumerCore>()) {
    core_->max_in_flight = std::max<std::size_t>(config_.max_in_flight, 1);
    core_->retry_backoff = config_.retry_backoff;
    core_->max_retry_backoff = std::max(config_.max_retry_backoff, config_.retry_backoff);
  }

  ~TriggerConsumerImpl() override {
    stop(Millis{0});
    destroy_handle();
  }

  Result<void> init() {
    auto conf =
        rdk::make_conf(config_.kafka,
                       {{"client.id", config_.client_id},
                        {"partition.assignment.strategy", "cooperative-sticky"},
                        {"enable.auto.commit", "true"},
                        {"auto.commit.interval.ms", "1000"},
                        {"auto.offset.reset", "earliest"},
                        {"queued.max.messages.kbytes", "16384"},
                        {"enable.partition.eof", "false"}},
                       {{"group.id", config_.group_id}, {"enable.auto.offset.store", "false"}});
    if (!conf) return tl::unexpected(conf.error());
    rd_kafka_conf_set_opaque(conf->get(), this);
    rd_kafka_conf_set_rebalance_cb(conf->get(), &TriggerConsumerImpl::rebalance_cb);
    rd_kafka_conf_set_error_cb(conf->get(), &TriggerConsumerImpl::error_cb);
    char errstr[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof errstr);
    if (rk == nullptr)
      return fail(ErrorCode::kInvalidInput, std::string("kafka consumer: ") + errstr);
    (void)conf->release();  // owned by rk now
    rd_kafka_poll_set_consumer(rk);
    rk_ = rk;
    std::lock_guard lock(core_->mutex);
    core_->rk = rk;
    core_->wake = rd_kafka_queue_get_consumer(rk);
    return {};
  }

  Result<void> start() override {
    std::lock_guard lock(control_mutex_);
    if (thread_.joinable() || stopped_) {
      return fail(ErrorCode::kInternal, "kafka consumer: start() called twice or after stop()");
    }
    if (auto r = subscribe(current_topics()); !r) return r;
    thread_ = std::thread([this] { run(); });
    return {};
  }

  void set_router(std::shared_ptr<const TriggerRouter> router) override {
    {
      std::lock_guard lock(router_mutex_);
      router_ = std::move(router);
      resubscribe_ = true;
    }
    std::lock_guard lock(core_->mutex);
    core_->wake_poller();
  }

  void stop(Millis drain) override {
    std::lock_guard lock(control_mutex_);
    if (stopped_) return;
    stopped_ = true;
    drain_deadline_ = Clock::now() + drain;
    stop_requested_.store(true);
    {
      std::lock_guard core_lock(core_->mutex);
      core_->wake_poller();
    }
    if (thread_.joinable()) {
      thread_.join();
    } else {
      close_handle();
    }
  }

  ConsumerStats stats() const override {
    std::lock_guard lock(core_->mutex);
    ConsumerStats s = core_->stats;
    s.in_flight = core_->in_flight;
    s.paused = core_->paused;
    s.assigned_partitions = core_->partitions.size();
    return s;
  }

  std::vector<std::string> subscription() const override {
    std::lock_guard lock(router_mutex_);
    return subscribed_;
  }

 private:
  std::vector<std::string> current_topics() const {
    std::set<std::string> topics(config_.topics.begin(), config_.topics.end());
    std::lock_guard lock(router_mutex_);
    if (router_) {
      for (auto& t : router_->topics()) topics.insert(std::move(t));
    }
    return {topics.begin(), topics.end()};
  }

  Result<void> subscribe(const std::vector<std::string>& topics) {
    rdk::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
    for (const auto& t : topics) {
      rd_kafka_topic_partition_list_add(list.get(), t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (topics.empty()) {
      rd_kafka_unsubscribe(rk_);
    } else if (rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, list.get())) {
      return tl::unexpected(rdk::to_error(err, "kafka consumer: subscribe"));
    }
    std::lock_guard lock(router_mutex_);
    subscribed_ = topics;
    spdlog::info("kafka consumer {}: subscribed to {} topic(s)", config_.group_id, topics.size());
    return {};
  }

  std::shared_ptr<const TriggerRouter> router() const {
    std::lock_guard lock(router_mutex_);
    return router_;
  }

  Decoded route(const Record& record) const {
    auto r = router();
    if (r) return r->route(record);
    Decoded d;
    d.poison.push_back(PoisonReason{PoisonCode::kNoBinding, "no workflows are loaded", {}});
    return d;
  }

  // ---- the poll thread -----------------------------------------------------------------------

  void run() {
    auto last_lag = Clock::now();
    while (!stop_requested_.load()) {
      bool resub = false;
      {
        std::lock_guard lock(router_mutex_);
        resub = std::exchange(resubscribe_, false);
      }
      if (resub) {
        auto topics = current_topics();
        if (topics != subscription()) {
          if (auto r = subscribe(topics); !r) spdlog::error("{}", r.error().message);
        }
      }
      submit_due_retries();
      update_pause();
      if (Clock::now() - last_lag >= std::chrono::seconds(1)) {
        update_lag();
        last_lag = Clock::now();
      }
      if (hold_while_full()) continue;
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, poll_timeout_ms());
      if (m != nullptr) {
        handle(m);
        rd_kafka_message_destroy(m);
      }
    }
    drain_and_close();
  }

  int poll_timeout_ms() {
    std::lock_guard lock(core_->mutex);
    auto timeout = Millis{200};
    const auto now = Clock::now();
    for (const RetryDue& r : core_->retries) {
      auto left = std::chrono::duration_cast<Millis>(r.due - now) + Millis{1};
      timeout = std::clamp(left, Millis{0}, timeout);
    }
    return static_cast<int>(timeout.count());
  }

  void handle(rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) return;
      std::lock_guard lock(core_->mutex);
      ++core_->stats.errors;
      spdlog::warn("kafka consumer {}: {}", config_.group_id, rd_kafka_message_errstr(m));
      return;
    }
    auto record = std::make_shared<const Record>(rdk::to_record(m));
    const TopicPartition tp{record->topic, record->partition};
    std::uint64_t epoch = 0;
    std::uint64_t token = 0;
    {
      std::lock_guard lock(core_->mutex);
      ++core_->stats.received;
      auto pit = core_->partitions.find(tp);
      if (pit == core_->partitions.end()) {
        // A record of a partition not assigned by the rebalance callback: leave it uncommitted.
        spdlog::warn("kafka consumer: record of unassigned partition {}", describe(tp));
        return;
      }
      PartitionState& p = pit->second;
      if (p.slots.count(record->offset) != 0 ||
          (p.stored_next >= 0 && record->offset < p.stored_next)) {
        return;  // seen already (a fetch replayed it)
      }
      epoch = p.epoch;
      token = core_->next_token++;
      Slot& slot = p.slots[record->offset];
      slot.record = record;
      slot.token = token;
      slot.attempts = 1;
      slot.submitted = true;
      ++core_->in_flight;
    }
    dispatch(tp, epoch, token, std::move(record));
    update_pause();
  }

  // Routes the record and gives it to the sink, or completes it at once when filtered out.
  void dispatch(const TopicPartition& tp, std::uint64_t epoch, std::uint64_t token,
                std::shared_ptr<const Record> record) {
    Decoded decoded = route(*record);
    const std::int64_t offset = record->offset;
    if (decoded.filtered_out()) {
      core_->complete(tp, epoch, offset, token, Outcome::kStarted, /*filtered=*/true);
      return;
    }
    auto state = std::make_shared<Completion::State>();
    state->core = core_;
    state->tp = tp;
    state->epoch = epoch;
    state->offset = offset;
    state->token = token;
    {
      std::lock_guard lock(core_->mutex);
      ++core_->stats.submitted;
    }
    sink_.submit(std::move(record), std::move(decoded), Completion(std::move(state)));
  }

  void submit_due_retries() {
    struct Due {
      TopicPartition tp;
      std::uint64_t epoch;
      std::uint64_t token;
      std::shared_ptr<const Record> record;
    };
    std::vector<Due> due;
    {
      std::lock_guard lock(core_->mutex);
      const auto now = Clock::now();
      auto& retries = core_->retries;
      for (auto it = retries.begin(); it != retries.end();) {
        if (it->due > now) {
          ++it;
          continue;
        }
        auto pit = core_->partitions.find(it->tp);
        if (pit != core_->partitions.end() && pit->second.epoch == it->epoch) {
          auto sit = pit->second.slots.find(it->offset);
          if (sit != pit->second.slots.end() && sit->second.token == it->token &&
              !sit->second.submitted && !sit->second.done) {
            Slot& slot = sit->second;
            slot.token = core_->next_token++;
            slot.submitted = true;
            ++slot.attempts;
            ++core_->in_flight;
            due.push_back(Due{it->tp, it->epoch, slot.token, slot.record});
          }
        }
        it = retries.erase(it);
      }
    }
    for (auto& d : due) dispatch(d.tp, d.epoch, d.token, std::move(d.record));
  }

  // At the in-flight limit and not paused (yet): waits a little for completions instead of
  // polling. Pausing at once threw away librdkafka's prefetched records at every limit hit and
  // refetched them on resume (about 0.4 s a cycle on the embedded broker, which held e2e_bench
  // at ~2,300 executions/s with 2,000 records in flight). Returns false when the loop should poll.
  bool hold_while_full() {
    std::unique_lock lock(core_->mutex);
    if (core_->paused || !full_since_) return false;
    const auto until = *full_since_ + config_.pause_after;
    const auto now = Clock::now();
    if (now >= until) return false;
    core_->changed.wait_until(lock, std::min(until, now + Millis{50}), [&] {
      return core_->in_flight < core_->max_in_flight || stop_requested_.load();
    });
    return true;
  }

  // Pauses when the limit has been reached for pause_after (see hold_while_full), resumes at half.
  void update_pause() {
    std::lock_guard lock(core_->mutex);
    const auto now = Clock::now();
    if (core_->in_flight < core_->max_in_flight) {
      full_since_.reset();
    } else if (!full_since_) {
      full_since_ = now;
    }
    const bool pause = !core_->paused && full_since_ && now - *full_since_ >= config_.pause_after;
    const bool resume =
        core_->paused && core_->in_flight <= core_->max_in_flight / 2 && !stop_requested_.load();
    if (!pause && !resume) return;
    rd_kafka_topic_partition_list_t* assignment = nullptr;
    if (rd_kafka_assignment(rk_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
    rdk::PartitionList list(assignment);
    if (pause) {
      rd_kafka_pause_partitions(rk_, list.get());
      core_->paused = true;
      ++core_->stats.pauses;
      spdlog::info("kafka consumer {}: {} records in flight, pausing {} partition(s)",
                   config_.group_id, core_->in_flight, list->cnt);
    } else {
      rd_kafka_resume_partitions(rk_, list.get());
      core_->paused = false;
      spdlog::info("kafka consumer {}: {} records in flight, resuming", config_.group_id,
                   core_->in_flight);
    }
  }

  void update_lag() {
    std::lock_guard lock(core_->mutex);
    std::int64_t lag = 0;
    for (const auto& [tp, p] : core_->partitions) {
      std::int64_t low = 0;
      std::int64_t high = 0;
      if (rd_kafka_get_watermark_offsets(rk_, tp.topic.c_str(), tp.partition, &low, &high) !=
              RD_KAFKA_RESP_ERR_NO_ERROR ||
          high < 0) {
        continue;
      }
      // The first record not yet complete, else the next to store, else the fetch position.
      std::int64_t next = p.stored_next;
      if (!p.slots.empty()) next = p.slots.begin()->first;
      if (next < 0) next = position(tp);
      if (next < 0) continue;
      lag += std::max<std::int64_t>(0, high - next);
    }
    core_->stats.lag = lag;
  }

  std::int64_t position(const TopicPartition& tp) {
    rdk::PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
    if (rd_kafka_position(rk_, list.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) return -1;
    return list->elems[0].offset;  // RD_KAFKA_OFFSET_INVALID (-1001) when unknown
  }

  // Stop: nothing new is fetched, in-flight records get until the drain deadline, then the
  // group is left (the revoke callback commits what is stored).
  void drain_and_close() {
    {
      std::lock_guard lock(core_->mutex);
      rd_kafka_topic_partition_list_t* assignment = nullptr;
      if (rd_kafka_assignment(rk_, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        rdk::PartitionList list(assignment);
        rd_kafka_pause_partitions(rk_, list.get());
      }
      core_->paused = true;
      core_->retries.clear();  // handed back: the next owner redelivers them
    }
    while (Clock::now() < drain_deadline_) {
      {
        std::lock_guard lock(core_->mutex);
        if (core_->in_flight == 0) break;
      }
      // Keep serving the group (heartbeats run in librdkafka's threads; rebalances here).
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 20);
      if (m != nullptr) rd_kafka_message_destroy(m);  // not taken: not stored
    }
    close_handle();
  }

  void close_handle() {
    if (rk_ == nullptr || closed_) return;
    closed_ = true;
    if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(rk_)) {
      spdlog::warn("kafka consumer {}: close: {}", config_.group_id, rd_kafka_err2str(err));
    }
    std::lock_guard lock(core_->mutex);
    core_->rk = nullptr;
    if (core_->wake != nullptr) {
      rd_kafka_queue_destroy(core_->wake);
      core_->wake = nullptr;
    }
    core_->partitions.clear();
    core_->retries.clear();
    core_->in_flight = 0;
  }

  void destroy_handle() {
    if (rk_ == nullptr) return;
    close_handle();
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }

  // ---- librdkafka callbacks (on the poll thread) ---------------------------------------------

  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    static_cast<TriggerConsumerImpl*>(opaque)->on_rebalance(rk, err, partitions);
  }

  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
    auto* self = static_cast<TriggerConsumerImpl*>(opaque);
    {
      std::lock_guard lock(self->core_->mutex);
      ++self->core_->stats.errors;
    }
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      rd_kafka_fatal_error(rk, fatal, sizeof fatal);
      spdlog::error("kafka consumer {}: fatal: {}", self->config_.group_id, fatal);
    } else {
      spdlog::warn("kafka consumer {}: {}: {}", self->config_.group_id,
                   rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err)), reason);
    }
  }

  void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    {
      std::lock_guard lock(core_->mutex);
      ++core_->stats.rebalances;
    }
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      {
        std::lock_guard lock(core_->mutex);
        for (int i = 0; i < partitions->cnt; ++i) {
          const auto& e = partitions->elems[i];
          PartitionState& p = core_->partitions[TopicPartition{e.topic, e.partition}];
          p = PartitionState{};
          p.epoch = core_->next_epoch++;
        }
      }
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_assign(rk, partitions)) {
          spdlog::error("kafka consumer: incremental assign: {}", rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, partitions);
      }
      std::lock_guard lock(core_->mutex);
      if (core_->paused) rd_kafka_pause_partitions(rk, partitions);
      spdlog::info("kafka consumer {}: assigned {} partition(s), {} owned", config_.group_id,
                   partitions->cnt, core_->partitions.size());
      return;
    }

    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      const bool lost = rd_kafka_assignment_lost(rk) != 0;
      if (lost) {
        std::lock_guard lock(core_->mutex);
        ++core_->stats.assignments_lost;
      }
      std::vector<TopicPartition> revoked;
      for (int i = 0; i < partitions->cnt; ++i) {
        revoked.push_back(
            TopicPartition{partitions->elems[i].topic, partitions->elems[i].partition});
      }
      if (!lost) {
        wait_for_in_flight(revoked);
        commit_revoked(rk, revoked);
      }
      {
        std::lock_guard lock(core_->mutex);
        std::size_t handed_back = 0;
        for (const auto& tp : revoked) {
          auto pit = core_->partitions.find(tp);
          if (pit == core_->partitions.end()) continue;
          for (const auto& [offset, slot] : pit->second.slots) {
            if (slot.submitted) {
              --core_->in_flight;
              ++handed_back;
            }
          }
          core_->partitions.erase(pit);
        }
        std::erase_if(core_->retries, [&](const RetryDue& r) {
          return std::find_if(revoked.begin(), revoked.end(), [&](const TopicPartition& tp) {
                   return !(tp < r.tp) && !(r.tp < tp);
                 }) != revoked.end();
        });
        spdlog::info("kafka consumer {}: {} {} partition(s), {} in-flight record(s) handed back",
                     config_.group_id, lost ? "lost" : "revoked", partitions->cnt, handed_back);
      }
      if (cooperative) {
        if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, partitions)) {
          spdlog::error("kafka consumer: incremental unassign: {}", rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
      } else {
        rd_kafka_assign(rk, nullptr);
      }
      return;
    }

    spdlog::error("kafka consumer {}: rebalance error: {}", config_.group_id,
                  rd_kafka_err2str(err));
    {
      std::lock_guard lock(core_->mutex);
      core_->partitions.clear();
      core_->retries.clear();
      core_->in_flight = 0;
    }
    rd_kafka_assign(rk, nullptr);
  }

  // Commits the stored offsets of revoked partitions before they go, so the next owner starts
  // after them (librdkafka's own commit on unassign is asynchronous). Bounded wait.
  void commit_revoked(rd_kafka_t* rk, const std::vector<TopicPartition>& revoked) {
    rdk::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(revoked.size())));
    {
      std::lock_guard lock(core_->mutex);
      for (const auto& tp : revoked) {
        auto pit = core_->partitions.find(tp);
        if (pit == core_->partitions.end() || pit->second.stored_next < 0) continue;
        rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset =
            pit->second.stored_next;
      }
    }
    if (list->cnt == 0) return;
    // A coordinator that moved or timed out fails the commit without it being wrong to try again
    // (the next owner would otherwise replay everything since the last auto-commit): retry those
    // within the budget. So does REBALANCE_IN_PROGRESS: under the cooperative protocol this member
    // revokes right after its own SyncGroup, while the coordinator still waits for the others'
    // (CompletingRebalance); once they sync, the same generation may commit. Generation and
    // membership errors mean the group moved on: give up.
    const auto budget = std::min(config_.revoke_timeout, Millis{5000});
    const auto deadline = Clock::now() + budget;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
    for (;;) {
      rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
      err = rd_kafka_commit_queue(rk, list.get(), queue, nullptr, nullptr);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now());
        rd_kafka_event_t* event =
            rd_kafka_queue_poll(queue, static_cast<int>(std::max<std::int64_t>(left.count(), 1)));
        if (event == nullptr) {
          err = RD_KAFKA_RESP_ERR__TIMED_OUT;
        } else {
          err = rd_kafka_event_error(event);
          rd_kafka_event_destroy(event);
        }
      }
      rd_kafka_queue_destroy(queue);
      const bool retriable = err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR ||
                             err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                             err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                             err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT ||
                             err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                             err == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS ||
                             err == RD_KAFKA_RESP_ERR__WAIT_COORD;  // after an outage
      if (!retriable || Clock::now() + Millis{50} >= deadline) break;
      std::this_thread::sleep_for(Millis{50});
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      spdlog::warn("kafka consumer {}: commit on revoke: {}", config_.group_id,
                   rd_kafka_err2str(err));
    }
  }

  // Revocation: in-flight records of these partitions get until revoke_timeout (or the stop
  // deadline) to complete, so their offsets can be stored and committed before they go.
  void wait_for_in_flight(const std::vector<TopicPartition>& revoked) {
    auto deadline = Clock::now() + config_.revoke_timeout;
    if (stop_requested_.load()) deadline = std::min(deadline, drain_deadline_);
    std::unique_lock lock(core_->mutex);
    core_->changed.wait_until(lock, deadline, [&] {
      for (const auto& tp : revoked) {
        auto pit = core_->partitions.find(tp);
        if (pit == core_->partitions.end()) continue;
        for (const auto& [offset, slot] : pit->second.slots) {
          if (slot.submitted) return false;
        }
      }
      return true;
    });
  }

  const ConsumerConfig config_;
  mutable std::mutex router_mutex_;
  std::shared_ptr<const TriggerRouter> router_;  // GUARDED_BY(router_mutex_)
  bool resubscribe_ = false;                     // GUARDED_BY(router_mutex_)
  std::vector<std::string> subscribed_;          // GUARDED_BY(router_mutex_)
  TriggerSink& sink_;
  std::shared_ptr<ConsumerCore> core_;
  rd_kafka_t* rk_ = nullptr;

  std::mutex control_mutex_;  // start / stop
  std::thread thread_;
  bool stopped_ = false;
  bool closed_ = false;
  std::atomic<bool> stop_requested_{false};
  Clock::time_point drain_deadline_{};
  std::optional<Clock::time_point> full_since_;  // at the in-flight limit since; poll thread only
};

}  // namespace

Result<std::unique_ptr<TriggerConsumer>> TriggerConsumer::create(
    ConsumerConfig config, std::shared_ptr<const TriggerRouter> router, TriggerSink& sink) {
  if (config.group_id.empty()) return fail(ErrorCode::kInvalidInput, "kafka: group.id is empty");
  if (config.kafka.brokers.empty() && !config.kafka.properties.count("bootstrap.servers")) {
    return fail(ErrorCode::kInvalidInput, "kafka: no brokers configured");
  }
  auto consumer = std::make_unique<TriggerConsumerImpl>(std::move(config), std::move(router), sink);
  if (auto r = consumer->init(); !r) return tl::unexpected(r.error());
  return std::unique_ptr<TriggerConsumer>(std::move(consumer));
}

}  // namespace flowd::triggers
