#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include "flowd/console/console.h"

#include "flowd/console/assets.h"

namespace flowd::console {
namespace {

http::Reply serve(const std::string& path) {
  auto it = files().find(path);
  if (it == files().end())
    return tl::unexpected(http::ApiError::not_found("the console has no file " + path));
  auto response = http::Response::text(std::string(it->second), http::Status::ok,
                                       std::string(content_type(path)));
  // The files change only with the binary; the page itself is always re-checked.
  response.header("Cache-Control", path == "/index.html" ? "no-cache" : "max-age=300");
  response.header("X-Content-Type-Options", "nosniff");
  response.header("Content-Security-Policy",
                  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                  "script-src 'self'; connect-src 'self'");
  return response;
}

}  // namespace

std::string_view content_type(std::string_view name) {
  auto ends = [name](std::string_view ext) {
    return name.size() >= ext.size() && name.substr(name.size() - ext.size()) == ext;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

void register_routes(http::Router& router) {
  router.add_public_sync(http::Verb::get, "/",
                         [](const http::Request&) { return serve("/index.html"); });
  router.add_public_sync(http::Verb::get, "/console/{file}", [](const http::Request& req) {
    return serve("/" + std::string(req.param("file")));
  });
  router.add_public_sync(http::Verb::get, "/console/lib/{file}", [](const http::Request& req) {
    return serve("/lib/" + std::string(req.param("file")));
  });
}

}  // namespace flowd::console
