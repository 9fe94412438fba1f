// The HTTP server: ServerState (acceptor, the set of open connections, graceful stop) and Session
// (one connection: read a request, route it, write the answer or run an SSE stream). Each
// Session lives on its own strand; everything that reaches it from other threads (Responder,
// SseStream, stop) is posted there, so a Session's members need no locks.
#include "http/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <deque>
#include <mutex>
#include <random>
#include <unordered_map>

#include "flowd/config/config.h"

namespace flowd::http {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace detail {

class Session;

// What the server remembers of a request while it is answered: for the answer's headers, the
// access log and the metrics.
struct ExchangeInfo {
  std::string request_id;
  std::string method;
  std::string path;
  std::string route = "unmatched";
  bool head = false;
  bool keep_alive = true;
  SteadyClock::time_point started;
};

// The shared state behind the copies of one Responder.
struct Exchange {
  Exchange(std::shared_ptr<Session> s, ExchangeInfo i)
      : session(std::move(s)), info(std::move(i)) {}
  ~Exchange();
  bool claim() { return !claimed.exchange(true); }

  std::shared_ptr<Session> session;
  ExchangeInfo info;
  std::atomic<bool> claimed{false};
};

// The shared state behind an SseStream.
struct SseState {
  std::weak_ptr<Session> session;
  net::any_io_executor executor;
  std::string request_id;
  std::size_t max_queued = 0;
  std::atomic<bool> open{true};
  std::atomic<std::size_t> queued{0};  // bytes of frames posted and not yet written

  std::mutex mutex;
  std::vector<std::function<void()>> on_close;  // guarded by mutex
  bool ended = false;                           // guarded by mutex
};

struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(net::io_context& io_context, ServerOptions opts,
              std::shared_ptr<MetricsRegistry> registry)
      : io(io_context),
        options(std::move(opts)),
        metrics(registry ? std::move(registry) : std::make_shared<MetricsRegistry>()),
        logger(options.logger ? options.logger : spdlog::default_logger()),
        strand(net::make_strand(io)),
        acceptor(strand),
        deadline(strand),
        accept_retry(strand),
        requests(metrics->counter("flowd_http_requests_total",
                                  "HTTP requests answered, by method, route pattern and status",
                                  {"method", "route", "status"})),
        durations(metrics->histogram("flowd_http_request_duration_seconds",
                                     "Time from a request's arrival to its answer written, by "
                                     "method and route pattern (SSE streams excluded)",
                                     {"method", "route"})),
        in_flight(
            metrics
                ->gauge("flowd_http_requests_in_flight", "HTTP requests read and not yet answered")
                .get()),
        open_connections(metrics->gauge("flowd_http_connections", "Open HTTP connections").get()),
        sse_streams(
            metrics->gauge("flowd_http_sse_streams", "Open Server-Sent Events streams").get()) {
    tokens = options.tokens;
    if (options.token && !options.token->empty())
      tokens.push_back(ApiToken{"token", Role::kOperator, sha256_hex(*options.token)});
  }

  void accept();
  void on_accept(beast::error_code ec, tcp::socket socket);
  void session_closed(Session* session);
  void begin_stop(Millis grace, std::function<void()> on_stopped);
  void finish_stop_locked();

  net::io_context& io;
  ServerOptions options;
  Router router;
  std::shared_ptr<MetricsRegistry> metrics;
  std::shared_ptr<spdlog::logger> logger;
  std::vector<ApiToken> tokens;                        // empty: no authentication
  net::strand<net::io_context::executor_type> strand;  // acceptor and stop
  tcp::acceptor acceptor;
  net::steady_timer deadline;
  net::steady_timer accept_retry;
  std::atomic<bool> stopping{false};
  std::atomic<std::uint16_t> port{0};

  Family<Counter>& requests;
  Family<Histogram>& durations;
  Gauge& in_flight;
  Gauge& open_connections;
  Gauge& sse_streams;

  mutable std::mutex mutex;
  ReadinessCheck readiness;                                       // guarded by mutex
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // guarded by mutex
  std::vector<std::function<void()>> stop_callbacks;              // guarded by mutex
  bool stopped = false;  // every connection closed after stop; guarded by mutex
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<ServerState> server, tcp::socket socket)
      : server_(std::move(server)), stream_(std::move(socket)), heartbeat_(stream_.get_executor()) {
    beast::error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }

