#include "moat/eval/evaluate.h"

#include <gtest/gtest.h>
#include <simdjson.h>
#include <zstd.h>

#include <filesystem>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "eval_test_util.h"

namespace moat::eval {
namespace {

using evaltest::At;
using evaltest::T0;
using evaltest::TempDir;

std::string Ex(const std::string& account, int64_t seconds) {
  return R"({"ts":")" + At(seconds) + R"(","account_id":")" + account +
         R"(","prompt":"Explain step by step","input_tokens":12,"temperature":0.7,"asn":null})" + "\n";
}

// An exchange with a request_id: ingest drops a repeat inside the lateness window.
std::string ExId(const std::string& account, int64_t seconds, const std::string& request_id) {
  return R"({"ts":")" + At(seconds) + R"(","account_id":")" + account + R"(","request_id":")" + request_id +
         R"(","prompt":"p"})" + "\n";
}

std::string TruthLine(const std::string& account, const std::string& label, const std::string& population) {
  return R"({"account_id":")" + account + R"(","label":")" + label + R"(","population":")" + population +
         "\"}\n";
}

std::string VerdictLine(const std::string& account, const std::string& verdict,
                        std::optional<std::string> campaign = std::nullopt,
                        std::optional<int64_t> flagged_at = std::nullopt,
                        std::optional<int64_t> exchanges = std::nullopt) {
  std::string s = R"({"account_id":")" + account + R"(","verdict":")" + verdict + R"(","score":0.5,"campaign_id":)";
  s += campaign ? "\"" + *campaign + "\"" : "null";
  s += R"(,"first_flagged_ts":)";
  s += flagged_at ? "\"" + At(*flagged_at) + "\"" : "null";
  if (exchanges) s += R"(,"exchanges":)" + std::to_string(*exchanges);
  s += R"(,"reasons":[{"code":"x","weight":0.1,"detail":"d"}]})";
  return s + "\n";
}

std::string CampaignLine(const std::string& id, const std::vector<std::string>& accounts) {
  std::string s = R"({"campaign_id":")" + id + R"(","accounts":[)";
  for (size_t i = 0; i < accounts.size(); ++i) s += (i ? ",\"" : "\"") + accounts[i] + "\"";
  return s + R"(],"score":0.9,"signals":[]})" + "\n";
}

// The base world: campaign-a {a1, a2}, campaign-b {b1}; benign n1, n2
// (researcher) and n3 (student). 10 exchanges, 6 by extractors.
std::string BaseTruth() {
  return TruthLine("a1", "campaign-a", "extractor") + TruthLine("a2", "campaign-a", "extractor") +
         TruthLine("b1", "campaign-b", "extractor") + TruthLine("n1", "benign", "researcher") +
         TruthLine("n2", "benign", "researcher") + TruthLine("n3", "benign", "student");
}

std::string BaseLog() {
  return Ex("a1", 0) + Ex("a1", 60) + Ex("a1", 120) + Ex("n1", 180) + Ex("n2", 240) + Ex("a2", 300) +
         Ex("a2", 360) + Ex("n2", 420) + Ex("n3", 480) + Ex("b1", 600);
}

struct Files {
  std::string truth = BaseTruth();
  std::vector<std::string> logs = {BaseLog()};
  std::string accounts;
  std::string campaigns;
};

Result<EvalReport> RunEval(const TempDir& dir, const Files& f) {
  EvalInputs in;
  for (size_t i = 0; i < f.logs.size(); ++i) {
    in.logs.push_back(dir.Write("log" + std::to_string(i) + ".jsonl", f.logs[i]));
  }
  in.truth = dir.Write("truth.jsonl", f.truth);
  dir.Write("accounts.jsonl", f.accounts);
  dir.Write("campaigns.jsonl", f.campaigns);
  in.scan_dir = dir.path();
  return Evaluate(in);
}

EvalReport MustRun(const TempDir& dir, const Files& f) {
  auto r = RunEval(dir, f);
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? std::move(r).value() : EvalReport{};
}

void ExpectRatio(const Ratio& r, uint64_t count, uint64_t total) {
  EXPECT_EQ(r.count, count);
  EXPECT_EQ(r.total, total);
}

const CampaignEval& Campaign(const EvalReport& r, const std::string& label) {
  for (const auto& c : r.campaigns) {
    if (c.label == label) return c;
  }
  ADD_FAILURE() << "no campaign " << label;
  static const CampaignEval kNone;
  return kNone;
}

Files PerfectDetector() {
  Files f;
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0, 3) + VerdictLine("a2", "extraction", "cmp-1", 300, 2) +
               VerdictLine("b1", "extraction", "cmp-2", 600, 1) + VerdictLine("n1", "benign", {}, {}, 1) +
               VerdictLine("n2", "benign", {}, {}, 2) + VerdictLine("n3", "benign", {}, {}, 1);
  f.campaigns = CampaignLine("cmp-1", {"a1", "a2"}) + CampaignLine("cmp-2", {"b1"});
  return f;
}

