#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "moat/core/time.h"
#include "moat/policy/policy.h"

namespace moat::policy {
namespace {

constexpr EventTime kT0 = 1'700'000'000 * kMicrosPerSecond;
constexpr EventTime kMs = 1000;

std::shared_ptr<const Policy> MustParse(std::string_view text) {
  auto p = Policy::Parse(text, "t.toml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p.value() : Policy::AllowAll();
}

std::string ErrorOfPolicy(std::string_view text) {
  auto p = Policy::Parse(text, "t.toml");
  return p.ok() ? std::string() : p.status().message();
}

engine::VerdictUpdate Update(std::string_view account, score::Verdict v, double score, std::string campaign = "",
                             uint32_t size = 0, EventTime at = kT0) {
  engine::VerdictUpdate u;
  u.account_id = account;
  u.verdict = v;
  u.score = score;
  u.at = at;
  u.campaign_id = std::move(campaign);
  u.campaign_size = size;
  u.reasons = {{score::Signal::kHighVolume, 0.5, ""},
               {score::Signal::kProxyRotation, 0.3, ""},
               {score::Signal::kNewAccount, 0.01, ""},
               {score::Signal::kOfficeHours, -0.2, ""}};
  return u;
}

DecideRequest Req(std::string_view account, std::string_view ip = "198.51.100.1", std::string_view org = "",
                  std::string_view payment = "") {
  DecideRequest r;
  r.account_id = account;
  r.ip = ip;
  r.org_id = org;
  r.payment_fingerprint = payment;
  r.model = "m";
  return r;
}

constexpr std::string_view kPolicy = R"(
[settings]
reason_min_weight = 0.05
infrastructure_block_minutes = 60
[allowlist]
orgs = ["lab"]
requests_per_minute = 60
burst_requests = 1
[[rule]]
name = "campaign"
verdict = "extraction"
in_campaign = true
min_campaign_size = 3
action = "suspend"
campaign_wide = true
block_infrastructure = true
[[rule]]
name = "proxy-block"
verdict = "extraction"
reasons_all = ["proxy_rotation", "high_volume"]
min_score = 0.95
action = "block"
block = "address"
duration_minutes = 10
[[rule]]
name = "extraction"
verdict = "extraction"
action = "suspend"
[[rule]]
name = "suspicious"
verdict = "suspicious"
action = "throttle"
requests_per_minute = 60
burst_requests = 2
output_tokens_per_minute = 6000
burst_tokens = 1000
)";

TEST(DecisionStateTest, UnknownAccountIsAllowedByDefault) {
  DecisionState s(MustParse(kPolicy));
  const Decision d = s.Decide(Req("new"), kT0);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_TRUE(d.admit);
  EXPECT_EQ(d.rule, "default");
  EXPECT_EQ(d.source, DecisionSource::kDefault);
}

TEST(DecisionStateTest, VerdictUpdateSelectsTheRuleAndCarriesReasons) {
  DecisionState s(MustParse(kPolicy));
  const engine::VerdictUpdate u = Update("a", score::Verdict::kExtraction, 0.9);
  s.ApplyUpdates({&u, 1});
  const Decision d = s.Decide(Req("a"), kT0 + 1);
  EXPECT_EQ(d.action, Action::kSuspend);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.rule, "extraction");
  EXPECT_EQ(d.verdict, score::Verdict::kExtraction);
  // Raising reasons only, strongest first.
  ASSERT_EQ(d.Reasons().size(), 3u);
  EXPECT_EQ(d.Reasons()[0], score::Signal::kHighVolume);
  EXPECT_EQ(d.Reasons()[1], score::Signal::kProxyRotation);
}

TEST(DecisionStateTest, GcraRetryAfterIsExact) {
  DecisionState s(MustParse(kPolicy));
  const engine::VerdictUpdate u = Update("a", score::Verdict::kSuspicious, 0.5);
  s.ApplyUpdates({&u, 1});
  // 60/min = one per second, burst 2.
  EXPECT_TRUE(s.Decide(Req("a"), kT0).admit);
  EXPECT_TRUE(s.Decide(Req("a"), kT0).admit);
  Decision d = s.Decide(Req("a"), kT0);
  EXPECT_EQ(d.action, Action::kThrottle);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.retry_after_ms, 1000);
  d = s.Decide(Req("a"), kT0 + 400 * kMs);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.retry_after_ms, 600);  // a refused request is not charged
  EXPECT_TRUE(s.Decide(Req("a"), kT0 + 1000 * kMs).admit);
  EXPECT_FALSE(s.Decide(Req("a"), kT0 + 1000 * kMs).admit);

  // Tokens: 6000/min = 100/s, burst 1000. 600 pass; 600 more would put the
  // limiter 12 s ahead against 10 s of tolerance: retry in 2 s.
  const engine::VerdictUpdate b = Update("b", score::Verdict::kSuspicious, 0.5);
  s.ApplyUpdates({&b, 1});
  DecideRequest r = Req("b");
  r.output_tokens_estimate = 600;
  EXPECT_TRUE(s.Decide(r, kT0).admit);
  d = s.Decide(r, kT0);
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.retry_after_ms, 2000);
  // One request bigger than the burst is charged the burst: it passes an idle limiter.
  const engine::VerdictUpdate c = Update("c", score::Verdict::kSuspicious, 0.5);
  s.ApplyUpdates({&c, 1});
  r = Req("c");
  r.output_tokens_estimate = 50'000;
  EXPECT_TRUE(s.Decide(r, kT0).admit);
  d = s.Decide(r, kT0);
  EXPECT_EQ(d.retry_after_ms, 10'000);
}

