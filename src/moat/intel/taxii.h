// TAXII 2.1 for intel, without a transport: TaxiiServer turns a request into
// a response (discovery, API root, collections, objects with added_after /
// limit / next / match[id|type|version], POST with a status resource, object
// versions, manifest, status), with per-partner Basic or bearer credentials,
// per-collection read/write rights and an append-only file store. TaxiiClient
// pulls and pushes through an injected transport, retrying with backoff and
// resuming from the last X-TAXII-Date-Added-Last. serve mounts the server on
// HTTP; the app gives the client an HTTP transport.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"

namespace moat::intel {

inline constexpr const char* kTaxiiMediaType = "application/taxii+json;version=2.1";

using HeaderList = std::vector<std::pair<std::string, std::string>>;  // names lower-case

struct TaxiiRequest {
  std::string method;
  std::string path;                                        // not decoded, no query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  HeaderList headers;
  std::string body;
  std::string_view Header(std::string_view lower_name) const;
  std::optional<std::string_view> Query(std::string_view name) const;
};

struct TaxiiResponse {
  int status = 200;
  HeaderList headers;  // Content-Type included
  std::string body;
  std::string_view Header(std::string_view lower_name) const;
};

struct TaxiiPartner {
  std::string name;
  std::string user, password;  // HTTP Basic, when user is set
  std::string token;           // bearer, when set
};

struct TaxiiCollection {
  std::string id;  // a UUID
  std::string title;
  std::map<std::string, std::pair<bool, bool>> rights;  // partner -> (can_read, can_write)
};

struct TaxiiConfig {
  std::string title = "moat intel";
  std::string api_root = "moat";  // served at /<api_root>/
  std::vector<TaxiiPartner> partners;
  std::vector<TaxiiCollection> collections;
  std::string store_dir;  // <collection id>.jsonl per collection; empty: memory only
  size_t max_page = 100;
  size_t max_content_length = size_t{16} << 20;
};

// Reads the server's JSON config: {"title", "api_root", "store_dir",
// "partners": [{"name", "user", "password", "token"}], "collections": [{"id",
// "title", "read": [partner...], "write": [partner...]}]}.
[[nodiscard]] Result<TaxiiConfig> LoadTaxiiConfig(const std::string& path);

class TaxiiServer {
 public:
  // Loads the stored objects of every collection. `clock` gives date_added.
  static Result<std::unique_ptr<TaxiiServer>> Open(TaxiiConfig config, std::function<EventTime()> clock);
  // Thread-safe.
  TaxiiResponse Handle(const TaxiiRequest& request);
  // Adds the objects of a bundle or envelope to a collection as the server's
  // own operator (moat serve's live export): no partner credentials, stored
  // and served exactly as a partner's POST would be. An object already held
  // in the same version is not added again. Returns the objects added.
  [[nodiscard]] Result<size_t> Publish(std::string_view collection_id, std::string_view json);
  const TaxiiConfig& config() const { return config_; }

 private:
  struct Stored {
    std::string id, type, version;  // version: modified, else created
    EventTime date_added = 0;
    std::string json;
  };
  struct Collection {
    TaxiiCollection info;
    std::vector<Stored> objects;  // by date_added, strictly increasing
    std::string file;
  };
  struct StatusResource {
    std::string json;
  };
  TaxiiServer(TaxiiConfig config, std::function<EventTime()> clock);
  const TaxiiPartner* Authenticate(const TaxiiRequest& r) const;
  TaxiiResponse Objects(Collection& c, const TaxiiRequest& r, std::string_view object_id, bool versions,
                        bool manifest);
  TaxiiResponse Add(Collection& c, const TaxiiRequest& r);
  // The objects of an envelope or bundle (date_added unset; an empty id: not
  // a STIX object), or nullopt when `json` is neither.
  static std::optional<std::vector<Stored>> ParseObjects(std::string_view json);
  // Stores the objects not yet held; ids of the stored or already held in
  // `ok`, of the refused in `failed` (with the last storage error).
  void AddObjects(Collection& c, std::vector<Stored> objects, std::vector<std::string>& ok,
                  std::vector<std::string>& failed, std::string& failure_detail, size_t& added);
  Status Persist(Collection& c, const Stored& s);

  TaxiiConfig config_;
  std::function<EventTime()> clock_;
  std::vector<Collection> collections_;
  std::map<std::string, StatusResource> statuses_;
  EventTime last_added_ = 0;
  std::mutex mu_;
};

// --- Client ------------------------------------------------------------------

struct HttpResult {
  int status = 0;
  HeaderList headers;  // names lower-case
  std::string body;
  std::string_view Header(std::string_view lower_name) const;
};
// Sends one request (target: path and query); an error means no answer and
// is retried. An HttpResult with status 0 means no answer that a retry could
// change (the partner's certificate does not verify): the body says why.
using Transport = std::function<Result<HttpResult>(std::string_view method, std::string_view target,
                                                   std::string_view body, const HeaderList& headers)>;

struct TaxiiClientOptions {
  std::string api_root = "/moat/";
  std::string collection;  // id
  std::string authorization;  // the Authorization header value, e.g. "Bearer abc"
  int max_attempts = 6;
  std::chrono::milliseconds backoff{250};  // doubled after each failed attempt
  std::function<void(std::chrono::milliseconds)> sleep;  // default: std::this_thread::sleep_for
  size_t page_limit = 100;
};

class TaxiiClient {
 public:
  TaxiiClient(Transport transport, TaxiiClientOptions options);

  // Polls objects added after `added_after` (RFC 3339, empty: from the start),
  // page by page; after each page `on_page` gets the page's objects (a JSON
  // array) and its X-TAXII-Date-Added-Last, so the caller can persist both
  // and resume there after an outage. Returns the number of objects.
  Result<uint64_t> Pull(const std::string& added_after,
                        const std::function<Status(std::string_view objects, std::string_view added_last)>& on_page);
  // POSTs a bundle's objects as one envelope; returns the status resource JSON.
  Result<std::string> Push(std::string_view bundle_json);

  uint64_t retries() const { return retries_; }

 private:
  Result<HttpResult> Call(std::string_view method, const std::string& target, std::string_view body);
  Transport transport_;
  TaxiiClientOptions options_;
  uint64_t retries_ = 0;
};

// The pull state file: {"added_last": "..."}; "" when the file is absent.
Result<std::string> ReadPullState(const std::string& path);
[[nodiscard]] Status WritePullState(const std::string& path, std::string_view added_last);

std::string Base64(std::string_view bytes);
// "a=b&c=d" -> decoded pairs ('+' is a space).
std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);
std::string UrlEncode(std::string_view s);

}  // namespace moat::intel