  net::any_io_executor executor() { return stream_.get_executor(); }
  const ServerOptions& options() const { return server_->options; }

  void start() {
    net::post(executor(), [self = shared_from_this()] { self->read_header(); });
  }

  // Stop taking requests on this connection: idle -> closed now, in flight -> closed after its
  // answer, SSE -> ended cleanly.
  void drain() {
    net::post(executor(), [self = shared_from_this()] {
      self->draining_ = true;
      switch (self->phase_) {
        case Phase::kReading:
          if (self->buffer_.size() == 0 && (!self->parser_ || !self->parser_->got_some()))
            self->close_socket();
          break;
        case Phase::kSse:
          self->sse_close(false);
          break;
        default:
          break;
      }
    });
  }

  void force_close() {
    net::post(executor(), [self = shared_from_this()] {
      if (self->phase_ == Phase::kSse) {
        self->sse_client_gone_ = true;
        self->finish_sse();
      } else if (self->lingering_) {
        beast::error_code ec;
        self->stream_.socket().close(ec);  // the linger read completes and finishes the close
      } else {
        self->close_socket();
      }
    });
  }

  // On the strand: the handler's answer.
  void write_response(const ExchangeInfo& info, Response response);
  // On the strand: turn the exchange into an SSE stream.
  void begin_sse(const ExchangeInfo& info, std::shared_ptr<SseState> state);
  // On the strand: one encoded frame of `counted` bytes from SseStream.
  void sse_frame(std::string chunk, std::size_t counted);
  void sse_close(bool client_gone);

 private:
  enum class Phase { kReading, kHandling, kWriting, kSse, kClosed };
  struct Pending {
    std::string data;
    std::size_t counted = 0;  // bytes charged to SseState::queued
  };

  void read_header();
  void on_header(beast::error_code ec);
  void read_body();
  void on_body(beast::error_code ec);
  void on_read_error(beast::error_code ec);
  void handle();
  ExchangeInfo info_from(const RawRequest& raw) const;
  void answer(const ExchangeInfo& info, const ApiError& error,
              std::vector<std::pair<std::string, std::string>> headers = {});
  void on_written(beast::error_code ec, std::size_t bytes, const ExchangeInfo& info,
                  unsigned status, bool close);
  void finish_exchange(const ExchangeInfo& info, unsigned status, std::size_t bytes, bool sse);
  // Closes the connection. With `linger`, the write side is shut first and what the client still
  // sends is read and dropped for a moment, so an unread request body does not turn the close
  // into a reset that destroys the answer before the client reads it.
  void close_socket(bool linger = false);
  void linger_read();
  void pump();
  void arm_heartbeat();
  void read_for_disconnect();
  void finish_sse();
  void end_sse_state();

  std::shared_ptr<ServerState> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
  std::shared_ptr<beast_http::response<beast_http::string_body>> response_;
  std::string remote_;
  Phase phase_ = Phase::kReading;
  bool draining_ = false;
  bool unread_input_ = false;  // answered before the request was read to its end
  bool lingering_ = false;
  std::optional<ExchangeInfo> current_;  // the exchange being answered

  std::shared_ptr<SseState> sse_;
  std::deque<Pending> sse_queue_;
  bool sse_writing_ = false;
  bool sse_closing_ = false;
  bool sse_client_gone_ = false;
  std::size_t sse_bytes_ = 0;
  net::steady_timer heartbeat_;
  std::array<char, 512> discard_{};
};

Exchange::~Exchange() {
  if (claimed.load()) return;
  // The handler let go of its Responder without answering: answer for it.
  auto response = error_response(
      ApiError::internal("the handler finished without answering the request"), info.request_id);
  net::post(session->executor(), [s = session, i = info, r = std::move(response)]() mutable {
    s->write_response(i, std::move(r));
  });
}

namespace {

std::string method_label(const ExchangeInfo& info) {
  static const std::vector<std::string> known = {"GET",    "HEAD",  "POST",   "PUT",
                                                 "DELETE", "PATCH", "OPTIONS"};
  for (const auto& m : known)
    if (m == info.method) return m;
  return "OTHER";
}

std::string utc_now() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms.count());
}

