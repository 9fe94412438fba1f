// The `http` step: one HTTP/1.1 exchange per attempt over a fresh connection (Boost.Beast), with
// one deadline for the whole exchange, cancellation through the CancelSignal and a circuit breaker
// per target.
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <utility>

#include "steps/basic_steps.h"
#include "steps/http_runner.h"

namespace flowd::steps {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kExcerptBytes = 256;
constexpr Millis kDefaultTimeout{60'000};

std::string_view sv(boost::beast::string_view text) {
  return {text.data(), text.size()};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool is_token_char(unsigned char c) {
  return std::isalnum(c) ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

std::string size_text(std::size_t bytes) {
  constexpr std::size_t kMiB = 1024 * 1024;
  if (bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  return std::to_string(bytes) + " bytes";
}

std::string duration_text(Millis d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      extra = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      extra = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((extra == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (extra == 3 && (cp < 0x10000 || cp > 0x10ffff))) {
      return false;
    }
    i += extra + 1;
  }
  return true;
}

// Text from the wire as a JSON string: invalid UTF-8 becomes U+FFFD, so the outputs and messages
// that end up in events can always be serialized.
std::string utf8_safe(std::string text) {
  if (is_valid_utf8(text)) return text;
  auto quoted = Json(std::move(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
  return Json::parse(quoted).get<std::string>();
}

// The start of a response body for an error message, on one line.
std::string excerpt(std::string_view body) {
  std::size_t cut = std::min(body.size(), kExcerptBytes);
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && cut < body.size() && (static_cast<unsigned char>(body[cut]) & 0xc0) == 0x80) {
    --cut;
  }
  std::string out(body.substr(0, cut));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  if (cut < body.size()) out += "...";
  return utf8_safe(std::move(out));
}

bool is_json_media_type(std::string_view content_type) {
  auto media = lower(content_type.substr(0, content_type.find(';')));
  while (!media.empty() && media.back() == ' ') media.pop_back();
  while (!media.empty() && media.front() == ' ') media.erase(media.begin());
  return media == "application/json" ||
         (media.size() > 5 && media.compare(media.size() - 5, 5, "+json") == 0);
}

// A request ready to go out.
struct Prepared {
  HttpUrl url;
  http::request<http::string_body> request;
  Millis timeout{};
  std::string label;  // "GET http://host:port/path" for messages
};

Result<Prepared> prepare(const StepCall& call, const HttpOptions& options) {
  auto invalid = [&](const std::string& what) {
    return fail(ErrorCode::kInvalidInput, "http step '" + call.step + "': " + what);
  };
  if (!call.with.is_object()) return invalid("with.url is required");
  const Json& with = call.with;

  auto url_it = with.find("url");
  if (url_it == with.end() || !url_it->is_string()) {
    return invalid("with.url must be a string URL like http://host:port/path");
  }
  auto url = parse_http_url(url_it->get<std::string>());
  if (!url) return invalid(url.error().message);

  std::string method = "GET";
  if (auto it = with.find("method"); it != with.end() && !it->is_null()) {
    if (!it->is_string()) return invalid("with.method must be a string, got " + it->dump());
    method = upper(it->get<std::string>());
  }
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) return invalid("unknown HTTP method '" + method + "'");

  Prepared out;
  out.url = std::move(*url);
  out.label = method + " " + out.url.for_messages();
  out.request.method(verb);
  out.request.target(out.url.target);
  out.request.version(11);

  if (auto it = with.find("headers"); it != with.end() && !it->is_null()) {
    if (!it->is_object()) return invalid("with.headers must be an object, got " + it->dump());
    for (const auto& [name, value] : it->items()) {
      if (name.empty() || !std::all_of(name.begin(), name.end(),
                                       [](unsigned char c) { return is_token_char(c); })) {
        return invalid("header name '" + name + "' is not a valid HTTP token");
      }
      std::string text;
      if (value.is_string()) {
        text = value.get<std::string>();
      } else if (value.is_number() || value.is_boolean()) {
        text = value.dump();
      } else {
        return invalid("header '" + name + "' must be a string, number or boolean");
      }
      if (text.find_first_of("\r\n") != std::string::npos) {
        return invalid("header '" + name + "' contains a line break");
      }
      out.request.insert(name, text);
    }
  }
  if (out.request.find(http::field::host) == out.request.end()) {
    out.request.set(http::field::host, out.url.host_header());
  }
  if (out.request.find(http::field::user_agent) == out.request.end()) {
    out.request.set(http::field::user_agent, options.user_agent);
  }
  if (!call.idempotency_key.empty() && out.request.find("Idempotency-Key") == out.request.end()) {
    out.request.set("Idempotency-Key", call.idempotency_key);
  }

  if (auto it = with.find("body"); it != with.end() && !it->is_null()) {
    if (it->is_string()) {
      out.request.body() = it->get<std::string>();
    } else {
      out.request.body() = it->dump();
      if (out.request.find(http::field::content_type) == out.request.end()) {
        out.request.set(http::field::content_type, "application/json");
      }
    }
  }
  out.request.prepare_payload();

  Millis timeout = call.timeout.count() > 0 ? call.timeout : kDefaultTimeout;
  if (auto it = with.find("timeout"); it != with.end() && !it->is_null()) {
    auto parsed = duration_input(*it, "with.timeout");
    if (!parsed) return invalid(parsed.error().message);
    if (parsed->count() <= 0) return invalid("with.timeout must be positive");
    timeout = std::min(timeout, *parsed);
  }
  out.timeout = timeout;
  return out;
}

// One exchange in flight. Held by the call's coroutine; the cancel handler and the deadline hold
// it weakly, so a signal raised after the call ended finds nothing to do.
struct Connection {
  enum class Stop { kNone, kCancelled, kTimedOut };

  explicit Connection(asio::io_context::executor_type ex)
      : resolver(ex), socket(ex), deadline(ex) {}

  void abort(Stop why) {
    if (stop != Stop::kNone) return;
    stop = why;
    resolver.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    deadline.cancel();
  }

  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  Stop stop = Stop::kNone;
};

using Outcome = CircuitBreaker::Outcome;

struct Exchange {
  Result<Json> result;
  Outcome outcome = Outcome::kFailure;
};

Exchange external(const Prepared& p, const std::string& what, bool retryable) {
  return {fail(ErrorCode::kExternal, "http " + p.label + ": " + what, retryable),
          retryable ? Outcome::kFailure : Outcome::kSuccess};
}

Json response_json(http::response<http::string_body>& response) {
  Json headers = Json::object();
  for (const auto& field : response) {
    std::string name = utf8_safe(lower(sv(field.name_string())));
    std::string value = utf8_safe(std::string(sv(field.value())));
    if (auto it = headers.find(name); it != headers.end()) {
      *it = it->get<std::string>() + ", " + value;
    } else {
      headers[name] = value;
    }
  }
  Json body;
  std::string& text = response.body();
  if (is_json_media_type(sv(response[http::field::content_type]))) {
    body = text.empty() ? Json(nullptr) : Json::parse(text, nullptr, false);
    if (body.is_discarded()) body = utf8_safe(std::move(text));
  } else {
    body = utf8_safe(std::move(text));
  }
  return Json{{"status", response.result_int()},
              {"headers", std::move(headers)},
              {"body", std::move(body)}};
}

Exchange classify(const Prepared& p, http::response<http::string_body>& response) {
  unsigned status = response.result_int();
  if (status < 400) return {response_json(response), Outcome::kSuccess};
  std::string what = "HTTP " + std::to_string(status);
  if (auto reason = sv(response.reason()); !reason.empty()) what.append(" ").append(reason);
  if (!response.body().empty()) what += ": " + excerpt(response.body());
  bool retryable = status >= 500 || status == 408 || status == 429;
  return external(p, what, retryable);
}

asio::awaitable<Exchange> exchange(asio::io_context::executor_type ex, const HttpOptions& options,
                                   Prepared& p, StepCall& call, SteadyTime started,
                                   std::function<SteadyTime()> now) {
  auto conn = std::make_shared<Connection>(ex);
  std::weak_ptr<Connection> weak = conn;
  call.cancel->on_cancel([weak] {
    if (auto c = weak.lock()) c->abort(Connection::Stop::kCancelled);
  });
  conn->deadline.expires_after(p.timeout);
  conn->deadline.async_wait([weak](boost::system::error_code ec) {
    if (ec) return;
    if (auto c = weak.lock()) c->abort(Connection::Stop::kTimedOut);
  });

  // What ended the exchange early, if anything did. A cancel close to the deadline is the
  // executor's attempt timeout and counts against the target like our own timeout.
  auto stopped = [&](const char* phase) -> std::optional<Exchange> {
    if (conn->stop == Connection::Stop::kNone && !call.cancel->cancelled()) return std::nullopt;
    if (conn->stop == Connection::Stop::kTimedOut) {
      return Exchange{
          fail(ErrorCode::kTimeout,
               "http " + p.label + ": timed out after " + duration_text(p.timeout) + " " + phase,
               true),
          Outcome::kFailure};
    }
    auto slack = std::min<Millis>(p.timeout / 10, Millis(250));
    bool near_deadline = now() >= started + p.timeout - slack;
    return Exchange{fail(ErrorCode::kCancelled, "http " + p.label + ": cancelled " + phase),
                    near_deadline ? Outcome::kFailure : Outcome::kAbandoned};
  };
  if (auto s = stopped("before sending")) co_return std::move(*s);

  boost::system::error_code ec;
  auto token = asio::redirect_error(asio::use_awaitable, ec);

  auto endpoints = co_await conn->resolver.async_resolve(p.url.host, p.url.port, token);
  if (auto s = stopped("while resolving the host")) co_return std::move(*s);
  if (ec) {
    co_return external(p, "cannot resolve host '" + p.url.host + "': " + ec.message(), true);
  }

  co_await asio::async_connect(conn->socket, endpoints, token);
  if (auto s = stopped("while connecting")) co_return std::move(*s);
  if (ec) co_return external(p, "connect failed: " + ec.message(), true);

  co_await http::async_write(conn->socket, p.request, token);
  if (auto s = stopped("while sending the request")) co_return std::move(*s);
  if (ec) co_return external(p, "sending the request failed: " + ec.message(), true);

  boost::beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_body_bytes);
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  if (p.request.method() == http::verb::head) parser.skip(true);
  // The header first: Beast 1.74 checks Content-Length against the body limit only when the
  // header is parsed on its own (an eager read of header and body together skips the check).
  co_await http::async_read_header(conn->socket, buffer, parser, token);
  if (auto s = stopped("while waiting for the response")) co_return std::move(*s);
  if (!ec && !parser.is_done()) {
    co_await http::async_read(conn->socket, buffer, parser, token);
    if (auto s = stopped("while reading the response body")) co_return std::move(*s);
  }
  if (!ec && parser.get().body().size() > options.max_body_bytes) ec = http::error::body_limit;
  if (ec == http::error::body_limit) {
    co_return external(
        p, "response body exceeds the " + size_text(options.max_body_bytes) + " limit", false);
  }
  if (ec == http::error::header_limit) {
    co_return external(
        p, "response headers exceed the " + size_text(options.max_header_bytes) + " limit", false);
  }
  if (ec) co_return external(p, "reading the response failed: " + ec.message(), true);

  conn->socket.shutdown(tcp::socket::shutdown_both, ec);
  conn->socket.close(ec);
  conn->deadline.cancel();
  auto response = parser.release();
  co_return classify(p, response);
}

}  // namespace

struct HttpRunner::Shared {
  Shared(asio::io_context::executor_type ex, HttpOptions opts)
      : executor(ex), options(std::move(opts)), breakers(options.breaker) {
    if (!options.now) options.now = [] { return std::chrono::steady_clock::now(); };
  }

  asio::io_context::executor_type executor;
  HttpOptions options;
  CircuitBreakers breakers;
};

namespace {

asio::awaitable<Result<Json>> http_call(std::shared_ptr<HttpRunner::Shared> shared, StepCall call) {
  auto prepared = prepare(call, shared->options);
  if (!prepared) co_return tl::unexpected(prepared.error());
  Prepared& p = *prepared;
  if (call.cancel->cancelled()) {
    co_return fail(ErrorCode::kCancelled, "http " + p.label + ": cancelled before sending");
  }

  const std::string target = p.url.origin();
  CircuitBreaker& breaker = shared->breakers.at(target);
  const auto admission = breaker.admit(shared->options.now());
  if (admission == CircuitBreaker::Admission::kRejected) {
    auto wait = std::chrono::ceil<Millis>(breaker.retry_at() - shared->options.now());
    co_return fail(
        ErrorCode::kExternal,
        "circuit open for " + target + " after " + std::to_string(breaker.consecutive_failures()) +
            " consecutive failures; next trial in " + duration_text(std::max(wait, Millis(0))),
        true);
  }

  Exchange done = co_await exchange(shared->executor, shared->options, p, call,
                                    shared->options.now(), shared->options.now);
  breaker.record(admission, done.outcome, shared->options.now());
  co_return std::move(done.result);
}

}  // namespace

HttpRunner::HttpRunner(asio::io_context::executor_type executor, HttpOptions options)
    : shared_(std::make_shared<Shared>(executor, std::move(options))) {}

asio::awaitable<Result<Json>> HttpRunner::run(StepCall call) {
  return http_call(shared_, std::move(call));
}

const CircuitBreakers& HttpRunner::breakers() const {
  return shared_->breakers;
}

std::string HttpUrl::origin() const {
  return "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + port;
}

std::string HttpUrl::host_header() const {
  std::string h = ipv6 ? "[" + host + "]" : host;
  return port == "80" ? h : h + ":" + port;
}

std::string HttpUrl::for_messages() const {
  return origin() + target.substr(0, target.find('?'));
}

Result<HttpUrl> parse_http_url(std::string_view url) {
  auto invalid = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidInput, "invalid url '" + std::string(url) + "': " + why);
  };
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return invalid("contains spaces or control characters (percent-encode them)");
    }
  }
  auto sep = url.find("://");
  if (sep == std::string_view::npos) return invalid("expected http://host[:port]/path");
  std::string scheme = lower(url.substr(0, sep));
  if (scheme == "https") {
    return fail(ErrorCode::kInvalidInput,
                "invalid url '" + std::string(url) + "': https not supported yet");
  }
  if (scheme != "http") return invalid("unsupported scheme '" + scheme + "' (only http)");

  std::string_view rest = url.substr(sep + 3);
  auto authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view remainder =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    return invalid("credentials in the URL are not supported (send an Authorization header)");
  }

  HttpUrl out;
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 address");
    host = authority.substr(1, close - 1);
    out.ipv6 = true;
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return invalid("unexpected text after the IPv6 address");
      has_port = true;
      port_text = after.substr(1);
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isxdigit(c) || c == ':' || c == '.';
        })) {
      return invalid("malformed IPv6 address");
    }
  } else {
    auto colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string::npos) {
      return invalid("IPv6 addresses must be in brackets");
    }
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      has_port = true;
      port_text = authority.substr(colon + 1);
    }
    if (!std::all_of(host.begin(), host.end(), [](unsigned char c) {
          return std::isalnum(c) || c == '-' || c == '.' || c == '_';
        })) {
      return invalid("malformed host '" + std::string(host) + "'");
    }
  }
  if (host.empty()) return invalid("missing host");
  out.host = lower(host);

  out.port = "80";
  if (has_port) {
    if (port_text.empty() || port_text.size() > 5 ||
        !std::all_of(port_text.begin(), port_text.end(),
                     [](unsigned char c) { return std::isdigit(c); })) {
      return invalid("port must be a number from 1 to 65535");
    }
    int port = std::stoi(std::string(port_text));
    if (port < 1 || port > 65535) return invalid("port must be a number from 1 to 65535");
    out.port = std::to_string(port);
  }

  std::string_view target = remainder.substr(0, remainder.find('#'));
  out.target =
      target.empty() || target.front() != '/' ? "/" + std::string(target) : std::string(target);
  return out;
}

}  // namespace flowd::steps

namespace flowd {

std::shared_ptr<StepRunner> make_http_runner(boost::asio::io_context& io, HttpOptions options) {
  return std::make_shared<steps::HttpRunner>(io.get_executor(), std::move(options));
}

}  // namespace flowd