TEST(Evaluate, PerfectDetector) {
  TempDir dir;
  const EvalReport r = MustRun(dir, PerfectDetector());
  EXPECT_EQ(r.truth_accounts, 6u);
  EXPECT_EQ(r.extractor_accounts, 3u);
  EXPECT_EQ(r.benign_accounts, 3u);
  EXPECT_EQ(r.true_campaigns, 2u);
  EXPECT_EQ(r.exchanges, 10u);
  EXPECT_EQ(r.extractor_exchanges, 6u);
  ExpectRatio(r.recall, 3, 3);
  EXPECT_DOUBLE_EQ(*r.recall.rate(), 1.0);
  ExpectRatio(r.false_positive_rate, 0, 3);
  ExpectRatio(r.review_load, 0, 3);
  ExpectRatio(r.extractor_suspicious, 0, 3);
  ExpectRatio(r.leakage, 0, 6);  // every flag at the account's first exchange
  EXPECT_EQ(r.campaigns_meeting_grouping_target, 2u);

  EXPECT_EQ(r.scan.accounts, 6u);
  EXPECT_EQ(r.scan.verdict_extraction, 3u);
  EXPECT_EQ(r.scan.verdict_benign, 3u);
  EXPECT_EQ(r.scan.truth_accounts_missing_from_scan, 0u);
  EXPECT_EQ(r.scan.scan_accounts_missing_from_truth, 0u);
  EXPECT_EQ(r.scan.exchange_count_mismatches, 0u);
  EXPECT_EQ(r.scan.campaign_membership_mismatches, 0u);
  EXPECT_EQ(r.scan.extraction_without_first_flagged_ts, 0u);

  EXPECT_EQ(r.log.files, 1u);
  EXPECT_EQ(r.log.lines, 10u);
  EXPECT_EQ(r.log.bad_lines, 0u);
  EXPECT_EQ(r.log.exchanges, 10u);
  EXPECT_EQ(r.log.accounts, 6u);
  EXPECT_EQ(*r.log.first_ts, T0());
  EXPECT_EQ(*r.log.last_ts, T0() + 600 * kMicrosPerSecond);

  ASSERT_EQ(r.campaigns.size(), 2u);
  const CampaignEval& a = r.campaigns[0];
  EXPECT_EQ(a.label, "campaign-a");
  EXPECT_EQ(a.accounts, 2u);
  EXPECT_EQ(a.exchanges, 5u);
  ExpectRatio(a.recall, 2, 2);
  ExpectRatio(a.leakage, 0, 5);
  EXPECT_DOUBLE_EQ(*a.median_time_to_flag_s, 0.0);
  EXPECT_EQ(a.time_to_flag_accounts, 2u);
  EXPECT_EQ(*a.first_exchange_ts, T0());
  EXPECT_EQ(*a.first_flagged_ts, T0());
  EXPECT_DOUBLE_EQ(*a.time_to_first_flag_s, 0.0);
  EXPECT_EQ(a.distinct_campaign_ids, 1u);
  EXPECT_EQ(a.largest_campaign_id, "cmp-1");
  ExpectRatio(a.largest_campaign_id_share, 2, 2);
  EXPECT_TRUE(a.grouping_target_met);
  EXPECT_EQ(a.unlinked_accounts, 0u);
  const CampaignEval& b = r.campaigns[1];
  EXPECT_EQ(b.label, "campaign-b");
  EXPECT_EQ(b.exchanges, 1u);
  EXPECT_EQ(*b.first_exchange_ts, T0() + 600 * kMicrosPerSecond);
  EXPECT_EQ(b.largest_campaign_id, "cmp-2");

  EXPECT_EQ(r.predicted_campaigns, 2u);
  EXPECT_EQ(r.predicted_campaigns_with_benign, 0u);
  EXPECT_EQ(r.benign_accounts_in_predicted_campaigns, 0u);
  ASSERT_EQ(r.predicted.size(), 2u);
  EXPECT_EQ(r.predicted[0].campaign_id, "cmp-1");
  EXPECT_EQ(r.predicted[0].accounts, 2u);
  EXPECT_EQ(r.predicted[0].dominant_label, "campaign-a");
  EXPECT_DOUBLE_EQ(*r.predicted[0].benign_share(), 0.0);

  ASSERT_EQ(r.populations.size(), 2u);
  EXPECT_EQ(r.populations[0].population, "researcher");
  EXPECT_EQ(r.populations[0].accounts, 2u);
  ExpectRatio(r.populations[0].false_positives, 0, 2);
  EXPECT_EQ(r.populations[1].population, "student");
  ExpectRatio(r.populations[1].review, 0, 1);
}

