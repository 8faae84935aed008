// Text kernels: normalisation, MinHash sketch, template mining, lexicon scan.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "moat/text/lexicons.h"
#include "moat/text/minhash.h"
#include "moat/text/normalize.h"
#include "moat/text/simhash.h"
#include "moat/text/template_miner.h"

namespace {

using namespace moat::text;

const char* const kWords[] = {"explain", "the", "difference", "between", "river", "planet", "market", "theory",
                              "engine", "protein", "ocean", "castle", "how", "why", "does", "work", "in",
                              "simple", "terms", "with", "examples", "a", "of", "and", "for", "history"};

// ~300-byte prompts: a few wrappers around varied questions plus organic ones.
std::vector<std::string> MakePrompts(size_t n, size_t target_bytes) {
  std::mt19937_64 rng(1);
  const char* const prefixes[] = {"You are an expert tutor. Answer the following question and show your reasoning step by step: ",
                                  "Question: ", ""};
  const char* const suffixes[] = {" Give the final answer on its own line.", " Be as detailed as possible.", ""};
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) {
    const size_t w = rng() % 3;
    std::string p = prefixes[w];
    while (p.size() + 40 < target_bytes) {
      p += kWords[rng() % (sizeof kWords / sizeof kWords[0])];
      p += rng() % 9 == 0 ? " 42 " : " ";
    }
    p += suffixes[w];
    out.push_back(std::move(p));
  }
  return out;
}

const std::vector<std::string>& Prompts() {
  static const std::vector<std::string> p = MakePrompts(4096, 300);
  return p;
}
const std::vector<std::string>& NormalizedPrompts() {
  static const std::vector<std::string> n = [] {
    std::vector<std::string> out;
    for (const auto& p : Prompts()) out.push_back(Normalize(p));
    return out;
  }();
  return n;
}

template <typename F>
void Run(benchmark::State& state, const std::vector<std::string>& inputs, F&& f) {
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& s = inputs[i++ & (inputs.size() - 1)];
    f(s);
    bytes += s.size();
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.SetItemsProcessed(state.iterations());
}

void BM_NormalizeAscii(benchmark::State& state) {
  std::string out;
  Run(state, Prompts(), [&](const std::string& s) {
    Normalize(s, out);
    benchmark::DoNotOptimize(out.data());
  });
}
BENCHMARK(BM_NormalizeAscii);

void BM_NormalizeUnicode(benchmark::State& state) {
  std::vector<std::string> inputs;
  for (const auto& p : Prompts()) inputs.push_back("Café Ｓｏｌｖｅ " + p + " — naïve");
  std::string out;
  Run(state, inputs, [&](const std::string& s) {
    Normalize(s, out);
    benchmark::DoNotOptimize(out.data());
  });
}
BENCHMARK(BM_NormalizeUnicode);

void BM_Tokenize(benchmark::State& state) {
  Run(state, NormalizedPrompts(), [&](const std::string& s) {
    size_t n = 0;
    ForEachToken(s, [&](std::string_view) { ++n; });
    benchmark::DoNotOptimize(n);
  });
}
BENCHMARK(BM_Tokenize);

void BM_MinHash128(benchmark::State& state) {
  MinHasher hasher(MinHashOptions{.seed = 7});
  MinHash128 sketch;
  Run(state, NormalizedPrompts(), [&](const std::string& s) {
    hasher.Sketch(s, sketch);
    benchmark::DoNotOptimize(sketch.data());
  });
}
BENCHMARK(BM_MinHash128);

void BM_MinHashBandKeys(benchmark::State& state) {
  MinHasher hasher(MinHashOptions{.seed = 7});
  std::vector<MinHash128> sketches(NormalizedPrompts().size());
  for (size_t i = 0; i < sketches.size(); ++i) hasher.Sketch(NormalizedPrompts()[i], sketches[i]);
  std::array<uint64_t, 16> keys;
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(hasher.BandKeys(sketches[i++ & (sketches.size() - 1)], LshBands{16, 8}, keys));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MinHashBandKeys);

void BM_SimHash(benchmark::State& state) {
  Run(state, NormalizedPrompts(), [&](const std::string& s) { benchmark::DoNotOptimize(SimHash(s)); });
}
BENCHMARK(BM_SimHash);

void BM_TemplateMinerAdd(benchmark::State& state) {
  TemplateMiner miner;
  Run(state, NormalizedPrompts(), [&](const std::string& s) { benchmark::DoNotOptimize(miner.Add(s)); });
  state.counters["clusters"] = static_cast<double>(miner.cluster_count());
}
BENCHMARK(BM_TemplateMinerAdd);

void BM_TemplateMinerAddShort(benchmark::State& state) {
  std::vector<std::string> inputs;
  for (const auto& p : MakePrompts(4096, 80)) inputs.push_back(Normalize(p));
  TemplateMiner miner;
  Run(state, inputs, [&](const std::string& s) { benchmark::DoNotOptimize(miner.Add(s)); });
  state.counters["clusters"] = static_cast<double>(miner.cluster_count());
}
BENCHMARK(BM_TemplateMinerAddShort);

void BM_Analyze(benchmark::State& state) {
  (void)DefaultLexicons();
  Run(state, Prompts(), [&](const std::string& s) { benchmark::DoNotOptimize(Analyze(s)); });
}
BENCHMARK(BM_Analyze);

void BM_AnalyzeLong(benchmark::State& state) {
  (void)DefaultLexicons();
  std::vector<std::string> inputs;
  for (size_t i = 0; i < 16; ++i) {
    std::string p;
    while (p.size() < 100000) p += Prompts()[(i * 7 + p.size()) % Prompts().size()];
    inputs.push_back(std::move(p));
  }
  Run(state, inputs, [&](const std::string& s) { benchmark::DoNotOptimize(Analyze(s)); });
}
BENCHMARK(BM_AnalyzeLong);

}  // namespace

BENCHMARK_MAIN();
