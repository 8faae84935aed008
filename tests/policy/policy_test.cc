#include "moat/policy/policy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace moat::policy {
namespace {

std::shared_ptr<const Policy> MustParse(std::string_view text) {
  auto p = Policy::Parse(text, "t.toml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p.value() : Policy::AllowAll();
}

std::string ErrorOf(std::string_view text) {
  auto p = Policy::Parse(text, "t.toml");
  EXPECT_FALSE(p.ok()) << "accepted:\n" << text;
  return p.ok() ? std::string() : p.status().message();
}

uint32_t Bit(score::Signal s) { return 1u << static_cast<int>(s); }

TEST(PolicyTest, ShippedDefaultPolicyLoads) {
  auto p = Policy::Load(std::string(MOAT_SOURCE_DIR) + "/config/policy.toml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_GE(p.value()->rules().size(), 4u);
  EXPECT_TRUE(p.value()->IsAllowlistedOrg(HashKey("org-verified-lab-1")));
  EXPECT_FALSE(p.value()->IsAllowlistedOrg(HashKey("org-unknown")));
}

TEST(PolicyTest, ParsesEveryRuleKey) {
  auto p = MustParse(R"(
version = 1
[settings]
reason_min_weight = 0.1
subnet_v4_prefix = 16
infrastructure_block_minutes = 60
[allowlist]
orgs = ["lab"]
accounts = ["acct-1"]
requests_per_minute = 10
[[rule]]
name = "r1"
verdict = ["suspicious", "extraction"]
min_score = 0.2
max_score = 0.9
reasons_any = ["proxy_rotation", "high_volume"]
reasons_all = "machine_timing"
in_campaign = true
min_campaign_size = 3
max_campaign_size = 100
orgs = ["o1", "o2"]
models = "m1"
allowlisted = false
indicator_match = true
action = "throttle"
requests_per_minute = 60
output_tokens_per_minute = 1000
burst_requests = 2
burst_tokens = 500
campaign_requests_per_minute = 600
campaign_output_tokens_per_minute = 10000
review = true
[[rule]]
name = "r2"
action = "block"
block = "subnet"
duration_minutes = 30
campaign_wide = true
block_infrastructure = true
[[rule]]
name = "r3"
action = "degrade"
degrade_mode = "withhold-reasoning"
)");
  ASSERT_EQ(p->rules().size(), 3u);
  const Rule& r = p->rules()[0];
  EXPECT_EQ(r.name, "r1");
  EXPECT_EQ(r.line, 11);
  EXPECT_EQ(r.verdicts, 0b110);
  EXPECT_DOUBLE_EQ(*r.min_score, 0.2);
  EXPECT_EQ(r.reasons_any, Bit(score::Signal::kProxyRotation) | Bit(score::Signal::kHighVolume));
  EXPECT_EQ(r.reasons_all, Bit(score::Signal::kMachineTiming));
  EXPECT_EQ(r.min_campaign_size, 3u);
  EXPECT_EQ(r.orgs.size(), 2u);
  EXPECT_EQ(r.models, std::vector<std::string>{"m1"});
  EXPECT_EQ(r.action, Action::kThrottle);
  EXPECT_DOUBLE_EQ(r.throttle.campaign_output_tokens_per_minute, 10000);
  EXPECT_TRUE(r.review);
  EXPECT_EQ(p->rules()[1].block_target, BlockTarget::kSubnet);
  EXPECT_EQ(p->rules()[1].duration, 30 * 60 * int64_t{1'000'000});
  EXPECT_TRUE(p->rules()[1].block_infrastructure);
  EXPECT_EQ(p->rules()[2].degrade_mode, "withhold-reasoning");
  EXPECT_EQ(p->subnet_v4_prefix(), 16);
  EXPECT_DOUBLE_EQ(p->reason_min_weight(), 0.1);
  EXPECT_TRUE(p->IsAllowlistedAccount("acct-1"));
  EXPECT_DOUBLE_EQ(p->allowlist_throttle().requests_per_minute, 10);
}

TEST(PolicyTest, SyntaxErrorNamesLineAndColumn) {
  const std::string e = ErrorOf("version = 1\n[[rule]]\nname = \"x\"\naction = = \"allow\"\n");
  EXPECT_EQ(e.rfind("t.toml:4:", 0), 0u) << e;
}

TEST(PolicyTest, UnknownReasonCodeIsRefusedAtItsPosition) {
  const std::string e = ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\nreasons_any = [\"high_volume\", \"hgh_volume\"]\n");
  EXPECT_EQ(e.rfind("t.toml:4:31:", 0), 0u) << e;
  EXPECT_NE(e.find("unknown reason code 'hgh_volume'"), std::string::npos) << e;
  EXPECT_NE(e.find("proxy_rotation"), std::string::npos) << "lists the known codes: " << e;
}

TEST(PolicyTest, BadRulesAreNamedErrors) {
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"smite\"\n").find("t.toml:3:10: rule 'x': unknown action 'smite'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\nverdict = \"evil\"\n").find("unknown verdict"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\nfoo = 1\n").find("t.toml:4:1: rule 'x': unknown key 'foo'"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"degrade\"\n").find("needs degrade_mode"), std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"throttle\"\n").find("needs requests_per_minute"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\nrequests_per_minute = 5\n").find("t.toml:4:"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"block\"\n").find("needs block"), std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\nmin_score = 1.5\n").find("t.toml:4:13:"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\naction = \"allow\"\n").find("missing name"), std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"a\"\naction = \"allow\"\n[[rule]]\nname = \"a\"\naction = \"allow\"\n")
                .find("t.toml:4:1: rule 'a': duplicate"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[setings]\n").find("t.toml:1:2: unknown key 'setings'"), std::string::npos);
  EXPECT_NE(ErrorOf("version = 2\n").find("version"), std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"allow\"\norgs = []\n").find("t.toml:4:8: rule 'x': orgs: expected at least one"),
            std::string::npos);
  EXPECT_NE(ErrorOf("[[rule]]\nname = \"x\"\naction = \"suspend\"\nblock_infrastructure = true\n")
                .find("needs campaign_wide"),
            std::string::npos);
}

