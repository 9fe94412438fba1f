#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

namespace flowctl {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bh = boost::beast::http;
using tcp = net::ip::tcp;

std::string code_for_status(unsigned status) {
  switch (status) {
    case 400:
      return "INVALID_INPUT";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "PERMISSION_DENIED";
    case 404:
      return "NOT_FOUND";
    case 409:
      return "CONFLICT";
    case 503:
      return "UNAVAILABLE";
    default:
      return status >= 500 ? "INTERNAL" : "INVALID_INPUT";
  }
}

ApiError error_from_response(const bh::response<bh::string_body>& res) {
  Json body = Json::parse(res.body(), nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object()) {
    const Json& e = body["error"];
    ApiError error = ApiError::make(e.value("code", code_for_status(res.result_int())),
                                    e.value("message", std::string()), e.value("hint", ""));
    if (e.contains("details")) error.details = e["details"];
    if (e.contains("requestId")) {
      if (!error.details.is_object()) error.details = Json::object();
      error.details["requestId"] = e["requestId"];
    }
    return error;
  }
  std::string text = res.body().substr(0, 200);
  return ApiError::make(code_for_status(res.result_int()),
                        "the server answered " + std::to_string(res.result_int()) + " " +
                            std::string(res.reason()) + (text.empty() ? "" : ": " + text));
}

}  // namespace

tl::expected<HttpClient, ApiError> HttpClient::make(const std::string& url, std::string token,
                                                    std::chrono::milliseconds timeout) {
  HttpClient client;
  client.url_ = url;
  client.token_ = std::move(token);
  client.timeout_ = timeout;
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return tl::unexpected(ApiError::invalid_input(
        "server URL '" + url + "': only http:// is supported", "e.g. http://127.0.0.1:8080"));
  }
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) client.prefix_ = rest.substr(slash);
  while (!client.prefix_.empty() && client.prefix_.back() == '/') client.prefix_.pop_back();
  auto colon = authority.rfind(':');
  if (colon != std::string::npos && authority.find(']') == std::string::npos) {
    client.host_ = authority.substr(0, colon);
    client.port_ = authority.substr(colon + 1);
  } else {
    client.host_ = authority;
    client.port_ = "80";
  }
  if (!client.host_.empty() && client.host_.front() == '[')
    client.host_ = client.host_.substr(1, client.host_.size() - 2);
  if (client.host_.empty() || client.port_.empty() ||
      client.port_.find_first_not_of("0123456789") != std::string::npos)
    return tl::unexpected(ApiError::invalid_input("server URL '" + url + "' is not host:port",
                                                  "e.g. http://127.0.0.1:8080"));
  return client;
}

namespace {

ApiError unreachable(const std::string& url, const beast::error_code& ec) {
  return ApiError::unavailable(
      "cannot reach flowd at " + url + ": " + ec.message(),
      "is flowd running there? pass --server URL or set FLOWD_SERVER (or --database URL to "
      "reach PostgreSQL directly)");
}

}  // namespace

Outcome HttpClient::call(bh::verb method, const std::string& target,
                         const std::optional<Json>& body) {
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  stream.expires_after(timeout_);
  stream.connect(endpoints, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));

  bh::request<bh::string_body> req{method, prefix_ + target, 11};
  req.set(bh::field::host, host_);
  req.set(bh::field::user_agent, "flowctl");
  req.set(bh::field::accept, "application/json");
  if (!token_.empty()) req.set(bh::field::authorization, "Bearer " + token_);
  if (!actor_.empty()) req.set("X-Flowd-Actor", actor_);
  if (body) {
    req.set(bh::field::content_type, "application/json");
    req.body() = body->dump();
  }
  req.prepare_payload();
  stream.expires_after(timeout_);
  bh::write(stream, req, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  beast::flat_buffer buffer;
  bh::response_parser<bh::string_body> parser;
  parser.body_limit(256 << 20);
  bh::read(stream, buffer, parser, ec);
  if (ec == beast::error::timeout)
    return tl::unexpected(ApiError::make("TIMEOUT", "flowd at " + url_ + " did not answer within " +
                                                        std::to_string(timeout_.count() / 1000) +
                                                        " s"));
  if (ec) return tl::unexpected(unreachable(url_, ec));
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto res = parser.release();
  if (res.result_int() >= 300) return tl::unexpected(error_from_response(res));
  if (res.body().empty()) return Json::object();
  Json json = Json::parse(res.body(), nullptr, false);
  if (json.is_discarded())
    return tl::unexpected(ApiError::internal("the server at " + url_ + " answered non-JSON"));
  return json;
}

tl::expected<void, ApiError> HttpClient::stream(
    const std::string& target,
    const std::function<bool(const std::string& event, const std::string& data)>& on_event) {
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host_, port_, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  stream.expires_after(timeout_);
  stream.connect(endpoints, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  bh::request<bh::empty_body> req{bh::verb::get, prefix_ + target, 11};
  req.set(bh::field::host, host_);
  req.set(bh::field::accept, "text/event-stream");
  if (!token_.empty()) req.set(bh::field::authorization, "Bearer " + token_);
  if (!actor_.empty()) req.set("X-Flowd-Actor", actor_);
  bh::write(stream, req, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  stream.expires_never();

  beast::flat_buffer buffer;
  bh::response_parser<bh::string_body> parser;
  parser.body_limit(std::uint64_t(1) << 40);
  std::string text;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk =
      [&text](std::uint64_t, beast::string_view chunk, beast::error_code&) {
        text.append(chunk.data(), chunk.size());
        return chunk.size();
      };
  parser.on_chunk_body(on_chunk);
  bh::read_header(stream, buffer, parser, ec);
  if (ec) return tl::unexpected(unreachable(url_, ec));
  if (parser.get().result_int() >= 300) {
    bh::read(stream, buffer, parser, ec);
    return tl::unexpected(error_from_response(parser.get()));
  }
  while (true) {
    for (auto end = text.find("\n\n"); end != std::string::npos; end = text.find("\n\n")) {
      std::string frame = text.substr(0, end);
      text.erase(0, end + 2);
      std::string event = "message", data;
      std::size_t start = 0;
      while (start < frame.size()) {
        auto nl = frame.find('\n', start);
        std::string line = frame.substr(start, nl == std::string::npos ? nl : nl - start);
        start = nl == std::string::npos ? frame.size() : nl + 1;
        if (line.rfind("event: ", 0) == 0) event = line.substr(7);
        if (line.rfind("data: ", 0) == 0) data += (data.empty() ? "" : "\n") + line.substr(6);
      }
      if (data.empty()) continue;  // a comment (heartbeat)
      if (!on_event(event, data)) return {};
    }
    if (parser.is_done()) return {};
    bh::read_some(stream, buffer, parser, ec);
    if (ec == bh::error::end_of_stream || ec == net::error::eof) return {};
    if (ec) return tl::unexpected(unreachable(url_, ec));
  }
}

}  // namespace flowctl
