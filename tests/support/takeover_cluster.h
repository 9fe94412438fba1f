#pragma once
// TakeoverCluster: three real `flowd` processes on one PostgreSQL database and one embedded Kafka
// broker (the mock cluster, in the calling process), and the measurements of fast takeover: how
// long after one instance is SIGKILLed (a) trigger records on its partitions start again on the
// survivors, (b) the executions it had leased resume there, and (c) how long the instance,
// restarted with the same id, takes to get partitions back. Used by the integration test
// (tests/integration/takeover_test.cc) and the benchmark (bench/takeover_bench.cc); free of any
// test framework: failures come back as Outcome::error.
//
// Which instance started an execution is its `executions.owner` (a trigger's execution is leased
// to the instance that consumed the record; a finished one keeps its last owner). Record ids (the
// dedupe keys) name the round and partition ("kill-p3"); the workflow input carries them.
//
// Lifecycle: construct, run(); one thread (the caller's). The children are SIGKILLed when it is
// destroyed.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "flowd/triggers/embedded_broker.h"
#include "flowd/triggers/producer.h"

namespace flowd::takeover {

using Clock = std::chrono::system_clock;
using Seconds = std::chrono::duration<double>;

// One flowd child process with its stderr (JSON log) in a file.
class Instance {
 public:
  Instance(const std::string& bin, std::vector<std::string> args,
           const std::map<std::string, std::string>& env, const std::string& log_path)
      : log_path_(log_path) {
    pid_ = fork();
    if (pid_ == 0) {
      FILE* log = std::fopen(log_path.c_str(), "w");
      if (log) dup2(fileno(log), 2);
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 0);  // the caller's wins
      std::vector<char*> argv{const_cast<char*>(bin.c_str())};
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(bin.c_str(), argv.data());
      _exit(127);
    }
  }
  ~Instance() { stop(SIGKILL); }
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  bool running_logged() const {
    std::ifstream in(log_path_);
    std::string line;
    while (std::getline(in, line))
      if (line.find("\"flowd running\"") != std::string::npos) return true;
    return false;
  }
  bool exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return true;
    }
    return false;
  }
  void stop(int signal) {
    if (pid_ <= 0) return;
    kill(pid_, signal);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  const std::string& log_path() const { return log_path_; }

 private:
  std::string log_path_;
  pid_t pid_ = -1;
};

struct Outcome {
  std::string error;               // empty: the run completed and the figures are set
  double kafka_partitions_s = 0;   // (a)
  double leased_executions_s = 0;  // (b)
  double rejoin_same_id_s = 0;     // (c)
  std::string victim;
  std::vector<int> victim_partitions;
  int victim_executions = 0;  // long executions it held when killed
  // Guarantees checked by run(): every record started exactly one execution; each taken-over
  // execution was resumed once (two StepStarted of its sleep: before and after the kill) and
  // completed once.
  std::vector<std::string> violations;
  std::string details;  // what happened, for logs
};

struct Options {
  std::string flowd_bin;  // path of the flowd binary
  std::string database_url;
  std::filesystem::path dir;  // logs and workflow files
  int partitions = 6;
  std::chrono::seconds limit{120};         // for each phase
  std::map<std::string, std::string> env;  // extra FLOWD_* settings for every instance
};

// A SQL query's first column of its first row as text ("" when none); given by the caller.
using Query = std::function<std::string(const std::string& sql)>;

class TakeoverCluster {
 public:
  TakeoverCluster(Options options, Query query)
      : options_(std::move(options)), query_(std::move(query)) {}

