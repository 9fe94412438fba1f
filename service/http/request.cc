#include "http/request.h"

#include <charconv>

namespace flowd::http {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int hi = hex_value(text[i + 1]), lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<Params> parse_query(std::string_view query) {
  Params out;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto part = query.substr(start, amp == std::string_view::npos ? amp : amp - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      auto name = percent_decode(part.substr(0, eq), true);
      auto value = eq == std::string_view::npos ? std::optional<std::string>("")
                                                : percent_decode(part.substr(eq + 1), true);
      if (!name || !value) return std::nullopt;
      out.emplace_back(std::move(*name), std::move(*value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

tl::expected<Request, ApiError> Request::make(RawRequest raw, std::string request_id,
                                              std::string remote) {
  Request r;
  r.raw_ = std::move(raw);
  r.request_id_ = std::move(request_id);
  r.remote_ = std::move(remote);
  std::string_view target = to_std(r.raw_.target());
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  if (auto hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  if (path.empty() || path[0] != '/')
    return tl::unexpected(ApiError::invalid_input(
        "the request target must be an absolute path, got '" + std::string(target) + "'"));
  if (q != std::string_view::npos) {
    auto query = target.substr(q + 1);
    if (auto hash = query.find('#'); hash != std::string_view::npos) query = query.substr(0, hash);
    auto parsed = parse_query(query);
    if (!parsed)
      return tl::unexpected(ApiError::invalid_input("the query string has invalid percent-encoding",
                                                    "encode '%' as %25"));
    r.query_ = std::move(*parsed);
  }
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  // Split before decoding so an encoded '/' (%2F) stays inside its segment.
  std::size_t start = 1;
  while (path.size() > 1 && start <= path.size()) {
    auto slash = path.find('/', start);
    auto raw_segment = path.substr(start, slash == std::string_view::npos ? slash : slash - start);
    auto segment = percent_decode(raw_segment, false);
    if (!segment)
      return tl::unexpected(ApiError::invalid_input(
          "the path has invalid percent-encoding: '" + std::string(raw_segment) + "'",
          "encode '%' as %25"));
    r.segments_.push_back(std::move(*segment));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  r.path_ = "/";
  for (std::size_t i = 0; i < r.segments_.size(); ++i) {
    if (i) r.path_ += '/';
    r.path_ += r.segments_[i];
  }
  return r;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params_)
    if (k == name) return v;
  return {};
}

std::optional<std::string> Request::query(std::string_view name) const {
  for (const auto& [k, v] : query_)
    if (k == name) return v;
  return std::nullopt;
}

std::vector<std::string> Request::query_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query_)
    if (k == name) out.push_back(v);
  return out;
}

tl::expected<std::optional<std::int64_t>, ApiError> Request::query_int(std::string_view name,
                                                                       std::int64_t min,
                                                                       std::int64_t max) const {
  auto text = query(name);
  if (!text) return std::optional<std::int64_t>();
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (text->empty() || ec != std::errc() || ptr != text->data() + text->size())
    return tl::unexpected(ApiError::invalid_input(
        "query parameter '" + std::string(name) + "' must be an integer, got '" + *text + "'",
        "use an integer in " + range));
  if (value < min || value > max)
    return tl::unexpected(ApiError::invalid_input(
        "query parameter '" + std::string(name) + "' is out of range: " + *text,
        "use an integer in " + range));
  return std::optional<std::int64_t>(value);
}

std::string_view Request::header(std::string_view name) const {
  auto it = raw_.find(boost::beast::string_view(name.data(), name.size()));
  if (it == raw_.end()) return {};
  auto v = it->value();
  return {v.data(), v.size()};
}

tl::expected<nlohmann::json, ApiError> Request::json() const {
  auto type = lower(header("Content-Type"));
  if (!type.empty()) {
    auto media = type.substr(0, type.find(';'));
    while (!media.empty() && media.back() == ' ') media.pop_back();
    if (media != "application/json" && !media.ends_with("+json"))
      return tl::unexpected(ApiError::make(
          codes::kUnsupportedMediaType,
          "expected a JSON body, got Content-Type '" + std::string(header("Content-Type")) + "'"));
  }
  if (body().empty())
    return tl::unexpected(
        ApiError::invalid_input("the request body is empty; a JSON document "
                                "is expected"));
  try {
    return nlohmann::json::parse(body());
  } catch (const nlohmann::json::parse_error& e) {
    return tl::unexpected(ApiError::invalid_input(
        "the request body is not valid JSON (at byte " + std::to_string(e.byte) + ")",
        "send one JSON document with 'Content-Type: application/json'"));
  }
}

Response Response::json(const nlohmann::json& body, Status status) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

Response Response::text(std::string body, Status status, std::string content_type) {
  Response r;
  r.status = status;
  r.content_type = std::move(content_type);
  r.body = std::move(body);
  return r;
}

Response Response::no_content() {
  Response r;
  r.status = Status::no_content;
  r.content_type.clear();
  return r;
}

Response error_response(const ApiError& error, std::string_view request_id) {
  return Response::json(error_body(error, request_id), static_cast<Status>(error.status()));
}

}  // namespace flowd::http