std::string chunk(std::string_view data) {
  return fmt::format("{:x}\r\n", data.size()) + std::string(data) + "\r\n";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// The token of "Authorization: Bearer <token>", empty when the header is not a bearer one.
std::string_view bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size() || !iequals(header.substr(0, kScheme.size()), kScheme) ||
      header[kScheme.size()] != ' ')
    return {};
  auto token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

ExchangeInfo Session::info_from(const RawRequest& raw) const {
  ExchangeInfo info;
  auto id = raw["X-Request-Id"];
  info.request_id = valid_request_id({id.data(), id.size()}) ? std::string(id) : new_request_id();
  info.method = std::string(raw.method_string());
  auto target = raw.target();
  info.path = std::string(target.substr(0, target.find('?')));
  info.head = raw.method() == Verb::head;
  info.keep_alive = raw.keep_alive();
  info.started = SteadyClock::now();
  return info;
}

void Session::read_header() {
  if (phase_ == Phase::kClosed) return;
  if (draining_) {
    close_socket();
    return;
  }
  phase_ = Phase::kReading;
  parser_.emplace();
  parser_->body_limit(server_->options.max_body_bytes);
  parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
  stream_.expires_after(server_->options.idle_timeout);
  beast_http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void Session::on_header(beast::error_code ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return on_read_error(ec);
  auto expect = parser_->get()[beast_http::field::expect];
  if (iequals({expect.data(), expect.size()}, "100-continue")) {
    net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       if (self->phase_ == Phase::kClosed) return;
                       if (ec) return self->close_socket();
                       self->read_body();
                     });
    return;
  }
  read_body();
}

void Session::read_body() {
  beast_http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_body(ec); });
}

void Session::on_body(beast::error_code ec) {
  if (phase_ == Phase::kClosed) return;
  if (ec) return on_read_error(ec);
  handle();
}

void Session::on_read_error(beast::error_code ec) {
  if (ec == beast_http::error::body_limit || ec == beast_http::error::header_limit) {
    auto info = info_from(parser_->get());
    info.keep_alive = false;  // the rest of the request is not read
    unread_input_ = true;
    current_ = info;
    phase_ = Phase::kHandling;
    server_->in_flight.inc();
    if (ec == beast_http::error::body_limit)
      answer(info, ApiError::make(codes::kPayloadTooLarge,
                                  fmt::format("the request body is larger than {} bytes",
                                              server_->options.max_body_bytes)));
    else
      answer(info, ApiError::make(codes::kHeadersTooLarge,
                                  fmt::format("the request headers are larger than {} bytes",
                                              server_->options.max_header_bytes)));
    return;
  }
  bool partial = parser_ && parser_->got_some();
  bool quiet = ec == beast_http::error::end_of_stream || ec == net::error::operation_aborted ||
               ec == beast::error::timeout || ec == net::error::connection_reset ||
               ec == net::error::eof;
  if (partial && !quiet) {
    // A malformed request: say so, then close (the stream cannot be resynchronised).
    ExchangeInfo info;
    info.request_id = new_request_id();
    info.method = "OTHER";
    info.keep_alive = false;
    info.started = SteadyClock::now();
    unread_input_ = true;
    current_ = info;
    phase_ = Phase::kHandling;
    server_->in_flight.inc();
    answer(info, ApiError::invalid_input("malformed HTTP request: " + ec.message()));
    return;
  }
  close_socket();
}

void Session::answer(const ExchangeInfo& info, const ApiError& error,
                     std::vector<std::pair<std::string, std::string>> headers) {
  auto response = error_response(error, info.request_id);
  for (auto& h : headers) response.header(std::move(h.first), std::move(h.second));
  write_response(info, std::move(response));
}

