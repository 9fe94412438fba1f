#include "http/router.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <stdexcept>

namespace flowd::http {

std::vector<Router::Segment> Router::parse_pattern(std::string_view pattern) {
  if (pattern.empty() || pattern[0] != '/')
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  std::vector<Segment> out;
  if (pattern == "/") return out;
  std::size_t start = 1;
  while (start <= pattern.size()) {
    auto slash = pattern.find('/', start);
    auto text = pattern.substr(start, slash == std::string_view::npos ? slash : slash - start);
    if (text.empty())
      throw std::invalid_argument("route pattern has an empty segment: " + std::string(pattern));
    Segment s;
    if (text.front() == '{') {
      if (text.back() != '}' || text.size() < 3)
        throw std::invalid_argument("bad parameter in route pattern: " + std::string(pattern));
      s.param = true;
      s.text = std::string(text.substr(1, text.size() - 2));
      for (char c : s.text)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
          throw std::invalid_argument("bad parameter name in route pattern: " +
                                      std::string(pattern));
      for (const auto& other : out)
        if (other.param && other.text == s.text)
          throw std::invalid_argument("duplicate parameter in route pattern: " +
                                      std::string(pattern));
    } else {
      if (text.find_first_of("{}") != std::string_view::npos)
        throw std::invalid_argument("braces inside a literal segment: " + std::string(pattern));
      s.text = std::string(text);
    }
    out.push_back(std::move(s));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return out;
}

void Router::add(Verb method, std::string_view pattern, Handler handler) {
  if (!handler) throw std::invalid_argument("route without a handler: " + std::string(pattern));
  auto segments = parse_pattern(pattern);
  for (const auto& r : routes_) {
    if (r.method != method || r.segments.size() != segments.size()) continue;
    bool same_shape = true;
    for (std::size_t i = 0; i < segments.size() && same_shape; ++i) {
      const auto &a = r.segments[i], &b = segments[i];
      same_shape = a.param == b.param && (a.param || a.text == b.text);
    }
    if (same_shape)
      throw std::invalid_argument(
          "route registered twice: " + std::string(beast_http::to_string(method)) + " " +
          std::string(pattern) + " (as " + r.pattern + ")");
  }
  routes_.push_back(Route{method, std::string(pattern), std::move(segments), std::move(handler)});
}

void Router::add_sync(Verb method, std::string_view pattern, SyncHandler handler) {
  add(method, pattern, [handler = std::move(handler)](Request request, Responder responder) {
    auto reply = handler(request);
    if (reply)
      responder.send(std::move(*reply));
    else
      responder.fail(std::move(reply.error()));
  });
}

void Router::add_coro(Verb method, std::string_view pattern, CoroHandler handler) {
  add(method, pattern, [handler = std::move(handler)](Request request, Responder responder) {
    auto executor = responder.executor();
    boost::asio::co_spawn(executor, handler(std::move(request)),
                          [responder](std::exception_ptr error, Reply reply) mutable {
                            if (error) {
                              try {
                                std::rethrow_exception(error);
                              } catch (const std::exception& e) {
                                spdlog::error("request {}: handler failed: {}",
                                              responder.request_id(), e.what());
                              } catch (...) {
                                spdlog::error("request {}: handler failed", responder.request_id());
                              }
                              responder.fail(ApiError::internal("an internal error occurred"));
                            } else if (reply) {
                              responder.send(std::move(*reply));
                            } else {
                              responder.fail(std::move(reply.error()));
                            }
                          });
  });
}

void Router::add_public_sync(Verb method, std::string_view pattern, SyncHandler handler) {
  add_sync(method, pattern, std::move(handler));
  routes_.back().is_public = true;
}

Router::Match Router::match(Verb method, const std::vector<std::string>& segments) const {
  Match best;
  std::vector<bool> best_score;
  const Route* chosen = nullptr;
  const Route* head_fallback = nullptr;
  std::vector<bool> fallback_score;
  for (const auto& r : routes_) {
    if (r.segments.size() != segments.size()) continue;
    std::vector<bool> score;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& s = r.segments[i];
      ok = s.param ? !segments[i].empty() : s.text == segments[i];
      score.push_back(!s.param);
    }
    if (!ok) continue;
    if (std::find(best.allowed.begin(), best.allowed.end(), r.method) == best.allowed.end())
      best.allowed.push_back(r.method);
    if (r.method == method && (!chosen || score > best_score)) {
      chosen = &r;
      best_score = score;
    }
    if (method == Verb::head && r.method == Verb::get &&
        (!head_fallback || score > fallback_score)) {
      head_fallback = &r;
      fallback_score = score;
    }
  }
  if (!chosen) chosen = head_fallback;
  if (std::find(best.allowed.begin(), best.allowed.end(), Verb::get) != best.allowed.end() &&
      std::find(best.allowed.begin(), best.allowed.end(), Verb::head) == best.allowed.end())
    best.allowed.push_back(Verb::head);
  if (!chosen) return best;
  best.handler = &chosen->handler;
  best.pattern = chosen->pattern;
  best.is_public = chosen->is_public;
  for (std::size_t i = 0; i < segments.size(); ++i)
    if (chosen->segments[i].param) best.params.emplace_back(chosen->segments[i].text, segments[i]);
  return best;
}

std::vector<std::pair<Verb, std::string>> Router::routes() const {
  std::vector<std::pair<Verb, std::string>> out;
  for (const auto& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

}  // namespace flowd::http
