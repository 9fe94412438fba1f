#pragma once
// DlqOperations is the dead-letter part of flowd's API as plain calls (schemas/openapi.yaml,
// tag "dead letters"): list, show, stats, retry (one, or a page of a bulk retry), discard,
// archive and a bulk retry's progress. The HTTP routes (dlq_routes.h) and flowctl's direct mode
// both call it. Blocking (PostgreSQL); any thread but an Asio one. The stores must outlive it.
#include <optional>
#include <string>

#include "flowd/api/operations.h"

namespace flowd::dlq {
class DeadLetterStore;
class Reprocessor;
}  // namespace flowd::dlq

namespace flowd::api {

struct DlqFilter {
  std::optional<std::string> workflow;
  std::optional<std::string> error_code;
  std::optional<std::string> kind;   // trigger | execution
  std::optional<std::string> state;  // pending | retrying | resolved | discarded | archived
  std::optional<std::string> since;  // RFC 3339, or a duration ago ("1h")
  std::optional<std::string> until;
  std::size_t limit = 50;  // 1..1000
  std::string page_token;  // the last id of the previous page
};

struct DlqRetry {
  std::optional<Json> input;
  std::optional<Json> patch;
  bool from_failed_step = false;
  std::optional<int> version;
  bool republish = false;
  std::string reason;
  std::string batch;
  bool dry_run = false;
};

class DlqOperations {
 public:
  DlqOperations(eventstore::EventStore& store, dlq::DeadLetterStore& letters);
  ~DlqOperations();

  // {"items":[DeadLetter],"nextPageToken"?}
  ApiResult list(const DlqFilter& filter);
  // {"deadLetter","retries","audit","timeline"?,"failedStep"?}
  ApiResult get(std::int64_t id);
  ApiResult stats();
  // 202 {RetryResult} (200 with dryRun)
  ApiResult retry(std::int64_t id, const DlqRetry& request, const std::string& actor);
  // Retries the pending letters of one page of `filter` (state forced to pending):
  // {"matched","retried":[RetryResult],"errors":[{id,code,message}],"nextPageToken"?}.
  ApiResult bulk_retry(const DlqFilter& filter, const DlqRetry& request, const std::string& actor);
  ApiResult discard(std::int64_t id, const std::string& reason, const std::string& actor);
  ApiResult archive(std::int64_t id, const std::string& reason, const std::string& actor);
  // {"batch","started","completed","failed","running"}
  ApiResult batch(const std::string& batch);

 private:
  eventstore::EventStore& store_;
  dlq::DeadLetterStore& letters_;
  std::unique_ptr<dlq::Reprocessor> reprocessor_;
};

}  // namespace flowd::api