TEST(Evaluate, NoDetectorLeaksEverything) {
  TempDir dir;
  Files f;
  for (const char* id : {"a1", "a2", "b1", "n1", "n2", "n3"}) f.accounts += VerdictLine(id, "benign");
  const EvalReport r = MustRun(dir, f);
  ExpectRatio(r.recall, 0, 3);
  EXPECT_DOUBLE_EQ(*r.recall.rate(), 0.0);
  ExpectRatio(r.leakage, 6, 6);
  EXPECT_DOUBLE_EQ(*r.leakage.rate(), 1.0);
  ExpectRatio(r.false_positive_rate, 0, 3);
  EXPECT_EQ(r.predicted_campaigns, 0u);
  EXPECT_EQ(r.campaigns_meeting_grouping_target, 0u);
  const CampaignEval& a = Campaign(r, "campaign-a");
  ExpectRatio(a.leakage, 5, 5);
  EXPECT_FALSE(a.median_time_to_flag_s.has_value());
  EXPECT_FALSE(a.first_flagged_ts.has_value());
  EXPECT_FALSE(a.time_to_first_flag_s.has_value());
  EXPECT_EQ(a.distinct_campaign_ids, 0u);
  EXPECT_EQ(a.largest_campaign_id, "");
  ExpectRatio(a.largest_campaign_id_share, 0, 2);
  EXPECT_FALSE(a.grouping_target_met);
  EXPECT_EQ(a.unlinked_accounts, 2u);
}

// a1 flagged 90 s in (after 2 of its 3 exchanges), a2 flagged after both of
// its exchanges, a3 only suspicious, b1 flagged exactly at its exchange (not
// leaked: the measure counts ts strictly before the flag). n2 suspicious,
// n3 a false positive. The log is out of order.
Files Partial() {
  Files f;
  f.truth += TruthLine("a3", "campaign-a", "extractor");
  f.logs = {Ex("a1", 120) + Ex("n1", 180) + Ex("a1", 0) + Ex("n2", 240) + Ex("a2", 300) + Ex("a1", 60) +
            Ex("a2", 360) + Ex("n2", 420) + Ex("n3", 480) + Ex("b1", 600) + Ex("a3", 660) + Ex("a3", 720)};
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 90) + VerdictLine("a2", "extraction", "cmp-1", 420) +
               VerdictLine("a3", "suspicious") + VerdictLine("b1", "extraction", "cmp-2", 600) +
               VerdictLine("n1", "benign") + VerdictLine("n2", "suspicious") +
               VerdictLine("n3", "extraction", {}, 500);
  f.campaigns = CampaignLine("cmp-1", {"a1", "a2"}) + CampaignLine("cmp-2", {"b1"});
  return f;
}

TEST(Evaluate, PartialDetectorLeakageIsExact) {
  TempDir dir;
  const EvalReport r = MustRun(dir, Partial());
  EXPECT_EQ(r.extractor_accounts, 4u);
  EXPECT_EQ(r.extractor_exchanges, 8u);
  ExpectRatio(r.recall, 3, 4);
  ExpectRatio(r.extractor_suspicious, 1, 4);
  ExpectRatio(r.leakage, 2 + 2 + 2 + 0, 8);
  EXPECT_DOUBLE_EQ(*r.leakage.rate(), 0.75);
  ExpectRatio(r.false_positive_rate, 1, 3);
  ExpectRatio(r.review_load, 1, 3);

  const CampaignEval& a = Campaign(r, "campaign-a");
  EXPECT_EQ(a.accounts, 3u);
  EXPECT_EQ(a.exchanges, 7u);
  ExpectRatio(a.recall, 2, 3);
  EXPECT_EQ(a.suspicious_accounts, 1u);
  ExpectRatio(a.leakage, 6, 7);
  EXPECT_EQ(a.time_to_flag_accounts, 2u);
  EXPECT_DOUBLE_EQ(*a.median_time_to_flag_s, (90.0 + 120.0) / 2);  // a1: 90 s, a2: 420 - 300
  EXPECT_EQ(*a.first_exchange_ts, T0());
  EXPECT_EQ(*a.first_flagged_ts, T0() + 90 * kMicrosPerSecond);
  EXPECT_DOUBLE_EQ(*a.time_to_first_flag_s, 90.0);
  EXPECT_EQ(a.distinct_campaign_ids, 1u);
  ExpectRatio(a.largest_campaign_id_share, 2, 3);
  EXPECT_FALSE(a.grouping_target_met);
  EXPECT_EQ(a.unlinked_accounts, 1u);

  const CampaignEval& b = Campaign(r, "campaign-b");
  ExpectRatio(b.leakage, 0, 1);
  EXPECT_DOUBLE_EQ(*b.median_time_to_flag_s, 0.0);

  ASSERT_EQ(r.populations.size(), 2u);
  ExpectRatio(r.populations[0].false_positives, 0, 2);  // researcher
  ExpectRatio(r.populations[0].review, 1, 2);
  ExpectRatio(r.populations[1].false_positives, 1, 1);  // student
  ExpectRatio(r.populations[1].review, 0, 1);
  EXPECT_EQ(*r.log.first_ts, T0());
  EXPECT_EQ(*r.log.last_ts, T0() + 720 * kMicrosPerSecond);
}

