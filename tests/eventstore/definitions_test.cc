#include "store_helpers.h"

namespace flowd::eventstore {
namespace {

using namespace test;

Json workflow(const std::string& name, std::optional<int> version, const std::string& message) {
  Json metadata{{"name", name}};
  if (version) metadata["version"] = *version;
  return Json{
      {"apiVersion", "flowd/v1"},
      {"kind", "Workflow"},
      {"metadata", metadata},
      {"spec",
       {{"steps",
         Json::array({{{"id", "say"}, {"type", "log"}, {"with", {{"message", message}}}}})}}}};
}

TEST_CASE("Applying definitions without a version: same content is a no-op, new content bumps",
          "[eventstore][definitions][integration]") {
  StoreFixture fx;
  auto v1 = fx.store->apply_definition(workflow("greet", std::nullopt, "hello"));
  REQUIRE(v1);
  CHECK(v1->created);
  CHECK(v1->version == 1);
  CHECK(v1->name == "greet");
  CHECK(v1->content_hash.size() == 64);
  CHECK(v1->document["metadata"]["version"] == 1);  // stored runnable as greet@1

  auto again = fx.store->apply_definition(workflow("greet", std::nullopt, "hello"));
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(again->version == 1);
  CHECK(again->content_hash == v1->content_hash);

  auto v2 = fx.store->apply_definition(workflow("greet", std::nullopt, "hello, world"));
  REQUIRE(v2);
  CHECK(v2->created);
  CHECK(v2->version == 2);
  CHECK(v2->content_hash != v1->content_hash);

  // Going back to older content is a new version: "apply" makes it the latest.
  auto v3 = fx.store->apply_definition(workflow("greet", std::nullopt, "hello"));
  REQUIRE(v3);
  CHECK(v3->version == 3);
  CHECK(v3->content_hash == v1->content_hash);

  auto latest = fx.store->get_definition("greet");
  REQUIRE(latest);
  REQUIRE(latest->has_value());
  CHECK((*latest)->version == 3);
  auto second = fx.store->get_definition("greet", 2);
  REQUIRE(second);
  REQUIRE(second->has_value());
  CHECK((*second)->document["spec"]["steps"][0]["with"]["message"] == "hello, world");
  CHECK_FALSE(fx.store->get_definition("greet", 9)->has_value());
  CHECK_FALSE(fx.store->get_definition("other")->has_value());
}

TEST_CASE("Applying a declared version: immutable, identical content is a no-op",
          "[eventstore][definitions][integration]") {
  StoreFixture fx;
  auto v5 = fx.store->apply_definition(workflow("pay", 5, "a"));
  REQUIRE(v5);
  CHECK(v5->created);
  CHECK(v5->version == 5);

  auto same = fx.store->apply_definition(workflow("pay", 5, "a"));
  REQUIRE(same);
  CHECK_FALSE(same->created);

  auto changed = fx.store->apply_definition(workflow("pay", 5, "b"));
  REQUIRE_FALSE(changed);
  CHECK(changed.error().is(errc::definition_conflict));
  CHECK_THAT(changed.error().message, Catch::Contains("pay@5"));

  // The version is not part of the content: undeclared re-apply of v5's body is a no-op.
  auto undeclared = fx.store->apply_definition(workflow("pay", std::nullopt, "a"));
  REQUIRE(undeclared);
  CHECK_FALSE(undeclared->created);
  CHECK(undeclared->version == 5);
  auto next = fx.store->apply_definition(workflow("pay", std::nullopt, "c"));
  REQUIRE(next);
  CHECK(next->version == 6);

  auto list = fx.store->list_definitions();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].version == 5);
  CHECK((*list)[1].version == 6);
}

TEST_CASE("Definitions without a name or with a bad version are refused",
          "[eventstore][definitions][integration]") {
  StoreFixture fx;
  const Json bad[] = {
      Json::array(),
      Json{{"metadata", {{"version", 1}}}},
      Json{{"metadata", {{"name", ""}}}},
      Json{{"metadata", {{"name", "x"}, {"version", 0}}}},
      Json{{"metadata", {{"name", "x"}, {"version", "2"}}}},
  };
  for (const auto& doc : bad) {
    INFO(doc.dump());
    auto r = fx.store->apply_definition(doc);
    REQUIRE_FALSE(r);
    CHECK(r.error().is(errc::invalid_argument));
  }
  CHECK(fx.count("SELECT count(*) FROM workflow_definitions") == 0);
}

}  // namespace
}  // namespace flowd::eventstore