  Outcome run() {
    Outcome out;
    auto fail = [&](std::string why) {
      out.error = std::move(why);
      return out;
    };
    std::filesystem::create_directories(options_.dir);
    std::ofstream(options_.dir / "tick.yaml") << kTick;
    std::ofstream(options_.dir / "long.yaml") << kLong;
    triggers::EmbeddedBrokerOptions broker_options;
    broker_options.partitions = options_.partitions;
    auto broker = triggers::EmbeddedBroker::start(broker_options);
    if (!broker) return fail("embedded broker: " + broker.error().message);
    broker_ = std::move(*broker);
    triggers::ProducerConfig producer_config;
    producer_config.kafka.brokers = broker_->bootstrap();
    producer_config.linger = std::chrono::milliseconds(1);
    auto producer = triggers::KafkaProducer::create(producer_config);
    if (!producer) return fail("producer: " + producer.error().message);
    producer_ = *producer;

    // The first instance applies the workflows before the others start (no concurrent apply).
    for (int i = 0; i < 3; ++i) {
      spawn(i, "start");
      if (!wait([&] { return instances_[i]->running_logged() || instances_[i]->exited(); }))
        return fail(ids_[i] + " did not start (" + instances_[i]->log_path() + ")");
      if (instances_[i]->exited())
        return fail(ids_[i] + " exited (" + instances_[i]->log_path() + ")");
    }

    // The group is settled when two rounds of one record per partition map partitions to the
    // same owners, all three of them.
    std::map<int, std::string> owners, previous;
    for (int round = 0;; ++round) {
      if (round == 60) return fail("the consumer group did not settle on three members");
      auto started = produce_round("warm" + std::to_string(round), "tick");
      if (!started) return fail("warm-up round " + std::to_string(round) + " did not start");
      owners = *started;
      std::set<std::string> distinct;
      for (const auto& [p, owner] : owners) distinct.insert(owner);
      if (distinct.size() == 3 && owners == previous) break;
      previous = owners;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    out.victim = owners.at(0);
    for (const auto& [p, owner] : owners)
      if (owner == out.victim) out.victim_partitions.push_back(p);

    // Long executions (a 20 s sleep) on every partition, so the victim holds some leases.
    std::vector<std::string> longs;
    for (int p = 0; p < options_.partitions; ++p)
      for (int k = 0; k < 2; ++k) {
        std::string rid = "long-p" + std::to_string(p) + "-" + std::to_string(k);
        if (!send(rid, "long", p)) return fail("produce " + rid);
        longs.push_back(rid);
      }
    std::vector<std::string> held;  // execution ids the victim holds
    if (!wait([&] {
          return count(
                     "SELECT count(*) FROM executions x JOIN events e ON e.stream_id = "
                     "'execution-' || x.id AND e.type = 'StepStarted' WHERE x.workflow = "
                     "'long'") == static_cast<int>(longs.size());
        }))
      return fail("the long executions did not all start");
    for (const std::string& rid : longs) {
      std::string id = execution_of(rid);
      if (query_("SELECT owner FROM executions WHERE id = '" + id + "'") == out.victim)
        held.push_back(id);
    }
    out.victim_executions = static_cast<int>(held.size());
    if (held.empty()) return fail(out.victim + " holds no long execution");

    // (a) and (b): SIGKILL the victim; one record per partition right after.
    const int victim_index = index_of(out.victim);
    instances_[victim_index]->stop(SIGKILL);
    const auto killed = Clock::now();
    std::vector<std::string> kill_rids;
    for (int p = 0; p < options_.partitions; ++p) {
      kill_rids.push_back("kill-p" + std::to_string(p));
      if (!send(kill_rids.back(), "tick", p)) return fail("produce " + kill_rids.back());
    }
    if (!wait([&] { return started_count(kill_rids) == kill_rids.size(); }))
      return fail("records produced after the kill did not all start");
    double kafka = 0;
    for (int p : out.victim_partitions) {
      const std::string rid = "kill-p" + std::to_string(p);
      kafka = std::max(kafka, seconds_since(killed, started_ms(rid)));
      const std::string owner = owner_of(rid);
      if (owner == out.victim) out.violations.push_back(rid + " was started by the dead instance");
    }
    out.kafka_partitions_s = kafka;
    auto resumed = [&](const std::string& id) {
      return query_(
          "SELECT (extract(epoch FROM occurred_at) * 1000)::bigint FROM events WHERE "
          "stream_id = 'execution-" +
          id + "' AND type = 'StepStarted' AND attempt = 2 LIMIT 1");
    };
    if (!wait([&] {
          for (const auto& id : held)
            if (resumed(id).empty()) return false;
          return true;
        }))
      return fail("the dead instance's executions were not all resumed");
    double leased = 0;
    for (const auto& id : held) leased = std::max(leased, seconds_since(killed, resumed(id)));
    out.leased_executions_s = leased;

    // (c): the same id again; rounds of records until one is started by it.
    const auto restarted = Clock::now();
    spawn(victim_index, "restart");
    std::optional<double> rejoin;
    std::vector<std::string> pending;  // records of the rounds whose starter is not known yet
    for (int round = 0; !rejoin; ++round) {
      if (Clock::now() - restarted > options_.limit)
        return fail(out.victim + " did not get partitions back");
      if (instances_[victim_index]->exited()) return fail(out.victim + " exited after restart");
      for (int p = 0; p < options_.partitions; ++p) {
        pending.push_back("back" + std::to_string(round) + "-p" + std::to_string(p));
        if (!send(pending.back(), "tick", p)) return fail("produce " + pending.back());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      std::vector<std::string> still;
      for (const auto& rid : pending) {
        const std::string owner = owner_of(rid);
        if (owner.empty()) {
          still.push_back(rid);
        } else if (owner == out.victim) {
          const double s = seconds_since(restarted, started_ms(rid));
          rejoin = rejoin ? std::min(*rejoin, s) : s;
        }
      }
      pending = std::move(still);
    }
    out.rejoin_same_id_s = *rejoin;

    // Everything ends; then the guarantees.
    if (!wait([&] { return count("SELECT count(*) FROM executions WHERE NOT terminal") == 0; }))
      return fail("executions did not all end");
    const int records = count("SELECT count(*) FROM executions");
    if (count("SELECT count(*) FROM (SELECT data->'input'->>'rid' FROM events WHERE type = "
              "'ExecutionStarted' GROUP BY 1 HAVING count(*) > 1) twice") != 0)
      out.violations.push_back("a record started two executions");
    if (count("SELECT count(*) FROM executions WHERE status <> 'completed'") != 0)
      out.violations.push_back("an execution did not complete");
    for (const auto& id : held) {
      const std::string steps = query_("SELECT count(*) FROM events WHERE stream_id = 'execution-" +
                                       id + "' AND type = 'StepStarted'");
      if (steps != "2")
        out.violations.push_back(id + " started its step " + steps + " times (2 expected)");
      const std::string ends = query_("SELECT count(*) FROM events WHERE stream_id = 'execution-" +
                                      id + "' AND type = 'ExecutionCompleted'");
      if (ends != "1") out.violations.push_back(id + " completed " + ends + " times");
    }
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "victim %s: %zu partition(s), %d long execution(s); %d executions in all",
                  out.victim.c_str(), out.victim_partitions.size(), out.victim_executions, records);
    out.details = buf;
    for (auto& instance : instances_)
      if (instance) instance->stop(SIGTERM);
    return out;
  }

 private:
  static constexpr const char* kTick = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: tick, version: 1}
spec:
  steps:
    - {id: noop, type: noop}
)";
  static constexpr const char* kLong = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: long, version: 1}