TEST(Evaluate, ExtractionWithoutFlagTimeLeaksEverythingAndIsReported) {
  TempDir dir;
  Files f = PerfectDetector();
  f.accounts = VerdictLine("a1", "extraction", "cmp-1") + VerdictLine("a2", "extraction", "cmp-1", 300) +
               VerdictLine("b1", "suspicious", "cmp-2", 600) + VerdictLine("n1", "benign") +
               VerdictLine("n2", "benign") + VerdictLine("n3", "benign");
  const EvalReport r = MustRun(dir, f);
  EXPECT_EQ(r.scan.extraction_without_first_flagged_ts, 1u);
  EXPECT_EQ(r.scan.first_flagged_ts_without_extraction, 1u);
  ExpectRatio(r.recall, 2, 3);
  ExpectRatio(r.leakage, 3, 6);  // all of a1's; b1's flag time still counts for leakage
  const CampaignEval& a = Campaign(r, "campaign-a");
  EXPECT_EQ(a.time_to_flag_accounts, 1u);  // only a2 has a flag time
}

TEST(Evaluate, BenignAccountInsidePredictedCampaign) {
  TempDir dir;
  Files f = PerfectDetector();
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0) + VerdictLine("a2", "extraction", "cmp-1", 300) +
               VerdictLine("b1", "extraction", "cmp-2", 600) + VerdictLine("n1", "suspicious", "cmp-1") +
               VerdictLine("n2", "benign") + VerdictLine("n3", "benign");
  f.campaigns = CampaignLine("cmp-1", {"a1", "a2", "n1"}) + CampaignLine("cmp-2", {"b1"});
  const EvalReport r = MustRun(dir, f);
  EXPECT_EQ(r.predicted_campaigns, 2u);
  EXPECT_EQ(r.predicted_campaigns_with_benign, 1u);
  EXPECT_EQ(r.benign_accounts_in_predicted_campaigns, 1u);
  ASSERT_EQ(r.predicted.size(), 2u);
  const PredictedCampaignEval& p = r.predicted[0];
  EXPECT_EQ(p.campaign_id, "cmp-1");
  EXPECT_EQ(p.accounts, 3u);
  EXPECT_EQ(p.benign_accounts, 1u);
  EXPECT_DOUBLE_EQ(*p.benign_share(), 1.0 / 3.0);
  EXPECT_EQ(p.dominant_label, "campaign-a");
  EXPECT_EQ(p.dominant_label_accounts, 2u);
  EXPECT_EQ(r.predicted[1].benign_accounts, 0u);
  ExpectRatio(r.review_load, 1, 3);
  // Benign accounts do not count toward a true campaign's grouping.
  ExpectRatio(Campaign(r, "campaign-a").largest_campaign_id_share, 2, 2);
}

TEST(Evaluate, CampaignSplitAcrossIds) {
  TempDir dir;
  Files f = PerfectDetector();
  // campaign-c: ten accounts, nine in cmp-3 and one in cmp-4: exactly 90%.
  std::vector<std::string> c3;
  for (int i = 0; i < 10; ++i) {
    std::string id = "c";
    id += std::to_string(i);
    f.truth += TruthLine(id, "campaign-c", "extractor");
    f.logs[0] += Ex(id, 700 + i);
    f.accounts += VerdictLine(id, "extraction", i < 9 ? "cmp-3" : "cmp-4", 700 + i);
    if (i < 9) c3.push_back(id);
  }
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0) + VerdictLine("a2", "extraction", "cmp-9", 300) +
               f.accounts.substr(f.accounts.find("{\"account_id\":\"b1\""));
  f.campaigns = CampaignLine("cmp-1", {"a1"}) + CampaignLine("cmp-9", {"a2"}) + CampaignLine("cmp-2", {"b1"}) +
                CampaignLine("cmp-3", c3) + CampaignLine("cmp-4", {"c9"});
  const EvalReport r = MustRun(dir, f);
  const CampaignEval& a = Campaign(r, "campaign-a");
  EXPECT_EQ(a.distinct_campaign_ids, 2u);
  EXPECT_EQ(a.largest_campaign_id, "cmp-1");  // tie broken by name
  ExpectRatio(a.largest_campaign_id_share, 1, 2);
  EXPECT_FALSE(a.grouping_target_met);
  const CampaignEval& c = Campaign(r, "campaign-c");
  EXPECT_EQ(c.distinct_campaign_ids, 2u);
  EXPECT_EQ(c.largest_campaign_id, "cmp-3");
  ExpectRatio(c.largest_campaign_id_share, 9, 10);
  EXPECT_TRUE(c.grouping_target_met);
  EXPECT_DOUBLE_EQ(*c.median_time_to_flag_s, 0.0);
  EXPECT_EQ(r.campaigns_meeting_grouping_target, 2u);  // b and c
  EXPECT_EQ(r.predicted_campaigns, 5u);
  EXPECT_EQ(r.scan.campaign_membership_mismatches, 0u);
}

