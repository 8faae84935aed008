#include "moat/intel/taxii.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <thread>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/core/secret.h"
#include "moat/core/text_file.h"
#include "moat/core/time.h"
#include "moat/intel/keyed.h"

namespace moat::intel {
namespace {

std::string_view Find(const HeaderList& h, std::string_view name) {
  for (const auto& [k, v] : h)
    if (k == name) return v;
  return {};
}

TaxiiResponse Json(int status, std::string body, HeaderList extra = {}) {
  TaxiiResponse r;
  r.status = status;
  r.headers.emplace_back("content-type", kTaxiiMediaType);
  for (auto& h : extra) r.headers.push_back(std::move(h));
  r.body = std::move(body);
  return r;
}

// TAXII's error message resource.
TaxiiResponse Error(int status, std::string_view title, std::string_view description) {
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("title");
  w.String(title);
  w.Key("description");
  w.String(description);
  w.Key("http_status");
  w.String(std::to_string(status));
  w.EndObject();
  TaxiiResponse r = Json(status, std::move(body));
  if (status == 401) r.headers.emplace_back("www-authenticate", "Basic realm=\"moat\", Bearer");
  return r;
}

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  while (true) {
    const size_t p = s.find(sep);
    out.push_back(s.substr(0, p));
    if (p == std::string_view::npos) break;
    s.remove_prefix(p + 1);
  }
  return out;
}

std::string DecodeBase64(std::string_view in) {
  std::string out((in.size() / 4 + 1) * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (n < 0) return {};
  out.resize(n);
  size_t pad = 0;
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) ++pad;
  out.resize(out.size() - std::min(pad, out.size()));
  return out;
}


}  // namespace

std::string_view TaxiiRequest::Header(std::string_view n) const { return Find(headers, n); }
std::string_view TaxiiResponse::Header(std::string_view n) const { return Find(headers, n); }
std::string_view HttpResult::Header(std::string_view n) const { return Find(headers, n); }
std::optional<std::string_view> TaxiiRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') out.push_back(' ');
      else if (s[i] == '%' && i + 2 < s.size()) {
        const auto b = FromHex(s.substr(i + 1, 2));
        if (b) {
          out += *b;
          i += 2;
        } else {
          out.push_back('%');
        }
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> out;
  if (query.empty()) return out;
  for (std::string_view part : Split(query, '&')) {
    if (part.empty()) continue;
    const size_t eq = part.find('=');
    out.emplace_back(decode(part.substr(0, eq)), eq == std::string_view::npos ? "" : decode(part.substr(eq + 1)));
  }
  return out;
}

Result<TaxiiConfig> LoadTaxiiConfig(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return Status::Error("taxii: cannot read config " + path);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return Status::Error("taxii: " + path + ": not JSON");
  TaxiiConfig c;
  std::string_view s;
  if (!doc["title"].get_string().get(s)) c.title = std::string(s);
  if (!doc["api_root"].get_string().get(s)) c.api_root = std::string(s);
  if (!doc["store_dir"].get_string().get(s)) c.store_dir = std::string(s);
  simdjson::dom::array arr;
  if (doc["partners"].get_array().get(arr)) return Status::Error("taxii: " + path + ": missing partners array");
  for (simdjson::dom::element p : arr) {
    TaxiiPartner tp;
    if (p["name"].get_string().get(s)) return Status::Error("taxii: " + path + ": a partner without name");
    tp.name = std::string(s);
    if (!p["user"].get_string().get(s)) tp.user = std::string(s);
    if (!p["password"].get_string().get(s)) tp.password = std::string(s);
    if (!p["token"].get_string().get(s)) tp.token = std::string(s);
    if (tp.user.empty() && tp.token.empty())
      return Status::Error("taxii: " + path + ": partner " + tp.name + " has neither user nor token");
    c.partners.push_back(std::move(tp));
  }
  if (doc["collections"].get_array().get(arr)) return Status::Error("taxii: " + path + ": missing collections array");
  for (simdjson::dom::element e : arr) {
    TaxiiCollection tc;
    if (e["id"].get_string().get(s)) return Status::Error("taxii: " + path + ": a collection without id");
    tc.id = std::string(s);
    if (!e["title"].get_string().get(s)) tc.title = std::string(s);
    for (const char* right : {"read", "write"}) {
      simdjson::dom::array names;
      if (e[right].get_array().get(names)) continue;
      for (simdjson::dom::element n : names) {
        if (n.get_string().get(s)) return Status::Error("taxii: " + path + ": " + right + " lists non-strings");
        auto& r = tc.rights[std::string(s)];
        (right[0] == 'r' ? r.first : r.second) = true;
      }
    }
    c.collections.push_back(std::move(tc));
  }
  return c;
}

