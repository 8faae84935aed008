#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "moat/core/time.h"
#include "moat/intel/bundle.h"
#include "moat/intel/keyed.h"
#include "moat/intel/ledger.h"
#include "moat/intel/matcher.h"
#include "moat/intel/taxii.h"
#include "moat/score/scorer.h"

namespace moat::intel {
namespace {

const CoalitionKey kKey = KeyFromPassphrase("k1", "test coalition");

TEST(Keyed, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacHex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Keyed, LoadKeyNeedsEveryField) {
  const std::string path = ::testing::TempDir() + "/coalition.key";
  const std::string hex(64, 'a');
  std::ofstream(path) << "{\"key_id\": \"k7\", \"key_hex\": \"" << hex << "\", \"local_secret_hex\": \"" << hex << "\"}";
  auto k = LoadKey(path);
  ASSERT_TRUE(k.ok()) << k.status().message();
  EXPECT_EQ(k.value().key_id, "k7");
  EXPECT_EQ(k.value().key.size(), 32u);
  std::ofstream(path) << "{\"key_id\": \"k7\", \"key_hex\": \"" << hex << "\"}";
  auto missing = LoadKey(path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("local_secret_hex"), std::string::npos);
  std::ofstream(path) << "{\"key_id\": \"k7\", \"key_hex\": \"abcd\", \"local_secret_hex\": \"" << hex << "\"}";
  EXPECT_FALSE(LoadKey(path).ok());
}

TEST(Keyed, Uuid5IsDeterministicVersion5) {
  const std::string a = Uuid5("x"), b = Uuid5("x"), c = Uuid5("y");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '5');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

TEST(Keyed, AttributesAreNormalised) {
  Exchange x;
  x.ip = " 203.0.113.77";
  x.Set(Field::kIp);
  x.email_domain = "@Example.COM.";
  x.Set(Field::kEmailDomain);
  x.asn = 64500;
  x.Set(Field::kAsn);
  x.tls_fingerprint = "AbC";
  x.Set(Field::kTlsFingerprint);
  Attributes a;
  ExtractAttributes(x, a);
  EXPECT_EQ(a.value[int(Kind::kIp)], "203.0.113.77");
  EXPECT_EQ(a.value[int(Kind::kSubnet)], "203.0.113.0/24");
  EXPECT_EQ(a.value[int(Kind::kEmailDomain)], "example.com");
  EXPECT_EQ(a.value[int(Kind::kAsn)], "AS64500");
  EXPECT_EQ(a.value[int(Kind::kTls)], "abc");
  x.ip = "2001:DB8:1:2::5";
  ExtractAttributes(x, a);
  EXPECT_EQ(a.value[int(Kind::kIp)], "2001:db8:1:2::5");
  EXPECT_EQ(a.value[int(Kind::kSubnet)], "2001:db8:1::/48");
  x.ip = "not an address";
  ExtractAttributes(x, a);
  EXPECT_TRUE(a.value[int(Kind::kIp)].empty());
}

TEST(Keyed, DigestDependsOnKeyAndKind) {
  const CoalitionKey other = KeyFromPassphrase("k2", "another coalition");
  EXPECT_EQ(Digest(kKey, Kind::kEmailDomain, "example.com"), Digest(kKey, Kind::kEmailDomain, "example.com"));
  EXPECT_NE(Digest(kKey, Kind::kEmailDomain, "example.com"), Digest(other, Kind::kEmailDomain, "example.com"));
  EXPECT_NE(Digest(kKey, Kind::kEmailDomain, "example.com"), Digest(kKey, Kind::kPayment, "example.com"));
}

TEST(Keyed, TemplateContainmentSurvivesANewQuestion) {
  const uint64_t seed = TemplateSeed(kKey);
  std::vector<uint64_t> a, b, c;
  std::string scratch;
  const std::string wrap = "You are an expert. Solve the problem below and show every step of your reasoning, then "
                           "give the final answer on its own line. Problem: ";
  PromptShingles(wrap + "what is the capital of France", seed, a, scratch);
  PromptShingles(wrap + "how many legs does a spider have", seed, b, scratch);
  PromptShingles("tell me a joke about cats and dogs living together", seed, c, scratch);
  // The wrapper's shingles, as an exporter would keep them.
  std::vector<uint64_t> sketch;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(sketch));
  ASSERT_GE(sketch.size(), 8u);
  EXPECT_DOUBLE_EQ(Containment(sketch, b), 1.0);
  EXPECT_LT(Containment(sketch, c), 0.1);
}

// --- Bundle and guard ----------------------------------------------------------

std::vector<CampaignIntel> OneCampaign() {
  CampaignIntel c;
  c.local_id = "cmp-acct_000042";
  c.accounts = 12;
  c.exchanges = 3400;
  c.first_seen = ParseRfc3339("2026-02-01T00:00:00Z").value();
  c.last_seen = ParseRfc3339("2026-02-03T00:00:00Z").value();
  c.score = 0.97;
  Indicator i;
  i.kind = Kind::kSubnet;
  i.digest = Digest(kKey, Kind::kSubnet, "198.51.100.0/24");
  i.accounts = 9;
  i.exchanges = 1000;
  i.first_seen = c.first_seen;
  i.last_seen = c.last_seen;
  i.confidence = 90;
  c.indicators.push_back(i);
  Indicator t = i;
  t.kind = Kind::kTemplate;
  t.digest.clear();
  t.sketch = {1, 2, 3, 4, 5, 6, 7, 8, 0xfedcba9876543210ULL};
  c.indicators.push_back(t);
  return {c};
}

TEST(Bundle, BuildsDeterministicallyAndPassesTheGuard) {
  ExportOptions o;
  o.producer = "provider-a";
  const std::string b1 = BuildBundle(OneCampaign(), kKey, o);
  const std::string b2 = BuildBundle(OneCampaign(), kKey, o);
  EXPECT_EQ(b1, b2);
  RawValues raw{{"acct_000042", "cmp-acct_000042", "198.51.100.7", "example.com"}};
  const Status st = CheckBundle(b1, raw);
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(b1.find("acct_000042"), std::string::npos);
  EXPECT_NE(b1.find("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"), std::string::npos);
  EXPECT_NE(b1.find("AML.T0024.002"), std::string::npos);
}

TEST(Bundle, GuardRefusesRawValuesAndUnknownFields) {
  ExportOptions o;
  o.producer = "provider-a";
  const std::string good = BuildBundle(OneCampaign(), kKey, o);
  // The producer name is a raw value of the input: refused, naming the field.
  Status st = CheckBundle(good, RawValues{{"provider-a"}});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("raw input value"), std::string::npos) << st.message();
  // A field outside the allow-list.
  std::string extra = good;
  extra.insert(extra.find("\"pattern_type\""), "\"x_account\":\"acct_1\",");
  st = CheckBundle(extra, RawValues{});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("x_account"), std::string::npos) << st.message();
  // An e-mail address in free text.
  std::string mail = good;
  const size_t at = mail.find("Coordinated extraction");
  mail.replace(at, 11, "bob@corp.io");
  EXPECT_FALSE(CheckBundle(mail, RawValues{}).ok());
  // A raw address in a pattern.
  std::string pattern = good;
  const size_t p = pattern.find("hmac_sha256 = '") + 15;
  pattern.replace(p, 12, "198.51.100.7");
  EXPECT_FALSE(CheckBundle(pattern, RawValues{}).ok());
}