void Session::handle() {
  auto raw = parser_->release();
  auto info = info_from(raw);
  current_ = info;
  phase_ = Phase::kHandling;
  server_->in_flight.inc();
  auto method = raw.method();
  bool get = method == Verb::get || method == Verb::head;

  auto request = Request::make(std::move(raw), info.request_id, remote_);
  if (!request) return answer(info, request.error());
  info.path = request->path();

  const auto& path = request->path();
  if (path == "/healthz" || path == "/readyz" || path == "/metrics") {
    info.route = path;
    current_ = info;
  }
  if ((path == "/healthz" || path == "/readyz") && !get)
    return answer(info, ApiError::make(codes::kMethodNotAllowed, "only GET is allowed on " + path),
                  {{"Allow", "GET, HEAD"}});
  if (path == "/healthz") return write_response(info, Response::json({{"status", "ok"}}));
  if (path == "/readyz") {
    Readiness readiness;
    ReadinessCheck check;
    {
      std::lock_guard lock(server_->mutex);
      check = server_->readiness;
    }
    if (server_->stopping) {
      readiness.ready = false;
      readiness.reasons.push_back("shutting down");
    } else if (check) {
      readiness = check();
    }
    if (readiness.ready) return write_response(info, Response::json({{"status", "ready"}}));
    return write_response(
        info, Response::json({{"status", "unavailable"}, {"reasons", readiness.reasons}},
                             Status::service_unavailable));
  }

  auto match = server_->router.match(method, request->segments());
  if (match.handler) {
    info.route = match.pattern;
    current_ = info;
  }

  bool public_path = false;
  for (const auto& prefix : server_->options.public_prefixes)
    public_path = public_path || path.rfind(prefix, 0) == 0;
  // Public: webhooks (their signature authenticates them) and the console's own files.
  if (!server_->tokens.empty() && !public_path && !(match.handler && match.is_public)) {
    auto given = bearer_token(request->header("Authorization"));
    if (given.empty())
      return answer(info,
                    ApiError::unauthorized("this endpoint needs a bearer token and none was sent"),
                    {{"WWW-Authenticate", "Bearer realm=\"flowd\""}});
    auto token = find_token(server_->tokens, given);
    if (!token)
      return answer(info, ApiError::unauthorized("the bearer token is not valid"),
                    {{"WWW-Authenticate", "Bearer realm=\"flowd\", error=\"invalid_token\""}});
    request->set_principal(Principal{token->name, token->role, true});
    // Only GET/HEAD and the listed read-only routes are a reader's; the rest needs operator.
    const std::string route_key = info.method + " " + (match.handler ? match.pattern : path);
    bool reader_route = get;
    for (const auto& r : server_->options.reader_routes)
      reader_route = reader_route || r == route_key;
    if (!reader_route && token->role != Role::kOperator &&
        (match.handler || !match.allowed.empty()))
      return answer(info,
                    ApiError::make(codes::kPermissionDenied,
                                   fmt::format("token '{}' has the role reader; {} {} needs the "
                                               "role operator",
                                               token->name, info.method, path),
                                   "use a token with role operator (http.tokens, docs/api.md)"));
  }

  if (path == "/metrics" && !match.handler) {
    if (!get)
      return answer(info,
                    ApiError::make(codes::kMethodNotAllowed, "only GET is allowed on " + path),
                    {{"Allow", "GET, HEAD"}});
    return write_response(info, Response::text(server_->metrics->expose(), Status::ok,
                                               std::string(MetricsRegistry::kContentType)));
  }

  if (!match.handler) {
    if (!match.allowed.empty()) {
      std::string allow;
      for (auto v : match.allowed) {
        if (!allow.empty()) allow += ", ";
        allow += std::string(beast_http::to_string(v));
      }
      return answer(info,
                    ApiError::make(codes::kMethodNotAllowed,
                                   fmt::format("{} is not allowed on {} (allowed: {})", info.method,
                                               path, allow)),
                    {{"Allow", allow}});
    }
    return answer(info, ApiError::not_found(fmt::format("no endpoint {} {}", info.method, path),
                                            "the API lives under /api/v1; "
                                            "schemas/openapi.yaml lists every endpoint"));
  }

  request->set_route(match.pattern, std::move(match.params));
  Responder responder(std::make_shared<Exchange>(shared_from_this(), info));
  try {
    (*match.handler)(std::move(*request), responder);
  } catch (const std::exception& e) {
    server_->logger->error("request {} ({} {}): handler threw: {}", info.request_id, info.method,
                           info.path, e.what());
    responder.fail(ApiError::internal("an internal error occurred"));
  } catch (...) {
    server_->logger->error("request {} ({} {}): handler threw", info.request_id, info.method,
                           info.path);
    responder.fail(ApiError::internal("an internal error occurred"));
  }
}

