#pragma once
// Router maps a method and a path to a handler. Patterns are absolute paths whose segments are
// literals or `{name}` parameters matching one non-empty segment
// ("/api/v1/executions/{id}/events"); when several patterns match, the one with a literal earliest
// wins ("/executions/stats" beats
// "/executions/{id}"). A path that matches under another method only gives 405 with the allowed
// methods; HEAD falls back to GET.
//
// Lifecycle: fill it before Server::start(); it is read-only (and so thread-safe) afterwards.
// Registering the same method and path shape twice is a programmer error (std::invalid_argument).
#include <utility>  // before awaitable.hpp: Boost 1.74 uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/responder.h"

namespace flowd::http {

// A coroutine handler; runs on the connection's strand.
using CoroHandler = std::function<boost::asio::awaitable<Reply>(Request)>;

inline constexpr std::string_view kApiPrefix = "/api/v1";

class Router {
 public:
  void add(Verb method, std::string_view pattern, Handler handler);
  void add_sync(Verb method, std::string_view pattern, SyncHandler handler);
  void add_coro(Verb method, std::string_view pattern, CoroHandler handler);
  // A route answered without the bearer token (the web console's static files: the page itself
  // asks for the token). Everything else stays behind the token.
  void add_public_sync(Verb method, std::string_view pattern, SyncHandler handler);

  struct Match {
    const Handler* handler = nullptr;  // null: no route for this method
    std::string pattern;               // the matched pattern (for logs and metrics labels)
    Params params;
    std::vector<Verb> allowed;  // when handler is null but the path exists: its methods
    bool is_public = false;     // added with add_public_sync: no token needed
  };
  Match match(Verb method, const std::vector<std::string>& segments) const;

  // Every registered (method, pattern), in registration order.
  std::vector<std::pair<Verb, std::string>> routes() const;

 private:
  struct Segment {
    std::string text;  // literal, or parameter name
    bool param = false;
  };
  struct Route {
    Verb method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
    bool is_public = false;
  };
  static std::vector<Segment> parse_pattern(std::string_view pattern);
  std::vector<Route> routes_;
};

// Routes under one prefix: group.add(Verb::get, "/executions/{id}", h) registers
// "<prefix>/executions/{id}".
class RouteGroup {
 public:
  RouteGroup(Router& router, std::string prefix) : router_(router), prefix_(std::move(prefix)) {}
  void add(Verb method, std::string_view pattern, Handler handler) {
    router_.add(method, prefix_ + std::string(pattern), std::move(handler));
  }
  void add_sync(Verb method, std::string_view pattern, SyncHandler handler) {
    router_.add_sync(method, prefix_ + std::string(pattern), std::move(handler));
  }
  void add_coro(Verb method, std::string_view pattern, CoroHandler handler) {
    router_.add_coro(method, prefix_ + std::string(pattern), std::move(handler));
  }

 private:
  Router& router_;
  std::string prefix_;
};

}  // namespace flowd::http
