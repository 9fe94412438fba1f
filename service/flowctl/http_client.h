#pragma once
// HttpClient is flowctl's blocking HTTP/1.1 client for flowd's API: it parses the server URL
// (http://host[:port][/prefix]), sends JSON with the bearer token, and turns the answer into the
// body's JSON or an ApiError — the server's own error (code, message, hint, request id), or
// UNAVAILABLE naming the URL and the reason when the server cannot be reached.
// Not thread-safe; one connection per call.
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <tl/expected.hpp>

#include "backend.h"

namespace flowctl {

class HttpClient {
 public:
  static tl::expected<HttpClient, ApiError> make(const std::string& url, std::string token,
                                                 std::chrono::milliseconds timeout);

  Outcome call(boost::beast::http::verb method, const std::string& target,
               const std::optional<Json>& body = std::nullopt);

  // GET a text/event-stream and hand each event (its `event:` name and `data:` text) to
  // `on_event` until the stream ends or on_event returns false. No read timeout (heartbeats).
  tl::expected<void, ApiError> stream(
      const std::string& target,
      const std::function<bool(const std::string& event, const std::string& data)>& on_event);

  const std::string& url() const { return url_; }
  // Sent as X-Flowd-Actor: who does it, for the audit trail of dead-letter actions.
  void set_actor(std::string actor) { actor_ = std::move(actor); }

 private:
  std::string url_;  // as given, for messages
  std::string host_;
  std::string port_;
  std::string prefix_;  // path prefix of the URL, "" for none
  std::string token_;
  std::string actor_;
  std::chrono::milliseconds timeout_{30'000};
};

}  // namespace flowctl