void Session::write_response(const ExchangeInfo& info, Response response) {
  if (phase_ != Phase::kHandling) return;  // closed meanwhile (client gone, forced stop)
  bool close = !info.keep_alive || draining_ || server_->stopping;
  auto res = std::make_shared<beast_http::response<beast_http::string_body>>(response.status, 11);
  res->set(beast_http::field::server, "flowd");
  if (!response.content_type.empty())
    res->set(beast_http::field::content_type, response.content_type);
  res->set("X-Request-Id", info.request_id);
  for (auto& [name, value] : response.headers) res->insert(name, value);
  res->keep_alive(!close);
  unsigned status = static_cast<unsigned>(response.status);
  bool bodiless = status / 100 == 1 || status == 204 || status == 304;
  if (!bodiless) {
    res->body() = std::move(response.body);
    res->prepare_payload();
    if (info.head) {
      auto size = res->body().size();
      res->body().clear();
      res->content_length(size);
    }
  }
  phase_ = Phase::kWriting;
  response_ = res;
  stream_.expires_after(server_->options.write_timeout);
  beast_http::async_write(
      stream_, *res,
      [self = shared_from_this(), info, status, close](beast::error_code ec, std::size_t bytes) {
        self->on_written(ec, bytes, info, status, close);
      });
}

void Session::on_written(beast::error_code ec, std::size_t bytes, const ExchangeInfo& info,
                         unsigned status, bool close) {
  if (phase_ == Phase::kClosed) return;
  response_.reset();
  finish_exchange(info, status, bytes, false);
  if (ec) return close_socket();
  if (close) return close_socket(unread_input_);
  read_header();
}

void Session::finish_exchange(const ExchangeInfo& info, unsigned status, std::size_t bytes,
                              bool sse) {
  if (!current_) return;
  current_.reset();
  server_->in_flight.dec();
  auto elapsed = std::chrono::duration<double>(SteadyClock::now() - info.started).count();
  auto method = method_label(info);
  if (status != 0) {
    server_->requests.with({method, info.route, std::to_string(status)}).inc();
    if (!sse) server_->durations.with({method, info.route}).observe(elapsed);
  }
  if (const auto& log = server_->options.access_log) {
    // Polling clients (the console, scripts waiting for an execution) read often: with
    // quiet_reads their successful reads are debug lines.
    const bool read = info.method == "GET" || info.method == "HEAD";
    const auto level = status >= 500 || status == 0 ? spdlog::level::warn
                       : server_->options.quiet_reads && read && status < 400 && !sse
                           ? spdlog::level::debug
                           : spdlog::level::info;
    if (!log->should_log(level)) return;
    nlohmann::json line = {
        {"ts", utc_now()},
        {"level", level == spdlog::level::warn    ? "warn"
                  : level == spdlog::level::debug ? "debug"
                                                  : "info"},
        {"msg", "http request"},
        {"method", info.method},
        {"path", info.path},
        {"route", info.route},
        {"status", status},
        {"durationMs", std::round(elapsed * 1e6) / 1e3},
        {"requestId", info.request_id},
        {"remote", remote_},
        {"bytes", bytes},
    };
    if (sse) line["sse"] = true;
    if (status == 0) line["aborted"] = true;
    log->log(level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
}

void Session::close_socket(bool linger) {
  if (phase_ == Phase::kClosed) return;
  if (current_) {  // aborted before it was answered; finish_exchange() resets current_
    const ExchangeInfo info = *current_;
    finish_exchange(info, 0, 0, false);
  }
  phase_ = Phase::kClosed;
  heartbeat_.cancel();
  if (sse_) end_sse_state();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (linger && !ec) {
    lingering_ = true;
    stream_.expires_after(std::chrono::seconds(2));
    return linger_read();
  }
  stream_.close();
  server_->session_closed(this);
}

void Session::linger_read() {
  stream_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (!ec) return self->linger_read();
                            self->stream_.close();
                            self->server_->session_closed(self.get());
                          });
}

// ---- Server-Sent Events ----

