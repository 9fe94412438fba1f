// Server-Sent Events over real sockets: frames arrive in the order pushed (from any thread),
// heartbeats keep idle streams alive, and the stream ends cleanly on close, on server stop and
// when the client goes away.
#include <catch2/catch.hpp>

#include "http_test_support.h"

using namespace flowd::http;
using namespace flowd::http::testing;
using namespace std::chrono_literals;

namespace {

// Registers GET /api/v1/stream whose handler hands its SseStream to the test.
std::function<void(Server&)> stream_route(Mailbox<std::shared_ptr<SseStream>>& streams) {
  return [&streams](Server& server) {
    server.api().add(Verb::get, "/stream",
                     [&streams](Request, Responder res) { streams.put(res.start_sse()); });
  };
}

}  // namespace

TEST_CASE("SSE frames pushed from another thread arrive in order, then the stream ends cleanly",
          "[service][http][sse]") {
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts({}, stream_route(streams));
  SseReader reader(ts.port(), "/api/v1/stream", {{"X-Request-Id", "sse-1"}});
  CHECK(reader.header().result_int() == 200);
  CHECK(reader.header()[bh::field::content_type] == "text/event-stream");
  CHECK(reader.header()[bh::field::cache_control] == "no-cache");
  CHECK(reader.header()["X-Request-Id"] == "sse-1");
  auto stream = streams.take();
  REQUIRE(stream);
  CHECK((*stream)->request_id() == "sse-1");

  constexpr int kEvents = 200;
  std::thread producer([s = *stream] {
    for (int i = 0; i < kEvents; ++i) s->send_json("step", {{"n", i}}, std::to_string(i));
    s->send("multi", "line one\nline two");
    s->close();
  });
  for (int i = 0; i < kEvents; ++i) {
    auto frame = reader.next_event();
    REQUIRE(frame);
    CHECK(*frame ==
          "id: " + std::to_string(i) + "\nevent: step\ndata: {\"n\":" + std::to_string(i) + "}");
  }
  auto multi = reader.next_event();
  REQUIRE(multi);
  CHECK(*multi == "event: multi\ndata: line one\ndata: line two");
  CHECK_FALSE(reader.next());
  CHECK(reader.ended_cleanly());
  producer.join();
  CHECK_FALSE((*stream)->open());
  CHECK_FALSE((*stream)->send("late", "x"));
}

TEST_CASE("Idle SSE streams get heartbeat comments", "[service][http][sse]") {
  ServerOptions options;
  options.sse_heartbeat = 20ms;
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts(options, stream_route(streams));
  SseReader reader(ts.port(), "/api/v1/stream");
  auto stream = streams.take();
  REQUIRE(stream);
  for (int i = 0; i < 2; ++i) {
    auto frame = reader.next();
    REQUIRE(frame);
    CHECK(*frame == ": heartbeat");
  }
  (*stream)->comment("note\nwith newline");
  (*stream)->send("", "plain");
  // Heartbeats may come between; the comment and the event come in order.
  std::optional<std::string> frame;
  do frame = reader.next();
  while (frame && *frame == ": heartbeat");
  REQUIRE(frame);
  CHECK(*frame == ": notewith newline");
  CHECK(reader.next_event() == std::optional<std::string>("data: plain"));
}

TEST_CASE("An SSE stream outlives the write and idle timeouts", "[service][http][sse]") {
  ServerOptions options;
  options.sse_heartbeat = 20ms;
  options.write_timeout = 60ms;
  options.idle_timeout = 60ms;
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts(options, stream_route(streams));
  SseReader reader(ts.port(), "/api/v1/stream");
  auto stream = streams.take();
  REQUIRE(stream);
  // Ten heartbeats 20 ms apart span several timeouts; the stream must still be open.
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) REQUIRE(reader.next() == std::optional<std::string>(": heartbeat"));
  CHECK(std::chrono::steady_clock::now() - started > 120ms);
  CHECK((*stream)->send("still", "here"));
  CHECK(reader.next_event() == std::optional<std::string>("event: still\ndata: here"));
  CHECK((*stream)->open());
}