spec:
  steps:
    - {id: wait, type: sleep, with: {duration: 20s}}
)";

  void spawn(int i, const std::string& phase) {
    ids_[i] = "node-" + std::to_string(i + 1);
    std::map<std::string, std::string> env = options_.env;
    env.emplace("FLOWD_HTTP_LISTEN", "127.0.0.1:0");
    env.emplace("FLOWD_KAFKA_BROKERS", broker_->bootstrap());
    env.emplace("FLOWD_KAFKA_BOOTSTRAP_FILE", (options_.dir / (ids_[i] + ".broker")).string());
    env.emplace("FLOWD_LOG_LEVEL", "info");
    instances_[i].reset();
    instances_[i] = std::make_unique<Instance>(
        options_.flowd_bin,
        std::vector<std::string>{"--database", options_.database_url, "--instance-id", ids_[i],
                                 "--workflows", options_.dir.string()},
        env, (options_.dir / (ids_[i] + "-" + phase + ".log")).string());
  }

  int index_of(const std::string& id) const {
    for (int i = 0; i < 3; ++i)
      if (ids_[i] == id) return i;
    return 0;
  }

  bool send(const std::string& rid, const std::string& workflow, int partition) {
    triggers::TriggerEnvelope envelope;
    envelope.workflow = workflow;
    envelope.id = rid;
    envelope.input = Json{{"rid", rid}};
    auto record = triggers::make_trigger_record(envelope);
    record.partition = partition;
    return producer_->send_and_wait(std::move(record), std::chrono::seconds(10)).has_value();
  }

  // One record per partition; waits until all started; their owners by partition.
  std::optional<std::map<int, std::string>> produce_round(const std::string& round,
                                                          const std::string& workflow) {
    std::vector<std::string> rids;
    for (int p = 0; p < options_.partitions; ++p) {
      rids.push_back(round + "-p" + std::to_string(p));
      if (!send(rids.back(), workflow, p)) return std::nullopt;
    }
    if (!wait([&] { return started_count(rids) == rids.size(); })) return std::nullopt;
    std::map<int, std::string> owners;
    for (int p = 0; p < options_.partitions; ++p) owners[p] = owner_of(rids[p]);
    return owners;
  }

  std::string where_rid(const std::string& rid) const {
    return "x.id = (SELECT substring(e.stream_id from 11) FROM events e WHERE e.type = "
           "'ExecutionStarted' AND e.data->'input'->>'rid' = '" +
           rid + "' LIMIT 1)";
  }
  std::string execution_of(const std::string& rid) {
    return query_("SELECT x.id FROM executions x WHERE " + where_rid(rid));
  }
  std::string owner_of(const std::string& rid) {
    return query_("SELECT x.owner FROM executions x WHERE " + where_rid(rid));
  }
  std::string started_ms(const std::string& rid) {
    return query_(
        "SELECT (extract(epoch FROM occurred_at) * 1000)::bigint FROM events WHERE "
        "type = 'ExecutionStarted' AND data->'input'->>'rid' = '" +
        rid + "' LIMIT 1");
  }
  std::size_t started_count(const std::vector<std::string>& rids) {
    std::string list;
    for (const auto& r : rids) list += (list.empty() ? "'" : ",'") + r + "'";
    return static_cast<std::size_t>(
        count("SELECT count(*) FROM events WHERE type = 'ExecutionStarted' AND "
              "data->'input'->>'rid' IN (" +
              list + ")"));
  }
  int count(const std::string& sql) {
    const std::string v = query_(sql);
    return v.empty() ? 0 : std::stoi(v);
  }
  static double seconds_since(Clock::time_point since, const std::string& epoch_ms) {
    if (epoch_ms.empty()) return -1;
    const Clock::time_point at{std::chrono::milliseconds(std::stoll(epoch_ms))};
    return Seconds(at - since).count();
  }
  template <class F>
  bool wait(F done) {
    const auto deadline = std::chrono::steady_clock::now() + options_.limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
  }

  Options options_;
  Query query_;
  std::unique_ptr<triggers::EmbeddedBroker> broker_;
  std::shared_ptr<triggers::KafkaProducer> producer_;
  std::string ids_[3];
  std::unique_ptr<Instance> instances_[3];  // after producer_: destroyed first
};

}  // namespace flowd::takeover