void Session::begin_sse(const ExchangeInfo& info, std::shared_ptr<SseState> state) {
  if (phase_ != Phase::kHandling) {
    sse_ = std::move(state);
    end_sse_state();
    sse_.reset();
    return;
  }
  phase_ = Phase::kSse;
  sse_ = std::move(state);
  server_->sse_streams.inc();
  std::string header = fmt::format(
      "HTTP/1.1 200 OK\r\nServer: flowd\r\nContent-Type: text/event-stream\r\n"
      "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\nX-Request-Id: {}\r\n"
      "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
      info.request_id);
  // Beast keeps one expiry per direction and an operation takes the expiry in force when it
  // starts: start the (endless) disconnect read before any write arms the write timeout.
  stream_.expires_never();
  read_for_disconnect();
  sse_queue_.push_back(Pending{std::move(header), 0});
  if (info.head || draining_) {
    sse_close(false);
    return;
  }
  pump();
  arm_heartbeat();
}

void Session::sse_frame(std::string data, std::size_t counted) {
  if (phase_ != Phase::kSse || sse_closing_) {
    if (sse_) sse_->queued.fetch_sub(counted);
    return;
  }
  sse_queue_.push_back(Pending{chunk(data), counted});
  pump();
}

void Session::pump() {
  if (phase_ != Phase::kSse || sse_writing_) return;
  if (sse_queue_.empty()) {
    if (sse_closing_) finish_sse();
    return;
  }
  sse_writing_ = true;
  stream_.expires_after(server_->options.write_timeout);
  const auto& front = sse_queue_.front();
  net::async_write(stream_, net::buffer(front.data),
                   [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                     if (self->phase_ != Phase::kSse) return;
                     self->sse_writing_ = false;
                     self->stream_.expires_never();
                     self->sse_bytes_ += bytes;
                     self->sse_->queued.fetch_sub(self->sse_queue_.front().counted);
                     self->sse_queue_.pop_front();
                     if (ec) return self->sse_close(true);
                     self->pump();
                   });
}

void Session::read_for_disconnect() {
  // An SSE client sends nothing; the read completes only when it goes away (or we close).
  stream_.async_read_some(net::buffer(discard_),
                          [self = shared_from_this()](beast::error_code ec, std::size_t) {
                            if (self->phase_ != Phase::kSse) return;
                            if (ec) return self->sse_close(true);
                            self->read_for_disconnect();
                          });
}

void Session::arm_heartbeat() {
  heartbeat_.expires_after(server_->options.sse_heartbeat);
  heartbeat_.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || self->phase_ != Phase::kSse || self->sse_closing_) return;
    self->sse_queue_.push_back(Pending{chunk(": heartbeat\n\n"), 0});
    self->pump();
    self->arm_heartbeat();
  });
}

void Session::sse_close(bool client_gone) {
  if (phase_ != Phase::kSse) return;
  if (client_gone) sse_client_gone_ = true;
  if (!sse_closing_) {
    sse_closing_ = true;
    heartbeat_.cancel();
    end_sse_state();
    if (!sse_client_gone_ && !(current_ && current_->head))
      sse_queue_.push_back(Pending{"0\r\n\r\n", 0});  // the last chunk: a clean end
  }
  if (sse_client_gone_) return finish_sse();
  pump();
}

void Session::finish_sse() {
  if (phase_ != Phase::kSse) return;
  server_->sse_streams.dec();
  if (current_) {
    const ExchangeInfo info = *current_;  // finish_exchange() resets current_
    finish_exchange(info, 200, sse_bytes_, true);
  }
  for (auto& p : sse_queue_) sse_->queued.fetch_sub(p.counted);
  sse_queue_.clear();
  close_socket();
}

void Session::end_sse_state() {
  sse_->open = false;
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard lock(sse_->mutex);
    if (sse_->ended) return;
    sse_->ended = true;
    callbacks.swap(sse_->on_close);
  }
  for (auto& cb : callbacks) {
    try {
      cb();
    } catch (const std::exception& e) {
      server_->logger->error("request {}: SSE on_close callback threw: {}", sse_->request_id,
                             e.what());
    }
  }
}

// ---- ServerState ----

void ServerState::accept() {
  acceptor.async_accept(net::make_strand(io),
                        [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                          self->on_accept(ec, std::move(socket));
                        });
}