TEST(Bundle, RedIndicatorsNameTheirRecipient) {
  auto c = OneCampaign();
  c[0].indicators[0].tlp = Tlp::kRed;
  c[0].indicators[0].recipient = "provider-b";
  ExportOptions o;
  const std::string b = BuildBundle(c, kKey, o);
  EXPECT_TRUE(CheckBundle(b, RawValues{}).ok());
  EXPECT_NE(b.find("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"), std::string::npos);
  EXPECT_NE(b.find("\"recipient\":\"provider-b\""), std::string::npos);
}

// --- Matching and trust --------------------------------------------------------

TEST(Matcher, MatchesDigestsOfLocalTraffic) {
  ExportOptions o;
  o.producer = "provider-a";
  auto parsed = ParseIndicators(BuildBundle(OneCampaign(), kKey, o));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed.value().size(), 2u);
  EXPECT_EQ(parsed.value()[0].partner, "provider-a");
  IndicatorMatcher m({kKey}, parsed.value());
  Exchange x;
  x.account_id = "b_1";
  x.ip = "198.51.100.200";
  x.Set(Field::kIp);
  std::vector<IndicatorMatch> out;
  m.Match(x, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].partner, "provider-a");
  EXPECT_NEAR(out[0].confidence, 0.9, 1e-9);
  out.clear();
  x.ip = "198.51.101.1";
  m.Match(x, out);
  EXPECT_TRUE(out.empty());
  // Under a key the matcher does not hold, nothing can match.
  IndicatorMatcher other({KeyFromPassphrase("k9", "x")}, parsed.value());
  EXPECT_EQ(other.skipped_unknown_key(), 2u);
}