TaxiiServer::TaxiiServer(TaxiiConfig config, std::function<EventTime()> clock)
    : config_(std::move(config)), clock_(std::move(clock)) {}

Result<std::unique_ptr<TaxiiServer>> TaxiiServer::Open(TaxiiConfig config, std::function<EventTime()> clock) {
  std::unique_ptr<TaxiiServer> s(new TaxiiServer(std::move(config), std::move(clock)));
  simdjson::dom::parser parser;
  for (const TaxiiCollection& info : s->config_.collections) {
    Collection c;
    c.info = info;
    if (!s->config_.store_dir.empty()) {
      c.file = s->config_.store_dir + "/" + info.id + ".jsonl";
      simdjson::padded_string text;
      if (!simdjson::padded_string::load(c.file).get(text)) {
        std::string_view all(text.data(), text.size());
        size_t line_no = 0;
        while (!all.empty()) {
          const std::string_view line = NextLine(all);
          ++line_no;
          if (line.empty()) continue;
          simdjson::dom::element doc;
          std::string_view added, id, type, version;
          simdjson::dom::element obj;
          if (parser.parse(line.data(), line.size()).get(doc) || doc["date_added"].get_string().get(added) ||
              doc["object"].get(obj) || obj["id"].get_string().get(id) || obj["type"].get_string().get(type))
            return Status::Error("taxii: " + c.file + ":" + std::to_string(line_no) + ": not a stored object");
          if (obj["modified"].get_string().get(version) && obj["created"].get_string().get(version)) version = "";
          const auto t = ParseRfc3339(added);
          if (!t) return Status::Error("taxii: " + c.file + ":" + std::to_string(line_no) + ": bad date_added");
          c.objects.push_back({std::string(id), std::string(type), std::string(version), *t,
                               simdjson::minify(obj)});
          s->last_added_ = std::max(s->last_added_, *t);
        }
      }
    }
    s->collections_.push_back(std::move(c));
  }
  return s;
}

const TaxiiPartner* TaxiiServer::Authenticate(const TaxiiRequest& r) const {
  const std::string_view auth = r.Header("authorization");
  if (auth.starts_with("Bearer ")) {
    const std::string_view token = auth.substr(7);
    for (const TaxiiPartner& p : config_.partners)
      if (!p.token.empty() && ConstantTimeEquals(p.token, token)) return &p;
  } else if (auth.starts_with("Basic ")) {
    const std::string cred = DecodeBase64(auth.substr(6));
    const size_t colon = cred.find(':');
    if (colon == std::string::npos) return nullptr;
    for (const TaxiiPartner& p : config_.partners)
      if (!p.user.empty() && p.user == cred.substr(0, colon) && ConstantTimeEquals(p.password, cred.substr(colon + 1)))
        return &p;
  }
  return nullptr;
}

Status TaxiiServer::Persist(Collection& c, const Stored& s) {
  if (c.file.empty()) return Status::Ok();
  std::string line = "{\"date_added\":\"" + FormatRfc3339(s.date_added) + "\",\"object\":" + s.json + "}\n";
  std::FILE* f = std::fopen(c.file.c_str(), "ab");
  if (f == nullptr) return Status::Error("taxii: cannot open " + c.file);
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !ok) return Status::Error("taxii: cannot write " + c.file);
  return Status::Ok();
}