TEST_CASE("Stopping the server ends SSE streams cleanly and runs their close callbacks",
          "[service][http][sse][stop]") {
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts({}, stream_route(streams));
  SseReader first(ts.port(), "/api/v1/stream");
  SseReader second(ts.port(), "/api/v1/stream");
  std::vector<std::shared_ptr<SseStream>> open;
  Mailbox<int> closed;
  for (int i = 0; i < 2; ++i) {
    auto s = streams.take();
    REQUIRE(s);
    (*s)->on_close([&closed, i] { closed.put(i); });
    (*s)->send("hello", "world");
    open.push_back(*s);
  }
  CHECK(first.next_event() == std::optional<std::string>("event: hello\ndata: world"));
  CHECK(second.next_event() == std::optional<std::string>("event: hello\ndata: world"));

  auto stopped = ts.stop_async(30s);
  CHECK_FALSE(first.next());
  CHECK(first.ended_cleanly());
  CHECK_FALSE(second.next());
  CHECK(second.ended_cleanly());
  CHECK(closed.take().has_value());
  CHECK(closed.take().has_value());
  REQUIRE(stopped.wait_for(10s) == std::future_status::ready);
  for (auto& s : open) {
    CHECK_FALSE(s->open());
    CHECK_FALSE(s->send("after", "stop"));
  }
  // A callback added after the end still runs.
  Mailbox<bool> late;
  open[0]->on_close([&] { late.put(true); });
  // (the io_context still runs in TestServer, so the posted callback runs)
  CHECK(late.take().has_value());
  CHECK(ts.server().metrics().gauge("flowd_http_sse_streams", "").get().value() == 0);
}

TEST_CASE("A client going away ends its SSE stream", "[service][http][sse]") {
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts({}, stream_route(streams));
  SseReader reader(ts.port(), "/api/v1/stream");
  auto stream = streams.take();
  REQUIRE(stream);
  Mailbox<bool> closed;
  (*stream)->on_close([&] { closed.put(true); });
  (*stream)->send("one", "1");
  REQUIRE(reader.next_event());
  reader.disconnect();
  CHECK(closed.take().has_value());
  CHECK_FALSE((*stream)->open());
  CHECK_FALSE((*stream)->send("two", "2"));
  CHECK(ts.stop(1s));
}

TEST_CASE("A client too far behind is cut off instead of buffering without bound",
          "[service][http][sse]") {
  ServerOptions options;
  options.sse_max_queued_bytes = 1024;
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts(options, stream_route(streams));
  SseReader reader(ts.port(), "/api/v1/stream");
  auto stream = streams.take();
  REQUIRE(stream);
  CHECK((*stream)->send("small", "fits"));
  CHECK_FALSE((*stream)->send("big", std::string(2000, 'x')));
  CHECK_FALSE((*stream)->open());
  CHECK(reader.next_event() == std::optional<std::string>("event: small\ndata: fits"));
  CHECK_FALSE(reader.next_event());
  CHECK(reader.ended_cleanly());
}

TEST_CASE("SSE endpoints need the token like any other", "[service][http][sse][auth]") {
  ServerOptions options;
  options.token = "tok";
  Mailbox<std::shared_ptr<SseStream>> streams;
  TestServer ts(options, stream_route(streams));
  SseReader denied(ts.port(), "/api/v1/stream");
  CHECK(denied.header().result_int() == 401);
  SseReader allowed(ts.port(), "/api/v1/stream", {{"Authorization", "Bearer tok"}});
  CHECK(allowed.header().result_int() == 200);
  auto stream = streams.take();
  REQUIRE(stream);
  (*stream)->close();
  CHECK_FALSE(allowed.next());
  CHECK(allowed.ended_cleanly());
}
