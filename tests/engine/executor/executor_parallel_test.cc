// Parallelism: independent steps, maxParallel, forEach limits and aggregation, nesting.
#include "harness.h"

using flowd::Json;
using flowd::test::Harness;

namespace {

std::string wf(const std::string& spec) {
  return "apiVersion: flowd/v1\nkind: Workflow\nmetadata: {name: p, version: 1}\nspec:\n" + spec;
}

}  // namespace

TEST_CASE("Independent steps run in parallel; a join waits for both", "[engine][parallel]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  steps:
    - {id: left, type: gate}
    - {id: right, type: gate}
    - {id: join, type: gate, dependsOn: [left, right]}
)")));
  h.run_until([&] { return h.gate->waiting.size() == 2; });
  CHECK(h.gate->current == 2);
  CHECK(h.gate->calls.count("join") == 0);
  h.gate->release_all();
  h.run_until([&] { return h.gate->calls.count("join") == 1 && h.gate->waiting.size() == 1; });
  CHECK(h.gate->current == 1);
  h.gate->release_all();
  h.run_until([&] { return h.final_states.count(id) == 1; });
  CHECK(h.final_states.at(id).status == flowd::ExecutionStatus::kCompleted);
  CHECK(h.gate->max_seen == 2);
}

TEST_CASE("maxParallel bounds the steps running at once", "[engine][parallel]") {
  Harness h;
  auto id = h.start(h.load(wf(R"(
  maxParallel: 2
  steps:
    - {id: a, type: gate}
    - {id: b, type: gate}
    - {id: c, type: gate}
    - {id: d, type: gate}
)")));
  for (int round = 0; round < 2; ++round) {
    h.run_until([&] { return h.gate->waiting.size() == 2; });
    CHECK(h.gate->current == 2);
    h.gate->release_all();
  }
  h.run_until([&] { return h.final_states.count(id) == 1; });
  CHECK(h.gate->max_seen == 2);
  CHECK(h.final_states.at(id).status == flowd::ExecutionStatus::kCompleted);
}

TEST_CASE("forEach honours its own maxParallel and aggregates outputs in item order",
          "[engine][forEach]") {
  Harness h;
  auto id = h.start(
      h.load(wf(R"(
  steps:
    - id: each
      forEach: {items: "{{ input.items }}", as: it, maxParallel: 2}
      type: gate
      with: {sku: "{{ it.sku }}", i: "{{ index }}"}
)")),
      Json{
          {"items",
           Json::array(
               {{{"sku", "a"}}, {{"sku", "b"}}, {{"sku", "c"}}, {{"sku", "d"}}, {{"sku", "e"}}})}});
  while (h.final_states.count(id) == 0) {
    h.run_until([&] { return !h.gate->waiting.empty() || h.final_states.count(id) == 1; });
    CHECK(h.gate->current <= 2);
    h.gate->release_all();
  }
  const auto& s = h.final_states.at(id);
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(h.gate->max_seen == 2);
  const Json& out = s.steps.at("each").output;
  CHECK(out["itemCount"] == 5);
  CHECK(out["successCount"] == 5);
  CHECK(out["failureCount"] == 0);
  REQUIRE(out["outputs"].size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(out["outputs"][i]["with"]["i"] == i);
    CHECK(out["outputs"][i]["with"]["sku"] == std::string(1, static_cast<char>('a' + i)));
  }
}

TEST_CASE("A forEach condition skips items; failures are counted, not hidden",
          "[engine][forEach]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: reserve
      forEach: {items: "{{ input.items }}"}
      if: "{{ item.qty }} > 0 && {{ item.sku }} != 'gift'"
      type: transform
      with: {sku: "{{ item.sku }}", reserved: true}
    - id: charge
      forEach: {items: "{{ input.items }}"}
      type: fail
      with: {code: INVALID_INPUT, message: "no"}
      continueOnError: true
  output: {reserved: "{{ steps.reserve.output.outputs }}", charged: "{{ steps.charge.output }}"}
)"),
                 Json{{"items", Json::parse(R"([{"sku":"x","qty":1},{"sku":"gift","qty":1},
                                               {"sku":"y","qty":0},{"sku":"z","qty":2}])")}});
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  const Json& r = s.steps.at("reserve").output;
  CHECK(r["itemCount"] == 4);
  CHECK(r["successCount"] == 2);
  CHECK(r["failureCount"] == 0);
  CHECK(r["outputs"][1].is_null());
  CHECK(r["outputs"][3] == Json{{"sku", "z"}, {"reserved", true}});
  CHECK(s.steps.at("reserve[1]").status == flowd::StepStatus::kSkipped);
  CHECK(s.steps.at("charge").status == flowd::StepStatus::kFailed);
  CHECK(s.steps.at("charge").error->message.find("4 of 4 items failed") != std::string::npos);
}

TEST_CASE("forEach over an empty list completes with zero counts", "[engine][forEach]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: each, forEach: {items: "{{ input.items }}"}, type: noop}
)"),
                 Json{{"items", Json::array()}});
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  CHECK(
      s.steps.at("each").output ==
      Json{{"outputs", Json::array()}, {"itemCount", 0}, {"successCount", 0}, {"failureCount", 0}});
}

TEST_CASE("forEach items that are not a list fail the step clearly", "[engine][forEach]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: each, forEach: {items: "{{ input.items }}"}, type: noop}
)"),
                 Json{{"items", "abc"}});
  REQUIRE(s.status == flowd::ExecutionStatus::kFailed);
  CHECK(s.error->code == flowd::ErrorCode::kInvalidInput);
  CHECK(s.error->message.find("not an array") != std::string::npos);
}

