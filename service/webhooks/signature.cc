#include "webhooks/signature.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstdlib>

namespace flowd::webhooks {
namespace {

constexpr std::size_t kSha256Bytes = 32;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

}  // namespace

std::optional<Scheme> parse_scheme(std::string_view name) {
  if (name == "standard" || name == "standard-webhooks") return Scheme::kStandard;
  if (name == "github") return Scheme::kGithub;
  if (name == "stripe") return Scheme::kStripe;
  if (name == "hmac-sha256") return Scheme::kHmacSha256;
  return std::nullopt;
}

std::string_view to_string(Scheme scheme) {
  switch (scheme) {
    case Scheme::kStandard:
      return "standard";
    case Scheme::kGithub:
      return "github";
    case Scheme::kStripe:
      return "stripe";
    case Scheme::kHmacSha256:
      return "hmac-sha256";
  }
  return "standard";
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > (1u << 20)) return std::nullopt;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '=') {
      // Only at the end, at most two.
      if (i < text.size() - 2) return std::nullopt;
      ++padding;
    } else if (!is_base64_char(c) || padding > 0) {
      return std::nullopt;
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0 || static_cast<std::size_t>(n) < padding) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string base64_encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> hex_decode(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    int hi = hex_value(text[i]), lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // HMAC() takes a null key pointer for an empty key only with length 0; give it a valid one.
  static const unsigned char kEmpty = 0;
  const void* key_data = key.empty() ? &kEmpty : static_cast<const void*>(key.data());
  HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  return std::string(reinterpret_cast<const char*>(digest), length);
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

bool digest_equals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string standard_webhooks_key(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix)
    if (auto key = base64_decode(secret.substr(kPrefix.size()))) return *key;
  return std::string(secret);
}

std::optional<std::int64_t> parse_unix_seconds(std::string_view text) {
  text = trim(text);
  if (text.empty() || text.size() > 12) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::vector<std::string> parse_standard_signatures(std::string_view header) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < header.size() && out.size() < 16) {
    std::size_t end = header.find(' ', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view entry = header.substr(start, end - start);
    start = end + 1;
    if (entry.size() < 3 || entry.substr(0, 3) != "v1,") continue;
    if (auto decoded = base64_decode(entry.substr(3)); decoded && decoded->size() == kSha256Bytes)
      out.push_back(std::move(*decoded));
  }
  return out;
}

