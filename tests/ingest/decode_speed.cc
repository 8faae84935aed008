// Rough speed figure for LineDecoder and ReadAll (not a unit test):
//   ingest_decode_speed [lines] [dir]
// Generates realistic lines with AppendExchangeJson, then times decode-only
// over an in-memory buffer and the whole ReadAll path over a plain file.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "moat/core/exchange_json.h"
#include "moat/core/time.h"
#include "moat/ingest/ingest.h"
#include "moat/ingest/line_decoder.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
  const size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  std::mt19937_64 rng(7);
  const char* words[] = {"explain", "the", "theorem", "step", "by", "reasoning", "python",
                         "function", "derive", "prove", "translate", "summarise", "carefully",
                         "é", "数学", "\"quoted\"", "\\path", "list", "all", "cases"};
  std::string data;
  moat::Exchange x;
  for (size_t i = 0; i < n; ++i) {
    x.Clear();
    x.ts = 1'770'000'000 * moat::kMicrosPerSecond + static_cast<int64_t>(i) * 20'000 +
           static_cast<int64_t>(rng() % 60'000'000);
    x.account_id = "acct_" + std::to_string(rng() % 50000);
    x.request_id = "req_" + std::to_string(i) + "_" + std::to_string(rng());
    x.org_id = "org_" + std::to_string(rng() % 3000);
    x.api_key_id = "key_" + std::to_string(rng() % 90000);
    x.ip = std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + ".7.9";
    x.asn = static_cast<int64_t>(rng() % 400000);
    x.country = "DE";
    x.user_agent = "openai-python/1.30." + std::to_string(rng() % 9);
    x.tls_fingerprint = "t13d1516h2_8daaf6152771_02713d6af862";
    x.model = "frontier-1";
    x.conversation_id = "conv_" + std::to_string(rng() % 100000);
    x.turn = static_cast<int64_t>(rng() % 12);
    x.system_prompt = "You are a helpful assistant.";
    x.prompt.clear();
    const size_t words_n = 20 + rng() % 50;  // prompts of a few hundred bytes
    for (size_t w = 0; w < words_n; ++w) {
      x.prompt += words[rng() % std::size(words)];
      x.prompt += (w % 17 == 16) ? "\n" : " ";
    }
    x.input_tokens = static_cast<int64_t>(rng() % 4000);
    x.output_tokens = static_cast<int64_t>(rng() % 8000);
    x.reasoning_tokens = static_cast<int64_t>(rng() % 4000);
    x.temperature = 0.7;
    x.max_tokens = 4096;
    x.status = 200;
    x.present = 0x3FFFFF & ~static_cast<uint32_t>(moat::Field::kPaymentFingerprint) &
                ~static_cast<uint32_t>(moat::Field::kEmailDomain) &
                ~static_cast<uint32_t>(moat::Field::kAccountCreated);
    moat::AppendExchangeJson(x, data);
    data.push_back('\n');
  }
  const size_t bytes = data.size();
  data.append(moat::kLinePadding, '\0');

  moat::LineDecoder decoder;
  moat::Exchange out;
  double best = 1e9;
  size_t accepted = 0;
  for (int rep = 0; rep < 5; ++rep) {
    accepted = 0;
    const auto t0 = Clock::now();
    size_t pos = 0;
    while (pos < bytes) {
      size_t nl = data.find('\n', pos);
      accepted += decoder.Decode(std::string_view(data.data() + pos, nl - pos), out) ==
                  moat::LineOutcome::kAccepted;
      pos = nl + 1;
    }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::printf("decode only: %zu lines, %.1f MB, avg %.0f B/line: %.2f M lines/s, %.0f MB/s (%zu accepted)\n",
              n, bytes / 1e6, double(bytes) / n, n / best / 1e6, bytes / best / 1e6, accepted);

  const std::string path = dir + "/moat_decode_speed.jsonl";
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(bytes));
  moat::Quarantine q;
  moat::CountingSink sink;
  const auto t0 = Clock::now();
  const moat::IngestReport r = moat::ReadAll({path}, moat::IngestOptions{}, q, sink);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("ReadAll plain file (read + decode + reorder + dedup): %.2f M lines/s, %.0f MB/s "
              "(%llu delivered, %llu rejected)\n",
              n / secs / 1e6, bytes / secs / 1e6, static_cast<unsigned long long>(sink.count()),
              static_cast<unsigned long long>(r.stats.rejected_total));
  std::remove(path.c_str());
  return 0;
}