TEST(Evaluate, MissingAndUnknownAccountsAreReported) {
  TempDir dir;
  Files f = PerfectDetector();
  // a2 and n3 missing from the scan; x9 only in the scan; zz only in the log.
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0, 3) + VerdictLine("b1", "extraction", "cmp-2", 600, 1) +
               VerdictLine("n1", "benign", {}, {}, 1) + VerdictLine("n2", "benign", {}, {}, 5) +
               VerdictLine("x9", "extraction", "cmp-1", 0);
  f.campaigns = CampaignLine("cmp-1", {"a1", "a2", "x9"}) + CampaignLine("cmp-2", {"b1"});
  f.logs[0] += Ex("zz", 30);
  const EvalReport r = MustRun(dir, f);
  EXPECT_EQ(r.scan.truth_accounts_missing_from_scan, 2u);
  EXPECT_EQ(r.scan.truth_extractors_missing_from_scan, 1u);
  EXPECT_EQ(r.scan.truth_benign_missing_from_scan, 1u);
  EXPECT_EQ(r.scan.scan_accounts_missing_from_truth, 1u);
  EXPECT_EQ(r.scan.exchange_count_mismatches, 1u);          // n2 says 5, the log has 2
  EXPECT_EQ(r.scan.campaign_membership_mismatches, 1u);     // cmp-1 lists a2
  EXPECT_EQ(r.log.accounts, 7u);
  EXPECT_EQ(r.log.accounts_missing_from_truth, 1u);
  EXPECT_EQ(r.log.exchanges_missing_from_truth, 1u);
  EXPECT_EQ(r.log.accounts_missing_from_scan, 3u);  // a2, n3, zz
  EXPECT_EQ(r.exchanges, 10u);                      // truth accounts only
  ExpectRatio(r.recall, 2, 3);
  ExpectRatio(r.leakage, 2, 6);  // a2 never flagged
  const CampaignEval& a = Campaign(r, "campaign-a");
  EXPECT_EQ(a.accounts_missing_from_scan, 1u);
  EXPECT_EQ(a.unlinked_accounts, 0u);
  ExpectRatio(a.largest_campaign_id_share, 1, 2);
  ASSERT_EQ(r.predicted.size(), 2u);
  EXPECT_EQ(r.predicted[0].accounts, 2u);  // a1 and x9, from accounts.jsonl
  EXPECT_EQ(r.predicted[0].unknown_accounts, 1u);
}

TEST(Evaluate, MalformedAccountsLineNamesFileAndLine) {
  TempDir dir;
  Files f = PerfectDetector();
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0) + "{\"account_id\": \"a2\", \"verdict\": \n";
  auto r = RunEval(dir, f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.path() + "/accounts.jsonl:2:"), std::string::npos)
      << r.status().message();
}

TEST(Evaluate, StrictVerdictFileErrors) {
  const struct {
    std::string accounts;
    std::string expect;
  } cases[] = {
      {VerdictLine("a1", "flagged"), "accounts.jsonl:1: unknown verdict \"flagged\""},
      {"[1,2]\n", "accounts.jsonl:1: not a JSON object"},
      {R"({"verdict":"benign"})" "\n", "accounts.jsonl:1: missing \"account_id\""},
      {R"({"account_id":"a1","verdict":"benign","first_flagged_ts":"yesterday"})" "\n",
       "accounts.jsonl:1: \"first_flagged_ts\" is not RFC 3339"},
      {R"({"account_id":"a1","verdict":"benign","campaign_id":7})" "\n",
       "accounts.jsonl:1: \"campaign_id\" is neither a string nor null"},
      {VerdictLine("a1", "benign") + "\n  \n" + VerdictLine("a1", "benign"),
       "accounts.jsonl:4: account \"a1\" appears twice"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    Files f = PerfectDetector();
    f.accounts = c.accounts;
    auto r = RunEval(dir, f);
    ASSERT_FALSE(r.ok()) << c.expect;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
  }
  TempDir dir;
  Files f = PerfectDetector();
  f.campaigns = R"({"campaign_id":"cmp-1","accounts":"a1"})" "\n";
  auto r = RunEval(dir, f);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("campaigns.jsonl:1: \"accounts\" is not an array"), std::string::npos)
      << r.status().message();
}