TEST(Matcher, TrustFallsWhenMatchesLookBenignLocally) {
  ExportOptions o;
  o.producer = "provider-a";
  auto parsed = ParseIndicators(BuildBundle(OneCampaign(), kKey, o));
  ASSERT_TRUE(parsed.ok());
  IndicatorMatcher m({kKey}, parsed.value());
  PartnerEvidenceSource src(m);
  Exchange x;
  x.ip = "198.51.100.9";
  x.Set(Field::kIp);
  score::ScoreResult clean;  // own score 0
  double first_weight = 0;
  for (int i = 0; i < 30; ++i) {
    x.account_id = "benign_" + std::to_string(i);
    src.Observe(x);
    const score::PartnerEvidence e = src.Evidence(x.account_id, clean, 50);
    if (i == 0) first_weight = e.weight;
    EXPECT_NE(e.detail.find("provider-a"), std::string::npos);
  }
  const auto trust = src.Trust();
  ASSERT_EQ(trust.size(), 1u);
  EXPECT_EQ(trust[0].contradicted, 30u);
  EXPECT_LT(trust[0].trust, 0.15);
  x.account_id = "benign_last";
  src.Observe(x);
  EXPECT_LT(src.Evidence(x.account_id, clean, 1).weight, first_weight / 4);
  // Sightings go back to the partner: one indicator seen by 31 accounts.
  const std::string s = src.SightingsBundle("provider-b");
  EXPECT_NE(s.find("\"count\":31"), std::string::npos);
}

TEST(Matcher, OnlyTheLatestVersionOfAnIndicatorCounts) {
  ExportOptions o;
  o.producer = "provider-a";
  auto older = OneCampaign();
  auto newer = OneCampaign();
  newer[0].modified_floor = newer[0].last_seen + kMicrosPerHour;
  newer[0].indicators[0].confidence = 40;
  // A pulled feed holds both versions, the newer first here: order must not matter.
  const std::string b_new = BuildBundle(newer, kKey, o), b_old = BuildBundle(older, kKey, o);
  const std::string feed = "{\"objects\":[" + b_new.substr(b_new.find('[') + 1, b_new.rfind(']') - b_new.find('[') - 1) +
                           "," + b_old.substr(b_old.find('[') + 1, b_old.rfind(']') - b_old.find('[') - 1) + "]}";
  auto parsed = ParseIndicators(feed);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed.value().size(), 2u);
  EXPECT_NEAR(parsed.value()[0].confidence, 0.4, 1e-9);
}

