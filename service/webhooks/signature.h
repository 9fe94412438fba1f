#pragma once
// Webhook signatures: the header parsers of the schemes flowd accepts and their verification over
// the raw request body with OpenSSL's HMAC-SHA256, compared in constant time (CRYPTO_memcmp).
//
//   standard  Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature:
//             v1,<base64> [v1,<base64> ...]` over "<id>.<timestamp>.<body>"; secret
//             `whsec_<base64>`
//   github    `X-Hub-Signature-256: sha256=<hex>` over the body
//   stripe    `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]` over "<t>.<body>"
//   hmac-sha256  a named header holding `<hex>` or `sha256=<hex>` over the body
//
// Timestamped schemes (standard, stripe) refuse a timestamp further than the tolerance from now.
// Pure functions, no state: any thread. Parsers never throw and accept any bytes (they are fuzzed:
// service/webhooks/fuzz/signature_header_fuzz.cc).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowd::webhooks {

enum class Scheme { kStandard, kGithub, kStripe, kHmacSha256 };

// "standard" (also "standard-webhooks"), "github", "stripe", "hmac-sha256".
std::optional<Scheme> parse_scheme(std::string_view name);
std::string_view to_string(Scheme scheme);

struct SignatureSpec {
  Scheme scheme = Scheme::kStandard;
  std::string header;                   // hmac-sha256: the header carrying the signature
  std::chrono::seconds tolerance{300};  // standard, stripe: allowed clock distance
};

// --- header parsers (fuzzed)
// ----------------------------------------------------------------------

// `v1,<base64>` entries separated by spaces: the decoded signatures of version v1 (others are
// ignored); empty when none is well-formed.
std::vector<std::string> parse_standard_signatures(std::string_view header);

struct StripeSignature {
  std::int64_t timestamp = 0;
  std::vector<std::string> v1;  // decoded from hex
};
// `t=<digits>,v1=<hex>,...`; nullopt without a valid t or without any valid v1.
std::optional<StripeSignature> parse_stripe_signature(std::string_view header);

// `sha256=<hex>` (GitHub; `require_prefix`) or plain `<hex>`: the decoded digest, nullopt when
// malformed or not 32 bytes.
std::optional<std::string> parse_sha256_hex(std::string_view header, bool require_prefix);

// A decimal Unix timestamp in seconds (no sign, at most 12 digits).
std::optional<std::int64_t> parse_unix_seconds(std::string_view text);

// --- encodings and primitives (OpenSSL)
// -----------------------------------------------------------

// Standard base64 with padding; nullopt when malformed.
std::optional<std::string> base64_decode(std::string_view text);
std::string base64_encode(std::string_view bytes);
std::optional<std::string> hex_decode(std::string_view text);
std::string hex_encode(std::string_view bytes);
std::string hmac_sha256(std::string_view key, std::string_view data);
std::string sha256_hex(std::string_view data);
// Constant time for equal lengths (CRYPTO_memcmp); different lengths are unequal.
bool digest_equals(std::string_view a, std::string_view b);

// The HMAC key of a Standard Webhooks secret: the bytes of `whsec_<base64>`, else the text itself.
std::string standard_webhooks_key(std::string_view secret);

// --- verification
// ---------------------------------------------------------------------------------

enum class Verdict { kValid, kMissing, kMalformed, kMismatch, kStale };

struct Verification {
  Verdict verdict = Verdict::kMissing;
  std::string reason;  // for the 401 answer: never contains the secret or the expected digest
  bool valid() const { return verdict == Verdict::kValid; }
};

// A header's value by (case-insensitive) name, "" when absent.
using HeaderLookup = std::function<std::string_view(std::string_view name)>;

Verification verify(const SignatureSpec& spec, std::string_view secret, const HeaderLookup& headers,
                    std::string_view body, std::int64_t now_unix_seconds);

// The signature headers a sender would add (tests, `flowctl`): name -> value.
std::vector<std::pair<std::string, std::string>> sign(const SignatureSpec& spec,
                                                      std::string_view secret,
                                                      std::string_view body,
                                                      std::int64_t unix_seconds,
                                                      std::string_view delivery_id);

}  // namespace flowd::webhooks
