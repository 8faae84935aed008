// The request-path decision: DecisionState::Decide ns/op with N known
// accounts under the shipped policy (config/policy.toml), beside the floor
// of one hash-map lookup of the same account ids in the same run.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "moat/core/time.h"
#include "moat/policy/policy.h"

namespace {

using namespace moat;
using namespace moat::policy;

constexpr EventTime kT0 = 1'700'000'000 * kMicrosPerSecond;
constexpr size_t kRequests = 1 << 16;  // pre-drawn request sequence (power of two)

struct World {
  std::vector<std::string> ids;
  std::vector<std::string> ips;
  std::vector<uint32_t> sequence;  // account index per request
  std::unique_ptr<DecisionState> state;
};

// N accounts: 95% benign, 4% suspicious, 1% extraction, a tenth of the
// flagged ones in campaigns of 20; requests drawn uniformly.
World& GetWorld(size_t n) {
  static std::unordered_map<size_t, std::unique_ptr<World>> worlds;
  auto& w = worlds[n];
  if (w) return *w;
  w = std::make_unique<World>();
  auto policy = Policy::Load(MOAT_SOURCE_DIR "/config/policy.toml");
  if (!policy.ok()) {
    std::fprintf(stderr, "%s\n", policy.status().message().c_str());
    std::abort();
  }
  w->state = std::make_unique<DecisionState>(policy.value());
  std::mt19937_64 rng(7);
  std::vector<engine::VerdictUpdate> updates;
  for (size_t i = 0; i < n; ++i) {
    w->ids.push_back("acct-" + std::to_string(i));
    w->ips.push_back("10." + std::to_string(i % 251) + "." + std::to_string((i / 251) % 251) + ".9");
  }
  for (size_t i = 0; i < n; ++i) {
    const uint64_t r = rng() % 100;
    if (r >= 5) continue;
    engine::VerdictUpdate u;
    u.account_id = w->ids[i];
    u.verdict = r == 0 ? score::Verdict::kExtraction : score::Verdict::kSuspicious;
    u.score = r == 0 ? 0.8 : 0.5;
    u.at = kT0;
    if (rng() % 10 == 0) {
      u.campaign_id = "camp-" + std::to_string(i % 50);
      u.campaign_size = 20;
    }
    u.reasons = {{score::Signal::kHighVolume, 0.4, ""}, {score::Signal::kReasoningHarvest, 0.3, ""}};
    updates.push_back(std::move(u));
  }
  w->state->ApplyUpdates(updates);
  std::vector<ActionChange> drained;
  w->state->DrainActionChanges(drained);
  for (size_t i = 0; i < kRequests; ++i) w->sequence.push_back(uint32_t(rng() % n));
  // Every account seen once, so the timed loop measures known accounts.
  for (size_t i = 0; i < n; ++i) {
    DecideRequest r;
    r.account_id = w->ids[i];
    r.ip = w->ips[i];
    (void)w->state->Decide(r, kT0);
  }
  w->state->DrainActionChanges(drained);
  return *w;
}

void BM_Decide(benchmark::State& state) {
  World& w = GetWorld(size_t(state.range(0)));
  size_t i = size_t(state.thread_index()) * 7919;
  EventTime now = kT0 + kMicrosPerSecond;
  std::vector<ActionChange> drained;
  for (auto _ : state) {
    const uint32_t a = w.sequence[i++ & (kRequests - 1)];
    DecideRequest r;
    r.account_id = w.ids[a];
    r.ip = w.ips[a];
    r.org_id = "org-1";
    r.model = "model-large";
    r.output_tokens_estimate = 400;
    now += 50;  // 20,000 requests/s of event time
    benchmark::DoNotOptimize(w.state->Decide(r, now));
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_Decide)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_Decide)->Arg(100'000)->Threads(2)->UseRealTime()->Unit(benchmark::kNanosecond);

// The floor: one lookup of the same ids in a std::unordered_map.
void BM_MapLookupFloor(benchmark::State& state) {
  World& w = GetWorld(size_t(state.range(0)));
  static std::unordered_map<size_t, std::unique_ptr<std::unordered_map<std::string, uint32_t>>> maps;
  auto& m = maps[w.ids.size()];
  if (!m) {
    m = std::make_unique<std::unordered_map<std::string, uint32_t>>();
    for (size_t k = 0; k < w.ids.size(); ++k) (*m)[w.ids[k]] = uint32_t(k);
  }
  size_t i = 0;
  for (auto _ : state) {
    const uint32_t a = w.sequence[i++ & (kRequests - 1)];
    benchmark::DoNotOptimize(m->find(w.ids[a]));
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_MapLookupFloor)->Arg(1'000)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kNanosecond);

// Decide while an engine thread applies batches of 1,000 verdict updates
// back to back: what the request path pays while the detector publishes.
void BM_DecideWhileUpdating(benchmark::State& state) {
  World& w = GetWorld(100'000);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> applied{0};
  std::thread engine([&] {
    std::vector<engine::VerdictUpdate> batch(1000);
    std::vector<ActionChange> drained;
    size_t k = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      for (auto& u : batch) {
        u.account_id = w.ids[w.sequence[k++ & (kRequests - 1)]];
        u.verdict = k % 2 ? score::Verdict::kSuspicious : score::Verdict::kBenign;
        u.score = 0.45;
        u.at = kT0;
      }
      w.state->ApplyUpdates(batch);
      w.state->DrainActionChanges(drained);
      drained.clear();
      applied += batch.size();
    }
  });
  size_t i = 0;
  EventTime now = kT0 + kMicrosPerSecond;
  for (auto _ : state) {
    const uint32_t a = w.sequence[i++ & (kRequests - 1)];
    DecideRequest r;
    r.account_id = w.ids[a];
    r.ip = w.ips[a];
    now += 50;
    benchmark::DoNotOptimize(w.state->Decide(r, now));
  }
  stop = true;
  engine.join();
  state.SetItemsProcessed(int64_t(state.iterations()));
  state.counters["updates/s"] = benchmark::Counter(double(applied.load()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DecideWhileUpdating)->UseRealTime()->Unit(benchmark::kNanosecond);

}  // namespace

BENCHMARK_MAIN();