// Trust learned before a restart comes back from the saved state, and
// replaying the same exchanges after it (what serve's journal replay does)
// changes nothing.
TEST(Matcher, TrustStateSurvivesAReloadAndAReplay) {
  ExportOptions o;
  o.producer = "provider-a";
  auto parsed = ParseIndicators(BuildBundle(OneCampaign(), kKey, o));
  ASSERT_TRUE(parsed.ok());
  IndicatorMatcher m({kKey}, parsed.value());
  Exchange x;
  x.ip = "198.51.100.9";
  x.Set(Field::kIp);
  score::ScoreResult clean, bad;
  bad.score = 0.9;
  auto run = [&](PartnerEvidenceSource& src) {
    for (int i = 0; i < 12; ++i) {
      x.account_id = "acct_" + std::to_string(i);
      src.Observe(x);
      (void)src.Evidence(x.account_id, i < 3 ? bad : clean, 50);
    }
  };
  PartnerEvidenceSource before(m);
  run(before);
  const auto trust = before.Trust();
  ASSERT_EQ(trust.size(), 1u);
  EXPECT_EQ(trust[0].confirmed, 3u);
  EXPECT_EQ(trust[0].contradicted, 9u);
  const std::string state = before.SaveState();
  EXPECT_EQ(state.find("198.51.100"), std::string::npos);

  PartnerEvidenceSource after(m);
  ASSERT_TRUE(after.LoadState(state).ok());
  auto reloaded = after.Trust();
  ASSERT_EQ(reloaded.size(), 1u);
  EXPECT_EQ(reloaded[0].confirmed, 3u);
  EXPECT_EQ(reloaded[0].contradicted, 9u);
  EXPECT_DOUBLE_EQ(reloaded[0].trust, trust[0].trust);
  EXPECT_EQ(after.IndicatorTrust(), before.IndicatorTrust());
  run(after);  // the replay
  reloaded = after.Trust();
  EXPECT_EQ(reloaded[0].confirmed, 3u);
  EXPECT_EQ(reloaded[0].contradicted, 9u);
  EXPECT_EQ(after.SaveState(), state);
  // A fresh source without the state starts from the prior.
  PartnerEvidenceSource fresh(m);
  EXPECT_DOUBLE_EQ(fresh.Trust()[0].trust, 0.7);

  PartnerEvidenceSource broken(m);
  const Status st = broken.LoadState(R"({"version":1,"accounts":[{"account":"a","judged":"maybe","indicators":[]}]})");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("accounts[0]"), std::string::npos) << st.message();
}

// A match that comes after the account was judged carries the judgement too:
// the counts depend on what each account matched, not on the order, which
// is what lets SaveState rebuild them.
TEST(Matcher, ALaterMatchOfAJudgedAccountCountsToo) {
  auto campaigns = OneCampaign();
  Indicator ip = campaigns[0].indicators[0];
  ip.kind = Kind::kIp;
  ip.digest = Digest(kKey, Kind::kIp, "198.51.100.9");
  campaigns[0].indicators.push_back(ip);
  ExportOptions o;
  o.producer = "provider-a";
  auto parsed = ParseIndicators(BuildBundle(campaigns, kKey, o));
  ASSERT_TRUE(parsed.ok());
  IndicatorMatcher m({kKey}, parsed.value());
  PartnerEvidenceSource src(m);
  score::ScoreResult bad;
  bad.score = 0.9;
  Exchange x;
  x.account_id = "acct_1";
  x.ip = "198.51.100.200";  // the subnet only
  x.Set(Field::kIp);
  src.Observe(x);
  (void)src.Evidence(x.account_id, bad, 5);  // confirmed
  EXPECT_EQ(src.IndicatorTrust().size(), 1u);
  x.ip = "198.51.100.9";  // now the address too
  src.Observe(x);
  const auto trust = src.IndicatorTrust();
  ASSERT_EQ(trust.size(), 2u);
  for (const auto& [id, t] : trust) EXPECT_NEAR(t, (0.7 * 4 + 1) / 5, 1e-9) << id;
  EXPECT_EQ(src.Trust()[0].confirmed, 1u);  // one account, one partner: counted once
  PartnerEvidenceSource restored(m);
  ASSERT_TRUE(restored.LoadState(src.SaveState()).ok());
  EXPECT_EQ(restored.IndicatorTrust(), trust);
  EXPECT_EQ(restored.Trust()[0].confirmed, 1u);
}

