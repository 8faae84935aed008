// Audit store write throughput: acknowledged (committed) action records per
// second with one writer waiting for each commit (the baseline), with many
// concurrent writers sharing group commits, and with batched appends; for
// synchronous=FULL and NORMAL. Usage: store_bench DIR [SECONDS_PER_CASE]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "moat/store/store.h"

namespace {

using namespace moat;
using namespace moat::store;
using Clock = std::chrono::steady_clock;

ActionRecord Record(int writer, int64_t i) {
  ActionRecord r;
  r.account_id = "acct-" + std::to_string(writer) + "-" + std::to_string(i % 1000);
  r.old_action = "allow";
  r.new_action = "throttle";
  r.rule = "suspicious";
  r.evidence_json =
      R"({"verdict":"suspicious","score":0.52,"reasons":["high_volume","max_output","machine_timing"],"campaign_id":null,"campaign_size":0,"source":"rule"})";
  r.event_time = i;
  r.actor = "engine";
  return r;
}

// Records acknowledged per second: `writers` threads, each appending
// `batch` records per call (1: AppendAction) until `seconds` pass.
double Run(const std::string& path, Durability d, int writers, int batch, double seconds) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  StoreOptions o;
  o.durability = d;
  auto opened = Store::Open(path, o);
  if (!opened.ok()) {
    std::fprintf(stderr, "store_bench: %s\n", opened.status().message().c_str());
    std::exit(1);
  }
  Store& s = *opened.value();
  std::atomic<int64_t> acked{0};
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::vector<ActionRecord> records;
      for (int64_t i = 0; Clock::now() < deadline; i += batch) {
        if (batch == 1) {
          if (!s.AppendAction(Record(w, i)).ok()) std::exit(1);
        } else {
          records.clear();
          for (int k = 0; k < batch; ++k) records.push_back(Record(w, i + k));
          if (!s.AppendActions(records).ok()) std::exit(1);
        }
        acked += batch;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const auto counts = s.Counts();
  if (!counts.ok() || counts.value().actions != acked.load()) {
    std::fprintf(stderr, "store_bench: %lld acknowledged but %lld stored\n", (long long)acked.load(),
                 counts.ok() ? (long long)counts.value().actions : -1LL);
    std::exit(1);
  }
  return double(acked.load()) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_bench DIR [SECONDS_PER_CASE]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/store_bench.db";
  struct Case {
    const char* name;
    int writers;
    int batch;
  };
  const Case cases[] = {
      {"1 writer, 1 record per commit (baseline)", 1, 1},
      {"8 writers, group commit", 8, 1},
      {"64 writers, group commit", 64, 1},
      {"1 writer, AppendActions of 256", 1, 256},
  };
  for (const Durability d : {Durability::kFull, Durability::kNormal}) {
    std::printf("synchronous=%s (WAL)\n", d == Durability::kFull ? "FULL" : "NORMAL");
    double base = 0;
    for (const Case& c : cases) {
      const double rate = Run(path, d, c.writers, c.batch, seconds);
      if (base == 0) base = rate;
      std::printf("  %-44s %10.0f records/s  x%.1f\n", c.name, rate, rate / base);
    }
  }
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return 0;
}