TaxiiResponse TaxiiServer::Handle(const TaxiiRequest& r) {
  std::lock_guard lock(mu_);
  const TaxiiPartner* who = Authenticate(r);
  if (who == nullptr) return Error(401, "Unauthorized", "Basic or bearer credentials of a partner are required");
  const std::string_view accept = r.Header("accept");
  if (!accept.empty() && accept.find("application/taxii+json") == std::string_view::npos &&
      accept.find("*/*") == std::string_view::npos)
    return Error(406, "Not Acceptable", "this server answers application/taxii+json;version=2.1");

  std::vector<std::string_view> parts;
  for (std::string_view p : Split(r.path, '/'))
    if (!p.empty()) parts.push_back(p);
  const bool get = r.method == "GET";
  if (parts.size() == 1 && parts[0] == "taxii2" && get) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Key("title");
    w.String(config_.title);
    w.Key("default");
    w.String("/" + config_.api_root + "/");
    w.Key("api_roots");
    w.BeginArray();
    w.String("/" + config_.api_root + "/");
    w.EndArray();
    w.EndObject();
    return Json(200, std::move(body));
  }
  if (parts.empty() || parts[0] != config_.api_root) return Error(404, "Not Found", "no such API root or resource");
  if (parts.size() == 1 && get) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Key("title");
    w.String(config_.title);
    w.Key("versions");
    w.BeginArray();
    w.String(kTaxiiMediaType);
    w.EndArray();
    w.Key("max_content_length");
    w.Uint(config_.max_content_length);
    w.EndObject();
    return Json(200, std::move(body));
  }
  if (parts.size() == 3 && parts[1] == "status" && get) {
    const auto it = statuses_.find(std::string(parts[2]));
    if (it == statuses_.end()) return Error(404, "Not Found", "no such status resource");
    return Json(200, it->second.json);
  }
  if (parts[1] != "collections") return Error(404, "Not Found", "no such resource");
  auto rights = [&](const Collection& c) {
    const auto it = c.info.rights.find(who->name);
    return it == c.info.rights.end() ? std::pair{false, false} : it->second;
  };
  auto describe = [&](JsonWriter& w, const Collection& c) {
    const auto [can_read, can_write] = rights(c);
    w.BeginObject();
    w.Key("id");
    w.String(c.info.id);
    w.Key("title");
    w.String(c.info.title);
    w.Key("can_read");
    w.Bool(can_read);
    w.Key("can_write");
    w.Bool(can_write);
    w.Key("media_types");
    w.BeginArray();
    w.String("application/stix+json;version=2.1");
    w.EndArray();
    w.EndObject();
  };
  if (parts.size() == 2 && get) {
    std::string body;
    JsonWriter w(body);
    w.BeginObject();
    w.Key("collections");
    w.BeginArray();
    for (const Collection& c : collections_) {
      const auto [can_read, can_write] = rights(c);
      if (can_read || can_write) describe(w, c);
    }
    w.EndArray();
    w.EndObject();
    return Json(200, std::move(body));
  }
  Collection* c = nullptr;
  for (Collection& x : collections_)
    if (x.info.id == parts[2]) c = &x;
  const auto [can_read, can_write] = c == nullptr ? std::pair{false, false} : rights(*c);
  // A collection the partner may not see at all does not exist for it.
  if (c == nullptr || (!can_read && !can_write)) return Error(404, "Not Found", "no such collection");
  if (parts.size() == 3 && get) {
    std::string body;
    JsonWriter w(body);
    describe(w, *c);
    return Json(200, std::move(body));
  }
  if (parts.size() >= 4 && parts[3] == "objects" && r.method == "POST" && parts.size() == 4) {
    if (!can_write) return Error(403, "Forbidden", "no write access to this collection");
    if (r.Header("content-type").find("application/taxii+json") == std::string_view::npos)
      return Error(415, "Unsupported Media Type", "POST an envelope as application/taxii+json;version=2.1");
    if (r.body.size() > config_.max_content_length) return Error(413, "Too Large", "envelope exceeds max_content_length");
    return Add(*c, r);
  }
  if (!get) return Error(405, "Method Not Allowed", "this resource answers GET");
  if (!can_read) return Error(403, "Forbidden", "no read access to this collection");
  if (parts.size() == 4 && parts[3] == "objects") return Objects(*c, r, "", false, false);
  if (parts.size() == 4 && parts[3] == "manifest") return Objects(*c, r, "", false, true);
  if (parts.size() == 5 && parts[3] == "objects") return Objects(*c, r, parts[4], false, false);
  if (parts.size() == 6 && parts[3] == "objects" && parts[5] == "versions")
    return Objects(*c, r, parts[4], true, false);
  return Error(404, "Not Found", "no such resource");
}