// --- Live export ledger ----------------------------------------------------------

TEST(Ledger, RepublishesOnlyChangedCampaignsAsNewerVersions) {
  ExportOptions o;
  o.producer = "provider-a";
  auto campaigns = OneCampaign();
  CampaignIntel second = campaigns[0];
  second.local_id = "cmp-acct_000077";
  campaigns.push_back(second);
  PublishLedger ledger;
  auto first = ledger.Changed(campaigns, kKey, o);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].modified_floor, 0);
  ledger.Record(first, kKey, o);
  EXPECT_TRUE(ledger.Changed(campaigns, kKey, o).empty());

  // One campaign gains an account but no newer exchange: its content
  // changed, its data's last_seen did not. It alone is republished, newer.
  campaigns[1].indicators[0].accounts += 1;
  auto changed = ledger.Changed(campaigns, kKey, o);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].local_id, "cmp-acct_000077");
  EXPECT_GT(changed[0].modified_floor, campaigns[1].last_seen);
  const std::string b = BuildBundle(changed, kKey, o);
  EXPECT_TRUE(CheckBundle(b, RawValues{}).ok());
  EXPECT_EQ(b.find("\"modified\":\"2026-02-03T00:00:00.000Z\""), std::string::npos);  // nothing at the old version
  EXPECT_NE(b.find("\"modified\":\"2026-02-03T00:00:00.001Z\""), std::string::npos);
  ledger.Record(changed, kKey, o);

  PublishLedger reloaded;
  ASSERT_TRUE(reloaded.Load(ledger.Save()).ok());
  EXPECT_EQ(reloaded.size(), 2u);
  EXPECT_TRUE(reloaded.Changed(campaigns, kKey, o).empty());
  campaigns[1].indicators[0].accounts += 1;
  auto again = reloaded.Changed(campaigns, kKey, o);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_GT(again[0].modified_floor, changed[0].modified_floor);
  EXPECT_EQ(ledger.Save().find("acct_"), std::string::npos);
  EXPECT_FALSE(reloaded.Load("{\"version\":2}").ok());
}

TEST(Bundle, SummaryCountsWhatTheAuditRecords) {
  ExportOptions o;
  const std::string b = BuildBundle(OneCampaign(), kKey, o);
  auto s = SummarizeBundle(b);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s.value().sha256, Sha256Hex(b));
  EXPECT_EQ(s.value().bundle_id.rfind("bundle--", 0), 0u);
  EXPECT_EQ(s.value().objects.at("indicator"), 2u);
  EXPECT_EQ(s.value().indicators_by_kind.at("template"), 1u);
  EXPECT_EQ(KeyIdsJson(s.value()), "[\"k1\"]");
  EXPECT_NE(CountsJson(s.value()).find("\"indicators_by_kind\":{\"subnet\":1,\"template\":1}"), std::string::npos);
  EXPECT_FALSE(SummarizeBundle("not json").ok());
}

TEST(Score, PartnerEvidenceAloneNeverReachesExtraction) {
  score::DetectorConfig cfg;
  features::AccountState st;
  st.exchanges = 100;
  score::ScoreResult r;  // no own evidence
  score::ApplyPartnerEvidence(r, {1.0, "x"}, st, {}, cfg);
  EXPECT_LE(r.score, cfg.partner_cap);
  EXPECT_NE(r.verdict, score::Verdict::kExtraction);
  // With corroborating own evidence it may decide.
  score::ScoreResult own;
  own.score = 0.45;
  score::ApplyPartnerEvidence(own, {0.6, "x"}, st, {}, cfg);
  EXPECT_GE(own.score, cfg.extraction);
  EXPECT_EQ(own.verdict, score::Verdict::kExtraction);
}

