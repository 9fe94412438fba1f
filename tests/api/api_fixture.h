#pragma once
// ApiFixture: flowd's API as the daemon serves it, for tests — a fresh PostgreSQL database, the
// event store and command queue, a DurableRunner that runs what is started, Operations and the
// routes on a real http::Server on 127.0.0.1 and a kernel-picked port (two io threads).
// Not thread-safe; one per test case.
#include <memory>
#include <optional>
#include <string>

#include "durable_runner.h"
#include "flowd/api/dlq_routes.h"
#include "flowd/api/routes.h"
#include "flowd/api/schedule_routes.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "http_test_support.h"
#include "postgres_fixture.h"
#include "tick_starter.h"

namespace flowd::api::testing {

using namespace flowd::http::testing;

inline constexpr const char* kOwner = "api-test";

class ApiFixture {
 public:
  explicit ApiFixture(std::optional<std::string> token = std::nullopt) {
    eventstore::StoreOptions options;
    options.url = db_.url();
    options.owner = kOwner;
    options.actor = "api";
    auto store = eventstore::EventStore::open(options);
    if (!store) throw std::runtime_error("store: " + store.error().message);
    store_ = std::move(*store);
    auto commands = eventstore::CommandQueue::open(db_.url());
    if (!commands) throw std::runtime_error("commands: " + commands.error().message);
    commands_ = std::move(*commands);
    operations_ = std::make_unique<Operations>(*store_, *commands_);
    auto letters = dlq::DeadLetterStore::open({db_.url(), 2});
    if (!letters) throw std::runtime_error("dead letters: " + letters.error().message);
    letters_ = std::move(*letters);
    dlq_operations_ = std::make_unique<DlqOperations>(*store_, *letters_);
    auto schedules = triggers::ScheduleStore::open({db_.url(), 2});
    if (!schedules) throw std::runtime_error("schedules: " + schedules.error().message);
    schedules_ = std::move(*schedules);
    tick_starter_ = std::make_unique<service::StoreTickStarter>(*store_, *commands_, nullptr);
    // Not started: backfills run on it; ticks are the scheduler tests' business.
    triggers::SchedulerOptions scheduler_options;
    scheduler_options.url = db_.url();
    auto scheduler = triggers::Scheduler::open(scheduler_options, *tick_starter_);
    if (!scheduler) throw std::runtime_error("scheduler: " + scheduler.error().message);
    scheduler_ = std::move(*scheduler);
    service::DurableRunnerOptions runner_options;
    runner_options.owner = kOwner;
    runner_options.poll_interval = std::chrono::milliseconds(50);
    runner_ = std::make_unique<service::DurableRunner>(*store_, *commands_, runner_options);
    runner_->start();
    metrics_ = std::make_shared<http::MetricsRegistry>();
    http::ServerOptions server_options;
    server_options.token = std::move(token);
    server_options.sse_heartbeat = std::chrono::milliseconds(500);
    server_ = std::make_unique<TestServer>(
        server_options,
        [this](http::Server& server) {
          ApiOptions api_options;
          api_options.metrics = metrics_;
          api_options.sse_poll = std::chrono::milliseconds(500);
          routes_ = register_routes(server.api(), *operations_, api_options);
          dlq_routes_ = register_dlq_routes(server.api(), *dlq_operations_);
          schedule_routes_ = register_schedule_routes(server.api(), *schedules_, *scheduler_);
        },
        metrics_);
  }
  ~ApiFixture() {
    server_->stop(std::chrono::milliseconds(500));
    // Workers may still hold Responders: join them while the server's io_context lives.
    routes_->shutdown();
    dlq_routes_->shutdown();
    schedule_routes_->shutdown();
    server_.reset();
    runner_->stop(std::chrono::milliseconds(0));
    runner_.reset();
    store_->close();
  }

  std::uint16_t port() const { return server_->port(); }
  TestServer& server() { return *server_; }
  ApiRoutes& routes() { return *routes_; }
  eventstore::EventStore& store() { return *store_; }
  flowd::testing::PostgresDatabase& db() { return db_; }

 private:
  flowd::testing::PostgresDatabase db_;
  std::unique_ptr<eventstore::EventStore> store_;
  std::unique_ptr<eventstore::CommandQueue> commands_;
  std::unique_ptr<Operations> operations_;
  std::unique_ptr<service::DurableRunner> runner_;
  std::shared_ptr<http::MetricsRegistry> metrics_;
  std::unique_ptr<ApiRoutes> routes_;
  std::unique_ptr<dlq::DeadLetterStore> letters_;
  std::unique_ptr<DlqOperations> dlq_operations_;
  std::unique_ptr<DlqRoutes> dlq_routes_;
  std::unique_ptr<triggers::ScheduleStore> schedules_;
  std::unique_ptr<service::StoreTickStarter> tick_starter_;
  std::unique_ptr<triggers::Scheduler> scheduler_;
  std::unique_ptr<ScheduleRoutes> schedule_routes_;
  std::unique_ptr<TestServer> server_;
};

// Polls `done` every 20 ms until it holds or `limit` passes.
template <class F>
bool eventually(F done, std::chrono::milliseconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

}  // namespace flowd::api::testing