TaxiiResponse TaxiiServer::Add(Collection& c, const TaxiiRequest& r) {
  auto objects = ParseObjects(r.body);
  if (!objects) return Error(400, "Bad Request", "expected an envelope: {\"objects\": [...]}");
  std::vector<std::string> ok, failed;
  std::string failure_detail;
  size_t added = 0;
  AddObjects(c, std::move(*objects), ok, failed, failure_detail, added);
  const std::string status_id = Uuid5("taxii status|" + c.info.id + "|" + std::to_string(statuses_.size()) + "|" +
                                      Sha256Hex(r.body));
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("id");
  w.String(status_id);
  w.Key("status");
  w.String("complete");
  w.Key("request_timestamp");
  w.String(FormatRfc3339(clock_()));
  w.Key("total_count");
  w.Uint(ok.size() + failed.size());
  w.Key("success_count");
  w.Uint(ok.size());
  w.Key("failure_count");
  w.Uint(failed.size());
  w.Key("pending_count");
  w.Uint(0);
  if (!failed.empty()) {
    w.Key("failures");
    w.BeginArray();
    for (const std::string& id : failed) {
      w.BeginObject();
      w.Key("id");
      w.String(id);
      w.Key("message");
      w.String(failure_detail.empty() ? "not a STIX object (no id or type)" : failure_detail);
      w.EndObject();
    }
    w.EndArray();
  }
  w.EndObject();
  statuses_[status_id] = {body};
  return Json(202, std::move(body));
}

std::optional<std::vector<TaxiiServer::Stored>> TaxiiServer::ParseObjects(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(json);
  simdjson::dom::array objects;
  if (parser.parse(text).get(doc) || doc["objects"].get_array().get(objects)) return std::nullopt;
  std::vector<Stored> out;
  for (simdjson::dom::element o : objects) {
    std::string_view id, type, version;
    if (o["id"].get_string().get(id) || o["type"].get_string().get(type)) {
      out.emplace_back();
      continue;
    }
    if (o["modified"].get_string().get(version) && o["created"].get_string().get(version)) version = "";
    out.push_back({std::string(id), std::string(type), std::string(version), 0, simdjson::minify(o)});
  }
  return out;
}

void TaxiiServer::AddObjects(Collection& c, std::vector<Stored> objects, std::vector<std::string>& ok,
                             std::vector<std::string>& failed, std::string& failure_detail, size_t& added) {
  for (Stored& s : objects) {
    if (s.id.empty()) {
      failed.emplace_back("");
      continue;
    }
    const bool exists = std::any_of(c.objects.begin(), c.objects.end(),
                                    [&](const Stored& held) { return held.id == s.id && held.version == s.version; });
    if (!exists) {
      // date_added strictly increases, so added_after never skips an object
      // that shares a millisecond with the last one a client saw.
      s.date_added = std::max(clock_() / 1000 * 1000, last_added_ + 1000);
      last_added_ = s.date_added;
      if (Status st = Persist(c, s); !st.ok()) {
        failed.push_back(s.id);
        failure_detail = st.message();
        continue;
      }
      ok.push_back(s.id);
      c.objects.push_back(std::move(s));
      ++added;
      continue;
    }
    ok.push_back(s.id);
  }
}

Result<size_t> TaxiiServer::Publish(std::string_view collection_id, std::string_view json) {
  auto objects = ParseObjects(json);
  if (!objects) return Status::Error("taxii publish: expected a bundle or an envelope with \"objects\"");
  std::lock_guard lock(mu_);
  Collection* c = nullptr;
  for (Collection& x : collections_)
    if (x.info.id == collection_id) c = &x;
  if (c == nullptr) return Status::Error("taxii publish: no collection " + std::string(collection_id) + " in the config");
  std::vector<std::string> ok, failed;
  std::string failure_detail;
  size_t added = 0;
  AddObjects(*c, std::move(*objects), ok, failed, failure_detail, added);
  if (!failed.empty())
    return Status::Error("taxii publish: " + std::to_string(failed.size()) + " objects refused" +
                         (failure_detail.empty() ? std::string(" (no id or type)") : ": " + failure_detail));
  return added;
}

