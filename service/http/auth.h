#pragma once
// API tokens and roles. A token is configured by name, role and the SHA-256 of its text (hex), so
// the configuration never holds a usable secret; the server hashes what a client sends and
// compares the digests in constant time. Roles are ordered: an operator may do what a reader may.
//
//   reader    GET/HEAD endpoints (list, get, events, metrics) and read-only POSTs
//             (validate, replay: ServerOptions::reader_routes)
//   operator  also everything that changes something: start, pause, resume, cancel, rerun,
//             apply, retention, dead-letter and schedule actions
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flowd::http {

enum class Role { kReader = 1, kOperator = 2 };

std::optional<Role> parse_role(std::string_view text);
std::string_view to_string(Role role);

struct ApiToken {
  std::string name;
  Role role = Role::kReader;
  std::string sha256_hex;  // lower-case, 64 digits
};

// Who made a request: the token's name and role; "anonymous" (operator) when the server has no
// tokens at all.
struct Principal {
  std::string name = "anonymous";
  Role role = Role::kOperator;
  bool authenticated = false;
};

// SHA-256 of `text` as lower-case hex (OpenSSL).
std::string sha256_hex(std::string_view text);

// The token whose digest matches `presented` (every configured one is compared, in constant
// time each), or nullopt.
std::optional<ApiToken> find_token(const std::vector<ApiToken>& tokens, std::string_view presented);

}  // namespace flowd::http
