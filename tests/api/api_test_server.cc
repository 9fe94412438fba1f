// flowd_api_test_server: flowd's API as the daemon will serve it (event store, command queue,
// DurableRunner, Operations + register_routes on an http::Server), for the flowctl end-to-end
// test until the daemon wires the routes itself. Uses --database, else a fresh database from
// the test PostgreSQL fixture (dropped at exit). Prints "listening http://127.0.0.1:PORT" and
// writes the URL to --url-file (and the database URL to --database-file); with --broker-file, also
// runs an embedded Kafka broker that writes its address there. Stops on SIGTERM / SIGINT.
#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <csignal>
#include <fstream>
#include <future>
#include <iostream>
#include <thread>

#include "durable_runner.h"
#include "flowd/api/dlq_routes.h"
#include "flowd/api/routes.h"
#include "flowd/dlq/dead_letter_store.h"
#include "flowd/eventstore/commands.h"
#include "flowd/eventstore/event_store.h"
#include "flowd/triggers/embedded_broker.h"
#include "http/server.h"
#include "postgres_fixture.h"

int main(int argc, char** argv) {
  std::string database, token, url_file, database_file, broker_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--database") database = argv[i + 1];
    if (flag == "--token") token = argv[i + 1];
    if (flag == "--url-file") url_file = argv[i + 1];
    if (flag == "--database-file") database_file = argv[i + 1];
    if (flag == "--broker-file") broker_file = argv[i + 1];
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::unique_ptr<flowd::testing::PostgresDatabase> fresh;
  if (database.empty()) {
    fresh = std::make_unique<flowd::testing::PostgresDatabase>();
    database = fresh->url();
  }
  std::jthread broker;
  if (!broker_file.empty()) {
    std::promise<void> ready;
    broker = std::jthread([&](std::stop_token stop) {
      flowd::triggers::EmbeddedBrokerOptions broker_options;
      broker_options.address_file = broker_file;
      auto ran = flowd::triggers::run_embedded_broker(
          broker_options, stop, [&](const std::string&) { ready.set_value(); });
      if (!ran) {
        std::cerr << "broker: " << ran.error().message << "\n";
        std::exit(1);
      }
    });
    ready.get_future().wait();
  }
  if (!database_file.empty()) std::ofstream(database_file) << database << "\n";
  const std::string owner = "api-test-server";
  flowd::eventstore::StoreOptions store_options;
  store_options.url = database;
  store_options.owner = owner;
  auto store = flowd::eventstore::EventStore::open(store_options);
  if (!store) {
    std::cerr << "store: " << store.error().message << "\n";
    return 1;
  }
  auto commands = flowd::eventstore::CommandQueue::open(database);
  if (!commands) {
    std::cerr << "commands: " << commands.error().message << "\n";
    return 1;
  }
  flowd::service::DurableRunnerOptions runner_options;
  runner_options.owner = owner;
  runner_options.poll_interval = std::chrono::milliseconds(50);
  flowd::service::DurableRunner runner(**store, **commands, runner_options);
  runner.start();

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  auto metrics = std::make_shared<flowd::http::MetricsRegistry>();
  flowd::http::ServerOptions options;
  options.port = 0;
  if (!token.empty()) options.token = token;
  flowd::http::Server server(io, options, metrics);
  flowd::api::Operations operations(**store, **commands);
  flowd::api::ApiOptions api_options;
  api_options.metrics = metrics;
  auto routes = flowd::api::register_routes(server.api(), operations, api_options);
  auto letters = flowd::dlq::DeadLetterStore::open({database, 2});
  if (!letters) {
    std::cerr << "dead letters: " << letters.error().message << "\n";
    return 1;
  }
  flowd::api::DlqOperations dlq_operations(**store, **letters);
  auto dlq_routes = flowd::api::register_dlq_routes(server.api(), dlq_operations);
  auto bound = server.start();
  if (!bound) {
    std::cerr << "listen: " << bound.error() << "\n";
    return 1;
  }
  std::string url = "http://127.0.0.1:" + std::to_string(bound->port());
  std::thread io_thread([&] { io.run(); });
  if (!url_file.empty()) {
    std::ofstream(url_file + ".tmp") << url << "\n";
    std::rename((url_file + ".tmp").c_str(), url_file.c_str());
  }
  std::cout << "listening " << url << std::endl;

  int signal = 0;
  sigwait(&signals, &signal);
  std::promise<void> stopped;
  server.stop(std::chrono::seconds(2), [&] { stopped.set_value(); });
  stopped.get_future().wait();
  routes->shutdown();
  dlq_routes->shutdown();
  work.reset();
  io.stop();
  io_thread.join();
  runner.stop(std::chrono::milliseconds(0));
  (*store)->close();
  return 0;
}