TaxiiResponse TaxiiServer::Objects(Collection& c, const TaxiiRequest& r, std::string_view object_id, bool versions, bool manifest) {
  std::optional<EventTime> added_after;
  if (auto v = r.Query("added_after")) {
    added_after = ParseRfc3339(*v);
    if (!added_after) return Error(400, "Bad Request", "added_after is not an RFC 3339 timestamp");
  }
  size_t limit = config_.max_page;
  if (auto v = r.Query("limit")) {
    char* end = nullptr;
    const std::string s(*v);
    const unsigned long n = std::strtoul(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || n == 0) return Error(400, "Bad Request", "limit must be a positive integer");
    limit = std::min<size_t>(n, config_.max_page);
  }
  size_t start = 0;
  if (auto v = r.Query("next")) {
    char* end = nullptr;
    const std::string s(*v);
    start = std::strtoul(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0') return Error(400, "Bad Request", "next is not a token this server gave");
  }
  std::set<std::string> ids, types, want_versions;
  if (!object_id.empty()) ids.insert(std::string(object_id));
  if (auto v = r.Query("match[id]"))
    for (std::string_view x : Split(*v, ',')) ids.insert(std::string(x));
  if (auto v = r.Query("match[type]"))
    for (std::string_view x : Split(*v, ',')) types.insert(std::string(x));
  std::string version_rule = versions ? "all" : "last";
  if (auto v = r.Query("match[version]")) {
    version_rule.clear();
    for (std::string_view x : Split(*v, ',')) {
      if (x == "all" || x == "first" || x == "last") version_rule = std::string(x);
      else want_versions.insert(std::string(x));
    }
  }
  // Versions per object id, to pick first/last.
  std::map<std::string_view, std::pair<std::string_view, std::string_view>> span;  // id -> (first, last)
  for (const Stored& s : c.objects) {
    auto [it, fresh] = span.try_emplace(s.id, s.version, s.version);
    if (!fresh) {
      it->second.first = std::min(it->second.first, std::string_view(s.version));
      it->second.second = std::max(it->second.second, std::string_view(s.version));
    }
  }
  std::vector<const Stored*> match;
  for (const Stored& s : c.objects) {
    if (added_after && s.date_added <= *added_after) continue;
    if (!ids.empty() && !ids.count(s.id)) continue;
    if (!types.empty() && !types.count(s.type)) continue;
    const auto& [first, last] = span[s.id];
    const bool keep = version_rule == "all" || (version_rule == "first" && s.version == first) ||
                      (version_rule == "last" && s.version == last) || want_versions.count(s.version);
    if (keep) match.push_back(&s);
  }
  if (!object_id.empty() && match.empty() && !added_after) return Error(404, "Not Found", "no such object");
  const size_t end = std::min(match.size(), start + limit);
  const bool more = end < match.size();
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("more");
  w.Bool(more);
  if (more) {
    w.Key("next");
    w.String(std::to_string(end));
  }
  w.Key(versions ? "versions" : "objects");
  w.BeginArray();
  for (size_t i = start; i < end; ++i) {
    const Stored& s = *match[i];
    if (versions) {
      w.String(s.version);
    } else if (manifest) {
      w.BeginObject();
      w.Key("id");
      w.String(s.id);
      w.Key("date_added");
      w.String(FormatRfc3339(s.date_added));
      w.Key("version");
      w.String(s.version);
      w.Key("media_type");
      w.String("application/stix+json;version=2.1");
      w.EndObject();
    } else {
      w.Raw(s.json);
    }
  }
  w.EndArray();
  w.EndObject();
  HeaderList extra;
  if (start < end) {
    extra.emplace_back("x-taxii-date-added-first", FormatRfc3339(match[start]->date_added));
    extra.emplace_back("x-taxii-date-added-last", FormatRfc3339(match[end - 1]->date_added));
  }
  return Json(200, std::move(body), std::move(extra));
}

// --- Client ------------------------------------------------------------------

TaxiiClient::TaxiiClient(Transport transport, TaxiiClientOptions options)
    : transport_(std::move(transport)), options_(std::move(options)) {
  if (!options_.sleep) options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
}

Result<HttpResult> TaxiiClient::Call(std::string_view method, const std::string& target, std::string_view body) {
  HeaderList headers = {{"accept", kTaxiiMediaType}};
  if (!body.empty()) headers.emplace_back("content-type", kTaxiiMediaType);
  if (!options_.authorization.empty()) headers.emplace_back("authorization", options_.authorization);
  std::chrono::milliseconds wait = options_.backoff;
  std::string last_error;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    if (attempt > 0) {
      ++retries_;
      options_.sleep(wait);
      wait *= 2;
    }
    auto r = transport_(method, target, body, headers);
    if (!r.ok()) {
      last_error = r.status().message();
      continue;
    }
    if (r.value().status == 0)
      return Status::Error("taxii: " + std::string(method) + " " + target + ": " + r.value().body);
    // A partner that is down or overloaded is retried; a refusal is final.
    if (r.value().status >= 500 || r.value().status == 429) {
      last_error = "HTTP " + std::to_string(r.value().status);
      continue;
    }
    if (r.value().status >= 400)
      return Status::Error("taxii: " + std::string(method) + " " + target + ": HTTP " +
                           std::to_string(r.value().status) + ": " + r.value().body);
    return r;
  }
  return Status::Error("taxii: " + std::string(method) + " " + target + ": gave up after " +
                       std::to_string(options_.max_attempts) + " attempts: " + last_error);
}