TEST(PolicyTest, FirstMatchingRuleWinsInFileOrder) {
  auto p = MustParse(R"(
[[rule]]
name = "campaign"
verdict = "extraction"
in_campaign = true
action = "suspend"
[[rule]]
name = "extraction"
verdict = "extraction"
action = "degrade"
degrade_mode = "watermark"
[[rule]]
name = "high-score"
min_score = 0.5
action = "challenge"
)");
  MatchInput in;
  in.verdict = score::Verdict::kExtraction;
  in.score = 0.9;
  in.in_campaign = true;
  in.campaign_size = 4;
  EXPECT_EQ(p->Match(in)->name, "campaign");
  in.in_campaign = false;
  EXPECT_EQ(p->Match(in)->name, "extraction");
  in.verdict = score::Verdict::kSuspicious;
  EXPECT_EQ(p->Match(in)->name, "high-score");
  in.score = 0.49;
  EXPECT_EQ(p->Match(in), nullptr);
}

TEST(PolicyTest, ConditionsMatchExactly) {
  auto p = MustParse(R"(
[[rule]]
name = "all"
reasons_all = ["proxy_rotation", "machine_timing"]
action = "allow"
[[rule]]
name = "any"
reasons_any = ["high_volume", "new_account"]
min_campaign_size = 5
action = "allow"
[[rule]]
name = "org"
orgs = ["o1"]
models = ["m1"]
max_score = 0.3
action = "allow"
[[rule]]
name = "listed"
allowlisted = true
indicator_match = true
action = "allow"
)");
  MatchInput in;
  in.reasons = Bit(score::Signal::kProxyRotation) | Bit(score::Signal::kMachineTiming);
  EXPECT_EQ(p->Match(in)->name, "all");
  in.reasons = Bit(score::Signal::kProxyRotation) | Bit(score::Signal::kNewAccount);
  EXPECT_EQ(p->Match(in), nullptr);  // "any" needs a campaign of 5
  in.in_campaign = true;
  in.campaign_size = 5;
  EXPECT_EQ(p->Match(in)->name, "any");
  in = MatchInput{};
  in.org_hash = HashKey("o1");
  in.model_hash = HashKey("m1");
  in.score = 0.3;
  EXPECT_EQ(p->Match(in), nullptr);  // max_score is exclusive
  in.score = 0.29;
  EXPECT_EQ(p->Match(in)->name, "org");
  in.model_hash = HashKey("m2");
  EXPECT_EQ(p->Match(in), nullptr);
  in = MatchInput{};
  in.allowlisted = true;
  EXPECT_EQ(p->Match(in), nullptr);
  in.indicator_match = true;
  EXPECT_EQ(p->Match(in)->name, "listed");
}

TEST(PolicyTest, ReasonCodesRoundTrip) {
  ASSERT_EQ(ReasonCodes().size(), size_t(score::kSignals));
  for (int i = 0; i < score::kSignals; ++i) {
    const auto s = static_cast<score::Signal>(i);
    EXPECT_EQ(ParseReasonCode(score::SignalCode(s)), s);
  }
  EXPECT_FALSE(ParseReasonCode("unknown").has_value());
  for (int i = 0; i < kActions; ++i) EXPECT_EQ(ParseAction(ActionName(static_cast<Action>(i))), static_cast<Action>(i));
}

TEST(PolicyTest, BadReloadKeepsTheRunningPolicy) {
  const auto dir = std::filesystem::temp_directory_path() / ("moat-policy-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "p.toml").string();
  std::ofstream(path) << "[[rule]]\nname = \"all\"\naction = \"challenge\"\n";
  DecisionState state;
  ASSERT_TRUE(state.LoadPolicy(path).ok());
  const auto running = state.policy();
  DecideRequest req;
  req.account_id = "a";
  EXPECT_EQ(state.Decide(req, 1).action, Action::kChallenge);

  std::ofstream(path) << "[[rule]]\nname = \"all\"\naction = \"allow\"\nreasons_any = [\"not_a_code\"]\n";
  const Status st = state.LoadPolicy(path);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(path + ":4:16: rule 'all': reasons_any: unknown reason code 'not_a_code'"), std::string::npos)
      << st.message();
  EXPECT_EQ(state.policy(), running);
  EXPECT_EQ(state.Decide(req, 2).action, Action::kChallenge);
  EXPECT_FALSE(state.LoadPolicy((dir / "missing.toml").string()).ok());
  EXPECT_EQ(state.policy(), running);
  std::filesystem::remove_all(dir);
}

TEST(PolicyTest, DecisionJsonHasTheGatewayFields) {
  Decision d;
  d.action = Action::kDegrade;
  d.rule = "r";
  d.degrade_mode = "watermark";
  d.reasons[0] = score::Signal::kHighVolume;
  d.n_reasons = 1;
  std::string out;
  AppendDecisionJson(d, out);
  EXPECT_EQ(out,
            R"({"action":"degrade","admit":true,"rule":"r","reasons":["high_volume"],"retry_after_ms":0,)"
            R"("degrade_mode":"watermark","review":false,"source":"default","verdict":"benign","score":0,"campaign_id":null})");
}

}  // namespace
}  // namespace moat::policy
