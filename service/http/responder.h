#pragma once
// Responder is how a handler answers its request: at once, or later from any thread (a store
// call completing on its own thread), or by turning the response into a Server-Sent Events stream.
// SseStream is such a stream: events pushed from any thread arrive in the order pushed, with
// heartbeats between them, until the handler closes it, the client goes away or the server stops.
//
// Both are handles (copyable) onto the connection; every member is thread-safe and hops onto the
// connection's strand on the server's io_context by itself. The first of send / fail /
// start_sse wins, later calls do nothing. When the last copy of a Responder that never answered
// goes away, the client gets 500 INTERNAL ("the handler did not answer"), so a lost completion
// cannot hang a connection. Release them before the server's io_context is destroyed (they post
// to it).
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "http/error.h"
#include "http/request.h"

namespace flowd::http {

namespace detail {
class Session;
struct Exchange;
struct SseState;
}  // namespace detail

class SseStream {
 public:
  // Queues one event: `id:` (when given), `event:` (when given) and one `data:` line per line of
  // `data`. False when the stream has ended, or the client fell so far behind that the stream was
  // closed (ServerOptions::sse_max_queued_bytes).
  bool send(std::string_view event, std::string_view data, std::string_view id = {});
  bool send_json(std::string_view event, const nlohmann::json& data, std::string_view id = {});
  // A comment line (": text"), ignored by clients; heartbeats are comments.
  bool comment(std::string_view text);
  // Ends the stream cleanly once what is queued has been written.
  void close();
  // False once the stream has ended or is ending.
  bool open() const;
  // Runs once on the connection's strand when the stream ends for any reason; at once (posted)
  // when it has already ended. A place to unsubscribe from whatever feeds the stream.
  void on_close(std::function<void()> callback);

  const std::string& request_id() const;
  // The connection's strand: completions posted here run in order with the stream's own work.
  boost::asio::any_io_executor executor() const;

 private:
  friend class Responder;
  friend class detail::Session;
  explicit SseStream(std::shared_ptr<detail::SseState> state) : state_(std::move(state)) {}
  bool enqueue(std::string frame);
  std::shared_ptr<detail::SseState> state_;
};

class Responder {
 public:
  explicit Responder(std::shared_ptr<detail::Exchange> exchange);

  // Sends the response (any thread).
  void send(Response response);
  // Sends the JSON error for `error` (any thread).
  void fail(ApiError error);
  // Answers 200 text/event-stream and returns the stream to push events into (any thread).
  std::shared_ptr<SseStream> start_sse();

  // Whether nothing has been sent yet.
  bool pending() const;
  const std::string& request_id() const;
  // The connection's strand on the server's io_context.
  boost::asio::any_io_executor executor() const;

 private:
  std::shared_ptr<detail::Exchange> exchange_;
};

using Reply = tl::expected<Response, ApiError>;

// The handler forms a route can have. A Handler must answer through its Responder exactly once,
// now or later; it runs on the connection's strand and must not block (hand blocking work to
// another thread and answer from its completion). A SyncHandler returns the answer. A
// CoroHandler is a coroutine on the connection's strand. An exception escaping any of them is
// answered with 500 INTERNAL and logged.
using Handler = std::function<void(Request, Responder)>;
using SyncHandler = std::function<Reply(const Request&)>;

}  // namespace flowd::http
