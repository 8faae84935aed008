#include "moat/serve/replay.h"

#include <simdjson.h>
#include <xxhash.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <unordered_map>

#include "moat/core/exchange_json.h"
#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/ingest/ingest.h"
#include "moat/policy/policy.h"

namespace moat::serve {

const char* ServedName(Served s) {
  switch (s) {
    case Served::kFull: return "full";
    case Served::kDegraded: return "degraded";
    case Served::kThrottled: return "throttled";
    case Served::kChallenged: return "challenged";
    case Served::kBlocked: return "blocked";
  }
  return "?";
}

uint64_t GroupCounts::total() const {
  uint64_t n = 0;
  for (uint64_t v : exchanges) n += v;
  return n;
}

uint64_t GroupCounts::refused() const {
  return exchanges[static_cast<int>(Served::kThrottled)] +
         exchanges[static_cast<int>(Served::kChallenged)] +
         exchanges[static_cast<int>(Served::kBlocked)];
}

namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

struct Truth {
  std::string label;       // "benign" or the campaign name
  std::string population;
};

Result<std::unordered_map<std::string, Truth>> ReadTruth(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::Error("replay: cannot read truth " + path);
  std::unordered_map<std::string, Truth> truth;
  simdjson::dom::parser parser;
  std::string line;
  uint64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    simdjson::dom::element doc;
    std::string_view id, label, population;
    if (parser.parse(line).get(doc) || doc["account_id"].get_string().get(id) ||
        doc["label"].get_string().get(label) || doc["population"].get_string().get(population)) {
      return Status::Error("replay: " + path + ":" + std::to_string(n) +
                           ": expected {account_id, label, population}");
    }
    truth[std::string(id)] = Truth{std::string(label), std::string(population)};
  }
  return truth;
}

struct AccountTally {
  std::string group;
  bool extractor = false;
  bool allowlisted = false;
  bool refused = false;
  std::array<uint64_t, kServedKinds> exchanges{};
  std::map<std::string, uint64_t> by_rule;
};

struct Outcome {
  Served served = Served::kFull;
  std::string rule;  // action/source/rule, for what was not served at full quality
};

// What the gateway does with a decision: the decision's own words, mapped.
Result<Outcome> Classify(const std::string& body) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view action, source, rule;
  bool admit = true;
  if (parser.parse(body).get(doc) || doc["action"].get_string().get(action) ||
      doc["admit"].get_bool().get(admit)) {
    return Status::Error("replay: unexpected decision: " + body.substr(0, 200));
  }
  Outcome o;
  if (admit) {
    o.served = action == "degrade" ? Served::kDegraded : Served::kFull;
  } else if (action == "throttle") {
    o.served = Served::kThrottled;
  } else if (action == "challenge") {
    o.served = Served::kChallenged;
  } else {
    o.served = Served::kBlocked;
  }
  if (o.served != Served::kFull) {
    if (doc["source"].get_string().get(source)) source = "?";
    if (doc["rule"].get_string().get(rule)) rule = "?";
    o.rule = std::string(action) + "/" + std::string(source) + "/" + std::string(rule);
  }
  return o;
}

// Runs the closed loop on ingest's batches (event order, lateness reordered).
class Driver : public ExchangeSink {
 public:
  Driver(const ReplayOptions& o, std::unordered_map<std::string, Truth> truth,
         std::shared_ptr<const policy::Policy> policy)
      : o_(o), truth_(std::move(truth)), policy_(std::move(policy)) {}

  Status Connect() {
    for (int i = 0; i < std::max(1, o_.connections); ++i) {
      auto c = HttpClient::Connect(o_.server);
      if (!c.ok()) return c.status();
      deciders_.push_back(std::move(c).value());
    }
    auto c = HttpClient::Connect(o_.server);
    if (!c.ok()) return c.status();
    poster_ = std::move(c).value();
    auto health = poster_->Call("GET", "/healthz");
    if (!health.ok()) return health.status();
    if (health.value().body.find("\"clock\":\"event\"") == std::string::npos) {
      return Status::Error("replay: the server must run with --clock event (decisions at the "
                           "exchanges' event time); /healthz says: " + health.value().body);
    }
    applied0_ = AppliedOnServer(health.value().body);
    return Status::Ok();
  }

  void Consume(std::span<const Exchange> batch) override {
    for (size_t i = 0; i < batch.size() && error_.ok(); i += o_.step) {
      Step(batch.subspan(i, std::min(o_.step, batch.size() - i)));
    }
  }

