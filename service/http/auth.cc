#include "http/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

namespace flowd::http {

std::optional<Role> parse_role(std::string_view text) {
  if (text == "reader") return Role::kReader;
  if (text == "operator") return Role::kOperator;
  return std::nullopt;
}

std::string_view to_string(Role role) {
  return role == Role::kOperator ? "operator" : "reader";
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof digest);
  for (unsigned char c : digest) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<ApiToken> find_token(const std::vector<ApiToken>& tokens,
                                   std::string_view presented) {
  const std::string digest = sha256_hex(presented);
  std::optional<ApiToken> found;
  for (const auto& t : tokens) {
    // No early exit: the time does not tell which (or whether a) token matched.
    bool same = t.sha256_hex.size() == digest.size() &&
                CRYPTO_memcmp(t.sha256_hex.data(), digest.data(), digest.size()) == 0;
    if (same && !found) found = t;
  }
  return found;
}

}  // namespace flowd::http