void ServerState::on_accept(beast::error_code ec, tcp::socket socket) {
  if (stopping) {
    beast::error_code ignored;
    socket.close(ignored);
    return;
  }
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    // Out of descriptors and the like: wait a little rather than spin.
    logger->warn("http: accept failed: {}", ec.message());
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e && !self->stopping) self->accept();
    });
    return;
  }
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket));
  {
    std::lock_guard lock(mutex);
    sessions.emplace(session.get(), session);
  }
  open_connections.inc();
  session->start();
  accept();
}

void ServerState::session_closed(Session* session) {
  open_connections.dec();
  std::lock_guard lock(mutex);
  sessions.erase(session);
  if (stopping && sessions.empty()) finish_stop_locked();
}

void ServerState::finish_stop_locked() {
  if (stopped) return;
  stopped = true;
  auto callbacks = std::move(stop_callbacks);
  stop_callbacks.clear();
  net::post(strand, [self = shared_from_this(), callbacks = std::move(callbacks)] {
    self->deadline.cancel();
    for (const auto& cb : callbacks)
      if (cb) cb();
  });
}

void ServerState::begin_stop(Millis grace, std::function<void()> on_stopped) {
  std::vector<std::shared_ptr<Session>> open;
  {
    std::lock_guard lock(mutex);
    if (stopped) {
      if (on_stopped) net::post(strand, std::move(on_stopped));
      return;
    }
    if (on_stopped) stop_callbacks.push_back(std::move(on_stopped));
    if (stopping) return;
    stopping = true;
    for (auto& [ptr, weak] : sessions)
      if (auto s = weak.lock()) open.push_back(std::move(s));
    if (sessions.empty()) finish_stop_locked();
  }
  beast::error_code ec;
  acceptor.close(ec);
  accept_retry.cancel();
  for (auto& s : open) s->drain();
  deadline.expires_after(grace);
  deadline.async_wait([self = shared_from_this()](beast::error_code e) {
    if (e) return;
    std::vector<std::shared_ptr<Session>> left;
    {
      std::lock_guard lock(self->mutex);
      for (auto& [ptr, weak] : self->sessions)
        if (auto s = weak.lock()) left.push_back(std::move(s));
    }
    if (!left.empty())
      self->logger->warn("http: {} connection(s) still busy after the stop grace; closing them",
                         left.size());
    for (auto& s : left) s->force_close();
  });
}

}  // namespace detail

// ---- SseStream and Responder ----

bool SseStream::enqueue(std::string frame) {
  if (!state_->open) return false;
  auto session = state_->session.lock();
  if (!session) return false;
  auto n = frame.size();
  if (state_->queued.fetch_add(n) + n > state_->max_queued) {
    state_->queued.fetch_sub(n);
    state_->open = false;
    spdlog::warn("request {}: SSE client too far behind ({} bytes queued); closing the stream",
                 state_->request_id, state_->max_queued);
    net::post(state_->executor, [session] { session->sse_close(false); });
    return false;
  }
  net::post(state_->executor, [session, frame = std::move(frame), n]() mutable {
    session->sse_frame(std::move(frame), n);
  });
  return true;
}

