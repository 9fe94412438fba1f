// libFuzzer target: the webhook signature header parsers and verify() on arbitrary bytes. The
// first byte picks the scheme; the rest is split at the first NUL into header value and body.
// No input may crash, leak or trip a sanitizer; a parsed Stripe header always has a v1 digest.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webhooks/signature.h"

using namespace flowd::webhooks;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto nul = all.find('\0');
  std::string_view header = all.substr(0, nul);
  std::string_view body = nul == std::string_view::npos ? std::string_view() : all.substr(nul + 1);

  (void)parse_standard_signatures(header);
  if (auto s = parse_stripe_signature(header); s && s->v1.empty()) __builtin_trap();
  (void)parse_sha256_hex(header, true);
  (void)parse_sha256_hex(header, false);
  (void)parse_unix_seconds(header);
  (void)base64_decode(header);
  (void)hex_decode(header);
  (void)standard_webhooks_key(header);

  SignatureSpec spec;
  spec.scheme = static_cast<Scheme>(data[0] % 4);
  spec.header = "X-Signature";
  auto lookup = [&](std::string_view) { return header; };
  auto v = verify(spec, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", lookup, body, 1'700'000'000);
  // A header the fuzzer made up must not verify (it would have to forge an HMAC).
  if (v.valid() && header.size() < 8) __builtin_trap();
  return 0;
}