Result<uint64_t> TaxiiClient::Pull(const std::string& added_after,
                                   const std::function<Status(std::string_view, std::string_view)>& on_page) {
  const std::string base = options_.api_root + "collections/" + options_.collection + "/objects/";
  std::string next;
  uint64_t total = 0;
  simdjson::dom::parser parser;
  while (true) {
    std::string target = base + "?limit=" + std::to_string(options_.page_limit);
    if (!added_after.empty()) target += "&added_after=" + UrlEncode(added_after);
    if (!next.empty()) target += "&next=" + UrlEncode(next);
    auto r = Call("GET", target, {});
    if (!r.ok()) return r.status();
    simdjson::dom::element doc;
    const simdjson::padded_string text(r.value().body);
    simdjson::dom::array objects;
    if (parser.parse(text).get(doc) || doc["objects"].get_array().get(objects))
      return Status::Error("taxii: GET " + target + ": not an envelope");
    size_t n = 0;
    for (simdjson::dom::element o : objects) {
      (void)o;
      ++n;
    }
    total += n;
    if (n > 0) {
      if (Status s = on_page(simdjson::minify(objects), r.value().Header("x-taxii-date-added-last")); !s.ok()) return s;
    }
    bool more = false;
    std::string_view next_token;
    if (doc["more"].get_bool().get(more) || !more || doc["next"].get_string().get(next_token)) break;
    next = std::string(next_token);
  }
  return total;
}

Result<std::string> TaxiiClient::Push(std::string_view bundle_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(bundle_json);
  simdjson::dom::array objects;
  if (parser.parse(text).get(doc) || doc["objects"].get_array().get(objects))
    return Status::Error("taxii: push: not a bundle (no objects array)");
  const std::string envelope = "{\"objects\":" + simdjson::minify(objects) + "}";
  auto r = Call("POST", options_.api_root + "collections/" + options_.collection + "/objects/", envelope);
  if (!r.ok()) return r.status();
  return std::move(r.value().body);
}

Result<std::string> ReadPullState(const std::string& path) {
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return std::string();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view last;
  if (parser.parse(text).get(doc) || doc["added_last"].get_string().get(last))
    return Status::Error("taxii: " + path + ": not a pull state file");
  return std::string(last);
}

Status WritePullState(const std::string& path, std::string_view added_last) {
  const std::string tmp = path + ".tmp";
  std::string body;
  JsonWriter w(body);
  w.BeginObject();
  w.Key("added_last");
  w.String(added_last);
  w.EndObject();
  body.push_back('\n');
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Status::Error("taxii: cannot write " + tmp);
  const bool ok = std::fwrite(body.data(), 1, body.size(), f) == body.size();
  if (std::fclose(f) != 0 || !ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::Error("taxii: cannot write " + path);
  return Status::Ok();
}

}  // namespace moat::intel
