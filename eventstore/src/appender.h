#pragma once
// Appender is the group-commit writer of the event store. Callers on any thread submit() requests.
// Its lanes (StoreOptions::appender_lanes) each own a thread, a queue and a database connection;
// a stream always goes to the same lane (by a hash of its execution id), so its appends are
// written in submission order and a lane's version cache is the only writer's view of its
// streams. While one lane's transaction is on the server, another builds its batch or runs its
// callbacks, and two server processes can work at once. A lane takes everything queued since its
// previous commit (up to max_batch_events; when under load it waits up to max_batch_wait for more)
// and writes it in ONE transaction:
//
//   1. know the current version of each stream of the batch: from the appender's cache of the
//      versions it committed itself when every request agrees with it, otherwise read (no locks:
//      flowd_stream_version, the newest event) together with the dedupe keys of its
//      ExecutionStarted events;
//   2. decide per request in queue order: expected version == current -> accepted (versions
//      assigned, later requests of the same stream chain on it); otherwise conflict; a used dedupe
//      key -> duplicate. Rejected requests write nothing;
//   3. COPY the events, whose UNIQUE (stream_id, stream_version) checks every version decided in
//      2; then one statement writes the executions projection (INSERT the rows of new executions
//      ON CONFLICT DO NOTHING, UPDATE those that change status or end), NOTIFYs and reads the
//      retention epoch (a purge since the last batch makes cached versions unsafe); COMMIT;
//   4. run every callback once.
//
// A unique violation on the events means the cache or the read was stale: another writer got
// there first, and the batch re-runs reading everything. So does a row not inserted (a concurrent
// start, or a duplicate dedupe key) and other races (serialisation failure, deadlock). A request
// PostgreSQL rejects as data re-runs the batch one request per transaction so only that request
// fails. A broken connection fails the batch (unavailable, or unknown_outcome when it broke during
// COMMIT) and is re-opened for the next batch.
//
// Lifecycle: constructed by EventStore::open(); stop() answers everything queued, then joins.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <pqxx/connection>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "flowd/eventstore/event_store.h"

namespace flowd::eventstore::detail {

struct PendingAppend {
  AppendRequest request;
  Json metadata;
  bool start = false;  // start_execution(): a used dedupe key is an outcome, not an error
  StoreAppendCallback on_append;
  StartCallback on_start;
};

class Appender {
 public:
  explicit Appender(const StoreOptions& options);
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  // Thread-safe. After stop(), the callback is called at once with errc::shutting_down.
  void submit(PendingAppend request);
  // Answers what is queued, then joins the lanes. Idempotent.
  void stop();
  AppenderStats stats() const;

  struct Outcome;  // defined in appender.cc

 private:
  // One writer: its queue, its thread and the connection only that thread uses.
  struct Lane {
    std::mutex mutex;
    std::condition_variable wake;
    std::deque<PendingAppend> queue;         // GUARDED_BY(mutex)
    std::size_t queued_events = 0;           // GUARDED_BY(mutex)
    bool stopping = false;                   // GUARDED_BY(mutex)
    std::unique_ptr<pqxx::connection> conn;  // lane thread only
    // Stream versions this lane committed (execution id -> version) of executions that had not
    // ended, lane thread only. A hint: every version decided from it is verified by the events'
    // unique index, and the whole cache is dropped when retention ran (retention_epoch).
    std::unordered_map<std::string, std::int64_t> version_cache;
    std::int64_t retention_epoch = -1;  // as last read; -1: not yet
    // The COPY text of the batch being written, reused: growing a fresh string of hundreds of KB
    // per batch made malloc consolidate its free lists every time (perf of durable_bench).
    std::string copy_buffer;
    std::thread thread;
  };

  Lane& lane_of(const std::string& execution_id);
  void run(Lane& lane);
  void process(Lane& lane, std::vector<PendingAppend>& batch);
  // One transaction for `batch`; fills `outcomes`. Throws pqxx exceptions (and RaceLost).
  // `trust_cache`: decide from the lane's version cache where every request agrees with it.
  void write_batch(Lane& lane, std::vector<PendingAppend>& batch, std::vector<Outcome>& outcomes,
                   bool trust_cache);
  void deliver(std::vector<PendingAppend>& batch, std::vector<Outcome>& outcomes);
  void connect_lane(Lane& lane);

  const StoreOptions options_;
  std::vector<std::unique_ptr<Lane>> lanes_;  // fixed after construction

  std::atomic<std::uint64_t> batches_{0}, requests_{0}, events_{0}, conflicts_{0}, duplicates_{0},
      failures_{0}, max_batch_events_{0}, cached_batches_{0};
  std::atomic<std::uint64_t> begin_us_{0}, check_us_{0}, build_us_{0}, projection_us_{0},
      copy_us_{0}, commit_us_{0}, callback_us_{0};
};

}  // namespace flowd::eventstore::detail
