// `moat intel`: share campaign signals with partner providers (export a STIX
// 2.1 bundle, push and pull over TAXII 2.1, scan with a partner feed, run a
// TAXII server) and the two-provider experiment (`moat intel demo`).
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <simdjson.h>

#include "moat/app/commands.h"
#include "moat/core/exchange_json.h"
#include "moat/core/time.h"
#include "moat/engine/engine.h"
#include "moat/eval/evaluate.h"
#include "moat/ingest/ingest.h"
#include "moat/intel/bundle.h"
#include "moat/intel/matcher.h"
#include "moat/intel/taxii.h"
#include "moat/score/config_file.h"
#include "moat/serve/intel_live.h"
#include "moat/serve/taxii_routes.h"
#include "moat/sim/simulate.h"

namespace moat::app {
namespace {

namespace fs = std::filesystem;

EventTime WallNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteFile(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) return Status::Error("cannot write " + path);
  return Status::Ok();
}

int Fail(const char* cmd, const Status& st, int code) {
  std::fprintf(stderr, "moat intel %s: %s\n", cmd, st.message().c_str());
  return code;
}

// --- export -------------------------------------------------------------------

struct ExportArgs {
  std::string scan_dir, out, key_path, audit, recipient = "coalition", tlp = "amber";
  std::string store;  // audit store (moat serve's audit.db) to record the export in, when set
  std::vector<std::string> logs;
  intel::ExportOptions options;
};

// Collect, build, guard, write, audit: the only way a bundle is written.
Status ExportBundle(const std::string& scan_dir, const std::vector<std::string>& logs, const intel::CoalitionKey& key,
                    const intel::ExportOptions& options, const std::string& out, const std::string& audit,
                    const std::string& recipient, std::string* bundle_out, size_t* indicators) {
  auto collected = intel::Collect(scan_dir, logs, key, options);
  if (!collected.ok()) return collected.status();
  const std::string bundle = intel::BuildBundle(collected.value().campaigns, key, options);
  if (Status st = intel::CheckBundle(bundle, collected.value().raw); !st.ok()) return st;
  if (Status st = WriteFile(out, bundle); !st.ok()) return st;
  // Published once per collection, beside the bundles (see bundle.h).
  if (Status st = WriteFile((fs::path(out).parent_path() / "moat-extension-definition.json").string(),
                            intel::ExtensionDefinitionEnvelope());
      !st.ok())
    return st;
  if (Status st = intel::AppendAudit(audit, bundle, recipient, out, WallNow()); !st.ok()) return st;
  if (indicators != nullptr) {
    *indicators = 0;
    for (const auto& c : collected.value().campaigns) *indicators += c.indicators.size();
  }
  if (bundle_out != nullptr) *bundle_out = bundle;
  return Status::Ok();
}

int RunExport(ExportArgs& a) {
  auto key = intel::LoadKey(a.key_path);
  if (!key.ok()) return Fail("export", key.status(), kExitBadInput);
  const auto tlp = intel::ParseTlp(a.tlp);
  if (!tlp) return Fail("export", Status::Error("--tlp must be clear, green, amber, amber+strict or red"), kExitBadInput);
  a.options.tlp = *tlp;
  if (a.audit.empty()) a.audit = (fs::path(a.out).parent_path() / "intel-audit.jsonl").string();
  // Opened first: an export the store cannot record does not leave.
  std::unique_ptr<store::Store> audit_store;
  if (!a.store.empty()) {
    auto opened = store::Store::Open(a.store);
    if (!opened.ok()) return Fail("export", opened.status(), kExitBadInput);
    audit_store = std::move(opened.value());
  }
  const std::string recipient = a.options.red_recipient.empty() ? a.recipient : a.options.red_recipient;
  size_t n = 0;
  std::string bundle;
  if (Status st = ExportBundle(a.scan_dir, a.logs, key.value(), a.options, a.out, a.audit, recipient, &bundle, &n);
      !st.ok())
    return Fail("export", st, kExitFailure);
  if (audit_store) {
    auto id = serve::RecordExport(*audit_store, bundle, a.options.producer, recipient, "", a.out, "moat intel export");
    if (!id.ok()) return Fail("export", id.status(), kExitFailure);
  }
  std::fprintf(stderr, "moat intel export: %zu indicators to %s (audit: %s)\n", n, a.out.c_str(), a.audit.c_str());
  return kExitOk;
}

// --- TAXII client -------------------------------------------------------------

struct ClientArgs {
  std::string server, collection, api_root = "/moat/", token, user, password;
  std::string bundle, out, state;
  std::string ca_file;  // https: trust this CA (PEM) instead of the system store
};

Result<intel::TaxiiClient> MakeClient(const ClientArgs& a) {
  auto transport = serve::TaxiiHttpTransport(a.server, a.ca_file);
  if (!transport.ok()) return transport.status();
  intel::TaxiiClientOptions o;
  o.api_root = a.api_root;
  o.collection = a.collection;
  if (!a.token.empty()) o.authorization = "Bearer " + a.token;
  else if (!a.user.empty()) o.authorization = "Basic " + intel::Base64(a.user + ":" + a.password);
  return intel::TaxiiClient(std::move(transport.value()), o);
}

// Appends pulled objects to an envelope file {"objects": [...]}.
Status AppendToFeed(const std::string& path, std::string_view objects) {
  std::string merged = std::string(objects);
  if (fs::exists(path)) {
    auto old = ReadFile(path);
    if (!old.ok()) return old.status();
    simdjson::dom::parser p;
    simdjson::dom::element doc;
    simdjson::dom::array arr;
    const simdjson::padded_string text(old.value());
    if (p.parse(text).get(doc) || doc["objects"].get_array().get(arr))
      return Status::Error(path + ": not an envelope of objects");
    std::string prior = simdjson::minify(arr);
    if (prior.size() > 2 && merged.size() > 2) merged = prior.substr(0, prior.size() - 1) + "," + merged.substr(1);
    else if (prior.size() > 2) merged = prior;
  }
  return WriteFile(path, "{\"objects\":" + merged + "}\n");
}

Result<uint64_t> Pull(intel::TaxiiClient& client, const std::string& out, const std::string& state_path) {
  auto state = intel::ReadPullState(state_path);
  if (!state.ok()) return state.status();
  return client.Pull(state.value(), [&](std::string_view objects, std::string_view last) {
    if (Status st = AppendToFeed(out, objects); !st.ok()) return st;
    return intel::WritePullState(state_path, last);
  });
}

int RunPush(const ClientArgs& a) {
  auto client = MakeClient(a);
  if (!client.ok()) return Fail("push", client.status(), kExitBadInput);
  auto bundle = ReadFile(a.bundle);
  if (!bundle.ok()) return Fail("push", bundle.status(), kExitBadInput);
  auto status = client.value().Push(bundle.value());
  if (!status.ok()) return Fail("push", status.status(), kExitFailure);
  std::printf("%s\n", status.value().c_str());
  return kExitOk;
}

int RunPull(const ClientArgs& a) {
  auto client = MakeClient(a);
  if (!client.ok()) return Fail("pull", client.status(), kExitBadInput);
  const std::string state = a.state.empty() ? a.out + ".state.json" : a.state;
  auto n = Pull(client.value(), a.out, state);
  if (!n.ok()) return Fail("pull", n.status(), kExitFailure);
  std::fprintf(stderr, "moat intel pull: %llu objects into %s (state %s)\n",
               static_cast<unsigned long long>(n.value()), a.out.c_str(), state.c_str());
  return kExitOk;
}

// --- scan with a feed ------------------------------------------------------------

struct FeedScanResult {
  std::vector<intel::PartnerTrust> trust;
  uint64_t matched_accounts = 0;
  size_t indicators = 0;
  std::string sightings;
};

// Scans `logs` like `moat scan`, with the partner feed's evidence (when given)
// available from the first exchange on.
Result<FeedScanResult> ScanWithFeed(const std::vector<std::string>& logs, const score::DetectorConfig& cfg,
                                    const std::string& feed_json, const std::vector<intel::CoalitionKey>& keys,
                                    const std::string& out_dir, const std::string& producer) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::Error("cannot create " + out_dir);
  engine::Engine engine{cfg};
  std::vector<intel::PartnerIndicator> indicators;
  if (!feed_json.empty()) {
    auto parsed = intel::ParseIndicators(feed_json);
    if (!parsed.ok()) return parsed.status();
    indicators = std::move(parsed.value());
  }
  intel::IndicatorMatcher matcher(keys, std::move(indicators));
  intel::TrustOptions to;
  to.partner_weight = cfg.partner_weight;
  to.confirm_at = cfg.suspicious;
  intel::PartnerEvidenceSource source(matcher, to);
  if (!feed_json.empty()) engine.SetExternalEvidence(&source);
  ingest::Quarantine discard;
  const ingest::IngestReport report = ingest::ReadAll(logs, ingest::IngestOptions{}, discard, engine);
  if (!report.errors.empty()) return Status::Error(report.errors.front().message);
  engine.Finish();
  if (Status st = engine.WriteVerdicts(out_dir); !st.ok()) return st;
  FeedScanResult r;
  r.trust = source.Trust();
  r.matched_accounts = source.matched_accounts();
  r.indicators = matcher.indicators().size();
  if (!feed_json.empty()) {
    // Sightings leave too: through the same guard as any bundle.
    r.sightings = source.SightingsBundle(producer);
    if (Status st = intel::CheckBundle(r.sightings, intel::RawValues{}); !st.ok()) return st;
  }
  return r;
}

