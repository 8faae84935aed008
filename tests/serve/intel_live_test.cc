// Intel on moat serve, end to end on a small simulated world: the live
// export lands in the mounted TAXII collection (valid STIX, no raw value,
// audited in the store, unchanged campaigns not published again, also after a
// restart), a partner feed's match reaches the policy, and learned trust
// survives a restart.
#include "moat/serve/intel_live.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <simdjson.h>

#include "moat/core/exchange_sink.h"
#include "moat/core/time.h"
#include "moat/ingest/ingest.h"
#include "moat/intel/stix_ids.h"
#include "../intel/small_world.h"

namespace moat::serve {
namespace {

namespace fs = std::filesystem;

constexpr char kCollection[] = "b5c0b6a2-5d7e-4d0e-9a7f-3c1e2f4a6b8d";
const intel::CoalitionKey& Key() {
  static const intel::CoalitionKey k = intel::KeyFromPassphrase("live-k1", "intel live test");
  return k;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const intel::testing::SmallWorld& TheWorld() { return intel::testing::TheSmallWorld("intel_live_world"); }

intel::TaxiiConfig TaxiiConfig() {
  intel::TaxiiConfig c;
  c.max_page = 100000;
  c.partners = {{"provider-b", "b", "pw-b", ""}};
  intel::TaxiiCollection col;
  col.id = kCollection;
  col.title = "distillation campaigns";
  col.rights = {{"provider-b", {true, false}}};
  c.collections = {col};
  return c;
}

// A running service (and its intel) on a data folder whose journal is the
// world's log, as if every exchange had been POSTed.
struct Running {
  std::unique_ptr<LiveIntel> live;  // declared first: outlives the service
  std::unique_ptr<Service> service;
  Running() = default;
  Running(Running&&) = default;
  ~Running() {
    if (live) live->Stop();
    service.reset();
  }
};

Running Open(const std::string& data_dir, LiveIntelOptions lo, intel::TaxiiServer* taxii,
             const std::string& policy = "") {
  Running r;
  ServiceOptions so;
  so.data_dir = data_dir;
  so.clock = ClockMode::kEvent;
  so.fsync = false;
  so.policy_path = policy;
  auto live = LiveIntel::Create(std::move(lo), so);
  EXPECT_TRUE(live.ok()) << live.status().message();
  if (!live.ok()) return r;
  r.live = std::move(live.value());
  auto s = Service::Open(so);
  EXPECT_TRUE(s.ok()) << s.status().message();
  if (!s.ok()) return r;
  r.service = std::move(s.value());
  const Status st = r.live->Start(*r.service, taxii);
  EXPECT_TRUE(st.ok()) << st.message();
  return r;
}

std::string FreshDataDir(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/intel_live_" + name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(TheWorld().log, dir + "/journal.jsonl");
  return dir;
}

LiveIntelOptions ExportOptions() {
  LiveIntelOptions lo;
  lo.keys = {Key()};
  lo.collection = kCollection;
  lo.export_options.producer = "provider-a";
  lo.export_options.max_per_kind = 4;  // the schema validator takes ~50 ms per object
  lo.interval = std::chrono::hours(1);  // the test calls ExportNow
  return lo;
}

// Every object of the collection, as a partner reads it.
std::string CollectionObjects(intel::TaxiiServer& taxii) {
  intel::TaxiiRequest r;
  r.method = "GET";
  r.path = std::string("/moat/collections/") + kCollection + "/objects/";
  r.headers = {{"authorization", "Basic " + intel::Base64("b:pw-b")}, {"accept", intel::kTaxiiMediaType}};
  const intel::TaxiiResponse out = taxii.Handle(r);
  EXPECT_EQ(out.status, 200) << out.body;
  return out.body;
}

// The collection's objects as one bundle for the schema validator, less the
// extension-definition (the schemas' bundle does not take one, see bundle.h).
std::string AsBundle(const std::string& envelope, size_t* definitions) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(envelope);
  EXPECT_FALSE(parser.parse(text).get(doc));
  simdjson::dom::array objects;
  EXPECT_FALSE(doc["objects"].get_array().get(objects));
  std::string out = "{\"type\":\"bundle\",\"id\":\"bundle--" + intel::Uuid5("intel live test") + "\",\"objects\":[";
  bool first = true;
  *definitions = 0;
  for (simdjson::dom::element o : objects) {
    std::string_view type;
    EXPECT_FALSE(o["type"].get_string().get(type));
    if (type == "extension-definition") {
      ++*definitions;
      continue;
    }
    out += (first ? "" : ",") + simdjson::minify(o);
    first = false;
  }
  return out + "]}";
}

TEST(IntelLive, ExportPublishesTheEngineCampaignsIntoTheCollection) {
  auto taxii = intel::TaxiiServer::Open(TaxiiConfig(), [] { return ParseRfc3339("2026-03-01T00:00:00Z").value(); });
  ASSERT_TRUE(taxii.ok());
  const std::string data = FreshDataDir("export");
  std::string bundle_id;
  {
    Running r = Open(data, ExportOptions(), taxii.value().get());
    ASSERT_TRUE(r.service && r.live);
    auto report = r.live->ExportNow();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_GT(report.value().campaigns, 0u);
    EXPECT_EQ(report.value().published, report.value().campaigns);
    EXPECT_GT(report.value().indicators, 0u);
    EXPECT_GT(report.value().objects_added, report.value().indicators);
    bundle_id = report.value().bundle_id;

    // Audited in the store: what, to whom, where.
    auto exports = r.service->audit().Exports();
    ASSERT_TRUE(exports.ok()) << exports.status().message();
    ASSERT_EQ(exports.value().size(), 1u);
    const store::ExportRecord& e = exports.value()[0];
    EXPECT_EQ(e.id, report.value().audit_id);
    EXPECT_EQ(e.bundle_id, bundle_id);
    EXPECT_EQ(e.sha256.size(), 64u);
    EXPECT_EQ(e.recipient, "provider-b");
    EXPECT_EQ(e.collection, kCollection);
    EXPECT_EQ(e.destination, std::string("taxii:") + kCollection);
    EXPECT_EQ(e.producer, "provider-a");
    EXPECT_EQ(e.actor, "moat serve");
    EXPECT_EQ(e.key_ids_json, "[\"live-k1\"]");
    EXPECT_NE(e.counts_json.find("\"indicator\":" + std::to_string(report.value().indicators)), std::string::npos)
        << e.counts_json;

    // Nothing changed: nothing published, nothing audited.
    auto again = r.live->ExportNow();
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(again.value().published, 0u);
    EXPECT_EQ(again.value().campaigns, report.value().campaigns);
    EXPECT_TRUE(again.value().bundle_id.empty());
    EXPECT_EQ(r.service->audit().Exports().value().size(), 1u);
  }

  // What partners read: the campaigns, no raw value of the traffic.
  const std::string objects = CollectionObjects(*taxii.value());
  EXPECT_NE(objects.find("\"type\":\"campaign\""), std::string::npos);
  EXPECT_NE(objects.find("\"type\":\"indicator\""), std::string::npos);
  for (const std::string& v : TheWorld().raw) ASSERT_EQ(objects.find(v), std::string::npos) << "leaked: " << v;
  EXPECT_EQ(objects.find('@'), std::string::npos);
  size_t definitions = 0;
  const std::string bundle = AsBundle(objects, &definitions);
  EXPECT_EQ(definitions, 1u);

  // After a restart the engine rebuilds the same campaigns from the journal,
  // and the ledger in the store knows they were published.
  {
    Running r = Open(data, ExportOptions(), taxii.value().get());
    ASSERT_TRUE(r.service && r.live);
    auto report = r.live->ExportNow();
    ASSERT_TRUE(report.ok()) << report.status().message();
    EXPECT_GT(report.value().campaigns, 0u);
    EXPECT_EQ(report.value().published, 0u);
  }

  const std::string tool = MOAT_SHARED_DIR "/tools/stix_validate.py";
  if (!fs::exists(tool)) GTEST_SKIP() << "no " << tool;
  if (std::system("/usr/bin/python3 -c 'import jsonschema' 2>/dev/null") != 0) GTEST_SKIP() << "no python3-jsonschema";
  const std::string path = data + "/collection-bundle.json";
  std::ofstream(path) << bundle;
  const std::string cmd = tool + " " + path + " > " + data + "/validate.txt 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << Slurp(data + "/validate.txt");
}

// Partners polling the collection see the campaigns within an interval,
// without anyone calling ExportNow.
TEST(IntelLive, TheServiceExportsEveryInterval) {
  auto taxii = intel::TaxiiServer::Open(TaxiiConfig(), [] { return ParseRfc3339("2026-03-01T00:00:00Z").value(); });
  ASSERT_TRUE(taxii.ok());
  LiveIntelOptions lo = ExportOptions();
  lo.interval = std::chrono::milliseconds(100);
  Running r = Open(FreshDataDir("interval"), lo, taxii.value().get());
  ASSERT_TRUE(r.service && r.live);
  bool seen = false;
  for (int i = 0; i < 200 && !seen; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    seen = CollectionObjects(*taxii.value()).find("\"type\":\"campaign\"") != std::string::npos;
  }
  EXPECT_TRUE(seen);
  EXPECT_GE(r.service->audit().Exports().value().size(), 1u);
}

// A feed: provider-a's export of the same world (its accounts are ours here).
std::string Feed() {
  static const std::string path = [] {
    auto taxii = intel::TaxiiServer::Open(TaxiiConfig(), [] { return ParseRfc3339("2026-03-01T00:00:00Z").value(); });
    EXPECT_TRUE(taxii.ok());
    {
      Running r = Open(FreshDataDir("feed-source"), ExportOptions(), taxii.value().get());
      EXPECT_TRUE(r.live && r.live->ExportNow().ok());
    }
    const std::string p = ::testing::TempDir() + "/intel_live_feed.json";
    std::ofstream(p) << CollectionObjects(*taxii.value());
    return p;
  }();
  return path;
}

// Members of the engine's campaigns whose next request gets the policy's
// indicator rule, with no indicator in the request itself.
size_t AccountsUnderIndicatorRule(Service& s) {
  auto jsonl = s.OnEngine([](engine::Engine& e) { return e.CampaignsJsonl(); });
  EXPECT_TRUE(jsonl.ok());
  auto campaigns = intel::ParseCampaigns(jsonl.value(), "engine");
  EXPECT_TRUE(campaigns.ok());
  size_t n = 0;
  for (const intel::CampaignMembers& c : campaigns.value())
    for (const std::string& a : c.accounts) {
      policy::DecideRequest req;
      req.account_id = a;
      const policy::Decision d = s.decisions().Decide(req, ParseRfc3339("2026-03-01T00:00:00Z").value());
      n += d.rule == "partner-indicator";
    }
  return n;
}

TEST(IntelLive, FeedMatchesReachThePolicyAndTrustSurvivesARestart) {
  const std::string feed = Feed();
  const std::string policy = ::testing::TempDir() + "/intel_live_policy.toml";
  std::ofstream(policy) << "[[rule]]\nname = \"partner-indicator\"\nindicator_match = true\naction = \"challenge\"\n";
  LiveIntelOptions lo;
  lo.keys = {Key()};
  lo.feed_path = feed;
  lo.interval = std::chrono::hours(1);

  // Without the feed the rule never fires.
  {
    Running r = Open(FreshDataDir("nofeed"), LiveIntelOptions{}, nullptr, policy);
    ASSERT_TRUE(r.service);
    EXPECT_EQ(AccountsUnderIndicatorRule(*r.service), 0u);
  }
  const std::string data = FreshDataDir("feed");
  std::vector<intel::PartnerTrust> trust;
  std::map<std::string, double> indicator_trust;
  {
    Running r = Open(data, lo, nullptr, policy);
    ASSERT_TRUE(r.service && r.live);
    EXPECT_GT(AccountsUnderIndicatorRule(*r.service), 0u);
    policy::DecideRequest stranger;
    stranger.account_id = "acct_never_seen";
    EXPECT_EQ(r.service->decisions().Decide(stranger, 0).rule, "default");
    auto t = r.live->Trust();
    ASSERT_TRUE(t.ok()) << t.status().message();
    trust = t.value();
    ASSERT_EQ(trust.size(), 1u);
    EXPECT_EQ(trust[0].partner, "provider-a");
    EXPECT_GT(trust[0].confirmed, 0u);
    EXPECT_NE(trust[0].trust, 0.7);  // learned, not the prior
    indicator_trust = r.live->IndicatorTrust().value();
    EXPECT_FALSE(indicator_trust.empty());
  }
  auto same_trust = [&](LiveIntel& live) {
    auto t = live.Trust();
    ASSERT_TRUE(t.ok()) << t.status().message();
    ASSERT_EQ(t.value().size(), 1u);
    EXPECT_EQ(t.value()[0].confirmed, trust[0].confirmed);
    EXPECT_EQ(t.value()[0].contradicted, trust[0].contradicted);
    EXPECT_DOUBLE_EQ(t.value()[0].trust, trust[0].trust);
    EXPECT_EQ(live.IndicatorTrust().value(), indicator_trust);
  };
  // Restarted: the journal replays over the restored trust, counting nothing twice.
  {
    Running r = Open(data, lo, nullptr, policy);
    ASSERT_TRUE(r.live);
    same_trust(*r.live);
  }
  // Restarted without the journal (rotated away): trust comes from the store alone.
  fs::remove(data + "/journal.jsonl");
  {
    Running r = Open(data, lo, nullptr, policy);
    ASSERT_TRUE(r.live);
    same_trust(*r.live);
  }
}

TEST(IntelLive, SightingsOfTheFeedGoBackToThePartners) {
  auto taxii = intel::TaxiiServer::Open(TaxiiConfig(), [] { return ParseRfc3339("2026-03-01T00:00:00Z").value(); });
  ASSERT_TRUE(taxii.ok());
  LiveIntelOptions lo = ExportOptions();
  lo.feed_path = Feed();
  Running r = Open(FreshDataDir("sightings"), lo, taxii.value().get());
  ASSERT_TRUE(r.service && r.live);
  auto n = r.live->PublishSightingsNow();
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_GT(n.value(), 0u);
  const std::string objects = CollectionObjects(*taxii.value());
  size_t in_collection = 0;
  for (size_t at = objects.find("\"type\":\"sighting\""); at != std::string::npos;
       at = objects.find("\"type\":\"sighting\"", at + 1))
    ++in_collection;
  EXPECT_EQ(in_collection, n.value());
  EXPECT_NE(objects.find("\"sighting_of_ref\":\"indicator--"), std::string::npos);
  const auto exports = r.service->audit().Exports();
  ASSERT_TRUE(exports.ok());
  EXPECT_EQ(exports.value().size(), 1u);
  // Nothing new seen: nothing published, nothing audited.
  auto again = r.live->PublishSightingsNow();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again.value(), 0u);
  EXPECT_EQ(r.service->audit().Exports().value().size(), 1u);
}

TEST(IntelLive, RefusesAMisconfiguration) {
  ServiceOptions so;
  LiveIntelOptions no_key;
  no_key.collection = kCollection;
  EXPECT_FALSE(LiveIntel::Create(no_key, so).ok());
  LiveIntelOptions missing_feed;
  missing_feed.keys = {Key()};
  missing_feed.feed_path = ::testing::TempDir() + "/no-such-feed.json";
  auto r = LiveIntel::Create(missing_feed, so);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-such-feed.json"), std::string::npos);

  // A collection the TAXII server does not have.
  auto taxii = intel::TaxiiServer::Open(TaxiiConfig(), [] { return EventTime{0}; });
  ASSERT_TRUE(taxii.ok());
  LiveIntelOptions lo = ExportOptions();
  lo.collection = "00000000-0000-4000-8000-000000000000";
  ServiceOptions o;
  o.data_dir = ::testing::TempDir() + "/intel_live_misconfigured";
  o.fsync = false;
  auto live = LiveIntel::Create(lo, o);
  ASSERT_TRUE(live.ok());
  auto service = Service::Open(o);
  ASSERT_TRUE(service.ok());
  const Status st = live.value()->Start(*service.value(), taxii.value().get());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("00000000-0000-4000-8000-000000000000"), std::string::npos);
  EXPECT_FALSE(live.value()->Start(*service.value(), nullptr).ok());
}

}  // namespace
}  // namespace moat::serve