  Status error() const { return error_; }
  ReplayReport& report() { return report_; }
  std::unordered_map<std::string, AccountTally>& tallies() { return tallies_; }

 private:
  static uint64_t AppliedOnServer(const std::string& healthz) {
    const size_t at = healthz.find("\"exchanges\":");
    return at == std::string::npos ? 0 : std::strtoull(healthz.c_str() + at + 12, nullptr, 10);
  }

  AccountTally& Tally(const Exchange& x) {
    auto it = tallies_.find(x.account_id);
    if (it != tallies_.end()) return it->second;
    AccountTally t;
    const auto truth = truth_.find(x.account_id);
    if (truth == truth_.end()) {
      t.group = "unlabelled";
    } else if (truth->second.label == "benign") {
      t.group = "benign/" + truth->second.population;
    } else {
      t.extractor = true;
      t.group = "campaign/" + truth->second.label;
    }
    t.allowlisted = policy_ != nullptr && !t.extractor &&
                    (policy_->IsAllowlistedAccount(x.account_id) ||
                     (!x.org_id.empty() && policy_->IsAllowlistedOrg(policy::HashKey(x.org_id))));
    return tallies_.emplace(x.account_id, std::move(t)).first->second;
  }

  void Step(std::span<const Exchange> xs) {
    // One account's requests stay on one connection, so they are decided
    // in order (throttles count them in order).
    const size_t nc = deciders_.size();
    std::vector<std::vector<size_t>> per_conn(nc);
    std::string body;
    for (size_t i = 0; i < xs.size(); ++i) {
      const Exchange& x = xs[i];
      const size_t c = XXH3_64bits(x.account_id.data(), x.account_id.size()) % nc;
      per_conn[c].push_back(i);
      body.clear();
      JsonWriter w(body);
      w.BeginObject();
      w.Key("account_id");
      w.String(x.account_id);
      if (x.Has(Field::kApiKeyId)) { w.Key("api_key_id"); w.String(x.api_key_id); }
      if (x.Has(Field::kIp)) { w.Key("ip"); w.String(x.ip); }
      if (x.Has(Field::kOrgId)) { w.Key("org_id"); w.String(x.org_id); }
      if (x.Has(Field::kModel)) { w.Key("model"); w.String(x.model); }
      if (x.Has(Field::kPaymentFingerprint)) { w.Key("payment_fingerprint"); w.String(x.payment_fingerprint); }
      if (x.Has(Field::kAsn)) { w.Key("asn"); w.Int(x.asn); }
      // The gateway knows the requested maximum before serving, not the output.
      const int64_t estimate = x.Has(Field::kMaxTokens) ? x.max_tokens : x.output_tokens;
      if (estimate > 0) { w.Key("output_tokens_estimate"); w.Int(estimate); }
      w.Key("ts");
      w.String(FormatRfc3339Micros(x.ts));
      w.EndObject();
      if (Status st = deciders_[c]->Send("POST", "/v1/decide", body); !st.ok()) {
        error_ = st;
        return;
      }
    }
    std::vector<Served> served(xs.size(), Served::kFull);
    std::vector<std::string> rules(xs.size());
    for (size_t c = 0; c < nc; ++c) {
      for (size_t i : per_conn[c]) {
        auto r = deciders_[c]->Receive();
        if (!r.ok()) {
          error_ = r.status();
          return;
        }
        if (r.value().status != 200) {
          error_ = Status::Error("replay: /v1/decide answered " + std::to_string(r.value().status) +
                                 ": " + r.value().body);
          return;
        }
        auto s = Classify(r.value().body);
        if (!s.ok()) {
          error_ = s.status();
          return;
        }
        served[i] = s.value().served;
        rules[i] = std::move(s.value().rule);
      }
    }
    report_.decide_calls += xs.size();

    // The gateway logs every attempt: refused ones with their status and no output.
    std::string lines;
    Exchange copy;
    for (size_t i = 0; i < xs.size(); ++i) {
      const Exchange* x = &xs[i];
      if (served[i] == Served::kThrottled || served[i] == Served::kChallenged ||
          served[i] == Served::kBlocked) {
        copy = xs[i];
        copy.status = served[i] == Served::kThrottled ? 429 : 403;
        copy.Set(Field::kStatus);
        copy.output_tokens = 0;
        copy.reasoning_tokens = 0;
        x = &copy;
      }
      AppendExchangeJson(*x, lines);
      lines.push_back('\n');
      AccountTally& t = Tally(xs[i]);
      ++t.exchanges[static_cast<int>(served[i])];
      if (!rules[i].empty()) ++t.by_rule[rules[i]];
      if (served[i] != Served::kFull && served[i] != Served::kDegraded) t.refused = true;
    }
    auto posted = poster_->Call("POST", "/v1/exchanges", lines, {{"Content-Type", "application/x-ndjson"}});
    if (!posted.ok()) {
      error_ = posted.status();
      return;
    }
    if (posted.value().status != 200) {
      error_ = Status::Error("replay: /v1/exchanges answered " + std::to_string(posted.value().status) +
                             ": " + posted.value().body.substr(0, 300));
      return;
    }
    const std::string& pb = posted.value().body;
    if (const size_t at = pb.find("\"rejected\":"); at != std::string::npos) {
      report_.rejected_lines += std::strtoull(pb.c_str() + at + 11, nullptr, 10);
    }
    ++report_.post_calls;
    posted_ += xs.size();
    report_.exchanges += xs.size();
    WaitForEngine();
    if (o_.progress && report_.post_calls % 200 == 0) {
      std::fprintf(stderr, "\r  replay: %llu exchanges, event time %s   ",
                   static_cast<unsigned long long>(report_.exchanges),
                   FormatRfc3339(xs.back().ts).c_str());
    }
  }

