#pragma once
// A blocking HTTP/1.1 call for the end-to-end tests (one connection per call, 10 s receive
// timeout), and helpers to start the real flowd with a folder of definitions.
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "flowd_process.h"

namespace flowd::testing {

struct HttpReply {
  unsigned status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  Json json() const { return Json::parse(body, nullptr, false); }
};

inline HttpReply http_call(std::uint16_t port, boost::beast::http::verb method,
                           const std::string& target, const std::string& body = {},
                           const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  namespace bh = boost::beast::http;
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  timeval tv{10, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  bh::request<bh::string_body> req(method, target, 11);
  req.set(bh::field::host, "127.0.0.1");
  bool typed = false;
  for (const auto& [k, v] : headers) {
    req.set(k, v);
    typed = typed || k == "Content-Type";
  }
  if (!body.empty() && !typed) req.set(bh::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  bh::write(socket, req);
  boost::beast::flat_buffer buffer;
  bh::response<bh::string_body> res;
  bh::read(socket, buffer, res);
  HttpReply out;
  out.status = res.result_int();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = res.body();
  return out;
}

inline std::filesystem::path fresh_dir(const std::string& name) {
  auto dir = std::filesystem::current_path() / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The API port from flowd's "HTTP API listening" line.
inline std::uint16_t api_port(const FlowdProcess& flowd) {
  auto line = Json::parse(flowd.find_line("HTTP API listening"));
  auto url = line.at("url").get<std::string>();  // http://127.0.0.1:PORT/api/v1
  auto colon = url.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

}  // namespace flowd::testing