std::optional<StripeSignature> parse_stripe_signature(std::string_view header) {
  StripeSignature out;
  bool have_t = false;
  std::size_t start = 0;
  while (start <= header.size()) {
    std::size_t end = header.find(',', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view item = trim(header.substr(start, end - start));
    start = end + 1;
    auto eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
      if (key == "t") {
        auto t = parse_unix_seconds(value);
        if (!t || have_t) return std::nullopt;  // a second t is ambiguous: refuse
        out.timestamp = *t;
        have_t = true;
      } else if (key == "v1" && out.v1.size() < 16) {
        if (auto d = hex_decode(value); d && d->size() == kSha256Bytes) out.v1.push_back(*d);
      }
    }
    if (end == header.size()) break;
  }
  if (!have_t || out.v1.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> parse_sha256_hex(std::string_view header, bool require_prefix) {
  header = trim(header);
  constexpr std::string_view kPrefix = "sha256=";
  if (header.substr(0, kPrefix.size()) == kPrefix)
    header.remove_prefix(kPrefix.size());
  else if (require_prefix)
    return std::nullopt;
  auto digest = hex_decode(header);
  if (!digest || digest->size() != kSha256Bytes) return std::nullopt;
  return digest;
}

namespace {

Verification result(Verdict verdict, std::string reason) {
  return Verification{verdict, std::move(reason)};
}

bool within(std::int64_t timestamp, std::int64_t now, std::chrono::seconds tolerance) {
  return std::llabs(now - timestamp) <= tolerance.count();
}

}  // namespace

Verification verify(const SignatureSpec& spec, std::string_view secret, const HeaderLookup& headers,
                    std::string_view body, std::int64_t now) {
  switch (spec.scheme) {
    case Scheme::kStandard: {
      auto id = headers("webhook-id");
      auto ts_text = headers("webhook-timestamp");
      auto sig_text = headers("webhook-signature");
      if (id.empty() || ts_text.empty() || sig_text.empty())
        return result(Verdict::kMissing,
                      "webhook-id, webhook-timestamp and webhook-signature are required");
      auto ts = parse_unix_seconds(ts_text);
      if (!ts) return result(Verdict::kMalformed, "webhook-timestamp is not a Unix time");
      auto signatures = parse_standard_signatures(sig_text);
      if (signatures.empty())
        return result(Verdict::kMalformed, "webhook-signature has no well-formed v1 signature");
      if (!within(*ts, now, spec.tolerance))
        return result(Verdict::kStale, "webhook-timestamp is outside the allowed tolerance");
      std::string content;
      content.reserve(id.size() + ts_text.size() + body.size() + 2);
      content.append(id).append(".").append(ts_text).append(".").append(body);
      auto expected = hmac_sha256(standard_webhooks_key(secret), content);
      bool match = false;
      for (const auto& s : signatures) match = digest_equals(s, expected) || match;
      if (!match) return result(Verdict::kMismatch, "no signature matches");
      return result(Verdict::kValid, {});
    }
    case Scheme::kStripe: {
      auto text = headers("Stripe-Signature");
      if (text.empty()) return result(Verdict::kMissing, "Stripe-Signature is required");
      auto parsed = parse_stripe_signature(text);
      if (!parsed) return result(Verdict::kMalformed, "Stripe-Signature needs t=... and v1=...");
      if (!within(parsed->timestamp, now, spec.tolerance))
        return result(Verdict::kStale, "the Stripe-Signature timestamp is outside the tolerance");
      std::string content = std::to_string(parsed->timestamp);
      content.append(".").append(body);
      auto expected = hmac_sha256(secret, content);
      bool match = false;
      for (const auto& s : parsed->v1) match = digest_equals(s, expected) || match;
      if (!match) return result(Verdict::kMismatch, "no v1 signature matches");
      return result(Verdict::kValid, {});
    }
    case Scheme::kGithub:
    case Scheme::kHmacSha256: {
      const bool github = spec.scheme == Scheme::kGithub;
      std::string_view name = github ? std::string_view("X-Hub-Signature-256") : spec.header;
      auto text = headers(name);
      if (text.empty()) return result(Verdict::kMissing, std::string(name) + " is required");
      auto digest = parse_sha256_hex(text, github);
      if (!digest)
        return result(Verdict::kMalformed,
                      std::string(name) + (github ? " must be sha256=<64 hex digits>"
                                                  : " must be <64 hex digits> or sha256=<hex>"));
      if (!digest_equals(*digest, hmac_sha256(secret, body)))
        return result(Verdict::kMismatch, "the signature does not match");
      return result(Verdict::kValid, {});
    }
  }
  return result(Verdict::kMalformed, "unknown scheme");
}

std::vector<std::pair<std::string, std::string>> sign(const SignatureSpec& spec,
                                                      std::string_view secret,
                                                      std::string_view body, std::int64_t ts,
                                                      std::string_view delivery_id) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string t = std::to_string(ts);
  switch (spec.scheme) {
    case Scheme::kStandard: {
      std::string content = std::string(delivery_id) + "." + t + "." + std::string(body);
      out.emplace_back("webhook-id", std::string(delivery_id));
      out.emplace_back("webhook-timestamp", t);
      out.emplace_back("webhook-signature",
                       "v1," + base64_encode(hmac_sha256(standard_webhooks_key(secret), content)));
      break;
    }
    case Scheme::kStripe:
      out.emplace_back(
          "Stripe-Signature",
          "t=" + t + ",v1=" + hex_encode(hmac_sha256(secret, t + "." + std::string(body))));
      if (!delivery_id.empty()) out.emplace_back("Idempotency-Key", std::string(delivery_id));
      break;
    case Scheme::kGithub:
      out.emplace_back("X-Hub-Signature-256", "sha256=" + hex_encode(hmac_sha256(secret, body)));
      if (!delivery_id.empty()) out.emplace_back("X-GitHub-Delivery", std::string(delivery_id));
      break;
    case Scheme::kHmacSha256:
      out.emplace_back(spec.header, hex_encode(hmac_sha256(secret, body)));
      if (!delivery_id.empty()) out.emplace_back("Idempotency-Key", std::string(delivery_id));
      break;
  }
  return out;
}

}  // namespace flowd::webhooks