// --- TAXII -------------------------------------------------------------------------

struct TaxiiFixture : ::testing::Test {
  std::string dir = ::testing::TempDir() + "/taxii_store";
  EventTime now = ParseRfc3339("2026-03-01T00:00:00Z").value();
  TaxiiConfig Config() {
    TaxiiConfig c;
    c.store_dir = dir;
    c.max_page = 50;
    c.partners = {{"a", "", "", "tok-a"}, {"b", "bee", "pw", ""}, {"c", "", "", "tok-c"}};
    TaxiiCollection col;
    col.id = "11111111-2222-4333-8444-555555555555";
    col.title = "shared";
    col.rights = {{"a", {true, true}}, {"b", {true, false}}};
    c.collections = {col};
    return c;
  }
  void SetUp() override {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
  }
  TaxiiRequest Req(std::string method, std::string path, std::string auth, std::string query = "", std::string body = "") {
    TaxiiRequest r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.query = ParseQuery(query);
    r.headers = {{"authorization", std::move(auth)}, {"accept", kTaxiiMediaType}};
    if (!body.empty()) r.headers.emplace_back("content-type", kTaxiiMediaType);
    r.body = std::move(body);
    return r;
  }
  static std::string Envelope(int from, int to, const char* modified = "2026-02-01T00:00:00.000Z") {
    std::string s = "{\"objects\":[";
    for (int i = from; i < to; ++i) {
      if (i > from) s += ",";
      s += "{\"type\":\"indicator\",\"spec_version\":\"2.1\",\"id\":\"indicator--00000000-0000-4000-8000-" +
           std::string(12 - std::to_string(i).size(), '0') + std::to_string(i) +
           "\",\"created\":\"2026-02-01T00:00:00.000Z\",\"modified\":\"" + modified + "\"}";
    }
    return s + "]}";
  }
};

TEST_F(TaxiiFixture, AuthRightsAndDiscovery) {
  auto s = TaxiiServer::Open(Config(), [&] { return now; });
  ASSERT_TRUE(s.ok());
  TaxiiServer& t = *s.value();
  EXPECT_EQ(t.Handle(Req("GET", "/taxii2/", "")).status, 401);
  EXPECT_EQ(t.Handle(Req("GET", "/taxii2/", "Bearer wrong")).status, 401);
  const TaxiiResponse d = t.Handle(Req("GET", "/taxii2/", "Basic " + Base64("bee:pw")));
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.Header("content-type"), kTaxiiMediaType);
  EXPECT_NE(d.body.find("/moat/"), std::string::npos);
  EXPECT_EQ(t.Handle(Req("GET", "/moat/", "Bearer tok-a")).status, 200);
  // c has no rights: the collection does not exist for it.
  EXPECT_EQ(t.Handle(Req("GET", "/moat/collections/", "Bearer tok-c")).body.find("shared"), std::string::npos);
  const std::string objects = "/moat/collections/11111111-2222-4333-8444-555555555555/objects/";
  EXPECT_EQ(t.Handle(Req("GET", objects, "Bearer tok-c")).status, 404);
  // b may read, not write.
  EXPECT_EQ(t.Handle(Req("POST", objects, "Basic " + Base64("bee:pw"), "", Envelope(0, 1))).status, 403);
  TaxiiRequest bad_type = Req("POST", objects, "Bearer tok-a", "", Envelope(0, 1));
  bad_type.headers.back().second = "application/json";
  EXPECT_EQ(t.Handle(bad_type).status, 415);
  TaxiiRequest bad_accept = Req("GET", objects, "Bearer tok-a");
  bad_accept.headers[1].second = "text/html";
  EXPECT_EQ(t.Handle(bad_accept).status, 406);
}