struct ScanArgs {
  std::vector<std::string> logs;
  std::string feed, out, config;
  std::vector<std::string> keys;
  std::string producer = "moat provider";
};

int RunIntelScan(const ScanArgs& a) {
  score::DetectorConfig cfg;
  if (!a.config.empty())
    if (Status st = score::LoadDetectorConfig(a.config, cfg); !st.ok()) return Fail("scan", st, kExitBadInput);
  std::vector<intel::CoalitionKey> keys;
  for (const std::string& k : a.keys) {
    auto key = intel::LoadKey(k);
    if (!key.ok()) return Fail("scan", key.status(), kExitBadInput);
    keys.push_back(std::move(key.value()));
  }
  auto feed = ReadFile(a.feed);
  if (!feed.ok()) return Fail("scan", feed.status(), kExitBadInput);
  auto r = ScanWithFeed(a.logs, cfg, feed.value(), keys, a.out, a.producer);
  if (!r.ok()) return Fail("scan", r.status(), kExitFailure);
  if (Status st = WriteFile(a.out + "/sightings.json", r.value().sightings); !st.ok())
    return Fail("scan", st, kExitFailure);
  std::fprintf(stderr, "moat intel scan: %zu partner indicators, %llu local accounts matched; verdicts in %s\n",
               r.value().indicators, static_cast<unsigned long long>(r.value().matched_accounts), a.out.c_str());
  for (const auto& t : r.value().trust)
    std::fprintf(stderr, "  partner %s: trust %.2f (%u confirmed, %u contradicted)\n", t.partner.c_str(), t.trust,
                 t.confirmed, t.contradicted);
  return kExitOk;
}

