#include "moat/engine/engine.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "moat/core/time.h"
#include "stream_fixture.h"

namespace moat::engine {
namespace {

using score::Verdict;
using testing::BuildStream;
using testing::HarvesterId;
using testing::HumanId;

std::map<std::string, AccountVerdict> RunStream(const std::vector<Exchange>& xs, Engine& e, size_t batch = 257) {
  for (size_t i = 0; i < xs.size(); i += batch)
    e.Consume(std::span<const Exchange>(xs.data() + i, std::min(batch, xs.size() - i)));
  e.Finish();
  std::map<std::string, AccountVerdict> m;
  for (AccountVerdict& v : e.Verdicts()) m[std::string(v.account_id)] = v;
  return m;
}

class EngineStreamTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { stream_ = new std::vector<Exchange>(BuildStream()); }
  static void TearDownTestSuite() { delete stream_; }
  static std::vector<Exchange>* stream_;
};
std::vector<Exchange>* EngineStreamTest::stream_ = nullptr;

// A live deployment learns of every verdict change through the listener, and
// what it learned agrees with the final verdicts.
TEST_F(EngineStreamTest, ListenerSeesEveryVerdictChange) {
  Engine e{DetectorConfig{}};
  std::map<std::string, VerdictUpdate> last;
  int calls = 0;
  e.SetVerdictListener([&](std::span<const VerdictUpdate> updates) {
    ++calls;
    for (const VerdictUpdate& u : updates) {
      EXPECT_TRUE(u.verdict != u.previous || !u.campaign_id.empty() || last.count(std::string(u.account_id)));
      last[std::string(u.account_id)] = u;
    }
  });
  const auto v = RunStream(*stream_, e);
  EXPECT_GT(calls, 0);
  for (const auto& [id, verdict] : v) {
    const auto it = last.find(id);
    const Verdict seen = it == last.end() ? Verdict::kBenign : it->second.verdict;
    EXPECT_EQ(seen, verdict.verdict) << id;
    if (verdict.verdict == Verdict::kExtraction) {
      ASSERT_NE(it, last.end());
      EXPECT_FALSE(it->second.reasons.empty()) << id;
      EXPECT_EQ(it->second.campaign_id.empty(), !verdict.campaign_id.has_value()) << id;
    }
  }
  // Every harvester is in one live campaign, named after its first member.
  EXPECT_EQ(last.at(HarvesterId(0)).campaign_id, last.at(HarvesterId(1)).campaign_id);
  EXPECT_EQ(last.at(HarvesterId(0)).campaign_size, unsigned(testing::kHarvesters));
  ASSERT_TRUE(e.AccountJson(HarvesterId(0)).has_value());
  EXPECT_NE(e.AccountJson(HarvesterId(0))->find("\"verdict\":\"extraction\""), std::string::npos);
  EXPECT_FALSE(e.AccountJson("nobody").has_value());
}

TEST_F(EngineStreamTest, HarvestersFlaggedAndGroupedOthersNot) {
  Engine e{DetectorConfig{}};
  const auto v = RunStream(*stream_, e);
  ASSERT_EQ(v.size(), 50u);
  const std::string campaign = v.at(HarvesterId(0)).campaign_id.value_or("");
  EXPECT_EQ(campaign, "cmp-0001");
  for (int h = 0; h < testing::kHarvesters; ++h) {
    const AccountVerdict& a = v.at(HarvesterId(h));
    EXPECT_EQ(a.verdict, Verdict::kExtraction) << a.account_id << " " << a.score;
    EXPECT_EQ(a.campaign_id.value_or(""), campaign) << a.account_id;
    ASSERT_TRUE(a.first_flagged_ts.has_value());
    // Flagged within the first few hours, never before its first exchange.
    EXPECT_LT(*a.first_flagged_ts, testing::kStreamStart + 6 * kMicrosPerHour) << a.account_id;
  }
  for (int u = 0; u < testing::kHumans; ++u) {
    const AccountVerdict& a = v.at(HumanId(u));
    EXPECT_EQ(a.verdict, Verdict::kBenign) << a.account_id << " " << a.score;
    EXPECT_FALSE(a.campaign_id.has_value()) << a.account_id;
  }
  for (const char* id : {"bench", "app", "batch", "judge"}) {
    const AccountVerdict& a = v.at(id);
    EXPECT_NE(a.verdict, Verdict::kExtraction) << id << " " << a.score;
    EXPECT_FALSE(a.first_flagged_ts.has_value()) << id;
    EXPECT_FALSE(a.campaign_id.has_value()) << id;
  }
  const EngineStats s = e.stats();
  EXPECT_EQ(s.accounts, 50u);
  EXPECT_EQ(s.campaigns, 1u);
  EXPECT_EQ(s.extraction, static_cast<uint32_t>(testing::kHarvesters));
  EXPECT_EQ(s.exchanges, stream_->size());
  std::printf("stream: %zu exchanges, %u accounts, %zu bytes state/account, score ticks %llu, link runs %llu\n",
              stream_->size(), s.accounts, s.state_bytes_per_account,
              static_cast<unsigned long long>(s.score_ticks), static_cast<unsigned long long>(s.link_runs));
}

TEST_F(EngineStreamTest, FirstFlagNeverBeforeFirstExchange) {
  Engine e{DetectorConfig{}};
  RunStream(*stream_, e);
  std::map<std::string, EventTime> first;
  for (const Exchange& x : *stream_) first.try_emplace(x.account_id, x.ts);
  for (const AccountVerdict& v : e.Verdicts())
    if (v.first_flagged_ts) EXPECT_GT(*v.first_flagged_ts, first.at(std::string(v.account_id)));
}

TEST_F(EngineStreamTest, DecisionsBeforeTAreUnchangedWhenLaterExchangesAreRemoved) {
  Engine full{DetectorConfig{}};
  const auto f = RunStream(*stream_, full);
  for (EventTime hours : {1, 2, 5, 30}) {
    const EventTime cut = testing::kStreamStart + hours * kMicrosPerHour;
    std::vector<Exchange> prefix;
    for (const Exchange& x : *stream_)
      if (x.ts < cut) prefix.push_back(x);
    Engine trunc{DetectorConfig{}};
    const auto g = RunStream(prefix, trunc);
    int checked = 0;
    for (const auto& [id, fv] : f) {
      const bool f_before = fv.first_flagged_ts && *fv.first_flagged_ts <= cut;
      auto it = g.find(id);
      const bool g_flagged = it != g.end() && it->second.first_flagged_ts.has_value();
      // The truncated run's last tick is at `cut` (traffic runs up to it), the
      // same tick, on the same exchanges, as in the full run.
      EXPECT_EQ(f_before, g_flagged) << id << " cut +" << hours << "h";
      if (f_before && g_flagged) {
        EXPECT_EQ(*fv.first_flagged_ts, *it->second.first_flagged_ts) << id;
        ++checked;
      }
    }
    if (hours >= 5) EXPECT_GE(checked, testing::kHarvesters);
  }
}

TEST_F(EngineStreamTest, OutputParsesOneLinePerAccountAndIsDeterministic) {
  Engine a{DetectorConfig{}};
  RunStream(*stream_, a);
  Engine b{DetectorConfig{}};
  RunStream(*stream_, b, 1000);  // different batching, same bytes
  EXPECT_EQ(a.AccountsJsonl(), b.AccountsJsonl());
  EXPECT_EQ(a.CampaignsJsonl(), b.CampaignsJsonl());

  const auto dir = std::filesystem::temp_directory_path() / ("moat_engine_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(a.WriteVerdicts(dir.string()).ok());
  auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::string accounts = slurp(dir / "accounts.jsonl");
  const std::string campaigns = slurp(dir / "campaigns.jsonl");
  std::filesystem::remove_all(dir);
  EXPECT_EQ(accounts, a.AccountsJsonl());

  simdjson::dom::parser parser;
  std::istringstream lines(accounts);
  std::string line;
  size_t n = 0;
  while (std::getline(lines, line)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    std::string_view id, verdict;
    ASSERT_EQ(doc["account_id"].get(id), simdjson::SUCCESS);
    ASSERT_EQ(doc["verdict"].get(verdict), simdjson::SUCCESS);
    EXPECT_TRUE(verdict == "benign" || verdict == "suspicious" || verdict == "extraction");
    double score;
    ASSERT_EQ(doc["score"].get(score), simdjson::SUCCESS);
    EXPECT_GE(score, 0.0);
    EXPECT_LE(score, 1.0);
    EXPECT_TRUE(doc["campaign_id"].is_null() || doc["campaign_id"].is_string());
    EXPECT_TRUE(doc["first_flagged_ts"].is_null() || doc["first_flagged_ts"].is_string());
    if (doc["first_flagged_ts"].is_string())
      EXPECT_TRUE(ParseRfc3339(std::string_view(doc["first_flagged_ts"].get_string().value())).has_value());
    uint64_t ex;
    ASSERT_EQ(doc["exchanges"].get(ex), simdjson::SUCCESS);
    simdjson::dom::array reasons;
    ASSERT_EQ(doc["reasons"].get(reasons), simdjson::SUCCESS);
    for (simdjson::dom::element r : reasons) {
      std::string_view code, detail;
      double w;
      ASSERT_EQ(r["code"].get(code), simdjson::SUCCESS);
      ASSERT_EQ(r["weight"].get(w), simdjson::SUCCESS);
      ASSERT_EQ(r["detail"].get(detail), simdjson::SUCCESS);
    }
    if (id == "h0") std::printf("%s\n", line.c_str());
    ++n;
  }
  EXPECT_EQ(n, 50u);

  std::istringstream clines(campaigns);
  n = 0;
  while (std::getline(clines, line)) {
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS) << line;
    simdjson::dom::array accts, signals;
    ASSERT_EQ(doc["accounts"].get(accts), simdjson::SUCCESS);
    EXPECT_EQ(accts.size(), static_cast<size_t>(testing::kHarvesters));
    ASSERT_EQ(doc["signals"].get(signals), simdjson::SUCCESS);
    std::string_view code;
    ASSERT_EQ(signals.at(0)["code"].get(code), simdjson::SUCCESS);
    EXPECT_EQ(code, "shared_payment");
    for (const char* k : {"campaign_id", "score", "exchanges", "first_seen", "last_seen", "first_flagged_ts"})
      EXPECT_EQ(doc[k].error(), simdjson::SUCCESS) << k;
    std::printf("%s\n", line.c_str());
    ++n;
  }
  EXPECT_EQ(n, 1u);
}

TEST(EngineTest, EmptyInputWritesNothingAndFinishIsIdempotent) {
  Engine e{DetectorConfig{}};
  e.Finish();
  e.Finish();
  EXPECT_EQ(e.AccountsJsonl(), "");
  EXPECT_EQ(e.CampaignsJsonl(), "");
  EXPECT_EQ(e.stats().accounts, 0u);
}

}  // namespace
}  // namespace moat::engine