TEST(DecisionStateTest, CampaignLimiterIsSharedByMembers) {
  DecisionState s(MustParse(R"(
[[rule]]
name = "camp"
in_campaign = true
action = "throttle"
requests_per_minute = 600
campaign_requests_per_minute = 60
burst_requests = 1
)"));
  const engine::VerdictUpdate us[] = {Update("a", score::Verdict::kSuspicious, 0.5, "c1", 2),
                                      Update("b", score::Verdict::kSuspicious, 0.5, "c1", 2)};
  s.ApplyUpdates(us);
  EXPECT_TRUE(s.Decide(Req("a"), kT0).admit);
  const Decision d = s.Decide(Req("b"), kT0);  // b's own limiter is idle; the campaign's is not
  EXPECT_FALSE(d.admit);
  EXPECT_EQ(d.retry_after_ms, 1000);
  EXPECT_EQ(d.campaign_id, "c1");
  EXPECT_TRUE(s.Decide(Req("b"), kT0 + 1000 * kMs).admit);
}

TEST(DecisionStateTest, CampaignWideActionReachesEveryMemberAtOnce) {
  DecisionState s(MustParse(kPolicy));
  // Members first seen benign: their requests pass.
  for (const char* a : {"m1", "m2", "m3"}) EXPECT_TRUE(s.Decide(Req(a), kT0).admit);
  const engine::VerdictUpdate us[] = {Update("m1", score::Verdict::kBenign, 0.1, "camp-1", 3),
                                      Update("m2", score::Verdict::kSuspicious, 0.4, "camp-1", 3),
                                      Update("m3", score::Verdict::kExtraction, 0.8, "camp-1", 3, kT0 + 5)};
  s.ApplyUpdates(us);
  for (const char* a : {"m1", "m2", "m3"}) {
    const Decision d = s.Decide(Req(a), kT0 + 10);
    EXPECT_EQ(d.action, Action::kSuspend) << a;
    EXPECT_EQ(d.rule, "campaign") << a;
    EXPECT_EQ(d.campaign_id, "camp-1");
  }
  EXPECT_EQ(s.Decide(Req("m1"), kT0 + 10).source, DecisionSource::kCampaign);
  EXPECT_EQ(s.Decide(Req("m3"), kT0 + 10).source, DecisionSource::kRule);
  const auto camps = s.Campaigns(kT0 + 10);
  ASSERT_EQ(camps.size(), 1u);
  EXPECT_EQ(camps[0].flagged_action, Action::kSuspend);
  EXPECT_EQ(camps[0].known_members, 3u);
  // The audit trail has one change per member, by the engine.
  std::vector<ActionChange> changes;
  s.DrainActionChanges(changes);
  int suspended = 0;
  for (const ActionChange& c : changes)
    if (c.action == Action::kSuspend && c.actor == "engine" && c.campaign_id == "camp-1") ++suspended;
  EXPECT_EQ(suspended, 3);
  EXPECT_TRUE(s.ClearCampaignFlag("camp-1"));
  EXPECT_EQ(s.Decide(Req("m1"), kT0 + 20).action, Action::kAllow);
}

TEST(DecisionStateTest, CampaignInfrastructureCatchesNewAccountsOnly) {
  DecisionState s(MustParse(kPolicy));
  EXPECT_TRUE(s.Decide(Req("m1", "203.0.113.7", "", "card-1"), kT0).admit);
  EXPECT_TRUE(s.Decide(Req("m2", "203.0.113.8", "", "card-2"), kT0).admit);
  EXPECT_TRUE(s.Decide(Req("old-neighbour", "203.0.113.50"), kT0).admit);
  const engine::VerdictUpdate us[] = {Update("m1", score::Verdict::kExtraction, 0.8, "camp-1", 3, kT0 + kMicrosPerMinute),
                                      Update("m2", score::Verdict::kExtraction, 0.8, "camp-1", 3, kT0 + kMicrosPerMinute)};
  s.ApplyUpdates(us);
  const EventTime later = kT0 + 2 * kMicrosPerMinute;
  // A new sign-up with the campaign's card, from anywhere.
  Decision d = s.Decide(Req("new-1", "192.0.2.1", "", "card-2"), later);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.source, DecisionSource::kBlockList);
  EXPECT_EQ(d.block_target, BlockTarget::kPayment);
  EXPECT_EQ(d.rule, "campaign");
  // A new account in the campaign's proxy subnet.
  d = s.Decide(Req("new-2", "203.0.113.200"), later);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.block_target, BlockTarget::kSubnet);
  // An account that was there before the campaign was flagged is not caught.
  EXPECT_TRUE(s.Decide(Req("old-neighbour", "203.0.113.50"), later).admit);
  // A member showing up with a new card after the flag: that card is blocked too.
  (void)s.Decide(Req("m1", "203.0.113.7", "", "card-3"), later);
  EXPECT_EQ(s.Decide(Req("new-3", "192.0.2.9", "", "card-3"), later).action, Action::kBlock);
  const auto blocks = s.ActiveBlocks(later);
  ASSERT_EQ(blocks.size(), 4u);  // card-1, card-2, card-3, 203.0.113.0/24
  bool subnet_listed = false;
  for (const BlockInfo& b : blocks) {
    EXPECT_TRUE(b.new_accounts_only);
    EXPECT_EQ(b.until, kT0 + kMicrosPerMinute + 60 * kMicrosPerMinute);
    subnet_listed |= b.target == BlockTarget::kSubnet && b.value == "203.0.113.0/24";
  }
  EXPECT_TRUE(subnet_listed);
  // Infrastructure blocks expire.
  EXPECT_TRUE(s.Decide(Req("new-4", "192.0.2.3", "", "card-1"), kT0 + 2 * kMicrosPerHour).admit);
}

