#include <barrier>
#include <set>
#include <thread>

#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;
using std::chrono::milliseconds;

// A TTL in the past: the lease lapses the moment it is taken (no sleeping in tests).
constexpr milliseconds kLapsed{-1000};
constexpr milliseconds kLive{60'000};

TEST_CASE("Claim, renew and release an execution's lease", "[eventstore][leases][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->start_execution_sync(request("e-1", 0, {started("w")})));

  CHECK(fx.store->claim("e-1", "a", kLive) == true);
  CHECK(fx.store->claim("e-1", "a", kLive) == true);   // re-claiming one's own lease
  CHECK(fx.store->claim("e-1", "b", kLive) == false);  // held by a
  CHECK(fx.store->renew("e-1", "a", kLive) == true);
  CHECK(fx.store->renew("e-1", "b", kLive) == false);
  CHECK(fx.store->get_execution("e-1")->value().owner == std::optional<std::string>("a"));

  REQUIRE(fx.store->release({"e-1"}, "b"));  // not b's: no effect
  CHECK(fx.store->get_execution("e-1")->value().owner == std::optional<std::string>("a"));
  REQUIRE(fx.store->release({"e-1"}, "a"));
  CHECK_FALSE(fx.store->get_execution("e-1")->value().owner.has_value());
  CHECK(fx.store->claim("e-1", "b", kLive) == true);

  auto missing = fx.store->claim("nope", "a", kLive);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().is(errc::not_found));
}

TEST_CASE("A lapsed lease can be taken over; terminal executions cannot be claimed",
          "[eventstore][leases][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->start_execution_sync(request("e-1", 0, {started("w")})));
  REQUIRE(fx.store->start_execution_sync(request("e-2", 0, {started("w"), completed()})));

  CHECK(fx.store->claim("e-1", "a", kLapsed) == true);
  CHECK(fx.store->claim("e-1", "b", kLive) == true);   // a's lease lapsed
  CHECK(fx.store->renew("e-1", "a", kLive) == false);  // a learns it lost the execution
  CHECK(fx.store->claim("e-2", "a", kLive) == false);
}

TEST_CASE("Resumable executions: non-terminal, unowned or lapsed; claimed once across racers",
          "[eventstore][leases][integration]") {
  StoreFixture fx;
  // 10 unowned running, 3 held live by "alive", 3 lapsed from "dead", 2 terminal.
  for (int i = 0; i < 10; ++i) {
    REQUIRE(
        fx.store->start_execution_sync(request("free-" + std::to_string(i), 0, {started("w")})));
  }
  for (int i = 0; i < 3; ++i) {
    const std::string live = "live-" + std::to_string(i), dead = "dead-" + std::to_string(i);
    REQUIRE(fx.store->start_execution_sync(request(live, 0, {started("w")})));
    REQUIRE(fx.store->claim(live, "alive", kLive) == true);
    REQUIRE(fx.store->start_execution_sync(request(dead, 0, {started("w")})));
    REQUIRE(fx.store->claim(dead, "dead", kLapsed) == true);
  }
  for (int i = 0; i < 2; ++i) {
    REQUIRE(fx.store->start_execution_sync(
        request("done-" + std::to_string(i), 0, {started("w"), completed()})));
  }

  auto resumable = fx.store->list_resumable(100);
  REQUIRE(resumable);
  std::set<std::string> listed;
  for (const auto& r : *resumable) listed.insert(r.id);
  CHECK(listed.size() == 13);
  for (const auto& id : listed) CHECK((id.rfind("free-", 0) == 0 || id.rfind("dead-", 0) == 0));

  // Two instances claim concurrently, in small bites: disjoint sets covering all 13.
  auto other = fx.open();
  std::barrier sync(2);
  std::vector<std::string> got_a, got_b;
  bool failed = false;
  auto claimer = [&](EventStore& store, const std::string& owner, std::vector<std::string>& got) {
    sync.arrive_and_wait();
    for (;;) {
      auto claimed = store.claim_resumable(owner, kLive, 3);
      if (!claimed) {
        failed = true;
        return;
      }
      if (claimed->empty()) return;
      got.insert(got.end(), claimed->begin(), claimed->end());
    }
  };
  std::thread a([&] { claimer(*fx.store, "inst-a", got_a); });
  std::thread b([&] { claimer(*other, "inst-b", got_b); });
  a.join();
  b.join();
  REQUIRE_FALSE(failed);
  std::set<std::string> all(got_a.begin(), got_a.end());
  all.insert(got_b.begin(), got_b.end());
  CHECK(all.size() == got_a.size() + got_b.size());  // disjoint
  CHECK(all == listed);
  CHECK(fx.store->list_resumable(100)->empty());

  // renew_all extends what an owner holds.
  auto renewed = fx.store->renew_all("inst-a", kLive);
  REQUIRE(renewed);
  CHECK(std::set<std::string>(renewed->begin(), renewed->end()) ==
        std::set<std::string>(got_a.begin(), got_a.end()));
}