TEST_F(TaxiiFixture, AddPaginateFilterVersionsAndPersist) {
  const std::string col = "/moat/collections/11111111-2222-4333-8444-555555555555/";
  {
    auto s = TaxiiServer::Open(Config(), [&] { return now; });
    ASSERT_TRUE(s.ok());
    TaxiiServer& t = *s.value();
    const TaxiiResponse post = t.Handle(Req("POST", col + "objects/", "Bearer tok-a", "", Envelope(0, 7)));
    ASSERT_EQ(post.status, 202) << post.body;
    EXPECT_NE(post.body.find("\"success_count\":7"), std::string::npos);
    const std::string status_id = post.body.substr(post.body.find("\"id\":\"") + 6, 36);
    EXPECT_EQ(t.Handle(Req("GET", "/moat/status/" + status_id + "/", "Bearer tok-a")).status, 200);
    // A new version of object 3.
    now += kMicrosPerSecond;
    ASSERT_EQ(t.Handle(Req("POST", col + "objects/", "Bearer tok-a", "", Envelope(3, 4, "2026-02-02T00:00:00.000Z"))).status,
              202);
  }
  auto s = TaxiiServer::Open(Config(), [&] { return now; });  // reopened from the store
  ASSERT_TRUE(s.ok());
  TaxiiServer& t = *s.value();
  const std::string b = "Basic " + Base64("bee:pw");
  TaxiiResponse page = t.Handle(Req("GET", col + "objects/", b, "limit=3"));
  ASSERT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("\"more\":true"), std::string::npos);
  EXPECT_FALSE(page.Header("x-taxii-date-added-first").empty());
  const std::string last = std::string(page.Header("x-taxii-date-added-last"));
  // Resume after the first page by added_after: the rest (latest versions: 7 objects, 3 seen).
  TaxiiResponse rest = t.Handle(Req("GET", col + "objects/", b, "added_after=" + last));
  size_t n = 0;
  for (size_t p = rest.body.find("\"type\""); p != std::string::npos; p = rest.body.find("\"type\"", p + 1)) ++n;
  EXPECT_EQ(n, 4u);
  // next token pages the same query.
  const size_t nt = page.body.find("\"next\":\"") + 8;
  const std::string next = page.body.substr(nt, page.body.find('"', nt) - nt);
  EXPECT_EQ(t.Handle(Req("GET", col + "objects/", b, "limit=3&next=" + next)).status, 200);
  // Versions of object 3; match[version]=first gives the older one.
  const std::string id3 = "indicator--00000000-0000-4000-8000-000000000003";
  TaxiiResponse v = t.Handle(Req("GET", col + "objects/" + id3 + "/versions/", b));
  EXPECT_NE(v.body.find("2026-02-01T00:00:00.000Z"), std::string::npos);
  EXPECT_NE(v.body.find("2026-02-02T00:00:00.000Z"), std::string::npos);
  TaxiiResponse first = t.Handle(Req("GET", col + "objects/" + id3 + "/", b, "match[version]=first"));
  EXPECT_NE(first.body.find("2026-02-01T00:00:00.000Z"), std::string::npos);
  EXPECT_EQ(first.body.find("2026-02-02T00:00:00.000Z"), std::string::npos);
  EXPECT_EQ(t.Handle(Req("GET", col + "objects/indicator--00000000-0000-4000-8000-999999999999/", b)).status, 404);
  // match[type] and match[id], manifest.
  EXPECT_NE(t.Handle(Req("GET", col + "objects/", b, "match[type]=campaign")).body.find("\"objects\":[]"),
            std::string::npos);
  TaxiiResponse m = t.Handle(Req("GET", col + "manifest/", b, "match[id]=" + id3));
  EXPECT_NE(m.body.find("date_added"), std::string::npos);
  EXPECT_EQ(t.Handle(Req("GET", col + "objects/", b, "added_after=yesterday")).status, 400);
}