// infrastructure_targets narrows what a flagged campaign blocks: with cards
// only, a new account in the proxy subnet (a residential neighbour) is served.
TEST(DecisionStateTest, InfrastructureTargetsLimitWhatIsBlocked) {
  std::string text(kPolicy);
  text.replace(text.find("infrastructure_block_minutes = 60"), 33,
               "infrastructure_block_minutes = 60\ninfrastructure_targets = [\"payment\"]");
  DecisionState s(MustParse(text));
  EXPECT_TRUE(s.Decide(Req("m1", "203.0.113.7", "", "card-1"), kT0).admit);
  EXPECT_TRUE(s.Decide(Req("m2", "203.0.113.8", "", "card-2"), kT0).admit);
  const engine::VerdictUpdate us[] = {Update("m1", score::Verdict::kExtraction, 0.8, "camp-1", 3, kT0 + kMicrosPerMinute),
                                      Update("m2", score::Verdict::kExtraction, 0.8, "camp-1", 3, kT0 + kMicrosPerMinute)};
  s.ApplyUpdates(us);
  const EventTime later = kT0 + 2 * kMicrosPerMinute;
  EXPECT_EQ(s.Decide(Req("new-1", "192.0.2.1", "", "card-2"), later).action, Action::kBlock);
  EXPECT_TRUE(s.Decide(Req("new-2", "203.0.113.200"), later).admit);
  for (const BlockInfo& b : s.ActiveBlocks(later)) EXPECT_EQ(b.target, BlockTarget::kPayment);
  EXPECT_NE(ErrorOfPolicy("[settings]\ninfrastructure_targets = [\"asn\"]\n").find("t.toml:2:"), std::string::npos);
}

