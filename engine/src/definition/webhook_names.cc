#include "definition/webhook_names.h"

namespace flowd::definition {
namespace {

bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '~' || c == '-';
}

}  // namespace

std::optional<std::string> check_webhook_path(std::string_view path) {
  if (path.empty()) return "must not be empty";
  if (path.size() > 200) return "is longer than 200 characters";
  if (path.front() == '/' || path.back() == '/')
    return "must not start or end with '/' (it is served as /hooks/<path>)";
  int segments = 0;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (segment.empty()) return "has an empty segment ('//')";
    if (segment == "." || segment == "..") return "must not have a '.' or '..' segment";
    for (char c : segment)
      if (!path_char(c))
        return "may only contain letters, digits, '.', '_', '~', '-' and '/' between segments";
    if (++segments > 4) return "has more than 4 segments";
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return std::nullopt;
}

bool is_secret_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto first = name.front();
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z') || first == '_'))
    return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == '-'))
      return false;
  return true;
}

bool is_signature_scheme(std::string_view name) {
  return name == "standard" || name == "standard-webhooks" || name == "github" ||
         name == "stripe" || name == "hmac-sha256";
}

}  // namespace flowd::definition
