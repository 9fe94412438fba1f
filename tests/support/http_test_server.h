#pragma once
// HttpTestServer is a tiny HTTP/1.1 server (Boost.Beast) on 127.0.0.1 and a port the kernel picks,
// for tests and local example endpoints. Every request is recorded and handed to a handler that
// answers through a Responder, at once or later (a test can hold a response back to model a slow
// server). Lifecycle: listens from construction until stop() or destruction; connections still
// open then are closed. Owning thread: the io_context's; call its members on that thread (or
// while the io_context is not running). Header-only so any test binary can use it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace flowd::testing {

class HttpTestServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Response = boost::beast::http::response<boost::beast::http::string_body>;

 private:
  struct Session;

 public:
  // Sends one response on the connection it came from; later calls, and calls after the
  // connection or the server closed, do nothing. Copyable; safe to keep beyond the server.
  class Responder {
   public:
    void operator()(Response response) const {
      auto session = session_.lock();
      if (!session || session->response) return;
      session->response = std::move(response);
      session->wakeup.cancel();
    }

   private:
    friend class HttpTestServer;
    explicit Responder(std::weak_ptr<Session> session) : session_(std::move(session)) {}
    std::weak_ptr<Session> session_;
  };

  using Handler = std::function<void(const Request&, Responder)>;

  HttpTestServer(boost::asio::io_context& io, Handler handler)
      : impl_(std::make_shared<Impl>(io, std::move(handler))) {
    using boost::asio::ip::tcp;
    tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    impl_->acceptor.open(endpoint.protocol());
    impl_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    impl_->acceptor.bind(endpoint);
    impl_->acceptor.listen();
    port_ = impl_->acceptor.local_endpoint().port();
    boost::asio::co_spawn(io, accept_loop(impl_), boost::asio::detached);
  }
  ~HttpTestServer() { stop(); }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  unsigned short port() const { return port_; }
  // "http://127.0.0.1:<port><path>"
  std::string url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // Every request received so far, in arrival order.
  const std::vector<Request>& requests() const { return impl_->requests; }

  // Stops accepting and closes every open connection; held responses are dropped.
  void stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
    for (auto& weak : impl_->sessions) {
      if (auto session = weak.lock()) {
        session->socket.close(ignored);
        session->wakeup.cancel();
      }
    }
    impl_->sessions.clear();
  }

  static Response json(unsigned status, const nlohmann::json& body) {
    return text(status, body.dump(), "application/json");
  }
  static Response text(unsigned status, std::string body,
                       std::string content_type = "text/plain; charset=utf-8") {
    Response response{static_cast<boost::beast::http::status>(status), 11};
    response.set(boost::beast::http::field::content_type, content_type);
    response.body() = std::move(body);
    return response;
  }

  // A loopback port that nothing listens on (bound and released again), for refused connects.
  static unsigned short unused_port(boost::asio::io_context& io) {
    using boost::asio::ip::tcp;
    tcp::acceptor acceptor(io, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    return acceptor.local_endpoint().port();
  }

 private:
  struct Session {
    explicit Session(boost::asio::ip::tcp::socket s)
        : socket(std::move(s)), wakeup(socket.get_executor()) {}
    boost::asio::ip::tcp::socket socket;
    boost::asio::steady_timer wakeup;  // cancelled when the response is ready
    std::optional<Response> response;
  };

  struct Impl {
    Impl(boost::asio::io_context& io, Handler h) : acceptor(io), handler(std::move(h)) {}
    boost::asio::ip::tcp::acceptor acceptor;
    Handler handler;
    std::vector<Request> requests;
    std::list<std::weak_ptr<Session>> sessions;
    bool stopped = false;
  };

  static boost::asio::awaitable<void> accept_loop(std::shared_ptr<Impl> impl) {
    namespace asio = boost::asio;
    for (;;) {
      boost::system::error_code ec;
      auto socket =
          co_await impl->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || impl->stopped) co_return;
      auto session = std::make_shared<Session>(std::move(socket));
      impl->sessions.remove_if([](const std::weak_ptr<Session>& w) { return w.expired(); });
      impl->sessions.push_back(session);
      asio::co_spawn(impl->acceptor.get_executor(), serve(impl, session), asio::detached);
    }
  }

  static boost::asio::awaitable<void> serve(std::shared_ptr<Impl> impl,
                                            std::shared_ptr<Session> session) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    boost::system::error_code ec;
    auto token = asio::redirect_error(asio::use_awaitable, ec);
    while (!impl->stopped) {
      Request request;
      co_await http::async_read(session->socket, buffer, request, token);
      if (ec || impl->stopped) break;
      impl->requests.push_back(request);
      session->response.reset();
      session->wakeup.expires_at(asio::steady_timer::time_point::max());
      if (impl->handler) {
        impl->handler(request, Responder(session));
      } else {
        Responder responder(session);
        responder(text(404, "no handler"));
      }
      if (!session->response) co_await session->wakeup.async_wait(token);
      if (!session->response || impl->stopped) break;
      Response& response = *session->response;
      response.keep_alive(request.keep_alive());
      // Content-Length from the body unless the handler chose the framing itself.
      if (!response.chunked() && !response.has_content_length()) response.prepare_payload();
      if (request.method() == boost::beast::http::verb::head) response.body().clear();
      co_await http::async_write(session->socket, response, token);
      if (ec || !request.keep_alive()) break;
    }
    session->socket.close(ec);
  }

  std::shared_ptr<Impl> impl_;
  unsigned short port_ = 0;
};

}  // namespace flowd::testing