// --- TAXII server ---------------------------------------------------------------

std::atomic<bool> g_stop{false};

struct TaxiiArgs {
  std::string config_path, address = "127.0.0.1";
  uint16_t port = 8470;
  std::string tls_cert, tls_key;  // HTTPS only, when both are set
};

int RunTaxiiServer(const TaxiiArgs& a) {
  auto config = intel::LoadTaxiiConfig(a.config_path);
  if (!config.ok()) return Fail("taxii", config.status(), kExitBadInput);
  auto taxii = intel::TaxiiServer::Open(std::move(config.value()), WallNow);
  if (!taxii.ok()) return Fail("taxii", taxii.status(), kExitBadInput);
  serve::ServerOptions so;
  so.address = a.address;
  so.port = a.port;
  so.tls_cert_file = a.tls_cert;
  so.tls_key_file = a.tls_key;
  serve::HttpServer http(so);
  serve::MountTaxii(http, *taxii.value());
  if (Status st = http.Start(); !st.ok()) return Fail("taxii", st, kExitFailure);
  std::fprintf(stderr, "moat intel taxii: serving /taxii2/ on %s://%s:%u\n", a.tls_cert.empty() ? "http" : "https",
               a.address.c_str(), http.port());
  std::signal(SIGINT, [](int) { g_stop = true; });
  std::signal(SIGTERM, [](int) { g_stop = true; });
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  http.Stop();
  return kExitOk;
}

}  // namespace

int RunIntelDemo(const std::string& out_dir, double scale, int days, uint64_t seed, double share_after_hours,
                 const std::string& corpora, const std::string& config);

