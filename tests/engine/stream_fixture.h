// A hand-built, seeded stream of ~50 accounts for engine tests: a few
// regular, templated, max-output reasoning harvesters sharing a card; human
// chat users; a temperature-0 benchmark burst; an app on one cloud IP with a
// system prompt; a nightly batch job; an LLM-as-judge run.
#pragma once

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/time.h"

namespace moat::testing {

inline constexpr EventTime kStreamStart = 1'770'076'800LL * kMicrosPerSecond;  // 2026-02-03T00:00:00Z
inline constexpr int kHarvesters = 6;
inline constexpr int kHumans = 40;

inline std::string HarvesterId(int i) { return "h" + std::to_string(i); }
inline std::string HumanId(int i) { return "u" + std::to_string(i); }

struct StreamBuilder {
  std::mt19937_64 rng{20260203};
  std::vector<Exchange> out;
  uint64_t seq = 0;

  double U() { return std::uniform_real_distribution<double>(0, 1)(rng); }
  int I(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  std::string Words(int n) {
    static const char* kWords[] = {"river", "budget", "garden", "protein", "orbit", "ledger", "violin",
                                   "harbor", "matrix", "lantern", "pepper", "quartz", "saddle", "tunnel",
                                   "meadow", "copper", "falcon", "glacier", "insect", "jigsaw"};
    std::string s;
    for (int i = 0; i < n; ++i) {
      if (i) s += ' ';
      s += kWords[I(0, 19)];
    }
    return s;
  }
  Exchange& Add(EventTime ts, const std::string& account) {
    Exchange& x = out.emplace_back();
    x.ts = ts;
    x.account_id = account;
    x.request_id = "r" + std::to_string(seq++);
    x.Set(Field::kRequestId);
    return x;
  }
  static void Tokens(Exchange& x, int64_t in, int64_t outp, int64_t reasoning, int64_t max_tokens, double temp) {
    x.input_tokens = in;
    x.Set(Field::kInputTokens);
    x.output_tokens = outp;
    x.Set(Field::kOutputTokens);
    if (reasoning > 0) {
      x.reasoning_tokens = reasoning;
      x.Set(Field::kReasoningTokens);
    }
    if (max_tokens > 0) {
      x.max_tokens = max_tokens;
      x.Set(Field::kMaxTokens);
    }
    x.temperature = temp;
    x.Set(Field::kTemperature);
  }
  static void Str(Exchange& x, Field f, std::string Exchange::*m, std::string v) {
    x.*m = std::move(v);
    x.Set(f);
  }
  static void Identity(Exchange& x, const std::string& card, const std::string& domain, EventTime created,
                       const std::string& ip, const std::string& ua, const std::string& tls) {
    Str(x, Field::kPaymentFingerprint, &Exchange::payment_fingerprint, card);
    Str(x, Field::kEmailDomain, &Exchange::email_domain, domain);
    Str(x, Field::kIp, &Exchange::ip, ip);
    Str(x, Field::kUserAgent, &Exchange::user_agent, ua);
    Str(x, Field::kTlsFingerprint, &Exchange::tls_fingerprint, tls);
    x.account_created = created;
    x.Set(Field::kAccountCreated);
  }
  static void Turn(Exchange& x, const std::string& conv, int64_t turn) {
    Str(x, Field::kConversationId, &Exchange::conversation_id, conv);
    x.turn = turn;
    x.Set(Field::kTurn);
  }

  void Harvesters(int days) {
    for (int h = 0; h < kHarvesters; ++h) {
      const EventTime begin = kStreamStart + h * 7 * kMicrosPerMinute;
      const EventTime created = begin - kMicrosPerHour - h * kMicrosPerMinute;
      int n = 0;
      for (EventTime t = begin; t < kStreamStart + days * kMicrosPerDay;
           t += static_cast<EventTime>(240.0 * (0.9 + 0.2 * U()) * kMicrosPerSecond)) {
        Exchange& x = Add(t, HarvesterId(h));
        Identity(x, "card-shared", "h" + std::to_string(h % 2) + ".mailer.test", created,
                 "203.0.113." + std::to_string(I(1, 254)), "sdk-py/1.4", "tlsA");
        Turn(x, HarvesterId(h) + "-" + std::to_string(n++), 0);
        Str(x, Field::kPrompt, &Exchange::prompt,
            "Problem: " + Words(12) + "?\nWork through it and show your full reasoning process before answering.");
        Tokens(x, 90 + I(0, 40), 7400 + I(0, 700), 5000, 8192, 0.8);
      }
    }
  }

  void Humans(int days) {
    for (int u = 0; u < kHumans; ++u) {
      const int tz = I(-3, 3);  // office hours shift
      const std::string domain = u < 20 ? "webmail.test" : "corp" + std::to_string(u) + ".test";
      const EventTime created = kStreamStart - (30 + u * 11) * kMicrosPerDay;
      for (int d = 0; d < days; ++d) {
        const int sessions = I(1, 3);
        for (int s = 0; s < sessions; ++s) {
          EventTime t = kStreamStart + d * kMicrosPerDay + (9 + tz + I(0, 8)) * kMicrosPerHour +
                        I(0, 3599) * kMicrosPerSecond;
          const int turns = I(2, 6);
          const std::string conv = HumanId(u) + "-" + std::to_string(d) + "-" + std::to_string(s);
          for (int k = 0; k < turns; ++k) {
            Exchange& x = Add(t, HumanId(u));
            Identity(x, "card-u" + std::to_string(u), domain, created,
                     "198.51." + std::to_string(u) + "." + std::to_string(I(1, 254)), "browser/9", "tlsB");
            Turn(x, conv, k);
            std::string p = (k == 0 ? "Hi! " : "Thanks. ") + Words(I(4, 15)) + "?";
            if (U() < 0.1) p += " Explain step by step.";
            Str(x, Field::kPrompt, &Exchange::prompt, p);
            Tokens(x, 50 + I(0, 300), 100 + I(0, 600), 0, 0, 1.0);
            t += static_cast<EventTime>(-std::log(1 - U()) * 120.0 * kMicrosPerSecond) + kMicrosPerSecond;
          }
        }
      }
    }
  }

  void Benchmark() {
    // Day 2, 14:00-16:00, one request every ~2 s, temperature 0, under an org.
    const EventTime begin = kStreamStart + kMicrosPerDay + 14 * kMicrosPerHour;
    for (EventTime t = begin; t < begin + 2 * kMicrosPerHour;
         t += static_cast<EventTime>(2.0 * (0.95 + 0.1 * U()) * kMicrosPerSecond)) {
      Exchange& x = Add(t, "bench");
      Identity(x, "card-lab", "lab.test", kStreamStart - 400 * kMicrosPerDay, "192.0.2.77", "sdk-py/1.4", "tlsA");
      Str(x, Field::kOrgId, &Exchange::org_id, "org-lab");
      Turn(x, "bench-" + std::to_string(t), 0);
      Str(x, Field::kPrompt, &Exchange::prompt,
          "Q: " + Words(10) + " has " + std::to_string(I(2, 99)) + " apples. How many?\nA: Let's think step by step.");
      Tokens(x, 150, 150 + I(0, 100), 0, 512, 0.0);
    }
  }

  void App(int days) {
    // Thousands of end users behind one cloud IP and a system prompt; Poisson
    // arrivals, busier in the day, real multi-turn conversations.
    EventTime t = kStreamStart;
    int conv = 0;
    while (t < kStreamStart + days * kMicrosPerDay) {
      const int hour = static_cast<int>((t / kMicrosPerHour) % 24);
      const double rate = (hour >= 8 && hour < 22) ? 1.0 / 20 : 1.0 / 60;
      t += static_cast<EventTime>(-std::log(1 - U()) / rate * kMicrosPerSecond) + 1;
      Exchange& x = Add(t, "app");
      Identity(x, "card-app", "shopco.test", kStreamStart - 200 * kMicrosPerDay, "192.0.2.10", "app-server/2",
               "tlsC");
      Str(x, Field::kOrgId, &Exchange::org_id, "org-shop");
      Str(x, Field::kSystemPrompt, &Exchange::system_prompt, "You are the shopping assistant of ShopCo.");
      const bool follow = U() < 0.45;
      if (!follow) ++conv;
      Turn(x, "app-" + std::to_string(conv), follow ? I(1, 4) : 0);
      Str(x, Field::kPrompt, &Exchange::prompt, Words(I(3, 14)) + "?");
      Tokens(x, 400 + I(0, 200), 150 + I(0, 300), 0, 1024, 0.7);
    }
  }

  void Batch(int days) {
    // Nightly 02:00-03:00, one templated request every ~3 s.
    for (int d = 0; d < days; ++d) {
      const EventTime begin = kStreamStart + d * kMicrosPerDay + 2 * kMicrosPerHour;
      for (EventTime t = begin; t < begin + kMicrosPerHour;
           t += static_cast<EventTime>(3.0 * (0.95 + 0.1 * U()) * kMicrosPerSecond)) {
        Exchange& x = Add(t, "batch");
        Identity(x, "card-batch", "acme.test", kStreamStart - 300 * kMicrosPerDay, "192.0.2.50", "sdk-go/0.9",
                 "tlsD");
        Str(x, Field::kOrgId, &Exchange::org_id, "org-acme");
        Turn(x, "batch-" + std::to_string(t), 0);
        Str(x, Field::kPrompt, &Exchange::prompt,
            "Summarize the following support ticket in two sentences: " + Words(30));
        Tokens(x, 300, 60 + I(0, 20), 0, 200, 0.2);
      }
    }
  }

  void Judge() {
    const EventTime begin = kStreamStart + 2 * kMicrosPerDay + 10 * kMicrosPerHour;
    for (EventTime t = begin; t < begin + kMicrosPerHour;
         t += static_cast<EventTime>(4.0 * (0.9 + 0.2 * U()) * kMicrosPerSecond)) {
      Exchange& x = Add(t, "judge");
      Identity(x, "card-judge", "evalco.test", kStreamStart - 500 * kMicrosPerDay, "192.0.2.90", "sdk-py/1.4",
               "tlsA");
      Str(x, Field::kOrgId, &Exchange::org_id, "org-eval");
      Turn(x, "judge-" + std::to_string(t), 0);
      Str(x, Field::kPrompt, &Exchange::prompt,
          "Rate the answer below from 1 to 10 for helpfulness and explain your reasoning.\nAnswer: " + Words(40));
      Tokens(x, 500, 120, 0, 300, 0.0);
    }
  }
};

// The whole stream in event-time order (ties keep generation order).
inline std::vector<Exchange> BuildStream(int days = 3) {
  StreamBuilder b;
  b.Harvesters(days);
  b.Humans(days);
  b.Benchmark();
  b.App(days);
  b.Batch(days);
  b.Judge();
  std::stable_sort(b.out.begin(), b.out.end(), [](const Exchange& x, const Exchange& y) { return x.ts < y.ts; });
  return std::move(b.out);
}

}  // namespace moat::testing