  // A live engine keeps up with the gateway; a replay runs faster than the
  // wall clock, so it waits for the engine instead of deciding on verdicts
  // the engine has not had the chance to reach.
  void WaitForEngine() {
    for (int spins = 0;; ++spins) {
      auto h = poster_->Call("GET", "/healthz");
      if (!h.ok()) {
        error_ = h.status();
        return;
      }
      const uint64_t applied = AppliedOnServer(h.value().body) - applied0_;
      if (applied + o_.max_engine_lag >= posted_) return;
      std::this_thread::sleep_for(std::chrono::microseconds(spins < 10 ? 200 : 2000));
    }
  }

  static std::string FormatRfc3339Micros(EventTime t) {
    // Decisions need the exchange's own microsecond: throttles count gaps.
    std::string s = FormatRfc3339(t - t % 1000);  // ...sss.mmmZ
    const int64_t micros = ((t % 1000) + 1000) % 1000;
    if (micros == 0 || s.size() < 2) return s;
    char buf[4];
    std::snprintf(buf, sizeof buf, "%03d", static_cast<int>(micros));
    s.insert(s.size() - 1, buf);
    return s;
  }

  const ReplayOptions& o_;
  std::unordered_map<std::string, Truth> truth_;
  std::shared_ptr<const policy::Policy> policy_;
  std::vector<std::unique_ptr<HttpClient>> deciders_;
  std::unique_ptr<HttpClient> poster_;
  std::unordered_map<std::string, AccountTally> tallies_;
  ReplayReport report_;
  Status error_;
  uint64_t posted_ = 0;
  uint64_t applied0_ = 0;
};

void Add(GroupCounts& g, const AccountTally& t) {
  ++g.accounts;
  if (t.refused) ++g.accounts_refused;
  for (int k = 0; k < kServedKinds; ++k) g.exchanges[k] += t.exchanges[k];
  for (const auto& [rule, n] : t.by_rule) g.by_rule[rule] += n;
}

void AppendGroup(JsonWriter& w, const GroupCounts& g) {
  w.BeginObject();
  w.Key("accounts");
  w.Uint(g.accounts);
  w.Key("accounts_refused");
  w.Uint(g.accounts_refused);
  w.Key("exchanges");
  w.Uint(g.total());
  for (int k = 0; k < kServedKinds; ++k) {
    w.Key(ServedName(static_cast<Served>(k)));
    w.Uint(g.exchanges[k]);
  }
  const double total = static_cast<double>(std::max<uint64_t>(1, g.total()));
  w.Key("full_share");
  w.Double(g.exchanges[0] / total, 6);
  w.Key("refused_share");
  w.Double(g.refused() / total, 6);
  w.Key("by_rule");
  w.BeginObject();
  for (const auto& [rule, n] : g.by_rule) {
    w.Key(rule);
    w.Uint(n);
  }
  w.EndObject();
  w.EndObject();
}