void RegisterIntel(CLI::App& app, CommandSet& commands) {
  CLI::App* intel = app.add_subcommand("intel", "share campaign signals with partner providers (STIX 2.1 / TAXII 2.1)");
  intel->require_subcommand(1);

  auto ex = std::make_shared<ExportArgs>();
  CLI::App* e = intel->add_subcommand("export", "export a scan's campaigns as a STIX 2.1 bundle of keyed indicators");
  e->add_option("--scan", ex->scan_dir, "folder of a scan (campaigns.jsonl)")->required();
  e->add_option("--log", ex->logs, "the logs that scan read")->required();
  e->add_option("--key", ex->key_path, "coalition key file (JSON: key_id, key_hex, local_secret_hex)")->required();
  e->add_option("--out", ex->out, "bundle to write")->required();
  e->add_option("--producer", ex->options.producer, "your identity's name in the bundle")->capture_default_str();
  e->add_option("--k", ex->options.k_floor, "k-anonymity floor: accounts an indicator must rest on")
      ->capture_default_str();
  e->add_option("--tlp", ex->tlp, "TLP 2.0 marking: clear, green, amber, amber+strict, red")->capture_default_str();
  e->add_option("--red-for", ex->options.red_recipient,
                "also export indicators below the k floor, marked TLP:RED, for this one partner");
  e->add_option("--recipient", ex->recipient, "who the bundle is for (audit)")->capture_default_str();
  e->add_option("--audit", ex->audit, "audit file (JSON Lines); default: intel-audit.jsonl beside --out");
  e->add_option("--store", ex->store, "also record the export in this audit store (e.g. moat serve's audit.db)");
  e->callback([ex, &commands] { commands.Set([ex] { return RunExport(*ex); }); });

  auto push = std::make_shared<ClientArgs>();
  auto pull = std::make_shared<ClientArgs>();
  for (auto [name, args, what] : {std::tuple{"push", push, "push a bundle to a partner's TAXII collection"},
                                  std::tuple{"pull", pull, "pull new objects from a partner's TAXII collection"}}) {
    CLI::App* c = intel->add_subcommand(name, what);
    c->add_option("--server", args->server, "http://HOST:PORT or https://HOST[:PORT] of the TAXII server")
        ->required();
    c->add_option("--ca-file", args->ca_file,
                  "https: trust the server's certificate when it chains to this CA (PEM); default: system CAs");
    c->add_option("--collection", args->collection, "collection id")->required();
    c->add_option("--api-root", args->api_root, "API root path")->capture_default_str();
    c->add_option("--token", args->token, "bearer token");
    c->add_option("--user", args->user, "HTTP Basic user");
    c->add_option("--password", args->password, "HTTP Basic password");
    if (std::string_view(name) == "push") {
      c->add_option("--bundle", args->bundle, "bundle to push")->required();
      c->callback([args, &commands] { commands.Set([args] { return RunPush(*args); }); });
    } else {
      c->add_option("--out", args->out, "feed file (envelope JSON), appended to")->required();
      c->add_option("--state", args->state, "pull state file (default: OUT.state.json): resumes there");
      c->callback([args, &commands] { commands.Set([args] { return RunPull(*args); }); });
    }
  }

  auto sc = std::make_shared<ScanArgs>();
  CLI::App* s = intel->add_subcommand("scan", "scan logs with a partner feed (partner_indicator evidence)");
  s->add_option("--input", sc->logs, "log files")->required();
  s->add_option("--feed", sc->feed, "pulled feed or bundle")->required();
  s->add_option("--key", sc->keys, "coalition key file(s): every key id still accepted")->required();
  s->add_option("--out", sc->out, "output folder (accounts.jsonl, campaigns.jsonl, sightings.json)")->required();
  s->add_option("--producer", sc->producer, "your identity's name in the sightings")->capture_default_str();
  s->add_option("--config", sc->config, "detector config (TOML)");
  s->callback([sc, &commands] { commands.Set([sc] { return RunIntelScan(*sc); }); });

  auto tx = std::make_shared<TaxiiArgs>();
  CLI::App* t = intel->add_subcommand("taxii", "run a TAXII 2.1 server for partners");
  t->add_option("--config", tx->config_path, "server config (JSON: partners, collections, store_dir)")->required();
  t->add_option("--address", tx->address, "listen address")->capture_default_str();
  t->add_option("--port", tx->port, "listen port")->capture_default_str();
  auto* tls_cert = t->add_option("--tls-cert", tx->tls_cert, "serve HTTPS only: certificate chain (PEM, leaf first)");
  auto* tls_key = t->add_option("--tls-key", tx->tls_key, "private key of --tls-cert (PEM)");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
  t->callback([tx, &commands] { commands.Set([tx] { return RunTaxiiServer(*tx); }); });

  struct DemoArgs {
    std::string out = "out/intel-demo";
    double scale = 0.5;
    int days = 4;
    uint64_t seed = 1;
    double share_after_hours = 36;
    std::string corpora = DefaultCorporaDir();
    std::string config;
  };
  auto d = std::make_shared<DemoArgs>();
  CLI::App* dm = intel->add_subcommand("demo", "two providers, one operator: B's leakage with and without A's feed");
  dm->add_option("--out", d->out, "output folder")->capture_default_str();
  dm->add_option("--scale", d->scale, "simulation scale")->capture_default_str();
  dm->add_option("--days", d->days, "simulated days")->capture_default_str();
  dm->add_option("--seed", d->seed, "simulation seed")->capture_default_str();
  dm->add_option("--share-after-hours", d->share_after_hours,
                 "A shares what it saw in the first this many hours; B's traffic starts then")
      ->capture_default_str();
  dm->add_option("--corpora", d->corpora, "corpora folder")->capture_default_str();
  dm->add_option("--config", d->config, "detector config (TOML) for both providers");
  dm->callback([d, &commands] {
    commands.Set([d] { return RunIntelDemo(d->out, d->scale, d->days, d->seed, d->share_after_hours, d->corpora, d->config);
    });
  });
}

