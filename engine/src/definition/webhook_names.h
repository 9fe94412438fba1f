#pragma once
// Names in webhook triggers and secrets, checked when a definition loads (loader.cc): webhook
// paths, secret names and signature schemes. Private to the definition loader.
#include <optional>
#include <string>
#include <string_view>

namespace flowd::definition {

// A webhook path as served under /hooks/: 1 to 4 segments of [A-Za-z0-9._~-] separated by '/',
// no leading or trailing '/', at most 200 characters, no segment "." or "..". Why not, or nothing.
std::optional<std::string> check_webhook_path(std::string_view path);

// A secret name: a letter or '_' then up to 127 of [A-Za-z0-9_.-] (an environment variable
// FLOWD_SECRET_<NAME> and a file name in the secrets folder).
bool is_secret_name(std::string_view name);

inline constexpr std::string_view kSignatureSchemes = "standard, github, stripe, hmac-sha256";
bool is_signature_scheme(std::string_view name);

}  // namespace flowd::definition
