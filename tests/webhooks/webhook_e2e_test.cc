// Webhook deliveries on the real flowd binary: a valid delivery of each signature scheme starts
// exactly one execution (202, its id, after ExecutionStarted committed); a redelivery starts none
// (200, the same id); forged, stale, oversized, non-JSON, rate-limited and unknown-path requests
// get their status and store nothing (checked in SQL). /hooks/ is outside the API's tokens.
#include <catch2/catch.hpp>

#include "flowd/engine/json.h"
#include "http_call.h"
#include "postgres_fixture.h"
#include "webhooks/signature.h"

using namespace flowd;
using namespace flowd::testing;
using boost::beast::http::verb;
using flowd::webhooks::Scheme;
using flowd::webhooks::SignatureSpec;

namespace {

const char* kHooks = R"(apiVersion: flowd/v1
kind: Workflow
metadata: {name: hooked, version: 1}
spec:
  input: {type: object, required: [order], properties: {order: {type: integer}}}
  steps:
    - {id: take, type: noop}
  triggers:
    - webhook: {path: std/orders, secret: HOOK_SECRET, signature: standard}
    - webhook: {path: gh, secret: HOOK_SECRET, signature: github,
                filter: "{{ request.body.action | default('none') }} != 'ignore'",
                input: {order: "{{ request.body.order }}"}}
    - webhook: {path: stripe, secret: HOOK_SECRET, signature: {scheme: stripe, tolerance: 1m}}
    - webhook: {path: plain, secret: HOOK_SECRET,
                signature: {scheme: hmac-sha256, header: X-Signature}}
    - webhook: {path: limited, secret: HOOK_SECRET, signature: github,
                rateLimit: {perSecond: 0.01, burst: 3}}
)";

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers signed_headers(const SignatureSpec& spec, const std::string& body, const std::string& id,
                       std::int64_t at = now_seconds()) {
  return webhooks::sign(spec, kSecret, body, at, id);
}

}  // namespace