// --- demo -----------------------------------------------------------------------

namespace {

// Splits one world into two providers: each account belongs to A or B by a
// hash of its id (so every campaign has accounts on both sides); A sees its
// accounts before `cut`, B sees its accounts from `cut` on (the operator
// reaches B later).
class SplitSink : public ExchangeSink {
 public:
  SplitSink(std::ofstream& a, std::ofstream& b, EventTime cut) : a_(a), b_(b), cut_(cut) {}
  void Consume(std::span<const Exchange> batch) override {
    for (const Exchange& x : batch) {
      const bool to_a = IsA(x.account_id);
      if (to_a ? x.ts >= cut_ : x.ts < cut_) continue;
      line_.clear();
      AppendExchangeJson(x, line_);
      line_.push_back('\n');
      (to_a ? a_ : b_) << line_;
      (to_a ? in_a : in_b).insert(x.account_id);
    }
  }
  static bool IsA(std::string_view account) { return intel::Sha256Hex(account)[0] < '8'; }
  std::unordered_set<std::string> in_a, in_b;

 private:
  std::ofstream& a_;
  std::ofstream& b_;
  EventTime cut_;
  std::string line_;
};

struct Truth {
  std::string label, population;
};

Result<std::map<std::string, Truth>> ReadTruth(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::map<std::string, Truth> out;
  simdjson::dom::parser p;
  std::istringstream in(text.value());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    simdjson::dom::element doc;
    std::string_view id, label, pop;
    if (p.parse(line).get(doc) || doc["account_id"].get_string().get(id) || doc["label"].get_string().get(label))
      return Status::Error(path + ": bad truth line");
    if (doc["population"].get_string().get(pop)) pop = "";
    out[std::string(id)] = {std::string(label), std::string(pop)};
  }
  return out;
}

Status WriteTruth(const std::string& path, const std::map<std::string, Truth>& truth,
                  const std::unordered_set<std::string>& keep) {
  std::string out;
  for (const auto& [id, t] : truth) {
    if (!keep.count(id)) continue;
    out += "{\"account_id\":\"" + id + "\",\"label\":\"" + t.label + "\",\"population\":\"" + t.population + "\"}\n";
  }
  return WriteFile(path, out);
}

Status ScanPlain(const std::string& log, const score::DetectorConfig& cfg, const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  engine::Engine engine{cfg};
  ingest::Quarantine discard;
  const auto report = ingest::ReadAll({log}, ingest::IngestOptions{}, discard, engine);
  if (!report.errors.empty()) return Status::Error(report.errors.front().message);
  engine.Finish();
  return engine.WriteVerdicts(out_dir);
}

std::string Rate(const eval::Ratio& r) {
  const auto v = r.rate();
  if (!v) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", *v * 100);
  return buf;
}
std::string Hours(const std::optional<double>& s) {
  if (!s) return "never";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f h", *s / 3600.0);
  return buf;
}