TEST(Evaluate, MissingFilesAreNamed) {
  TempDir dir;
  EvalInputs in;
  in.logs = {dir.Write("log.jsonl", BaseLog())};
  in.truth = dir.Write("truth.jsonl", BaseTruth());
  in.scan_dir = dir.path();
  auto r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.path() + "/accounts.jsonl"), std::string::npos) << r.status().message();
  dir.Write("accounts.jsonl", PerfectDetector().accounts);
  r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(dir.path() + "/campaigns.jsonl"), std::string::npos) << r.status().message();
  dir.Write("campaigns.jsonl", "");
  in.logs.push_back(dir.path() + "/nope.jsonl.gz");
  r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nope.jsonl.gz"), std::string::npos) << r.status().message();
  in.logs.pop_back();
  in.truth = dir.path() + "/no-truth.jsonl";
  r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no-truth.jsonl"), std::string::npos) << r.status().message();
}

TEST(Evaluate, GzipAndZstdLogsAndBadLines) {
  TempDir dir;
  const Files f = PerfectDetector();
  // The base log split over three files: gzip, zstd and plain with bad lines.
  const std::string log = BaseLog();
  const size_t cut1 = log.find("{\"ts\":\"" + At(240));
  const size_t cut2 = log.find("{\"ts\":\"" + At(480));
  const std::string part2 = log.substr(cut1, cut2 - cut1);
  std::string zst(ZSTD_compressBound(part2.size()), '\0');
  zst.resize(ZSTD_compress(zst.data(), zst.size(), part2.data(), part2.size(), 3));
  const std::string bad =
      "not json\n" + std::string(R"({"ts":5,"account_id":"a1"})") + "\n" +
      R"({"ts":")" + At(1) + R"(","account_id":"a1","asn":"AS1"})" + "\n" + R"({"ts":")" + At(1) + R"("})" +
      "\n" + R"({"ts":"2026-13-01T00:00:00Z","account_id":"a1"})" + "\n\n";
  EvalInputs in;
  in.logs = {dir.WriteGz("l1.jsonl.gz", log.substr(0, cut1)), dir.Write("l2.jsonl.zst", zst),
             dir.Write("l3.jsonl", bad + log.substr(cut2))};
  in.truth = dir.Write("truth.jsonl", f.truth);
  dir.Write("accounts.jsonl", f.accounts);
  dir.Write("campaigns.jsonl", f.campaigns);
  in.scan_dir = dir.path();
  auto result = Evaluate(in);
  ASSERT_TRUE(result.ok()) << result.status().message();
  const EvalReport& r = result.value();
  EXPECT_EQ(r.log.files, 3u);
  EXPECT_EQ(r.log.lines, 16u);
  EXPECT_EQ(r.log.bad_lines, 6u);
  EXPECT_EQ(r.log.exchanges, 10u);
  // Classified by ingest, as the scan classifies them.
  const std::vector<std::pair<std::string, uint64_t>> expect_reasons = {
      {"empty_line", 1}, {"invalid_json", 1}, {"missing_account_id", 1}, {"bad_timestamp", 1}, {"wrong_type", 2}};
  std::vector<std::pair<std::string, uint64_t>> reasons;
  for (const BadLineCount& b : r.log.bad_lines_by_reason) reasons.emplace_back(b.reason, b.count);
  EXPECT_EQ(reasons, expect_reasons);
  EXPECT_NE(FormatTable(r).find("      wrong_type: 2\n"), std::string::npos) << FormatTable(r);
  ExpectRatio(r.recall, 3, 3);
  ExpectRatio(r.leakage, 0, 6);
  EXPECT_EQ(r.scan.exchange_count_mismatches, 0u);
  EXPECT_EQ(*r.log.last_ts, T0() + 600 * kMicrosPerSecond);
}