TEST_CASE("Sub-workflow executions are renewed with their owner but never claimed on their own",
          "[eventstore][leases][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->start_execution_sync(request("p", 0, {started("w")})));
  Event child = started("child");
  child.data["parent"] = {{"execution", "p"}, {"step", "call"}};
  REQUIRE(fx.store->start_execution_sync(request("p.call.1", 0, {child})));
  CHECK(fx.store->get_execution("p.call.1")->value().parent == std::optional<std::string>("p"));

  auto listed = fx.store->list_resumable(100);
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().id == "p");
  CHECK(fx.store->claim_resumable("a", kLive, 10) == std::vector<std::string>{"p"});
  CHECK(fx.store->claim("p.call.1", "a", kLive) == true);  // the parent's run takes it explicitly
  // Both leases are extended; only the parent is reported for resuming.
  CHECK(fx.store->renew_all("a", kLive) == std::vector<std::string>{"p"});
  CHECK(fx.store->renew("p.call.1", "a", kLive) == true);
}

TEST_CASE("The owner of a parent takes its child's lease before the child's own lease lapses",
          "[eventstore][leases][integration]") {
  StoreFixture fx;
  REQUIRE(fx.store->start_execution_sync(request("p", 0, {started("w")})));
  Event child = started("child");
  child.data["parent"] = {{"execution", "p"}, {"step", "call"}};
  REQUIRE(fx.store->start_execution_sync(request("p.call.1", 0, {child})));
  // node-1 ran both; its parent lease lapsed first, its child lease is still live.
  REQUIRE(fx.store->claim("p", "node-1", kLapsed) == true);
  REQUIRE(fx.store->claim("p.call.1", "node-1", kLive) == true);

  CHECK(fx.store->claim("p.call.1", "node-2", kLive) == false);  // not node-2's parent yet
  REQUIRE(fx.store->claim("p", "node-2", kLive) == true);
  CHECK(fx.store->claim("p.call.1", "node-2", kLive) == true);  // the parent's owner adopts it
  CHECK(fx.store->get_execution("p.call.1")->value().owner == std::optional<std::string>("node-2"));
  CHECK(fx.store->renew("p.call.1", "node-1", kLive) == false);  // node-1 lost it
  CHECK(fx.store->claim("p.call.1", "node-1", kLive) == false);  // and cannot take it back
}

TEST_CASE(
    "Orphaned sub-workflow executions are not renewed and are claimed once their lease lapsed",
    "[eventstore][leases][integration]") {
  StoreFixture fx;
  auto child_of = [](const std::string& parent) {
    Event child = started("child");
    child.data["parent"] = {{"execution", parent}, {"step", "call"}};
    return child;
  };
  for (const char* parent : {"p", "r"}) {
    REQUIRE(fx.store->start_execution_sync(request(parent, 0, {started("w")})));
    const std::string child = std::string(parent) + ".call.1";
    REQUIRE(fx.store->start_execution_sync(request(child, 0, {child_of(parent)})));
    REQUIRE(fx.store->claim(child, "a", kLive) == true);
  }
  // A child whose parent is unknown, never leased.
  REQUIRE(fx.store->start_execution_sync(request("q.call.1", 0, {child_of("q")})));

  // While p and r run, only q's child is an orphan.
  CHECK(fx.store->claim_orphans("b", kLive) == std::vector<std::string>{"q.call.1"});
  CHECK(fx.store->claim_orphans("b", kLive) == std::vector<std::string>{});

  // p ends: its child is an orphan, but its live lease still protects it.
  REQUIRE(fx.store->append_sync(request("p", 1, {completed()})));
  CHECK(fx.store->claim_orphans("b", kLive) == std::vector<std::string>{});
  // Renewing a's leases (here: into the past) moves r's child only; p's child keeps its lease.
  CHECK(fx.store->renew_all("a", kLapsed) == std::vector<std::string>{});
  CHECK(fx.store->claim_orphans("b", kLive) == std::vector<std::string>{});
  // Once p's child's lease lapses it is claimed, once; r's child (lapsed too) is not an orphan.
  REQUIRE(fx.store->claim("p.call.1", "a", kLapsed) == true);
  CHECK(fx.store->claim_orphans("b", kLive) == std::vector<std::string>{"p.call.1"});
  CHECK(fx.store->claim_orphans("c", kLive) == std::vector<std::string>{});
  CHECK(fx.store->get_execution("p.call.1")->value().owner == std::optional<std::string>("b"));
  CHECK(fx.store->get_execution("r.call.1")->value().owner == std::optional<std::string>("a"));
}

TEST_CASE("release gives back several leases at once, only the caller's",
          "[eventstore][leases][integration]") {
  StoreFixture fx;
  for (const char* id : {"x", "y", "z"}) {
    REQUIRE(fx.store->start_execution_sync(request(id, 0, {started("w")})));
    REQUIRE(fx.store->claim(id, std::string(id) == "z" ? "b" : "a", kLive) == true);
  }
  REQUIRE(fx.store->release({"x", "y", "z"}, "a"));
  CHECK_FALSE(fx.store->get_execution("x")->value().owner.has_value());
  CHECK_FALSE(fx.store->get_execution("y")->value().owner.has_value());
  CHECK(fx.store->get_execution("z")->value().owner == std::optional<std::string>("b"));
  REQUIRE(fx.store->release({}, "a"));
}

}  // namespace
}  // namespace flowd::eventstore