TEST(DecisionStateTest, ExchangeStreamTeachesCampaignInfrastructure) {
  DecisionState s(MustParse(kPolicy));
  Exchange x;
  x.ts = kT0;
  x.account_id = "m1";
  x.ip = "2001:db8:7:1::5";
  x.payment_fingerprint = "card-x";
  s.ObserveExchange(x);
  const engine::VerdictUpdate u = Update("m1", score::Verdict::kExtraction, 0.8, "camp-2", 3, kT0 + 1);
  s.ApplyUpdates({&u, 1});
  EXPECT_EQ(s.Decide(Req("fresh", "192.0.2.1", "", "card-x"), kT0 + 2).block_target, BlockTarget::kPayment);
  const Decision d = s.Decide(Req("fresh-2", "2001:db8:7:ffff::1"), kT0 + 2);
  EXPECT_EQ(d.block_target, BlockTarget::kSubnet);  // same /48
  EXPECT_TRUE(s.Decide(Req("fresh-3", "2001:db8:8::1"), kT0 + 2).admit);
  bool listed = false;
  for (const BlockInfo& b : s.ActiveBlocks(kT0 + 2)) listed |= b.value == "2001:db8:7::/48";
  EXPECT_TRUE(listed);
  // Removing a block by its text lifts it.
  EXPECT_TRUE(s.RemoveBlock(BlockTarget::kPayment, "card-x"));
  EXPECT_TRUE(s.Decide(Req("fresh-4", "192.0.2.1", "", "card-x"), kT0 + 3).admit);
}

TEST(DecisionStateTest, BlockRuleBlocksTheAddressForEveryoneUntilItExpires) {
  DecisionState s(MustParse(kPolicy));
  engine::VerdictUpdate u = Update("bot", score::Verdict::kExtraction, 0.97);
  s.ApplyUpdates({&u, 1});
  Decision d = s.Decide(Req("bot", "198.51.100.77"), kT0);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.block_target, BlockTarget::kAddress);
  d = s.Decide(Req("someone-else", "198.51.100.77"), kT0 + kMicrosPerMinute);
  EXPECT_EQ(d.action, Action::kBlock);
  EXPECT_EQ(d.source, DecisionSource::kBlockList);
  EXPECT_EQ(d.rule, "proxy-block");
  EXPECT_TRUE(s.Decide(Req("someone-else", "198.51.100.78"), kT0 + kMicrosPerMinute).admit);
  EXPECT_TRUE(s.Decide(Req("someone-else", "198.51.100.77"), kT0 + 10 * kMicrosPerMinute).admit);
}

