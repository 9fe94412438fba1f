// HttpBackend: flowctl's durable commands through flowd's HTTP API, with a synchronous
// Boost.Beast client (one connection per call; flowctl makes a handful of calls per run).
#include <utility>  // before any Asio header: Boost 1.74 uses std::exchange without it

#include <boost/beast/http/verb.hpp>
#include <cctype>

#include "backend.h"
#include "http_client.h"
#include "text.h"

namespace flowctl {
namespace {

namespace bh = boost::beast::http;

class Query {
 public:
  Query& add(std::string_view name, const std::optional<std::string>& value) {
    if (value && !value->empty())
      text_ += (text_.empty() ? "?" : "&") + std::string(name) + "=" + url_encode(*value);
    return *this;
  }
  Query& add(std::string_view name, std::int64_t value) {
    return add(name, std::optional<std::string>(std::to_string(value)));
  }
  const std::string& str() const { return text_; }

 private:
  std::string text_;
};

class HttpBackend : public Backend {
 public:
  explicit HttpBackend(HttpClient client) : client_(std::move(client)) {}

  Outcome apply_workflow(const Json& document) override {
    return client_.call(bh::verb::post, "/api/v1/workflows", document);
  }
  Outcome list_workflows(const flowd::api::WorkflowFilter& filter) override {
    Query q;
    q.add("name", filter.name_prefix).add("limit", static_cast<std::int64_t>(filter.limit));
    q.add("pageToken", filter.page_token);
    return client_.call(bh::verb::get, "/api/v1/workflows" + q.str());
  }
  Outcome get_workflow(const std::string& name, std::optional<int> version) override {
    std::string path = "/api/v1/workflows/" + url_encode(name);
    if (version) path += "/versions/" + std::to_string(*version);
    return client_.call(bh::verb::get, path);
  }
  Outcome start_execution(const flowd::api::StartRequest& request) override {
    Json body{{"workflow", request.workflow}, {"input", request.input}};
    if (request.version) body["version"] = *request.version;
    if (request.context.is_object()) body["context"] = request.context;
    if (!request.dedupe_key.empty()) body["dedupeKey"] = request.dedupe_key;
    return client_.call(bh::verb::post, "/api/v1/executions", body);
  }
  Outcome list_executions(const flowd::api::ExecutionFilter& filter) override {
    Query q;
    q.add("workflow", filter.workflow).add("status", filter.status).add("since", filter.since);
    q.add("limit", static_cast<std::int64_t>(filter.limit)).add("pageToken", filter.page_token);
    return client_.call(bh::verb::get, "/api/v1/executions" + q.str());
  }
  Outcome get_execution(const std::string& id, std::optional<std::int64_t> as_of) override {
    Query q;
    if (as_of) q.add("asOf", *as_of);
    return client_.call(bh::verb::get, "/api/v1/executions/" + url_encode(id) + q.str());
  }
  Outcome events(const std::string& id, std::int64_t after, std::size_t limit) override {
    Query q;
    q.add("after", after).add("limit", static_cast<std::int64_t>(limit));
    return client_.call(bh::verb::get,
                        "/api/v1/executions/" + url_encode(id) + "/events" + q.str());
  }
  Outcome replay(const std::string& id, std::optional<std::int64_t> upto) override {
    Json body = Json::object();
    if (upto) body["upto"] = *upto;
    return client_.call(bh::verb::post, "/api/v1/executions/" + url_encode(id) + "/replay", body);
  }
  Outcome rerun(const std::string& id, const flowd::api::RerunRequest& request) override {
    Json body = Json::object();
    if (request.input) body["input"] = *request.input;
    if (request.version) body["version"] = *request.version;
    return client_.call(bh::verb::post, "/api/v1/executions/" + url_encode(id) + "/rerun", body);
  }
  Outcome command(const std::string& id, const std::string& command, const Json& payload) override {
    return client_.call(bh::verb::post, "/api/v1/executions/" + url_encode(id) + "/" + command,
                        payload);
  }
  Outcome retention(const std::string& older_than, bool dry_run) override {
    return client_.call(bh::verb::post, "/api/v1/admin/retention",
                        Json{{"olderThan", older_than}, {"dryRun", dry_run}});
  }
  Outcome audit(const std::string& id) override {
    return client_.call(bh::verb::get, "/api/v1/executions/" + url_encode(id) + "/audit");
  }
  Outcome list_webhooks() override { return client_.call(bh::verb::get, "/api/v1/webhooks"); }

 private:
  HttpClient client_;
};

}  // namespace

tl::expected<std::unique_ptr<Backend>, ApiError> open_http_backend(const Connection& connection) {
  auto client = HttpClient::make(connection.server, connection.token, connection.timeout);
  if (!client) return tl::unexpected(client.error());
  return std::unique_ptr<Backend>(new HttpBackend(std::move(*client)));
}

}  // namespace flowctl
