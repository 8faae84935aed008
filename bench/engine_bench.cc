// Engine-only throughput: pre-built exchanges (no parsing) pushed through
// Engine::Consume in batches of 1024. Not a unit test; run by hand:
//   build/bench/engine_bench [exchanges] [accounts]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "moat/core/time.h"
#include "moat/engine/engine.h"

int main(int argc, char** argv) {
  using namespace moat;
  using engine::Engine;
  using engine::EngineStats;
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int accounts = argc > 2 ? std::atoi(argv[2]) : 20'000;
  std::mt19937_64 rng(7);
  const char* words[] = {"river", "budget", "garden", "protein", "orbit", "ledger", "violin", "harbor",
                         "matrix", "lantern", "pepper", "quartz", "saddle", "tunnel", "meadow", "copper"};
  std::vector<Exchange> xs(n);
  const EventTime t0 = 1'770'076'800LL * kMicrosPerSecond;
  const EventTime step = 3 * kMicrosPerDay / static_cast<EventTime>(n);  // three days of traffic
  size_t prompt_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    Exchange& x = xs[i];
    const int a = static_cast<int>(rng() % accounts);
    x.ts = t0 + static_cast<EventTime>(i) * step;
    x.account_id = "acct_" + std::to_string(100000 + a);
    x.request_id = "req_" + std::to_string(i);
    x.ip = "10." + std::to_string(a % 200) + "." + std::to_string(a % 97) + "." + std::to_string(rng() % 250);
    x.user_agent = "sdk-python/1." + std::to_string(a % 5);
    x.tls_fingerprint = "t13d1516h2_" + std::to_string(a % 7);
    x.payment_fingerprint = "pm_" + std::to_string(a);
    x.email_domain = "d" + std::to_string(a % 500) + ".example";
    x.account_created = t0 - kMicrosPerDay;
    x.conversation_id = "c" + std::to_string(i);
    x.turn = static_cast<int64_t>(rng() % 3);
    x.model = "m-large";
    std::string p = "Please answer the following question carefully. ";
    while (p.size() < 300) {
      p += words[rng() % 16];
      p += ' ';
    }
    if (rng() % 4 == 0) p += "Think step by step.";
    prompt_bytes += p.size();
    x.prompt = std::move(p);
    x.input_tokens = 80;
    x.output_tokens = 400;
    x.reasoning_tokens = 200;
    x.temperature = 0.7;
    x.max_tokens = 1024;
    x.asn = 64500 + a % 10;
    x.status = 200;
    for (Field f : {Field::kRequestId, Field::kIp, Field::kAsn, Field::kUserAgent, Field::kTlsFingerprint,
                    Field::kPaymentFingerprint, Field::kEmailDomain, Field::kAccountCreated, Field::kModel,
                    Field::kConversationId, Field::kTurn, Field::kPrompt, Field::kInputTokens,
                    Field::kOutputTokens, Field::kReasoningTokens, Field::kTemperature, Field::kMaxTokens,
                    Field::kStatus})
      x.Set(f);
  }
  for (int rep = 0; rep < 3; ++rep) {
    Engine e{score::DetectorConfig{}};
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; i += 1024)
      e.Consume(std::span<const Exchange>(xs.data() + i, std::min<size_t>(1024, n - i)));
    const auto mid = std::chrono::steady_clock::now();
    e.Finish();
    const auto end = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(mid - start).count();
    const EngineStats st = e.stats();
    std::printf("rep %d: %zu exchanges in %.3f s = %.2f M exchanges/s (%.0f MB/s of prompt), finish %.3f s, "
                "%u accounts, %llu ticks, %llu link runs, %zu bytes state/account, %u extraction\n",
                rep, n, s, n / s / 1e6, prompt_bytes / s / 1e6,
                std::chrono::duration<double>(end - mid).count(), st.accounts,
                static_cast<unsigned long long>(st.score_ticks), static_cast<unsigned long long>(st.link_runs),
                st.state_bytes_per_account, st.extraction);
  }
  return 0;
}