TEST(DecisionStateTest, AllowlistedOrgIsNeverSuspendedOrBlocked) {
  DecisionState s(MustParse(kPolicy));
  s.AddBlock({BlockTarget::kAddress, "198.51.100.5", kT0, 0, false, "manual"});
  // lab-1 matches the address-block rule, lab-2 is in a campaign flagged by
  // x-1, both come from a blocked address: still only throttled, and sent to review.
  EXPECT_TRUE(s.Decide(Req("lab-1", "198.51.100.6", "lab"), kT0).admit);
  EXPECT_TRUE(s.Decide(Req("lab-2", "198.51.100.6", "lab"), kT0).admit);
  const engine::VerdictUpdate us[] = {Update("lab-1", score::Verdict::kExtraction, 0.99),
                                      Update("lab-2", score::Verdict::kSuspicious, 0.5, "camp-9", 3),
                                      Update("x-1", score::Verdict::kExtraction, 0.8, "camp-9", 3)};
  s.ApplyUpdates(us);
  for (const char* id : {"lab-1", "lab-2"}) {
    for (int i = 0; i < 2; ++i) {
      const Decision d = s.Decide(Req(id, "198.51.100.5", "lab"), kT0 + i * kMs);
      EXPECT_EQ(d.action, Action::kThrottle) << id;
      EXPECT_TRUE(d.review);
      EXPECT_FALSE(d.block_target.has_value());
      // Allow-list limit: 60/min, burst 1.
      EXPECT_EQ(d.admit, i == 0);
      EXPECT_EQ(d.retry_after_ms, i == 0 ? 0 : 999);
    }
  }
  EXPECT_EQ(s.Decide(Req("x-1", ""), kT0).action, Action::kSuspend);
  // The same account without its org is not protected.
  EXPECT_EQ(s.Decide(Req("lab-1", "198.51.100.9", "other"), kT0).action, Action::kBlock);
  // Only the manual block and the one lab-1 earned once unprotected: the
  // labs' own decisions and the lab's subnet (campaign infrastructure) added none.
  const auto blocks = s.ActiveBlocks(kT0);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks[1].value, "198.51.100.9");
}

TEST(DecisionStateTest, OverrideTakesEffectImmediatelyAndExpires) {
  DecisionState s(MustParse(kPolicy));
  const engine::VerdictUpdate u = Update("a", score::Verdict::kExtraction, 0.9);
  s.ApplyUpdates({&u, 1});
  EXPECT_EQ(s.Decide(Req("a"), kT0).action, Action::kSuspend);
  Override o;
  o.action = Action::kAllow;
  o.until = kT0 + kMicrosPerHour;
  o.analyst = "ana";
  o.reason = "appeal granted";
  s.SetOverride("a", o, kT0 + 1);
  Decision d = s.Decide(Req("a"), kT0 + 2);
  EXPECT_EQ(d.action, Action::kAllow);
  EXPECT_EQ(d.source, DecisionSource::kOverride);
  EXPECT_EQ(d.rule, "override");
  ASSERT_TRUE(s.Account("a", kT0 + 2)->active_override.has_value());
  EXPECT_EQ(s.Decide(Req("a"), kT0 + kMicrosPerHour).action, Action::kSuspend);
  EXPECT_FALSE(s.Account("a", kT0 + kMicrosPerHour)->active_override.has_value());

  o.action = Action::kDegrade;
  o.degrade_mode = "watermark";
  o.until = kT0 + 2 * kMicrosPerHour;
  s.SetOverride("a", o, kT0 + kMicrosPerHour);
  d = s.Decide(Req("a"), kT0 + kMicrosPerHour);
  EXPECT_EQ(d.action, Action::kDegrade);
  EXPECT_EQ(d.degrade_mode, "watermark");
  EXPECT_TRUE(s.ClearOverride("a", kT0 + kMicrosPerHour));
  EXPECT_EQ(s.Decide(Req("a"), kT0 + kMicrosPerHour).action, Action::kSuspend);

  std::vector<ActionChange> changes;
  s.DrainActionChanges(changes);
  std::vector<std::pair<Action, std::string>> seen;
  for (const ActionChange& c : changes) seen.emplace_back(c.action, c.actor);
  const std::vector<std::pair<Action, std::string>> want = {
      {Action::kSuspend, "engine"}, {Action::kAllow, "ana"},     {Action::kSuspend, "engine"},
      {Action::kDegrade, "ana"},    {Action::kSuspend, "ana"},
  };
  EXPECT_EQ(seen, want);
  EXPECT_EQ(s.stats().pending_changes, 0u);
}