std::string Row(const std::string& name, const GroupCounts& g) {
  const double total = static_cast<double>(std::max<uint64_t>(1, g.total()));
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-28s %7llu %9llu %7.2f%% %7.2f%% %7.3f%% %7.3f%% %7.3f%%\n",
                name.c_str(), static_cast<unsigned long long>(g.accounts),
                static_cast<unsigned long long>(g.total()), 100.0 * g.exchanges[0] / total,
                100.0 * g.exchanges[1] / total, 100.0 * g.exchanges[2] / total,
                100.0 * g.exchanges[3] / total, 100.0 * g.exchanges[4] / total);
  return buf;
}

}  // namespace

Result<ReplayReport> RunReplay(const ReplayOptions& options) {
  auto truth = ReadTruth(options.truth_path);
  if (!truth.ok()) return truth.status();
  std::shared_ptr<const policy::Policy> pol;
  if (!options.policy_path.empty()) {
    auto loaded = policy::Policy::Load(options.policy_path);
    if (!loaded.ok()) return loaded.status();
    pol = std::move(loaded).value();
  }
  Driver driver(options, std::move(truth).value(), pol);
  if (Status st = driver.Connect(); !st.ok()) return st;
  const auto t0 = Clock::now();
  ingest::Quarantine counting;
  ingest::IngestOptions io;
  const ingest::IngestReport ir = ingest::ReadAll(options.logs, io, counting, driver);
  if (options.progress) std::fputs("\r\033[K", stderr);
  if (!ir.errors.empty()) return Status::Error(ir.errors.front().message);
  if (Status st = driver.error(); !st.ok()) return st;
  ReplayReport r = std::move(driver.report());
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& [id, t] : driver.tallies()) {
    if (t.group == "unlabelled") {
      for (uint64_t v : t.exchanges) r.unlabelled += v;
      continue;
    }
    Add(r.groups[t.group], t);
    Add(t.extractor ? r.extractors : r.benign, t);
    if (t.allowlisted) {
      Add(r.allowlisted, t);
      Add(r.groups["allowlisted"], t);
    }
  }
  return r;
}

std::string ReplayReportJson(const ReplayReport& r) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("exchanges");
  w.Uint(r.exchanges);
  w.Key("seconds");
  w.Double(r.seconds, 3);
  w.Key("decisions_per_second");
  w.Double(r.seconds > 0 ? r.decide_calls / r.seconds : 0, 0);
  w.Key("decide_calls");
  w.Uint(r.decide_calls);
  w.Key("post_calls");
  w.Uint(r.post_calls);
  w.Key("rejected_lines");
  w.Uint(r.rejected_lines);
  w.Key("unlabelled_exchanges");
  w.Uint(r.unlabelled);
  w.Key("extractors");
  AppendGroup(w, r.extractors);
  w.Key("benign");
  AppendGroup(w, r.benign);
  w.Key("allowlisted");
  AppendGroup(w, r.allowlisted);
  w.Key("groups");
  w.BeginObject();
  for (const auto& [name, g] : r.groups) {
    w.Key(name);
    AppendGroup(w, g);
  }
  w.EndObject();
  w.EndObject();
  out.push_back('\n');
  return out;
}

std::string ReplayReportText(const ReplayReport& r) {
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "replay: %llu exchanges in %.1f s (%.0f decisions/s)\n",
                static_cast<unsigned long long>(r.exchanges), r.seconds,
                r.seconds > 0 ? r.decide_calls / r.seconds : 0.0);
  out += buf;
  out += "group                        accounts exchanges    full  degraded throttled challenged blocked\n";
  for (const auto& [name, g] : r.groups) out += Row(name, g);
  out += Row("ALL extractors", r.extractors);
  out += Row("ALL benign", r.benign);
  if (r.allowlisted.accounts > 0) out += Row("ALL allow-listed", r.allowlisted);
  for (const auto* g : {&r.extractors, &r.benign}) {
    out += g == &r.extractors ? "not at full quality, extractors:" : "not at full quality, benign:";
    for (const auto& [rule, n] : g->by_rule) out += " " + rule + " " + std::to_string(n) + ";";
    out += "\n";
  }
  const double ext_full = 100.0 * r.extractors.exchanges[0] / std::max<uint64_t>(1, r.extractors.total());
  const double ben_lost = 100.0 * r.benign.refused() / std::max<uint64_t>(1, r.benign.total());
  std::snprintf(buf, sizeof buf,
                "targets: extractors at full quality %.2f%% (<= 5%%), benign refused %.3f%% (< 0.1%%), "
                "allow-listed refused %llu (0)\n",
                ext_full, ben_lost, static_cast<unsigned long long>(r.allowlisted.refused()));
  out += buf;
  return out;
}

}  // namespace moat::serve