bool SseStream::send(std::string_view event, std::string_view data, std::string_view id) {
  auto clean = [](std::string_view s) {  // a field value cannot hold a line break
    std::string out;
    for (char c : s)
      if (c != '\n' && c != '\r') out += c;
    return out;
  };
  std::string frame;
  if (!id.empty()) frame += "id: " + clean(id) + "\n";
  if (!event.empty()) frame += "event: " + clean(event) + "\n";
  std::size_t start = 0;
  while (true) {
    auto nl = data.find('\n', start);
    auto line = data.substr(start, nl == std::string_view::npos ? nl : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    frame += "data: ";
    frame += line;
    frame += "\n";
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  frame += "\n";
  return enqueue(std::move(frame));
}

bool SseStream::send_json(std::string_view event, const nlohmann::json& data, std::string_view id) {
  return send(event, data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), id);
}

bool SseStream::comment(std::string_view text) {
  std::string frame;
  for (char c : text)
    if (c != '\n' && c != '\r') frame += c;
  return enqueue(": " + frame + "\n\n");
}

void SseStream::close() {
  auto session = state_->session.lock();
  state_->open = false;
  if (session) net::post(state_->executor, [session] { session->sse_close(false); });
}

bool SseStream::open() const {
  return state_->open;
}

void SseStream::on_close(std::function<void()> callback) {
  {
    std::lock_guard lock(state_->mutex);
    if (!state_->ended) {
      state_->on_close.push_back(std::move(callback));
      return;
    }
  }
  net::post(state_->executor, std::move(callback));
}

const std::string& SseStream::request_id() const {
  return state_->request_id;
}
net::any_io_executor SseStream::executor() const {
  return state_->executor;
}

Responder::Responder(std::shared_ptr<detail::Exchange> exchange) : exchange_(std::move(exchange)) {}

void Responder::send(Response response) {
  if (!exchange_->claim()) return;
  auto session = exchange_->session;
  net::post(session->executor(),
            [session, info = exchange_->info, response = std::move(response)]() mutable {
              session->write_response(info, std::move(response));
            });
}

void Responder::fail(ApiError error) {
  send(error_response(error, exchange_->info.request_id));
}

std::shared_ptr<SseStream> Responder::start_sse() {
  auto state = std::make_shared<detail::SseState>();
  auto session = exchange_->session;
  state->session = session;
  state->executor = session->executor();
  state->request_id = exchange_->info.request_id;
  state->max_queued = session->options().sse_max_queued_bytes;
  auto stream = std::shared_ptr<SseStream>(new SseStream(state));
  if (!exchange_->claim()) {
    state->open = false;
    std::lock_guard lock(state->mutex);
    state->ended = true;
    return stream;
  }
  net::post(session->executor(),
            [session, state, info = exchange_->info] { session->begin_sse(info, state); });
  return stream;
}

bool Responder::pending() const {
  return !exchange_->claimed.load();
}
const std::string& Responder::request_id() const {
  return exchange_->info.request_id;
}
net::any_io_executor Responder::executor() const {
  return exchange_->session->executor();
}

// ---- Server ----

Server::Server(net::io_context& io, ServerOptions options, std::shared_ptr<MetricsRegistry> metrics)
    : state_(std::make_shared<detail::ServerState>(io, std::move(options), std::move(metrics))) {}

Server::~Server() {
  if (!state_->stopping) stop(Millis(0));
}

Router& Server::router() {
  return state_->router;
}

void Server::set_readiness(ReadinessCheck check) {
  std::lock_guard lock(state_->mutex);
  state_->readiness = std::move(check);
}

MetricsRegistry& Server::metrics() {
  return *state_->metrics;
}
std::shared_ptr<MetricsRegistry> Server::metrics_ptr() {
  return state_->metrics;
}

tl::expected<tcp::endpoint, std::string> Server::start() {
  auto& s = *state_;
  auto where = fmt::format("{}:{}", s.options.host, s.options.port);
  beast::error_code ec;
  auto address = net::ip::make_address(s.options.host, ec);
  if (ec) return tl::unexpected(where + ": not an IP address");
  tcp::endpoint endpoint(address, s.options.port);
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    return tl::unexpected(where + ": " + ec.message());
  }
  auto local = s.acceptor.local_endpoint(ec);
  s.port = local.port();
  net::post(s.strand, [self = state_] { self->accept(); });
  return local;
}

std::uint16_t Server::port() const {
  return state_->port;
}

void Server::stop(Millis grace, std::function<void()> on_stopped) {
  net::post(state_->strand, [self = state_, grace, cb = std::move(on_stopped)]() mutable {
    self->begin_stop(grace, std::move(cb));
  });
}

bool Server::stopping() const {
  return state_->stopping;
}

std::size_t Server::connections() const {
  std::lock_guard lock(state_->mutex);
  return state_->sessions.size();
}

ServerOptions options_from(const config::HttpConfig& http) {
  ServerOptions o;
  o.host = http.host;
  o.port = http.port;
  o.token = http.token;
  for (const auto& t : http.tokens)
    o.tokens.push_back(ApiToken{t.name, parse_role(t.role).value_or(Role::kReader), t.sha256});
  o.max_body_bytes = http.max_body_bytes;
  return o;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  // Every byte of the longer one is visited whatever matches, so the time tells only lengths.
  std::size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = diff | static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) ||
              std::string_view("-_.:/+=@").find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFULL);
}

}  // namespace flowd::http
