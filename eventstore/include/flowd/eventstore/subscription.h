#pragma once
// Subscription is a live tail of the global event log: it delivers every committed event after a
// starting position, in (tx_id, global_position) order, exactly once per subscription, and never
// skips an event that commits late with a lower position.
//
// It owns one connection and one thread. The thread LISTENs on the store's notify channel (every
// append transaction NOTIFYs on commit) to wake early and otherwise polls every poll_interval, so a
// lost notification or a rolled-back transaction only costs latency. A notification whose events
// are not visible yet (an older transaction anywhere in the cluster holds the read horizon back)
// makes it look again after 5 ms, 10 ms, ... up to 1 s, until something new arrives. A broken
// connection is re-opened (with back-off) and reading continues from the last delivered position.
//
// Lifecycle: EventStore::subscribe() starts it; stop() or the destructor stops and joins the
// thread (handlers are never called after stop() returns). The handler runs on the subscription's
// thread, must not block for long and must not throw; calling stop() from the handler is allowed.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "flowd/eventstore/errc.h"
#include "flowd/eventstore/types.h"

namespace flowd::eventstore {

struct SubscriptionOptions {
  std::size_t batch_size = 500;
  std::chrono::milliseconds poll_interval{500};
  // Called on the subscription thread when reading fails (it keeps retrying).
  std::function<void(const StoreError&)> on_error;
};

class Subscription {
 public:
  using Handler = std::function<void(const RecordedEvent&)>;

  virtual ~Subscription() = default;
  // Stops and joins the thread. Idempotent; safe from the handler (then it stops after it returns).
  virtual void stop() = 0;
  // Position of the last delivered event.
  virtual Position position() const = 0;
};

}  // namespace flowd::eventstore
