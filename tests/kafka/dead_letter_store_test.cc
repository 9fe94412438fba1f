// DeadLetterStore on a real PostgreSQL: exact bytes both ways, idempotent inserts, filters, counts
// and the flowd.dlq publication marks.
#include <catch2/catch.hpp>

#include "flowd/dlq/dead_letter_store.h"
#include "flowd/eventstore/event_store.h"
#include "postgres_fixture.h"

using namespace flowd;
using namespace std::chrono_literals;

namespace {

struct Store {
  Store() {
    eventstore::StoreOptions options;
    options.url = db.url();
    auto s = eventstore::EventStore::open(options);  // applies the migrations
    REQUIRE(s);
    events = std::move(*s);
    auto d = dlq::DeadLetterStore::open({db.url(), 2});
    INFO((d ? "" : d.error().message));
    REQUIRE(d);
    letters = std::move(*d);
  }
  flowd::testing::PostgresDatabase db;
  std::unique_ptr<eventstore::EventStore> events;
  std::unique_ptr<dlq::DeadLetterStore> letters;
};

dlq::DeadLetter poison(std::int64_t offset, std::string code, std::string workflow = {}) {
  dlq::DeadLetter d;
  d.dedupe_key = dlq::trigger_dedupe_key("orders", 2, offset, workflow);
  d.reason_code = std::move(code);
  d.reason_message = "offset " + std::to_string(offset);
  d.workflow = std::move(workflow);
  dlq::SourceRecord s;
  s.topic = "orders";
  s.partition = 2;
  s.offset = offset;
  s.timestamp_ms = 1'700'000'000'123;
  s.value = "value-" + std::to_string(offset);
  d.source = s;
  return d;
}

}  // namespace

TEST_CASE("Dead letters keep the original record byte for byte", "[integration][dlq]") {
  Store s;
  dlq::DeadLetter d = poison(7, "NOT_JSON");
  const std::string every_byte = [] {
    std::string b;
    for (int i = 0; i < 256; ++i) b += static_cast<char>(i);
    return b;
  }();
  d.source->value = every_byte;
  d.source->key = std::string("\x00k\xff", 3);
  d.source->headers = {{"bin", std::string("\x00\x01\x80", 3)},
                       {"null", std::nullopt},
                       {"empty", std::string()},
                       {std::string("n\xc3", 2), "v"}};
  d.input = Json{{"a", 1}};
  auto inserted = s.letters->insert(d);
  REQUIRE(inserted);
  CHECK(inserted->created);

  auto got = s.letters->get(inserted->id);
  REQUIRE(got);
  REQUIRE(*got);
  const dlq::DeadLetter& g = **got;
  CHECK(g.kind == dlq::DeadLetterKind::kTrigger);
  CHECK(g.status == dlq::DeadLetterStatus::kPending);
  CHECK(g.reason_code == "NOT_JSON");
  CHECK(g.input == Json{{"a", 1}});
  REQUIRE(g.source);
  CHECK(g.source->value == every_byte);
  CHECK(g.source->key == d.source->key);
  CHECK(g.source->timestamp_ms == 1'700'000'000'123);
  REQUIRE(g.source->headers.size() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(g.source->headers[i].name == d.source->headers[i].name);
    CHECK(g.source->headers[i].value == d.source->headers[i].value);
  }
  CHECK_FALSE(g.published_at);

  auto missing = s.letters->get(inserted->id + 1000);
  REQUIRE(missing);
  CHECK_FALSE(*missing);
}