TEST_F(TaxiiFixture, PublishAddsAsTheOperatorOncePerVersion) {
  auto s = TaxiiServer::Open(Config(), [&] { return now; });
  ASSERT_TRUE(s.ok());
  TaxiiServer& t = *s.value();
  const std::string id = "11111111-2222-4333-8444-555555555555";
  auto added = t.Publish(id, Envelope(0, 3));
  ASSERT_TRUE(added.ok()) << added.status().message();
  EXPECT_EQ(added.value(), 3u);
  EXPECT_EQ(t.Publish(id, Envelope(0, 3)).value(), 0u);  // already held
  EXPECT_EQ(t.Publish(id, Envelope(2, 3, "2026-02-05T00:00:00.000Z")).value(), 1u);  // a new version
  // Partners read what was published.
  const TaxiiResponse r =
      t.Handle(Req("GET", "/moat/collections/" + id + "/objects/", "Basic " + Base64("bee:pw")));
  EXPECT_NE(r.body.find("indicator--00000000-0000-4000-8000-000000000002"), std::string::npos);
  auto unknown = t.Publish("99999999-2222-4333-8444-555555555555", Envelope(0, 1));
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("99999999"), std::string::npos);
  EXPECT_FALSE(t.Publish(id, "[]").ok());
}

TEST_F(TaxiiFixture, ClientRetriesThroughAnOutageAndResumes) {
  auto s = TaxiiServer::Open(Config(), [&] { return now; });
  ASSERT_TRUE(s.ok());
  TaxiiServer& t = *s.value();
  int calls = 0, outage = 2;
  Transport transport = [&](std::string_view method, std::string_view target, std::string_view body,
                            const HeaderList& headers) -> Result<HttpResult> {
    ++calls;
    if (outage > 0) {
      --outage;
      return Status::Error("connection refused");
    }
    TaxiiRequest r;
    r.method = std::string(method);
    const size_t q = target.find('?');
    r.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) r.query = ParseQuery(target.substr(q + 1));
    r.headers = headers;
    r.body = std::string(body);
    TaxiiResponse tr = t.Handle(r);
    return HttpResult{tr.status, tr.headers, tr.body};
  };
  std::vector<std::chrono::milliseconds> waits;
  TaxiiClientOptions o;
  o.collection = "11111111-2222-4333-8444-555555555555";
  o.authorization = "Bearer tok-a";
  o.page_limit = 4;
  o.sleep = [&](std::chrono::milliseconds d) { waits.push_back(d); };
  TaxiiClient client(transport, o);
  std::string bundle = Envelope(0, 10);
  bundle.insert(1, "\"type\":\"bundle\",\"id\":\"bundle--00000000-0000-4000-8000-000000000000\",");
  ASSERT_TRUE(client.Push(bundle).ok());
  ASSERT_EQ(waits.size(), 2u);
  EXPECT_EQ(waits[1], 2 * waits[0]);  // exponential backoff
  std::string added_last;
  size_t pages = 0;
  auto n = client.Pull("", [&](std::string_view objects, std::string_view last) {
    ++pages;
    added_last = std::string(last);
    return Status::Ok();
  });
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n.value(), 10u);
  EXPECT_EQ(pages, 3u);
  // Resuming from the last X-TAXII-Date-Added-Last gets only what is new.
  now += kMicrosPerSecond;
  ASSERT_TRUE(client.Push(Envelope(10, 12)).ok());
  auto more = client.Pull(added_last, [](std::string_view, std::string_view) { return Status::Ok(); });
  ASSERT_TRUE(more.ok());
  EXPECT_EQ(more.value(), 2u);
  // A partner that stays down: the client gives up with an error naming it.
  outage = 100;
  auto down = client.Pull(added_last, [](std::string_view, std::string_view) { return Status::Ok(); });
  ASSERT_FALSE(down.ok());
  EXPECT_NE(down.status().message().find("gave up"), std::string::npos);
  const std::string state = ::testing::TempDir() + "/pull_state.json";
  ASSERT_TRUE(WritePullState(state, added_last).ok());
  EXPECT_EQ(ReadPullState(state).value(), added_last);
}

}  // namespace
}  // namespace moat::intel