TEST(Evaluate, JsonIsOneObjectWithStableKeys) {
  TempDir dir;
  const EvalReport r = MustRun(dir, Partial());
  const std::string json = ToJson(r);
  EXPECT_EQ(json.find('\n'), std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(doc["recall"]["count"].get_uint64().value(), 3u);
  EXPECT_EQ(doc["recall"]["total"].get_uint64().value(), 4u);
  EXPECT_DOUBLE_EQ(doc["leakage"]["rate"].get_double().value(), 0.75);
  EXPECT_DOUBLE_EQ(doc["false_positive_rate"]["rate"].get_double().value(), 0.333333333);
  EXPECT_EQ(doc["counts"]["extractor_exchanges"].get_uint64().value(), 8u);
  EXPECT_EQ(doc["log"]["first_ts"].get_string().value(), "2026-02-01T00:00:00.000Z");
  simdjson::dom::array campaigns = doc["campaigns"].get_array();
  ASSERT_EQ(campaigns.size(), 2u);
  EXPECT_EQ(campaigns.at(0)["label"].get_string().value(), "campaign-a");
  EXPECT_DOUBLE_EQ(campaigns.at(0)["median_time_to_flag_s"].get_double().value(), 105.0);
  EXPECT_EQ(campaigns.at(0)["largest_campaign_id"].get_string().value(), "cmp-1");
  EXPECT_FALSE(campaigns.at(0)["grouping_target_met"].get_bool().value());
  EXPECT_TRUE(campaigns.at(1)["first_flagged_ts"].is_string());
  simdjson::dom::array pops = doc["populations"].get_array();
  ASSERT_EQ(pops.size(), 2u);
  EXPECT_EQ(pops.at(1)["population"].get_string().value(), "student");
  EXPECT_EQ(pops.at(1)["false_positives"]["count"].get_uint64().value(), 1u);
  EXPECT_EQ(doc["predicted_campaigns"].get_array().size(), 2u);
  EXPECT_EQ(doc["log"]["bad_lines_by_reason"].get_object().size(), 0u);
  EXPECT_EQ(doc["log"]["duplicates"].get_uint64().value(), 0u);

  // n/a rates are null, not NaN.
  TempDir empty_dir;
  Files f;
  f.truth = TruthLine("a1", "campaign-a", "extractor");
  f.logs = {Ex("a1", 0)};
  f.accounts = VerdictLine("a1", "benign");
  const std::string json2 = ToJson(MustRun(empty_dir, f));
  ASSERT_EQ(parser.parse(json2).get(doc), simdjson::SUCCESS) << json2;
  EXPECT_TRUE(doc["false_positive_rate"]["rate"].is_null());
}

TEST(Evaluate, TableShowsHeadlineCampaignsAndPopulations) {
  TempDir dir;
  Files f = Partial();
  f.accounts += VerdictLine("zz", "benign");  // a scan-only account: a contract warning
  const std::string table = FormatTable(MustRun(dir, f));
  std::printf("%s", table.c_str());
  // The headline line of `label` holds `value`.
  const auto headline = [&](const std::string& label) {
    const size_t at = table.find("\n  " + label + " ");
    return at == std::string::npos ? std::string() : table.substr(at + 1, table.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(headline("recall").find(" 0.7500  (3/4) "), std::string::npos) << headline("recall");
  EXPECT_NE(headline("false-positive rate").find(" 0.3333  (1/3) "), std::string::npos);
  EXPECT_NE(headline("review load").find(" 0.3333  (1/3) "), std::string::npos);
  EXPECT_NE(headline("leakage").find(" 0.7500  (6/8) "), std::string::npos);
  EXPECT_NE(headline("extractors suspicious").find(" 0.2500  (1/4) "), std::string::npos);
  EXPECT_NE(table.find("! 1 scan accounts missing from truth"), std::string::npos);
  EXPECT_NE(table.find("campaign-a"), std::string::npos);
  EXPECT_NE(table.find("1m45s"), std::string::npos);  // median time to flag, 105 s
  EXPECT_NE(table.find("student"), std::string::npos);
}

// The scan counts an exchange once however often its line repeats (same
// request_id within the lateness window); eval must count the same, or every
// duplicated account would show as an exchange-count mismatch.
TEST(Evaluate, DuplicatedRequestIdCountsOnce) {
  TempDir dir;
  Files f = PerfectDetector();
  // a1's exchange at 60 s logged three times (a retry in the same file and a
  // copy in another), n2's at 700 s twice. r-3 is used again only after n3's
  // exchange at 1850 s has moved the window past its first use: a new exchange.
  const std::string base = BaseLog();
  f.logs = {Ex("a1", 0) + ExId("a1", 60, "r-1") + ExId("a1", 60, "r-1") +
                base.substr(base.find("{\"ts\":\"" + At(120))) + ExId("n2", 700, "r-2") +
                ExId("n3", 1500, "r-3") + Ex("n3", 1850),
            ExId("a1", 60, "r-1") + ExId("n2", 700, "r-2") + ExId("a1", 1920, "r-3")};
  f.accounts = VerdictLine("a1", "extraction", "cmp-1", 0, 4) + VerdictLine("a2", "extraction", "cmp-1", 300, 2) +
               VerdictLine("b1", "extraction", "cmp-2", 600, 1) + VerdictLine("n1", "benign", {}, {}, 1) +
               VerdictLine("n2", "benign", {}, {}, 3) + VerdictLine("n3", "benign", {}, {}, 3);
  const EvalReport r = MustRun(dir, f);
  EXPECT_EQ(r.log.files, 2u);
  EXPECT_EQ(r.log.lines, 17u);
  EXPECT_EQ(r.log.bad_lines, 0u);
  EXPECT_EQ(r.log.duplicates, 3u);  // r-1 twice, r-2 once
  EXPECT_EQ(r.log.exchanges, 14u);
  EXPECT_EQ(r.exchanges, 14u);
  EXPECT_EQ(r.extractor_exchanges, 7u);  // a1: 0, 60, 120, 1920; a2: 2; b1: 1
  EXPECT_EQ(Campaign(r, "campaign-a").exchanges, 6u);
  ExpectRatio(r.leakage, 0, 7);
  EXPECT_EQ(r.scan.exchange_count_mismatches, 0u);
  EXPECT_EQ(*r.log.last_ts, T0() + 1920 * kMicrosPerSecond);
  EXPECT_NE(FormatTable(r).find("duplicates 3)"), std::string::npos);
}

// The scan's own lateness decides what is a duplicate: with a zero window the
// later copy is no longer recognised, exactly as in a scan run that way.
TEST(Evaluate, LatenessWindowComesFromTheInputs) {
  TempDir dir;
  Files f = PerfectDetector();
  f.logs = {BaseLog() + ExId("n1", 900, "r-1") + ExId("n1", 1000, "r-1")};
  EvalInputs in;
  in.logs = {dir.Write("log.jsonl", f.logs[0])};
  in.truth = dir.Write("truth.jsonl", f.truth);
  dir.Write("accounts.jsonl", f.accounts);
  dir.Write("campaigns.jsonl", f.campaigns);
  in.scan_dir = dir.path();
  auto r = Evaluate(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().log.duplicates, 1u);
  EXPECT_EQ(r.value().log.exchanges, 11u);
  in.ingest.allowed_lateness = 0;
  r = Evaluate(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().log.duplicates, 0u);
  EXPECT_EQ(r.value().log.exchanges, 12u);
}

TEST(Evaluate, TruncatedGzipLogIsAnErrorNamingIt) {
  TempDir dir;
  const Files f = PerfectDetector();
  std::string text = BaseLog();
  for (int i = 0; i < 50000; ++i) text += Ex("n1", 700 + i);
  const std::string gz = dir.WriteGz("big.jsonl.gz", text);
  std::filesystem::resize_file(gz, std::filesystem::file_size(gz) / 2);
  EvalInputs in;
  in.logs = {gz};
  in.truth = dir.Write("truth.jsonl", f.truth);
  dir.Write("accounts.jsonl", f.accounts);
  dir.Write("campaigns.jsonl", f.campaigns);
  in.scan_dir = dir.path();
  auto r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("big.jsonl.gz"), std::string::npos) << r.status().message();
}

// Truth and verdict files are read by ingest's LineSource: compression by
// magic bytes, CRLF, a last line without newline, blank lines skipped but
// counted in line numbers, lines far longer than one read block.
TEST(Evaluate, TruthAndScanFilesAnyLineEndingOrCompression) {
  TempDir dir;
  Files f = PerfectDetector();
  const std::string big(3 << 20, 'x');
  std::string truth = f.truth + R"({"account_id":"zz","label":"benign","population":")" + big + "\"}\n";
  std::string accounts = f.accounts;
  for (size_t at = 0; (at = accounts.find('\n', at)) != std::string::npos; at += 2) accounts.replace(at, 1, "\r\n");
  accounts = "\r\n" + accounts.substr(0, accounts.size() - 2);  // blank first line, no final newline
  EvalInputs in;
  in.logs = {dir.Write("log.jsonl", BaseLog())};
  in.truth = dir.WriteGz("truth.jsonl", truth);  // gzip whatever the name says
  dir.Write("accounts.jsonl", accounts);
  dir.Write("campaigns.jsonl", f.campaigns);
  in.scan_dir = dir.path();
  auto r = Evaluate(in);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r.value().truth_accounts, 7u);
  EXPECT_EQ(r.value().scan.accounts, 6u);
  ExpectRatio(r.value().recall, 3, 3);
  EXPECT_EQ(r.value().scan.exchange_count_mismatches, 0u);
  // Line numbers in errors count the blank first line.
  dir.Write("accounts.jsonl", accounts + "\r\n" + VerdictLine("a1", "benign"));
  r = Evaluate(in);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("accounts.jsonl:8: account \"a1\" appears twice"), std::string::npos)
      << r.status().message();
}

}  // namespace
}  // namespace moat::eval