TEST_CASE("Dead-letter inserts are idempotent per source record and workflow",
          "[integration][dlq]") {
  Store s;
  auto first = s.letters->insert_batch(
      {poison(1, "NOT_JSON"), poison(2, "FILTER_ERROR", "a"), poison(2, "FILTER_ERROR", "b")});
  REQUIRE(first);
  REQUIRE(first->size() == 3);
  for (const auto& o : *first) CHECK(o.created);
  CHECK((*first)[1].id != (*first)[2].id);

  // Redelivered: the same rows, nothing new; a batch with a key twice gets one row.
  auto again = s.letters->insert_batch(
      {poison(2, "FILTER_ERROR", "b"), poison(3, "NOT_JSON"), poison(3, "NOT_JSON")});
  REQUIRE(again);
  CHECK((*again)[0].id == (*first)[2].id);
  CHECK_FALSE((*again)[0].created);
  CHECK((*again)[1].id == (*again)[2].id);
  CHECK(s.db.query("SELECT count(*) FROM dead_letters") == "4");  // before the odd one

  // Text that PostgreSQL would refuse (NUL, invalid UTF-8, as reasons quoting record bytes
  // have) is stored with U+FFFD instead; the same key finds the same row.
  dlq::DeadLetter odd = poison(9, "NOT_JSON", std::string("w\x00\xff", 3));
  odd.reason_message = std::string("bad byte \xff\x00 at 0", 16);
  auto odd1 = s.letters->insert(odd);
  REQUIRE(odd1);
  CHECK(odd1->created);
  auto odd2 = s.letters->insert(odd);
  REQUIRE(odd2);
  CHECK_FALSE(odd2->created);
  CHECK(odd2->id == odd1->id);
  auto stored = s.letters->get(odd1->id);
  REQUIRE(stored);
  REQUIRE(*stored);
  CHECK((*stored)->reason_message == "bad byte \xEF\xBF\xBD\xEF\xBF\xBD at 0");

  auto bad = s.letters->insert(dlq::DeadLetter{});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == ErrorCode::kInvalidInput);
}

TEST_CASE("Dead letters are listed by filter, counted by status and marked published",
          "[integration][dlq]") {
  Store s;
  std::vector<dlq::DeadLetter> batch;
  for (int i = 0; i < 12; ++i) {
    batch.push_back(poison(i, i % 3 == 0 ? "NOT_JSON" : "INVALID_INPUT", i % 2 ? "w1" : "w2"));
  }
  auto ids = s.letters->insert_batch(batch);
  REQUIRE(ids);

  struct Case {
    const char* name;
    dlq::DeadLetterQuery query;
    std::size_t expected;
  };
  dlq::DeadLetterQuery by_code, by_workflow, paged, topic_none, since_future;
  by_code.reason_code = "NOT_JSON";
  by_workflow.workflow = "w1";
  paged.limit = 5;
  topic_none.source_topic = "other";
  since_future.since = Clock::now() + std::chrono::hours(1);
  const Case cases[] = {{"all", {}, 12},     {"reason", by_code, 4},   {"workflow", by_workflow, 6},
                        {"limit", paged, 5}, {"topic", topic_none, 0}, {"since", since_future, 0}};
  for (const auto& c : cases) {
    INFO(c.name);
    auto listed = s.letters->list(c.query);
    REQUIRE(listed);
    CHECK(listed->size() == c.expected);
    for (std::size_t i = 1; i < listed->size(); ++i) CHECK((*listed)[i - 1].id > (*listed)[i].id);
  }
  // Pages continue from the last id seen.
  auto page1 = s.letters->list(paged);
  REQUIRE(page1);
  dlq::DeadLetterQuery next = paged;
  next.before_id = page1->back().id;
  auto page2 = s.letters->list(next);
  REQUIRE(page2);
  REQUIRE(page2->size() == 5);
  CHECK(page2->front().id < page1->back().id);

  auto counts = s.letters->count_by_status();
  REQUIRE(counts);
  CHECK((*counts)[dlq::DeadLetterStatus::kPending] == 12);
  CHECK((*counts)[dlq::DeadLetterStatus::kDiscarded] == 0);

  auto unpublished = s.letters->list_unpublished(0ms, 100);
  REQUIRE(unpublished);
  // created_at < now() in a later transaction: all twelve.
  CHECK(unpublished->size() == 12);
  REQUIRE(s.letters->mark_published({(*ids)[0].id, (*ids)[1].id}));
  unpublished = s.letters->list_unpublished(0ms, 100);
  REQUIRE(unpublished);
  CHECK(unpublished->size() == 10);
  auto got = s.letters->get((*ids)[0].id);
  REQUIRE(got);
  REQUIRE(*got);
  CHECK((*got)->published_at);
  auto young = s.letters->list_unpublished(1h, 100);
  REQUIRE(young);
  CHECK(young->empty());
}