// Benign accounts at `extraction` in a scan (by the truth).
Result<std::set<std::string>> BenignFlagged(const std::string& scan_dir, const std::map<std::string, Truth>& truth) {
  auto text = ReadFile(scan_dir + "/accounts.jsonl");
  if (!text.ok()) return text.status();
  std::set<std::string> out;
  simdjson::dom::parser p;
  std::istringstream in(text.value());
  std::string line;
  while (std::getline(in, line)) {
    simdjson::dom::element doc;
    std::string_view id, verdict;
    if (p.parse(line).get(doc) || doc["account_id"].get_string().get(id) || doc["verdict"].get_string().get(verdict))
      return Status::Error(scan_dir + "/accounts.jsonl: bad line");
    const auto t = truth.find(std::string(id));
    if (verdict == "extraction" && t != truth.end() && t->second.label == "benign") out.insert(std::string(id));
  }
  return out;
}

}  // namespace

int RunIntelDemo(const std::string& out, double scale, int days, uint64_t seed, double share_after_hours,
                 const std::string& corpora, const std::string& config) {
  auto step = [](const char* what) { std::fprintf(stderr, "moat intel demo: %s\n", what); };
  auto fail = [](const Status& st) { return Fail("demo", st, kExitFailure); };
  score::DetectorConfig cfg;
  if (!config.empty())
    if (Status st = score::LoadDetectorConfig(config, cfg); !st.ok()) return Fail("demo", st, kExitBadInput);
  std::error_code ec;
  for (const char* sub : {"world", "a", "b", "taxii"}) fs::create_directories(fs::path(out) / sub, ec);
  if (ec) return fail(Status::Error("cannot create " + out));

  step("simulating one world (scenario seed)");
  sim::SimOptions so;
  so.scenario = "seed";
  so.scale = scale;
  so.days = days;
  so.seed = seed;
  so.corpora_dir = corpora;
  so.out_dir = out + "/world";
  auto simulated = sim::Simulate(so);
  if (!simulated.ok()) return fail(simulated.status());

  step("splitting it into provider A (first hours) and provider B (later)");
  const EventTime cut = so.start + static_cast<EventTime>(share_after_hours * kMicrosPerHour);
  const std::string a_log = out + "/a/log.jsonl", b_log = out + "/b/log.jsonl";
  {
    std::ofstream fa(a_log, std::ios::trunc), fb(b_log, std::ios::trunc);
    SplitSink split(fa, fb, cut);
    ingest::Quarantine discard;
    const auto report = ingest::ReadAll({out + "/world/log.jsonl"}, ingest::IngestOptions{}, discard, split);
    if (!report.errors.empty()) return fail(Status::Error(report.errors.front().message));
    auto truth = ReadTruth(out + "/world/truth.jsonl");
    if (!truth.ok()) return fail(truth.status());
    for (auto [path, keep] : {std::pair{out + "/a/truth.jsonl", &split.in_a}, std::pair{out + "/b/truth.jsonl", &split.in_b}})
      if (Status st = WriteTruth(path, truth.value(), *keep); !st.ok()) return fail(st);
  }
  auto truth = ReadTruth(out + "/world/truth.jsonl");
  if (!truth.ok()) return fail(truth.status());

  step("A scans its traffic and exports its campaigns");
  if (Status st = ScanPlain(a_log, cfg, out + "/a/scan"); !st.ok()) return fail(st);
  const intel::CoalitionKey key = intel::KeyFromPassphrase("coalition-2026-1", "demo coalition key");
  intel::ExportOptions eo;
  eo.producer = "provider-a";
  std::string bundle;
  size_t indicators = 0;
  if (Status st = ExportBundle(out + "/a/scan", {a_log}, key, eo, out + "/a/bundle.json", out + "/a/intel-audit.jsonl",
                               "coalition", &bundle, &indicators);
      !st.ok())
    return fail(st);

  step("A publishes over TAXII 2.1 (loopback); B pulls");
  intel::TaxiiConfig tc;
  tc.store_dir = out + "/taxii";
  fs::remove(out + "/taxii/" + std::string("b5c0b6a2-5d7e-4d0e-9a7f-3c1e2f4a6b8d") + ".jsonl", ec);
  tc.partners = {{"provider-a", "", "", "token-a"}, {"provider-b", "b", "secret-b", ""}, {"mallory", "", "", "token-m"}};
  intel::TaxiiCollection coll;
  coll.id = "b5c0b6a2-5d7e-4d0e-9a7f-3c1e2f4a6b8d";
  coll.title = "coalition: distillation campaigns";
  coll.rights = {{"provider-a", {true, true}}, {"provider-b", {true, true}}, {"mallory", {false, true}}};
  tc.collections = {coll};
  auto taxii = intel::TaxiiServer::Open(tc, WallNow);
  if (!taxii.ok()) return fail(taxii.status());
  serve::HttpServer http(serve::ServerOptions{});
  serve::MountTaxii(http, *taxii.value());
  if (Status st = http.Start(); !st.ok()) return fail(st);
  const std::string url = "http://127.0.0.1:" + std::to_string(http.port());
  ClientArgs ca{url, coll.id, "/moat/", "token-a", "", "", "", "", "", ""};
  ClientArgs cb{url, coll.id, "/moat/", "", "b", "secret-b", "", "", "", ""};
  ClientArgs cm{url, coll.id, "/moat/", "token-m", "", "", "", "", "", ""};
  auto client_a = MakeClient(ca);
  auto client_b = MakeClient(cb);
  auto client_m = MakeClient(cm);
  if (!client_a.ok() || !client_b.ok() || !client_m.ok()) return fail(Status::Error("cannot make TAXII clients"));
  if (auto r = client_a.value().Push(intel::ExtensionDefinitionEnvelope()); !r.ok()) return fail(r.status());
  if (auto r = client_a.value().Push(bundle); !r.ok()) return fail(r.status());
  const std::string feed = out + "/b/feed.json", state = out + "/b/pull-state.json";
  fs::remove(feed, ec);
  fs::remove(state, ec);
  auto pulled = Pull(client_b.value(), feed, state);
  if (!pulled.ok()) return fail(pulled.status());

  step("B scans without and with A's feed");
  if (Status st = ScanPlain(b_log, cfg, out + "/b/scan-nofeed"); !st.ok()) return fail(st);
  auto feed_json = ReadFile(feed);
  if (!feed_json.ok()) return fail(feed_json.status());
  auto with = ScanWithFeed({b_log}, cfg, feed_json.value(), {key}, out + "/b/scan-feed", "provider-b");
  if (!with.ok()) return fail(with.status());
  if (auto r = client_b.value().Push(with.value().sightings); !r.ok()) return fail(r.status());

  step("poisoning: mallory publishes indicators built from benign traffic");
  {
    // Mallory's "campaigns": groups of A's benign accounts, exported without
    // the distinctiveness rule, as a poisoner would.
    std::map<std::string, std::vector<std::string>> groups;
    for (const auto& [id, t] : truth.value())
      if (t.label == "benign" && SplitSink::IsA(id) && groups[t.population].size() < 40) groups[t.population].push_back(id);
    std::string lines;
    int n = 0;
    for (const auto& [pop, ids] : groups) {
      lines += "{\"campaign_id\":\"cmp-poison-" + std::to_string(n++) + "\",\"score\":0.99,\"accounts\":[";
      for (size_t i = 0; i < ids.size(); ++i) lines += (i ? ",\"" : "\"") + ids[i] + "\"";
      lines += "]}\n";
    }
    fs::create_directories(out + "/mallory", ec);
    if (Status st = WriteFile(out + "/mallory/campaigns.jsonl", lines); !st.ok()) return fail(st);
    intel::ExportOptions mo;
    mo.producer = "mallory";
    mo.min_campaign_share = 0.0;
    std::string poison;
    if (Status st = ExportBundle(out + "/mallory", {a_log}, key, mo, out + "/mallory/bundle.json",
                                 out + "/mallory/intel-audit.jsonl", "coalition", &poison, nullptr);
        !st.ok())
      return fail(st);
    if (auto r = client_m.value().Push(poison); !r.ok()) return fail(r.status());
  }
  // B resumes from its last X-TAXII-Date-Added-Last: it gets B's own
  // sightings and mallory's objects, not A's bundle again.
  const std::string poison_feed = out + "/b/feed-poison.json";
  fs::remove(poison_feed, ec);
  fs::copy_file(state, out + "/b/pull-state-poison.json", fs::copy_options::overwrite_existing, ec);
  auto pulled_again = Pull(client_b.value(), poison_feed, out + "/b/pull-state-poison.json");
  if (!pulled_again.ok()) return fail(pulled_again.status());
  auto poison_json = ReadFile(poison_feed);
  if (!poison_json.ok()) return fail(poison_json.status());
  auto poisoned = ScanWithFeed({b_log}, cfg, poison_json.value(), {key}, out + "/b/scan-poison", "provider-b");
  if (!poisoned.ok()) return fail(poisoned.status());
  http.Stop();

  step("evaluating B");
  std::map<std::string, eval::EvalReport> reports;
  for (const char* run : {"scan-nofeed", "scan-feed", "scan-poison"}) {
    eval::EvalInputs in;
    in.logs = {b_log};
    in.truth = out + "/b/truth.jsonl";
    in.scan_dir = out + "/b/" + run;
    auto r = eval::Evaluate(in);
    if (!r.ok()) return fail(r.status());
    reports.emplace(run, std::move(r.value()));
  }
  const auto& base = reports.at("scan-nofeed");
  const auto& fed = reports.at("scan-feed");
  const auto& pois = reports.at("scan-poison");
  auto base_fp = BenignFlagged(out + "/b/scan-nofeed", truth.value());
  auto pois_fp = BenignFlagged(out + "/b/scan-poison", truth.value());
  auto fed_fp = BenignFlagged(out + "/b/scan-feed", truth.value());
  if (!base_fp.ok() || !pois_fp.ok() || !fed_fp.ok()) return fail(Status::Error("cannot read B's verdicts"));
  size_t raised_by_poison = 0, raised_by_feed = 0;
  for (const std::string& id : pois_fp.value()) raised_by_poison += !base_fp.value().count(id);
  for (const std::string& id : fed_fp.value()) raised_by_feed += !base_fp.value().count(id);

  std::string md;
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "A shared %zu indicators (%s); B pulled %llu objects over TAXII and matched %llu of its accounts.\n\n",
                indicators, "keyed digests and template sketches", static_cast<unsigned long long>(pulled.value()),
                static_cast<unsigned long long>(with.value().matched_accounts));
  md += buf;
  md += "| B, per campaign | accounts | leakage without feed | with feed | median time to flag without | with | first flag without | with |\n";
  md += "|---|---|---|---|---|---|---|---|\n";
  for (const auto& c : base.campaigns) {
    const eval::CampaignEval* f = nullptr;
    for (const auto& x : fed.campaigns)
      if (x.label == c.label) f = &x;
    if (f == nullptr) continue;
    std::snprintf(buf, sizeof buf, "| %s | %llu | %s | %s | %s | %s | %s | %s |\n", c.label.c_str(),
                  static_cast<unsigned long long>(c.accounts), Rate(c.leakage).c_str(), Rate(f->leakage).c_str(),
                  Hours(c.median_time_to_flag_s).c_str(), Hours(f->median_time_to_flag_s).c_str(),
                  Hours(c.time_to_first_flag_s).c_str(), Hours(f->time_to_first_flag_s).c_str());
    md += buf;
  }
  md += "\n| B, overall | without feed | with A's feed | with mallory's poisoned feed |\n|---|---|---|---|\n";
  for (const auto& [name, get] :
       std::vector<std::pair<const char*, const eval::Ratio eval::EvalReport::*>>{
           {"leakage", &eval::EvalReport::leakage},
           {"recall", &eval::EvalReport::recall},
           {"false-positive rate", &eval::EvalReport::false_positive_rate},
           {"review load", &eval::EvalReport::review_load}}) {
    std::snprintf(buf, sizeof buf, "| %s | %s | %s | %s |\n", name, Rate(base.*get).c_str(), Rate(fed.*get).c_str(),
                  Rate(pois.*get).c_str());
    md += buf;
  }
  std::snprintf(buf, sizeof buf,
                "\nBenign accounts raised to extraction: by A's feed %zu, by mallory's poisoned feed %zu.\n",
                raised_by_feed, raised_by_poison);
  md += buf;
  for (const auto& [label, res] : {std::pair{"A's feed", &with.value()}, std::pair{"poisoned feed", &poisoned.value()}})
    for (const auto& t : res->trust) {
      std::snprintf(buf, sizeof buf, "Trust after B's scan with %s: %s %.2f (%u confirmed, %u contradicted)\n", label,
                    t.partner.c_str(), t.trust, t.confirmed, t.contradicted);
      md += buf;
    }
  const double lb = base.leakage.rate().value_or(0), lf = fed.leakage.rate().value_or(0);
  std::snprintf(buf, sizeof buf, "\nTargets: leakage halved: %s (%.4f -> %.4f); false positives not up: %s; poison raised none: %s\n",
                lf <= lb / 2 ? "yes" : "NO", lb, lf, raised_by_feed == 0 ? "yes" : "NO",
                raised_by_poison == 0 ? "yes" : "NO");
  md += buf;
  if (Status st = WriteFile(out + "/report.md", md); !st.ok()) return fail(st);
  std::fputs(md.c_str(), stdout);
  return kExitOk;
}

}  // namespace moat::app
