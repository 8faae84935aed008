// The engine alone, with no parsing:
//   engine_bench [exchanges] [accounts]   throughput on pre-built exchanges
//   engine_bench --memory                 resident bytes per account at 10k,
//                                         100k and 1M accounts
// Memory is the growth of the process's resident set while the engine runs,
// divided by accounts: per-account state, interned ids, indexes, everything.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "moat/core/time.h"
#include "moat/engine/engine.h"

namespace {

using namespace moat;

constexpr EventTime kT0 = 1'770'076'800LL * kMicrosPerSecond;
const char* kWords[] = {"river", "budget", "garden", "protein", "orbit", "ledger", "violin", "harbor",
                        "matrix", "lantern", "pepper", "quartz", "saddle", "tunnel", "meadow", "copper"};

// One exchange of account `a` at `ts`: every field a gateway fills, a
// ~300-byte prompt, a quarter of them asking for step-by-step reasoning.
void Fill(Exchange& x, std::mt19937_64& rng, size_t i, int a, EventTime ts) {
  x.Clear();
  x.ts = ts;
  x.account_id = "acct_" + std::to_string(100000 + a);
  x.request_id = "req_" + std::to_string(i);
  x.ip = "10." + std::to_string(a % 200) + "." + std::to_string(a % 97) + "." + std::to_string(rng() % 250);
  x.user_agent = "sdk-python/1." + std::to_string(a % 5);
  x.tls_fingerprint = "t13d1516h2_" + std::to_string(a % 7);
  x.payment_fingerprint = "pm_" + std::to_string(a);
  x.email_domain = "d" + std::to_string(a % 500) + ".example";
  x.account_created = kT0 - kMicrosPerDay;
  x.conversation_id = "c" + std::to_string(i);
  x.turn = static_cast<int64_t>(rng() % 3);
  x.model = "m-large";
  x.prompt = "Please answer the following question carefully. ";
  while (x.prompt.size() < 300) {
    x.prompt += kWords[rng() % 16];
    x.prompt += ' ';
  }
  if (rng() % 4 == 0) x.prompt += "Think step by step.";
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

size_t ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

int Throughput(size_t n, int accounts) {
  std::mt19937_64 rng(7);
  std::vector<Exchange> xs(n);
  const EventTime step = 3 * kMicrosPerDay / static_cast<EventTime>(n);  // three days of traffic
  size_t prompt_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    Fill(xs[i], rng, i, static_cast<int>(rng() % accounts), kT0 + static_cast<EventTime>(i) * step);
    prompt_bytes += xs[i].prompt.size();
  }
  for (int rep = 0; rep < 3; ++rep) {
    engine::Engine e{score::DetectorConfig{}};
    const auto start = std::chrono::steady_clock::now();
    for (size_t i = 0; i < n; i += 1024)
      e.Consume(std::span<const Exchange>(xs.data() + i, std::min<size_t>(1024, n - i)));
    const auto mid = std::chrono::steady_clock::now();
    e.Finish();
    const auto end = std::chrono::steady_clock::now();
    const double s = std::chrono::duration<double>(mid - start).count();
    const engine::EngineStats st = e.stats();
    std::printf("rep %d: %zu exchanges in %.3f s = %.2f M exchanges/s (%.0f MB/s of prompt), finish %.3f s, "
                "%u accounts, %u extraction\n",
                rep, n, s, n / s / 1e6, prompt_bytes / s / 1e6,
                std::chrono::duration<double>(end - mid).count(), st.accounts, st.extraction);
  }
  return 0;
}

// Each account sends a few exchanges spread over three days, so the engine
// holds every account at once, as a long scan does.
int Memory() {
  std::printf("%10s %12s %16s %18s\n", "accounts", "exchanges", "resident MB", "bytes/account");
  for (int accounts : {10'000, 100'000, 1'000'000}) {
    std::mt19937_64 rng(11);
    const size_t n = static_cast<size_t>(accounts) * 5;
    const EventTime step = 3 * kMicrosPerDay / static_cast<EventTime>(n);
    std::vector<Exchange> batch(1024);
    const size_t before = ResidentBytes();
    size_t peak = before;
    {
      engine::Engine e{score::DetectorConfig{}};
      for (size_t i = 0; i < n; i += batch.size()) {
        const size_t k = std::min(batch.size(), n - i);
        for (size_t j = 0; j < k; ++j)
          Fill(batch[j], rng, i + j, static_cast<int>((i + j) % accounts),
               kT0 + static_cast<EventTime>(i + j) * step);
        e.Consume(std::span<const Exchange>(batch.data(), k));
      }
      e.Finish();
      peak = ResidentBytes();
    }
    std::printf("%10d %12zu %16.1f %18.0f\n", accounts, n, (peak - before) / 1e6,
                static_cast<double>(peak - before) / accounts);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--memory") == 0) return Memory();
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  const int accounts = argc > 2 ? std::atoi(argv[2]) : 20'000;
  return Throughput(n, accounts);
}