TEST(DecisionStateTest, PolicySwapAppliesToTheNextDecision) {
  // new_account weighs 0.01 in Update(): below the first policy's reason
  // threshold, above the second's.
  DecisionState s(MustParse(
      "[settings]\nreason_min_weight = 0.05\n[[rule]]\nname = \"new\"\nreasons_any = \"new_account\"\n"
      "action = \"challenge\"\n"));
  const engine::VerdictUpdate u = Update("a", score::Verdict::kSuspicious, 0.4);
  s.ApplyUpdates({&u, 1});
  EXPECT_EQ(s.Decide(Req("a"), kT0).action, Action::kAllow);
  s.SetPolicy(MustParse("[[rule]]\nname = \"new\"\nreasons_any = \"new_account\"\naction = \"challenge\"\n"));
  const Decision d = s.Decide(Req("a"), kT0);
  EXPECT_EQ(d.action, Action::kChallenge);
  EXPECT_EQ(d.rule, "new");
}

TEST(DecisionStateTest, IndicatorMatchFeedsRules) {
  DecisionState s(MustParse("[[rule]]\nname = \"ind\"\nindicator_match = true\naction = \"challenge\"\n"));
  EXPECT_EQ(s.Decide(Req("a"), kT0).action, Action::kAllow);
  DecideRequest r = Req("a");
  r.indicator_match = true;
  EXPECT_EQ(s.Decide(r, kT0).action, Action::kChallenge);
  s.SetIndicatorMatch("b", true);
  EXPECT_EQ(s.Decide(Req("b"), kT0).action, Action::kChallenge);
}

// Several request threads decide while the engine thread applies updates and
// an analyst thread sets overrides. Run under TSan/ASan for races; here the
// end state must also be what the last writes say.
TEST(DecisionStateTest, ConcurrentDecideAndUpdates) {
  DecisionState s(MustParse(kPolicy));
  constexpr int kAccounts = 512;
  std::vector<std::string> ids;
  for (int i = 0; i < kAccounts; ++i) ids.push_back("acct-" + std::to_string(i));
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> decided{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&, w] {
      uint64_t n = 0;
      for (int round = 0; !stop.load(std::memory_order_relaxed) || round < 2; ++round) {
        for (int i = w; i < kAccounts; i += 3) {
          DecideRequest r = Req(ids[i], "10.0." + std::to_string(i % 200) + ".1", i % 17 == 0 ? "lab" : "");
          r.output_tokens_estimate = 100;
          (void)s.Decide(r, kT0 + round * kMs);
          ++n;
        }
      }
      decided += n;
    });
  }
  std::thread engine([&] {
    for (int round = 0; round < 20; ++round) {
      std::vector<engine::VerdictUpdate> us;
      for (int i = 0; i < kAccounts; ++i) {
        const auto v = static_cast<score::Verdict>((i + round) % 3);
        us.push_back(Update(ids[i], v, 0.3 * double((i + round) % 3) + 0.05,
                            i % 5 == 0 ? "c" + std::to_string(i % 25) : "", 5, kT0 + round * kMs));
      }
      s.ApplyUpdates(us);
      std::vector<ActionChange> drained;
      s.DrainActionChanges(drained);
    }
  });
  std::thread analyst([&] {
    for (int i = 0; i < kAccounts; i += 7) {
      Override o;
      o.action = Action::kAllow;
      o.until = kT0 + kMicrosPerHour;
      o.analyst = "ana";
      s.SetOverride(ids[i], o, kT0);
      (void)s.Account(ids[i], kT0);
      (void)s.Campaigns(kT0);
    }
  });
  engine.join();
  analyst.join();
  stop = true;
  for (auto& t : workers) t.join();
  EXPECT_GT(decided.load(), uint64_t(kAccounts));
  // Every override set is in force and decides.
  for (int i = 0; i < kAccounts; i += 7) {
    const Decision d = s.Decide(Req(ids[i]), kT0 + kMicrosPerMinute);
    EXPECT_EQ(d.action, Action::kAllow) << ids[i];
    EXPECT_EQ(d.source, DecisionSource::kOverride);
  }
  EXPECT_EQ(s.stats().accounts, uint64_t(kAccounts));
  EXPECT_EQ(s.stats().overrides, uint64_t((kAccounts + 6) / 7));
}

}  // namespace
}  // namespace moat::policy
