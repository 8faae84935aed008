// Kernels on the per-exchange path, with bytes/s: the line decoder, RFC 3339
// parsing and JSON string escaping. Run by `make bench`.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "moat/core/exchange_json.h"
#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/ingest/line_decoder.h"

namespace {

// Lines shaped like a gateway's: every field, prompts of a few hundred bytes.
std::string MakeLines(size_t n, std::vector<size_t>& starts) {
  std::mt19937_64 rng(7);
  const char* words[] = {"explain", "the", "theorem", "step", "by", "reasoning", "python",
                         "function", "derive", "prove", "translate", "summarise", "carefully",
                         "é", "数学", "\"quoted\"", "list", "all", "cases", "why"};
  std::string data;
  moat::Exchange x;
  for (size_t i = 0; i < n; ++i) {
    x.Clear();
    x.ts = 1'770'000'000 * moat::kMicrosPerSecond + static_cast<int64_t>(i) * 20'000;
    x.account_id = "acct_" + std::to_string(rng() % 50000);
    x.request_id = "req_" + std::to_string(rng());
    x.org_id = "org_" + std::to_string(rng() % 3000);
    x.ip = "198.51." + std::to_string(rng() % 256) + ".7";
    x.asn = static_cast<int64_t>(rng() % 400000);
    x.country = "DE";
    x.user_agent = "openai-python/1.30." + std::to_string(rng() % 9);
    x.tls_fingerprint = "t13d1516h2_8daaf6152771_02713d6af862";
    x.model = "frontier-1";
    x.conversation_id = "conv_" + std::to_string(rng() % 100000);
    x.turn = static_cast<int64_t>(rng() % 12);
    x.system_prompt = "You are a helpful assistant.";
    for (size_t w = 0, k = 20 + rng() % 50; w < k; ++w) {
      x.prompt += words[rng() % std::size(words)];
      x.prompt += ' ';
    }
    x.input_tokens = static_cast<int64_t>(rng() % 4000);
    x.output_tokens = static_cast<int64_t>(rng() % 8000);
    x.temperature = 0.7;
    x.max_tokens = 4096;
    x.status = 200;
    for (moat::Field f : {moat::Field::kRequestId, moat::Field::kOrgId, moat::Field::kIp,
                          moat::Field::kAsn, moat::Field::kCountry, moat::Field::kUserAgent,
                          moat::Field::kTlsFingerprint, moat::Field::kModel,
                          moat::Field::kConversationId, moat::Field::kTurn,
                          moat::Field::kSystemPrompt, moat::Field::kPrompt,
                          moat::Field::kInputTokens, moat::Field::kOutputTokens,
                          moat::Field::kTemperature, moat::Field::kMaxTokens, moat::Field::kStatus})
      x.Set(f);
    starts.push_back(data.size());
    moat::AppendExchangeJson(x, data);
    data.push_back('\n');
  }
  starts.push_back(data.size());
  data.append(moat::ingest::kLinePadding, '\0');
  return data;
}

void BM_DecodeLine(benchmark::State& state) {
  std::vector<size_t> starts;
  const std::string data = MakeLines(4096, starts);
  moat::ingest::LineDecoder decoder;
  moat::Exchange out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const size_t b = starts[i], e = starts[i + 1] - 1;
    benchmark::DoNotOptimize(decoder.Decode(std::string_view(data.data() + b, e - b), out));
    bytes += e - b + 1;
    if (++i + 1 == starts.size()) i = 0;
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeLine);

void BM_ParseRfc3339(benchmark::State& state) {
  const std::string ts = "2026-02-03T14:05:07.123Z";
  for (auto _ : state) benchmark::DoNotOptimize(moat::ParseRfc3339(ts));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * ts.size()));
}
BENCHMARK(BM_ParseRfc3339);

void BM_AppendJsonString(benchmark::State& state) {
  const std::string text(2000, 'a');
  std::string out;
  for (auto _ : state) {
    out.clear();
    moat::AppendJsonString(text, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_AppendJsonString);

}  // namespace

BENCHMARK_MAIN();
