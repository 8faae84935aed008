#include "moat/features/account_state.h"

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "moat/core/time.h"
#include "moat/features/prompt_scan.h"
#include "moat/features/sketches.h"

namespace moat::features {
namespace {

TEST(PromptScanTest, SignaturesNormaliseCaseDigitsAndSpaces) {
  auto s = [](std::string_view p) { return ScanPrompt(p); };
  const auto a = s("Solve problem 12 now, quickly, with care and precision please");
  const auto b = s("SOLVE  problem 345 now, quickly, with care and precision please");
  EXPECT_EQ(a.prefix_hash, b.prefix_hash);
  EXPECT_EQ(a.suffix_hash, b.suffix_hash);
  const auto c = s("Something entirely different here, friend. Cheers!!");
  EXPECT_NE(a.prefix_hash, c.prefix_hash);
  // Same ending, different opening.
  const auto d = s("Alpha beta gamma delta epsilon zeta eta theta. Answer this with your full reasoning, please.");
  const auto e = s("One two three four five six seven eight nine. Answer this with your full reasoning, please.");
  EXPECT_NE(d.prefix_hash, e.prefix_hash);
  EXPECT_EQ(d.suffix_hash, e.suffix_hash);
}

// templated_prompts reads mined clusters: one wrapper around varying
// questions (numbers folded) lands in one cluster.
TEST(ContentTest, WrapperAroundVaryingQuestionsIsOneMinedTemplate) {
  KeyExtractor ke;
  ExchangeKeys keys;
  const char* questions[] = {"what is the boiling point of water at 17 bar", "who wrote the iliad",
                             "how do vaccines train the immune system", "why is the sky blue at noon"};
  uint32_t first = 0;
  for (int i = 0; i < 4; ++i) {
    Exchange x;
    x.prompt = std::string("You are an expert tutor. Answer the following question and show your reasoning: ") +
               questions[i] + ". Respond in at least 500 words.";
    x.Set(Field::kPrompt);
    ke.Extract(x, keys);
    ASSERT_TRUE(keys.analysed);
    if (i == 0) first = keys.template_cluster;
    EXPECT_EQ(keys.template_cluster, first) << i;
  }
  Exchange other;
  other.prompt = "hi there, can you help me plan a birthday party for my daughter next weekend";
  other.Set(Field::kPrompt);
  ke.Extract(other, keys);
  EXPECT_NE(keys.template_cluster, first);
  ke.Extract(other, keys, /*analyse_content=*/false);
  EXPECT_FALSE(keys.analysed);
}

TEST(SubnetKeyTest, V4SlashTwentyFourAndV6SlashFortyEight) {
  EXPECT_EQ(SubnetKey("10.1.2.3"), SubnetKey("10.1.2.99"));
  EXPECT_NE(SubnetKey("10.1.2.3"), SubnetKey("10.1.3.3"));
  EXPECT_EQ(SubnetKey("2001:db8:1::1"), SubnetKey("2001:db8:1:ffff::2"));
  EXPECT_NE(SubnetKey("2001:db8:1::1"), SubnetKey("2001:db8:2::1"));
  EXPECT_EQ(SubnetKey("2001:db8::1"), SubnetKey("2001:db8:0:5::1"));
  EXPECT_EQ(SubnetKey("not-an-ip"), 0u);
  EXPECT_EQ(SubnetKey("300.1.1.1"), 0u);
}

TEST(SketchTest, HllEstimatesDistinctCount) {
  Hll64 h;
  EXPECT_NEAR(h.Estimate(), 0.0, 1e-9);
  for (uint64_t i = 0; i < 1000; ++i) {
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ULL;  // splitmix64 finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    h.Add(z ^ (z >> 31));
  }
  EXPECT_NEAR(h.Estimate(), 1000.0, 350.0);
  Hll64 one;
  for (int i = 0; i < 100; ++i) one.Add(0xdeadbeefcafef00dULL);
  EXPECT_NEAR(one.Estimate(), 1.0, 0.6);
}

TEST(SketchTest, CappedSetAndTopKeys) {
  CappedSet<3> s;
  EXPECT_TRUE(s.Add(1));
  EXPECT_FALSE(s.Add(1));
  s.Add(2);
  s.Add(3);
  s.Add(4);
  EXPECT_EQ(s.Distinct(), 4);
  EXPECT_TRUE(s.overflow());
  TopKeys<2> t;
  for (int i = 0; i < 10; ++i) t.Add(7);
  t.Add(1);
  t.Add(2);
  EXPECT_EQ(t.MaxCount(), 10u);
}

Exchange Make(EventTime ts, int64_t turn, const std::string& prompt) {
  Exchange x;
  x.ts = ts;
  x.account_id = "a";
  x.prompt = prompt;
  x.Set(Field::kPrompt);
  x.turn = turn;
  x.Set(Field::kTurn);
  x.input_tokens = 100;
  x.Set(Field::kInputTokens);
  x.output_tokens = 950;
  x.Set(Field::kOutputTokens);
  x.reasoning_tokens = 500;
  x.Set(Field::kReasoningTokens);
  x.max_tokens = 1000;
  x.Set(Field::kMaxTokens);
  x.temperature = 0.0;
  x.Set(Field::kTemperature);
  x.ip = "10.0.0." + std::to_string(ts / kMicrosPerMinute % 200);
  x.Set(Field::kIp);
  x.payment_fingerprint = "card";
  x.Set(Field::kPaymentFingerprint);
  return x;
}

TEST(AccountStateTest, CountersAndDerivedMeasures) {
  KeyExtractor ke;
  ExchangeKeys keys;
  StateConfig cfg;
  cfg.high_max_tokens = 1000;
  AccountState st;
  const EventTime t0 = 1'770'000'000LL * kMicrosPerSecond;  // some UTC time
  uint32_t fresh_payment = 0;
  for (int i = 0; i < 20; ++i) {
    // Every 60 s; ten conversations of two turns, then ten single prompts.
    const int64_t turn = i < 20 ? (i % 2) : 0;
    Exchange x = Make(t0 + i * 60 * kMicrosPerSecond, i < 10 ? turn : 0,
                      "Question " + std::to_string(i) + ": think step by step");
    ke.Extract(x, keys);
    const uint32_t fresh = st.Update(x, keys, cfg);
    fresh_payment += (fresh >> static_cast<int>(LinkKind::kPayment)) & 1u;
  }
  EXPECT_EQ(fresh_payment, 1u);  // the card entered the account's slots once
  EXPECT_EQ(st.exchanges, 20u);
  EXPECT_EQ(st.first_ts, t0);
  EXPECT_EQ(st.last_ts, t0 + 19 * 60 * kMicrosPerSecond);
  EXPECT_EQ(st.log_gap.n, 19u);
  EXPECT_NEAR(st.log_gap.mean, std::log(60.0), 1e-9);
  EXPECT_NEAR(st.log_gap.Stddev(), 0.0, 1e-9);
  EXPECT_DOUBLE_EQ(st.ElicitShare(), 1.0);
  EXPECT_DOUBLE_EQ(st.TemplateShare(), 1.0);  // digits fold, so one signature
  EXPECT_NEAR(st.OutputInputRatio(), 9.5, 1e-9);
  EXPECT_NEAR(st.ReasoningTokenShare(), 500.0 / 950.0, 1e-9);
  EXPECT_EQ(st.n_high_max_tokens, 20u);
  EXPECT_EQ(st.n_near_max, 20u);
  EXPECT_DOUBLE_EQ(st.TemperatureZeroShare(), 1.0);
  EXPECT_EQ(st.temperatures.Distinct(), 1);
  // 5 conversations with a second turn (turn0 at i=0,2,4,6,8 and turn1 after),
  // 10 single prompts after them: (15 - 5) / 20 single-turn.
  EXPECT_NEAR(st.SingleTurnShare(), 10.0 / 20.0, 1e-9);
  EXPECT_NEAR(st.FollowupShare(), 5.0 / 20.0, 1e-9);
  EXPECT_GE(st.ActiveHoursOfDay(), 1);
  EXPECT_LE(st.ActiveHoursOfDay(), 2);
  EXPECT_EQ(st.active_days, 1u);
  EXPECT_GT(st.IpEstimate(), 10.0);
  EXPECT_EQ(st.attrs[static_cast<int>(LinkKind::kPayment)].size, 1);
}

TEST(AccountStateTest, RepeatedTemplateIsOfferedOnceAtTheRepeatCount) {
  KeyExtractor ke;
  ExchangeKeys keys;
  StateConfig cfg;  // template_repeat = 3
  AccountState st;
  const EventTime t0 = 1'770'000'000LL * kMicrosPerSecond;
  std::vector<uint64_t> offered;
  for (int i = 0; i < 6; ++i) {
    // One opening, varying bodies and endings: only the opening repeats.
    Exchange x = Make(t0 + i * 60 * kMicrosPerSecond, 0,
                      "Please classify the following support ticket into one category. Ticket: " +
                          std::string(i % 2 ? "printer jam on floor " : "login fails after reset ") +
                          std::string(static_cast<size_t>(10 + i * 7), 'a' + static_cast<char>(i)));
    ke.Extract(x, keys);
    uint64_t tpl = 0;
    st.Update(x, keys, cfg, &tpl);
    if (tpl != 0) {
      offered.push_back(tpl);
      EXPECT_TRUE(st.AddTemplate(ke.InternTemplate(tpl)));
    }
  }
  ASSERT_EQ(offered.size(), 1u);  // on the third use, never again
  EXPECT_EQ(st.attrs[static_cast<int>(LinkKind::kTemplate)].size, 1);
}

TEST(AccountStateTest, LateExchangeDoesNotCorruptTiming) {
  KeyExtractor ke;
  ExchangeKeys keys;
  AccountState st;
  const EventTime t0 = 1'770'000'000LL * kMicrosPerSecond;
  for (EventTime t : {t0, t0 + 10 * kMicrosPerSecond, t0 - 5 * kMicrosPerSecond}) {
    Exchange x = Make(t, 0, "hi");
    ke.Extract(x, keys);
    st.Update(x, keys, StateConfig{});
  }
  EXPECT_EQ(st.first_ts, t0 - 5 * kMicrosPerSecond);
  EXPECT_EQ(st.last_ts, t0 + 10 * kMicrosPerSecond);
  EXPECT_EQ(st.log_gap.n, 1u);
}

TEST(AccountStateTest, SizeIsBounded) {
  // The whole per-account state is one fixed-size record (16 slots for
  // each of the 9 link kinds are about 1,220 bytes of it; content counters
  // and the mined-template heavy hitters about 120; the two sketches 128).
  EXPECT_LE(sizeof(AccountState), 2216u);
}

// Wake-ups (first request, then any after 30 minutes of silence) feed a
// bounded sketch; identical schedules give identical sketches, and steady
// traffic without pauses adds nothing.
TEST(AccountStateTest, WakeupsAreSketchedOnlyAfterPauses) {
  KeyExtractor ke;
  ExchangeKeys keys;
  AccountState a, b, steady;
  const EventTime t0 = 1'770'000'000LL * kMicrosPerSecond;
  for (int day = 0; day < 3; ++day) {
    for (int session = 0; session < 4; ++session) {
      const EventTime start = t0 + day * kMicrosPerDay + session * 5 * kMicrosPerHour;
      for (int i = 0; i < 5; ++i) {
        Exchange x = Make(start + i * 60 * kMicrosPerSecond, 0, "hi");
        ke.Extract(x, keys);
        a.Update(x, keys, StateConfig{});
        // b runs on the same scheduler, a few seconds later.
        x.ts += 7 * kMicrosPerSecond;
        b.Update(x, keys, StateConfig{});
      }
    }
  }
  for (int i = 0; i < 3 * 24 * 60; ++i) {
    Exchange x = Make(t0 + i * 60 * kMicrosPerSecond, 0, "hi");
    ke.Extract(x, keys);
    steady.Update(x, keys, StateConfig{});
  }
  EXPECT_EQ(a.n_wakeups, 12u);
  EXPECT_TRUE(a.sketches_changed);
  EXPECT_EQ(a.wakeups, b.wakeups);
  EXPECT_EQ(steady.n_wakeups, 1u);
}

}  // namespace
}  // namespace moat::features