TEST_CASE("Nested forEach groups run to depth 3 and see outer items", "[engine][forEach][nested]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - id: orders
      forEach: {items: "{{ input.orders }}", as: order}
      steps:
        - id: lines
          forEach: {items: "{{ order.lines }}", as: line}
          steps:
            - id: units
              forEach: {items: "{{ line.units }}", as: unit}
              type: transform
              with: {order: "{{ order.id }}", sku: "{{ line.sku }}", unit: "{{ unit }}"}
          output: "{{ steps.units.output.successCount }}"
        - id: total
          dependsOn: [lines]
          type: transform
          with: {order: "{{ order.id }}", lines: "{{ steps.lines.output.outputs }}"}
)"),
                 Json::parse(R"({"orders":[{"id":"o1","lines":[{"sku":"a","units":[1,2]},
                   {"sku":"b","units":[3]}]},{"id":"o2","lines":[]}]})"));
  REQUIRE(s.status == flowd::ExecutionStatus::kCompleted);
  const Json& out = s.steps.at("orders").output;
  CHECK(out["itemCount"] == 2);
  CHECK(out["outputs"][0] == Json{{"order", "o1"}, {"lines", Json::array({2, 1})}});
  CHECK(out["outputs"][1] == Json{{"order", "o2"}, {"lines", Json::array()}});
  CHECK(s.steps.at("orders[0].lines[0].units[1]").output ==
        Json{{"order", "o1"}, {"sku", "a"}, {"unit", 2}});
}

TEST_CASE("Parallel failures end the execution once, with the first failure",
          "[engine][parallel][failure]") {
  Harness h;
  auto s = h.run(wf(R"(
  steps:
    - {id: a, type: fail, with: {code: INVALID_INPUT, message: boom-a}}
    - {id: b, type: fail, with: {code: INVALID_INPUT, message: boom-b}}
    - {id: after, type: noop, dependsOn: [a, b]}
)"));
  REQUIRE(s.status == flowd::ExecutionStatus::kFailed);
  CHECK((s.failed_step == "a" || s.failed_step == "b"));
  CHECK(s.steps.count("after") == 0);
  int terminal = 0;
  for (const auto& e : h.log.read(s.id)) terminal += flowd::is_terminal(e.type) ? 1 : 0;
  CHECK(terminal == 1);
}
