#pragma once
// Test support for the HTTP server: TestServer runs a flowd::http::Server on 127.0.0.1 and a port
// the kernel picks, on two io_context threads; TestClient is a tiny blocking Beast client (one
// keep-alive connection) with a receive timeout so a broken server fails a test instead of
// hanging it. SseReader reads a text/event-stream response frame by frame.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "http/server.h"

namespace flowd::http::testing {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bh = boost::beast::http;
using tcp = net::ip::tcp;
using ClientResponse = bh::response<bh::string_body>;

// A queue between threads with a bounded wait: handlers put what they hold (a Responder, an
// SseStream), the test takes it.
template <class T>
class Mailbox {
 public:
  void put(T value) {
    {
      std::lock_guard lock(mutex_);
      items_.push_back(std::move(value));
    }
    ready_.notify_all();
  }
  std::optional<T> take(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    if (!ready_.wait_for(lock, timeout, [&] { return !items_.empty(); })) return std::nullopt;
    T value = std::move(items_.front());
    items_.pop_front();
    return value;
  }

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
};

class TestServer {
 public:
  explicit TestServer(ServerOptions options = {}, std::function<void(Server&)> setup = {},
                      std::shared_ptr<MetricsRegistry> metrics = nullptr)
      : work_(net::make_work_guard(io_)) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(io_, std::move(options), std::move(metrics));
    if (setup) setup(*server_);
    auto bound = server_->start();
    if (!bound) throw std::runtime_error(bound.error());
    port_ = bound->port();
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~TestServer() {
    if (!stopped_) stop(std::chrono::milliseconds(0));
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }

  Server& server() { return *server_; }
  std::uint16_t port() const { return port_; }
  net::io_context& io() { return io_; }

  // Starts a graceful stop; the future is ready when the server reports it stopped.
  std::future<void> stop_async(std::chrono::milliseconds grace) {
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    server_->stop(grace, [done] { done->set_value(); });
    stopped_ = true;
    return future;
  }
  // Stops and waits (at most 10 s) for the server to report it stopped.
  bool stop(std::chrono::milliseconds grace) {
    return stop_async(grace).wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  }

 private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::unique_ptr<Server> server_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

inline void set_receive_timeout(tcp::socket& socket, int seconds) {
  timeval tv{};
  tv.tv_sec = seconds;
  ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

class TestClient {
 public:
  explicit TestClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    set_receive_timeout(socket_, 10);
  }

  ClientResponse request(bh::verb method, const std::string& target, std::string body = {},
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
    bh::request<bh::string_body> req{method, target, 11};
    req.set(bh::field::host, "127.0.0.1");
    for (auto& [k, v] : headers) req.set(k, v);
    if (!body.empty() || method == bh::verb::post || method == bh::verb::put) {
      req.body() = std::move(body);
      req.prepare_payload();
    }
    bh::write(socket_, req);
    return read_response();
  }
  // HEAD: the response has headers only, whatever Content-Length says.
  ClientResponse head(const std::string& target) {
    bh::request<bh::string_body> req{bh::verb::head, target, 11};
    req.set(bh::field::host, "127.0.0.1");
    bh::write(socket_, req);
    bh::response_parser<bh::string_body> parser;
    parser.skip(true);
    bh::read(socket_, buffer_, parser);
    return parser.release();
  }

  ClientResponse get(const std::string& target,
                     std::vector<std::pair<std::string, std::string>> headers = {}) {
    return request(bh::verb::get, target, {}, std::move(headers));
  }

  ClientResponse read_response() {
    ClientResponse res;
    bh::response_parser<bh::string_body> parser;
    parser.body_limit(64 << 20);
    bh::read(socket_, buffer_, parser);
    return parser.release();
  }

  // Writes raw bytes (malformed requests, partial bodies).
  void write_raw(std::string_view bytes) { net::write(socket_, net::buffer(bytes)); }

  // True when the server closed the connection (the next read sees EOF or a reset).
  bool closed_by_server() {
    char c;
    boost::system::error_code ec;
    socket_.read_some(net::buffer(&c, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }

  tcp::socket& socket() { return socket_; }
  beast::flat_buffer& buffer() { return buffer_; }

 private:
  net::io_context io_;
  tcp::socket socket_;
  beast::flat_buffer buffer_;
};

// Reads a text/event-stream response: the header first, then one frame (text up to a blank
// line) at a time from the chunked body.
class SseReader {
 public:
  SseReader(std::uint16_t port, const std::string& target,
            std::vector<std::pair<std::string, std::string>> headers = {})
      : client_(port) {
    bh::request<bh::empty_body> req{bh::verb::get, target, 11};
    req.set(bh::field::host, "127.0.0.1");
    req.set(bh::field::accept, "text/event-stream");
    for (auto& [k, v] : headers) req.set(k, v);
    bh::write(client_.socket(), req);
    parser_.body_limit(std::uint64_t(1) << 40);  // not boost::none: 1.74 then refuses all
    on_chunk_ = [this](std::uint64_t, beast::string_view body, beast::error_code&) {
      text_.append(body.data(), body.size());
      return body.size();
    };
    parser_.on_chunk_body(on_chunk_);  // Beast keeps a reference: on_chunk_ outlives parser_
    bh::read_header(client_.socket(), client_.buffer(), parser_);
  }

  const bh::response_parser<bh::string_body>::value_type& header() { return parser_.get(); }

  // The next frame without its blank-line terminator; nullopt when the stream ended (cleanly:
  // `ended_cleanly()` tells) or failed.
  std::optional<std::string> next() {
    while (true) {
      auto end = text_.find("\n\n");
      if (end != std::string::npos) {
        auto frame = text_.substr(0, end);
        text_.erase(0, end + 2);
        return frame;
      }
      if (parser_.is_done()) return std::nullopt;
      beast::error_code ec;
      bh::read_some(client_.socket(), client_.buffer(), parser_, ec);
      if (ec) {
        error_ = ec;
        return std::nullopt;
      }
    }
  }
  // The next frame that is not a comment (heartbeats are comments).
  std::optional<std::string> next_event() {
    while (auto frame = next())
      if (frame->empty() || (*frame)[0] != ':') return frame;
    return std::nullopt;
  }

  bool ended_cleanly() const { return parser_.is_done() && !error_; }
  beast::error_code error() const { return error_; }
  void disconnect() {
    boost::system::error_code ec;
    client_.socket().shutdown(tcp::socket::shutdown_both, ec);
    client_.socket().close(ec);
  }

 private:
  TestClient client_;
  std::function<std::size_t(std::uint64_t, beast::string_view, beast::error_code&)> on_chunk_;
  bh::response_parser<bh::string_body> parser_;
  std::string text_;
  beast::error_code error_;
};

inline nlohmann::json body_json(const ClientResponse& res) {
  return nlohmann::json::parse(res.body(), nullptr, false);
}

}  // namespace flowd::http::testing
