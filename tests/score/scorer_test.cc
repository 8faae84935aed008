#include "moat/score/scorer.h"

#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "moat/core/time.h"

namespace moat::score {
namespace {

using features::AccountState;

constexpr EventTime kT0 = 1'770'000'000LL * kMicrosPerSecond;

AccountState Feed(int n, EventTime gap, int64_t (*turn)(int), const char* prompt, int64_t max_tokens,
                  int64_t out_tokens, double temperature, bool org, EventTime created_before) {
  features::KeyExtractor ke;
  features::ExchangeKeys keys;
  AccountState st;
  for (int i = 0; i < n; ++i) {
    Exchange x;
    x.ts = kT0 + i * gap;
    x.account_id = "a";
    x.prompt = std::string("item ") + std::to_string(i * 7919 % 1000) + " " + prompt;
    x.Set(Field::kPrompt);
    x.turn = turn(i);
    x.Set(Field::kTurn);
    x.input_tokens = 120;
    x.Set(Field::kInputTokens);
    x.output_tokens = out_tokens;
    x.Set(Field::kOutputTokens);
    x.max_tokens = max_tokens;
    x.Set(Field::kMaxTokens);
    x.temperature = temperature;
    x.Set(Field::kTemperature);
    x.account_created = kT0 - created_before;
    x.Set(Field::kAccountCreated);
    if (org) {
      x.org_id = "org";
      x.Set(Field::kOrgId);
    }
    ke.Extract(x, keys);
    st.Update(x, keys, features::StateConfig{});
  }
  return st;
}

TEST(ScorerTest, RegularReasoningHarvesterIsExtraction) {
  const AccountState st = Feed(600, 240 * kMicrosPerSecond, [](int) -> int64_t { return 0; },
                               "Explain your reasoning step by step.", 8192, 8000, 0.8, false,
                               2 * kMicrosPerHour);
  const ScoreResult r = Score(st, {}, DetectorConfig{});
  EXPECT_EQ(r.verdict, Verdict::kExtraction) << r.score;
  const auto reasons = Explain(st, {}, r, DetectorConfig{});
  ASSERT_FALSE(reasons.empty());
  EXPECT_EQ(reasons[0].signal, Signal::kReasoningElicitation);
  EXPECT_EQ(reasons[0].detail, "100% of prompts ask for step-by-step reasoning");
  for (size_t i = 1; i < reasons.size(); ++i)
    EXPECT_GE(std::abs(reasons[i - 1].weight), std::abs(reasons[i].weight));
  bool new_account = false;
  for (const auto& rs : reasons)
    if (rs.signal == Signal::kNewAccount) {
      new_account = true;
      EXPECT_EQ(rs.detail, "account created 2 hours before first request");
    }
  EXPECT_TRUE(new_account);
}

TEST(ScorerTest, TemperatureZeroOrgBenchmarkIsMitigated) {
  const AccountState st = Feed(600, 2 * kMicrosPerSecond, [](int) -> int64_t { return 0; },
                               "Let's think step by step.", 512, 200, 0.0, true, 400 * kMicrosPerDay);
  const ScoreResult r = Score(st, {}, DetectorConfig{});
  EXPECT_NE(r.verdict, Verdict::kExtraction) << r.score;
  EXPECT_GT(r.weight[static_cast<int>(Signal::kEvaluationRun)], 0.0);
}

TEST(ScorerTest, MultiTurnChatIsBenign) {
  const AccountState st = Feed(60, 90 * kMicrosPerSecond, [](int i) -> int64_t { return i % 4; },
                               "and what about the next one?", 1024, 300, 1.0, false, 90 * kMicrosPerDay);
  const ScoreResult r = Score(st, {}, DetectorConfig{});
  EXPECT_EQ(r.verdict, Verdict::kBenign) << r.score;
}

TEST(ScorerTest, FewExchangesNeverExtraction) {
  const AccountState st = Feed(5, 240 * kMicrosPerSecond, [](int) -> int64_t { return 0; },
                               "Explain your reasoning step by step.", 8192, 8000, 0.8, false, kMicrosPerHour);
  EXPECT_NE(Score(st, {}, DetectorConfig{}).verdict, Verdict::kExtraction);
}

TEST(ScorerTest, CodesAreStable) {
  EXPECT_STREQ(SignalCode(Signal::kCampaignMember), "campaign_member");
  EXPECT_STREQ(SignalCode(Signal::kReasoningElicitation), "reasoning_elicitation");
  EXPECT_STREQ(VerdictName(Verdict::kExtraction), "extraction");
}


TEST(ScorerTest, CampaignStrengthNeedsIntentAndIsDampedByOrganisation) {
  DetectorConfig cfg;
  link::Component comp;
  for (uint32_t i = 0; i < 16; ++i) comp.members.push_back(i);
  EXPECT_NEAR(CampaignStrength(comp, 0.3, cfg), 1.0, 1e-9);
  EXPECT_NEAR(CampaignStrength(comp, 0.0, cfg), 0.0, 1e-9);  // linked, but no intent
  comp.org_members = 16;                                      // colleagues under one org
  EXPECT_LT(CampaignStrength(comp, 0.3, cfg), cfg.campaign_min_strength);
  link::Component pair;
  pair.members = {1, 2};
  EXPECT_NEAR(CampaignStrength(pair, 0.3, cfg), 0.25, 1e-9);  // log2(2)/log2(16)
}

TEST(ScorerTest, CampaignEvidenceIsNotDampedByMemberMitigations) {
  // A human-looking multi-turn member of a strong campaign: mitigated on its
  // own, extraction through the campaign (the camouflage does not hide it).
  DetectorConfig cfg;
  const AccountState s = Feed(40, 600 * kMicrosPerSecond, [](int i) -> int64_t { return i % 2; },
                              "think step by step", 500, 400, 0.7, false, 400LL * kMicrosPerDay);
  const ScoreResult alone = Score(s, {}, cfg);
  EXPECT_LT(alone.score, cfg.suspicious);
  link::Component comp;
  for (uint32_t i = 0; i < 20; ++i) comp.members.push_back(i);
  CampaignContext ctx{&comp, 0.3, CampaignStrength(comp, 0.3, cfg)};
  const ScoreResult linked = Score(s, ctx, cfg);
  EXPECT_EQ(linked.verdict, Verdict::kExtraction);
  EXPECT_NEAR(linked.weight[static_cast<int>(Signal::kCampaignMember)], cfg.campaign_weight, 1e-9);
  EXPECT_LE(alone.own_score, alone.raw_score);
}

TEST(ScorerTest, CampaignMemberDetailRanksEvidenceByStrength) {
  // Every member shares the (weak, common) TLS fingerprint; a few share two
  // strong payment instruments. The detail leads with the payments.
  DetectorConfig cfg;
  const AccountState s = Feed(40, 60 * kMicrosPerSecond, [](int) -> int64_t { return 0; },
                              "think step by step", 500, 4000, 0.7, false, 0);
  link::Component comp;
  for (uint32_t i = 0; i < 20; ++i) comp.members.push_back(i);
  constexpr int kTls = static_cast<int>(features::LinkKind::kTlsFingerprint);
  constexpr int kPay = static_cast<int>(features::LinkKind::kPayment);
  comp.evidence[kTls] = {1, 20, 0.1};
  comp.evidence[kPay] = {2, 4, 1.9};
  EXPECT_EQ(EvidenceByStrength(comp), (std::vector<int>{kPay, kTls}));
  CampaignContext ctx{&comp, 0.3, CampaignStrength(comp, 0.3, cfg)};
  const ScoreResult r = Score(s, ctx, cfg);
  std::string detail;
  for (const Reason& reason : Explain(s, ctx, r, cfg))
    if (reason.signal == Signal::kCampaignMember) detail = reason.detail;
  EXPECT_EQ(detail.rfind("linked to 19 accounts by 2 shared payment instruments and 1 shared TLS fingerprint", 0), 0u)
      << detail;
}

// Content signals read the analysed sample only, need content_min_prompts
// analysed prompts, and say when their shares are estimates.
TEST(ScorerTest, ContentBreadthAndOutputRequestSignals) {
  const DetectorConfig c;
  AccountState st;
  st.exchanges = st.n_prompts = 400;
  st.first_ts = st.last_ts = kT0;
  st.n_analysed = c.content_min_prompts - 1;
  st.task_mask = (1u << 11) - 1;   // every task type
  st.topic_mask = (1u << 28) - 1;  // every topic
  st.n_output_request = st.n_analysed;
  ScoreResult r = Score(st, {}, c);
  EXPECT_EQ(r.weight[static_cast<int>(Signal::kTaskBreadth)], 0.0);  // too few analysed
  st.n_analysed = 40;
  st.n_output_request = 40;
  r = Score(st, {}, c);
  EXPECT_DOUBLE_EQ(r.weight[static_cast<int>(Signal::kTaskBreadth)], c.task_breadth_weight);
  EXPECT_DOUBLE_EQ(r.weight[static_cast<int>(Signal::kTopicBreadth)], c.topic_breadth_weight);
  EXPECT_DOUBLE_EQ(r.weight[static_cast<int>(Signal::kOutputRequest)], c.output_request_weight);
  bool saw_estimate = false;
  for (const Reason& reason : Explain(st, {}, r, c)) {
    if (reason.signal == Signal::kOutputRequest) {
      EXPECT_NE(reason.detail.find("estimated from 40 of 400 prompts"), std::string::npos) << reason.detail;
      saw_estimate = true;
    }
  }
  EXPECT_TRUE(saw_estimate);
  EXPECT_STREQ(SignalCode(Signal::kTaskBreadth), "task_breadth");
  EXPECT_STREQ(SignalCode(Signal::kTopicBreadth), "topic_breadth");
  EXPECT_STREQ(SignalCode(Signal::kOutputRequest), "output_request");
  // A person in a few task types and topics gets nothing.
  st.task_mask = 0b11;
  st.topic_mask = 0b101;
  st.n_output_request = 2;
  r = Score(st, {}, c);
  EXPECT_EQ(r.weight[static_cast<int>(Signal::kTaskBreadth)], 0.0);
  EXPECT_EQ(r.weight[static_cast<int>(Signal::kTopicBreadth)], 0.0);
  EXPECT_EQ(r.weight[static_cast<int>(Signal::kOutputRequest)], 0.0);
}

}  // namespace
}  // namespace moat::score
