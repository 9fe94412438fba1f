// Webhook signatures: published test vectors, every scheme's sign -> verify round trip and the
// ways a delivery is refused (table-driven), the header parsers' edge cases, the rate limiter.
#include <catch2/catch.hpp>

#include "webhooks/rate_limiter.h"
#include "webhooks/signature.h"

using namespace flowd::webhooks;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

HeaderLookup lookup(const Headers& headers) {
  return [&headers](std::string_view name) -> std::string_view {
    for (const auto& [k, v] : headers) {
      if (k.size() != name.size()) continue;
      bool same = true;
      for (std::size_t i = 0; i < k.size(); ++i)
        same = same && std::tolower(static_cast<unsigned char>(k[i])) ==
                           std::tolower(static_cast<unsigned char>(name[i]));
      if (same) return v;
    }
    return {};
  };
}

const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

}  // namespace

TEST_CASE("Published test vectors verify", "[webhooks][signature]") {
  // GitHub's documented example (docs: validating webhook deliveries).
  SignatureSpec github{Scheme::kGithub, {}, std::chrono::seconds(300)};
  Headers gh{{"X-Hub-Signature-256",
              "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}};
  CHECK(verify(github, "It's a Secret to Everybody", lookup(gh), "Hello, World!", 0).valid());

  // The Standard Webhooks example (standard-webhooks spec / svix libraries' tests).
  SignatureSpec standard{Scheme::kStandard, {}, std::chrono::seconds(300)};
  Headers sw{{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
             {"webhook-timestamp", "1614265330"},
             {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
  CHECK(verify(standard, kSecret, lookup(sw), R"({"test": 2432232314})", 1614265330).valid());
}

TEST_CASE("Each scheme accepts what it signed and refuses the rest", "[webhooks][signature]") {
  const std::int64_t now = 1'700'000'000;
  const std::string body = R"({"order":42})";
  struct Case {
    Scheme scheme;
    std::string header;
  } schemes[] = {{Scheme::kStandard, ""},
                 {Scheme::kGithub, ""},
                 {Scheme::kStripe, ""},
                 {Scheme::kHmacSha256, "X-Signature"}};
  for (const auto& c : schemes) {
    SignatureSpec spec{c.scheme, c.header, std::chrono::seconds(300)};
    INFO(to_string(c.scheme));
    auto headers = sign(spec, kSecret, body, now, "delivery-1");
    CHECK(verify(spec, kSecret, lookup(headers), body, now).valid());
    CHECK(verify(spec, kSecret, lookup(headers), body, now + 299).valid());

    auto tampered = verify(spec, kSecret, lookup(headers), R"({"order":43})", now);
    CHECK(tampered.verdict == Verdict::kMismatch);
    CHECK(tampered.reason.find(kSecret) == std::string::npos);
    CHECK(verify(spec, "whsec_b3RoZXI=", lookup(headers), body, now).verdict == Verdict::kMismatch);
    CHECK(verify(spec, kSecret, lookup({}), body, now).verdict == Verdict::kMissing);

    const bool timestamped = c.scheme == Scheme::kStandard || c.scheme == Scheme::kStripe;
    auto late = verify(spec, kSecret, lookup(headers), body, now + 301);
    CHECK(late.verdict == (timestamped ? Verdict::kStale : Verdict::kValid));
    auto early = verify(spec, kSecret, lookup(headers), body, now - 301);
    CHECK(early.verdict == (timestamped ? Verdict::kStale : Verdict::kValid));

    Headers garbled = headers;
    for (auto& [k, v] : garbled)
      if (k != "webhook-id" && k != "webhook-timestamp" && k != "Idempotency-Key" &&
          k != "X-GitHub-Delivery")
        v = "v1=zz,sha256=nothex";
    CHECK(verify(spec, kSecret, lookup(garbled), body, now).verdict == Verdict::kMalformed);
  }
}

TEST_CASE("Standard Webhooks: any of several signatures may match", "[webhooks][signature]") {
  SignatureSpec spec{Scheme::kStandard, {}, std::chrono::seconds(300)};
  auto headers = sign(spec, kSecret, "{}", 100, "id-1");
  auto& sig = headers[2].second;
  sig = "v1," + base64_encode(std::string(32, 'x')) + " v2,abc " + sig;  // rotated secret first
  CHECK(verify(spec, kSecret, lookup(headers), "{}", 100).valid());
}

TEST_CASE("Signature header parsers take apart what they should", "[webhooks][signature]") {
  CHECK(parse_standard_signatures("").empty());
  CHECK(parse_standard_signatures("v1,").empty());
  CHECK(parse_standard_signatures("v1,====").empty());
  CHECK(parse_standard_signatures("v1," + base64_encode(std::string(31, 'a'))).empty());
  CHECK(parse_standard_signatures("v1," + base64_encode(std::string(32, 'a'))).size() == 1);

  std::string hex(64, 'a');
  auto stripe = parse_stripe_signature("t=12, v1=" + hex + ",v0=xyz,v1=" + hex);
  REQUIRE(stripe);
  CHECK(stripe->timestamp == 12);
  CHECK(stripe->v1.size() == 2);
  CHECK_FALSE(parse_stripe_signature("v1=" + hex));          // no t
  CHECK_FALSE(parse_stripe_signature("t=1,t=2,v1=" + hex));  // two t
  CHECK_FALSE(parse_stripe_signature("t=-1,v1=" + hex));
  CHECK_FALSE(parse_stripe_signature("t=1,v1=abc"));  // short digest

  CHECK(parse_sha256_hex("sha256=" + hex, true));
  CHECK_FALSE(parse_sha256_hex(hex, true));
  CHECK(parse_sha256_hex(hex, false));
  CHECK_FALSE(parse_sha256_hex("sha256=" + hex.substr(1), false));
  CHECK_FALSE(parse_unix_seconds("1e9"));
  CHECK_FALSE(parse_unix_seconds("9999999999999"));
  CHECK(base64_decode("YQ==") == std::string("a"));
  CHECK_FALSE(base64_decode("Y==="));
  CHECK_FALSE(base64_decode("YQ=a"));
  CHECK(standard_webhooks_key("plain") == "plain");
  CHECK(standard_webhooks_key("whsec_YWJj") == "abc");
}

TEST_CASE("The token bucket refuses over its burst and refills at its rate", "[webhooks]") {
  RateLimiter limiter(2.0, 3.0);
  auto t0 = RateLimiter::Clock::time_point{} + std::chrono::hours(1);
  for (int i = 0; i < 3; ++i) CHECK(limiter.take("a", t0).allowed);
  auto refused = limiter.take("a", t0);
  CHECK_FALSE(refused.allowed);
  CHECK(refused.retry_after == std::chrono::seconds(1));
  CHECK(limiter.take("b", t0).allowed);  // buckets are per key
  CHECK(limiter.take("a", t0 + std::chrono::milliseconds(500)).allowed);
  CHECK_FALSE(limiter.take("a", t0 + std::chrono::milliseconds(500)).allowed);
}