TEST_CASE("Webhook deliveries start exactly one execution; refused ones store nothing",
          "[integration][webhooks]") {
  PostgresDatabase db;
  auto dir = fresh_dir("webhook_e2e");
  write_file(dir / "hooks.yaml", kHooks);
  FlowdProcess flowd({"--database", db.url(), "--workflows", dir.string()},
                     {{"FLOWD_HTTP_LISTEN", "127.0.0.1:0"},
                      {"FLOWD_KAFKA_BOOTSTRAP_FILE", (dir / "broker").string()},
                      {"FLOWD_ENGINE_INSTANCE_ID", "webhook-test"},
                      {"FLOWD_SECRET_HOOK_SECRET", kSecret},
                      // Tokens for /api/v1 only: /hooks/ must not need one.
                      {"FLOWD_HTTP_TOKEN", "api-token-1"},
                      {"FLOWD_WEBHOOKS_MAX_BODY_BYTES", "2048"}},
                     (dir / "flowd.log").string());
  REQUIRE(flowd.wait_running());
  const auto port = api_port(flowd);
  auto executions = [&](const std::string& path) {
    return db.query("SELECT count(*) FROM executions WHERE dedupe_key LIKE 'webhook:" + path +
                    "/%'");
  };

  struct Scheme_ {
    std::string path;
    SignatureSpec spec;
  } schemes[] = {{"std/orders", {Scheme::kStandard, {}, {}}},
                 {"gh", {Scheme::kGithub, {}, {}}},
                 {"stripe", {Scheme::kStripe, {}, {}}},
                 {"plain", {Scheme::kHmacSha256, "X-Signature", {}}}};
  for (const auto& s : schemes) {
    INFO("webhook " << s.path);
    const std::string body = R"({"order": 7, "action": "created"})";
    const std::string delivery = "delivery-" + s.path.substr(0, 3);
    auto headers = signed_headers(s.spec, body, delivery);

    auto first = http_call(port, verb::post, "/hooks/" + s.path, body, headers);
    INFO(first.body);
    REQUIRE(first.status == 202);
    const std::string id = first.json().at("id").get<std::string>();
    // 202 comes after ExecutionStarted committed: it is in the table already.
    CHECK(db.query("SELECT count(*) FROM events WHERE stream_id = 'execution-" + id +
                   "' AND type = 'ExecutionStarted'") == "1");
    CHECK(db.query("SELECT metadata->>'actor' FROM events WHERE stream_id = 'execution-" + id +
                   "' AND stream_version = 1") == "webhook:" + s.path + "/" + delivery);

    auto again = http_call(port, verb::post, "/hooks/" + s.path, body, headers);
    CHECK(again.status == 200);
    CHECK(again.json().value("id", "") == id);
    CHECK(again.json().value("duplicate", false));
    CHECK(executions(s.path) == "1");

    // Forged: the same headers over another body; a wrong signature; none at all.
    CHECK(http_call(port, verb::post, "/hooks/" + s.path, R"({"order": 8})", headers).status ==
          401);
    auto forged = webhooks::sign(s.spec, "whsec_d3Jvbmc=", body, now_seconds(), "forged-1");
    CHECK(http_call(port, verb::post, "/hooks/" + s.path, body, forged).status == 401);
    auto unsigned_ = http_call(port, verb::post, "/hooks/" + s.path, body);
    CHECK(unsigned_.status == 401);
    CHECK(unsigned_.json()["error"].value("code", "") == "UNAUTHORIZED");
    CHECK(executions(s.path) == "1");
    REQUIRE(eventually([&] {
      return db.query("SELECT status FROM executions WHERE id = '" + id + "'") == "completed";
    }));
  }

  // Stale: timestamped schemes refuse a delivery signed 10 minutes ago (stripe's tolerance is 1m).
  for (const auto& s : {schemes[0], schemes[2]}) {
    const std::string body = R"({"order": 9})";
    auto old = signed_headers(s.spec, body, "stale-" + s.path.substr(0, 3), now_seconds() - 600);
    auto r = http_call(port, verb::post, "/hooks/" + s.path, body, old);
    INFO(r.body);
    CHECK(r.status == 401);
    CHECK(r.body.find("tolerance") != std::string::npos);
  }
  // A delivery id from the body's hash when the sender gives none (github without the header).
  {
    const std::string body = R"({"order": 11})";
    Headers h{{"X-Hub-Signature-256",
               "sha256=" + webhooks::hex_encode(webhooks::hmac_sha256(kSecret, body))}};
    auto r = http_call(port, verb::post, "/hooks/gh", body, h);
    REQUIRE(r.status == 202);
    CHECK(db.query("SELECT dedupe_key FROM executions WHERE id = '" +
                   r.json()["id"].get<std::string>() + "'") ==
          "webhook:gh/" + webhooks::sha256_hex(body));
    CHECK(http_call(port, verb::post, "/hooks/gh", body, h).status == 200);
  }
  // The filter says no: answered, nothing started.
  {
    const std::string body = R"({"order": 12, "action": "ignore"})";
    auto r = http_call(port, verb::post, "/hooks/gh", body,
                       signed_headers(schemes[1].spec, body, "ignored-1"));
    CHECK(r.status == 200);
    CHECK(r.json().value("status", "") == "ignored");
  }
  CHECK(executions("gh") == "2");

  // Oversized, non-JSON (type and body), input failing the schema, unknown path.
  {
    std::string big = R"({"order": 1, "pad": ")" + std::string(4096, 'x') + "\"}";
    auto r = http_call(port, verb::post, "/hooks/plain", big,
                       signed_headers(schemes[3].spec, big, "big-1"));
    CHECK(r.status == 413);
    std::string text = "order=1";
    auto h = signed_headers(schemes[3].spec, text, "text-1");
    h.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    CHECK(http_call(port, verb::post, "/hooks/plain", text, h).status == 415);
    std::string broken = R"({"order": )";
    CHECK(http_call(port, verb::post, "/hooks/plain", broken,
                    signed_headers(schemes[3].spec, broken, "broken-1"))
              .status == 415);
    std::string wrong = R"({"order": "seven"})";
    CHECK(http_call(port, verb::post, "/hooks/plain", wrong,
                    signed_headers(schemes[3].spec, wrong, "wrong-1"))
              .status == 400);
    CHECK(executions("plain") == "1");
    auto missing = http_call(port, verb::post, "/hooks/nobody/home", "{}");
    CHECK(missing.status == 404);
    CHECK(executions("nobody") == "0");
  }

  // Rate limit (this webhook's own: burst 3, one token per 100 s): of 10 quick valid deliveries
  // 3 start and 7 get 429 with Retry-After; exactly 3 executions exist.
  {
    int accepted = 0, limited = 0;
    std::string retry_after;
    for (int i = 0; i < 10; ++i) {
      std::string body = R"({"order": )" + std::to_string(100 + i) + "}";
      auto r = http_call(port, verb::post, "/hooks/limited", body,
                         signed_headers(schemes[1].spec, body, "burst-" + std::to_string(i)));
      if (r.status == 202) ++accepted;
      if (r.status == 429) {
        ++limited;
        retry_after = r.headers["retry-after"];
      }
    }
    CHECK(accepted == 3);
    CHECK(limited == 7);
    REQUIRE_FALSE(retry_after.empty());
    CHECK(std::stoi(retry_after) >= 1);
    CHECK(executions("limited") == "3");
  }

  // Nothing refused left a trace: every execution is one of the accepted deliveries.
  CHECK(db.query("SELECT count(*) FROM executions") ==
        std::to_string(4 + 1 + std::stoi(executions("limited"))));
  CHECK(db.query("SELECT count(*) FROM dead_letters") == "0");

  // The API still needs its token; the webhook list and the metrics are there.
  CHECK(http_call(port, verb::get, "/api/v1/webhooks").status == 401);
  auto list =
      http_call(port, verb::get, "/api/v1/webhooks", {}, {{"Authorization", "Bearer api-token-1"}});
  REQUIRE(list.status == 200);
  CHECK(list.json()["items"].size() == 5);
  auto metrics =
      http_call(port, verb::get, "/metrics", {}, {{"Authorization", "Bearer api-token-1"}}).body;
  CHECK(metrics.find("flowd_webhook_requests_total{webhook=\"gh\",outcome=\"started\"} 2") !=
        std::string::npos);
  CHECK(metrics.find("outcome=\"rate_limited\"") != std::string::npos);
  CHECK(metrics.find("flowd_webhook_requests_total{webhook=\"std/orders\",outcome=\"stale\"} 1") !=
        std::string::npos);

  // flowctl webhooks list shows the paths and their workflows.
  auto out_file = dir / "list.txt";
  std::string cmd = std::string(FLOWD_BIN_DIR) +
                    "/flowctl webhooks list --server http://127.0.0.1:" + std::to_string(port) +
                    " --token api-token-1 > " + out_file.string() + " 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  auto listed = read_file(out_file);
  INFO(listed);
  CHECK(listed.find("/hooks/std/orders") != std::string::npos);
  CHECK(listed.find("hooked@1") != std::string::npos);
  CHECK(flowd.stop(SIGTERM) == 0);
  CHECK(read_file(dir / "flowd.log").find(kSecret) == std::string::npos);
}