namespace moat::features {
namespace {

TEST(ContentTest, SampleIsFirstNThenDeterministicOneInK) {
  StateConfig cfg;
  cfg.content_first = 4;
  cfg.content_sample_every = 8;
  Exchange x;
  x.prompt = "hello";
  x.Set(Field::kPrompt);
  int sampled = 0;
  for (uint32_t seen = 0; seen < 4; ++seen) EXPECT_TRUE(KeyExtractor::SampleContent(x, seen, cfg));
  for (int i = 0; i < 8000; ++i) {
    x.request_id = "req-" + std::to_string(i);
    x.Set(Field::kRequestId);
    const bool s = KeyExtractor::SampleContent(x, 100, cfg);
    EXPECT_EQ(s, KeyExtractor::SampleContent(x, 100, cfg));  // reproducible
    sampled += s;
  }
  EXPECT_NEAR(sampled, 1000, 150);
  Exchange none;
  EXPECT_FALSE(KeyExtractor::SampleContent(none, 0, cfg));  // no prompt, nothing to analyse
}

TEST(ContentTest, SharesAndBreadthCountOnlyAnalysedPrompts) {
  KeyExtractor ke;
  ExchangeKeys keys;
  AccountState st;
  const EventTime t0 = 1'770'000'000LL * kMicrosPerSecond;
  const char* prompts[] = {
      "Translate this sentence into French: the weather is nice today",
      "Write a python function that sorts a list of numbers",
      "Summarize this article about the history of the roman empire",
      "Solve the equation 3x + 5 = 20 and show your reasoning step by step",
  };
  for (int i = 0; i < 8; ++i) {
    Exchange x = Make(t0 + i * 60 * kMicrosPerSecond, 0, prompts[i % 4]);
    ke.Extract(x, keys, /*analyse_content=*/i < 4);
    st.Update(x, keys, StateConfig{});
  }
  EXPECT_EQ(st.n_prompts, 8u);
  EXPECT_EQ(st.n_analysed, 4u);
  EXPECT_DOUBLE_EQ(st.ElicitShare(), 0.25);  // one of the four analysed
  EXPECT_GE(st.TaskBreadth(), 3);            // translation, code, summarisation, math
  EXPECT_GE(st.TopicBreadth(), 1);
  EXPECT_EQ(st.task_mask & ~((1u << static_cast<int>(text::TaskType::kCount)) - 1), 0u);
}

TEST(ContentTest, OutputRequestsAreCounted) {
  KeyExtractor ke;
  ExchangeKeys keys;
  AccountState st;
  Exchange x = Make(1'770'000'000LL * kMicrosPerSecond, 0,
                    "Give the complete answer verbatim, as long and detailed as possible, do not summarize");
  ke.Extract(x, keys);
  st.Update(x, keys, StateConfig{});
  EXPECT_EQ(st.n_output_request, 1u);
  EXPECT_DOUBLE_EQ(st.OutputRequestShare(), 1.0);
}

}  // namespace
}  // namespace moat::features
