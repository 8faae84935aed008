// The small simulated world the intel tests share (scenario "seed", scale
// 0.08, two days, seed 7: simulating is the slow part, so once per test
// binary) and the raw values of its log, which nothing that leaves may carry.
#pragma once

#include <filesystem>
#include <set>
#include <span>
#include <string>

#include <gtest/gtest.h>

#include "moat/core/exchange_sink.h"
#include "moat/ingest/ingest.h"
#include "moat/sim/simulate.h"

namespace moat::intel::testing {

struct SmallWorld {
  std::string dir, log;
  // Account ids, addresses, e-mail domains and prompts (8 bytes or longer).
  std::set<std::string> accounts, raw;
};

// Simulates into TempDir()/`name` on first use.
inline const SmallWorld& TheSmallWorld(const std::string& name) {
  static const SmallWorld w = [&name] {
    SmallWorld w;
    w.dir = ::testing::TempDir() + "/" + name;
    std::filesystem::remove_all(w.dir);
    std::filesystem::create_directories(w.dir);
    sim::SimOptions so;
    so.scenario = "seed";
    so.scale = 0.08;
    so.days = 2;
    so.seed = 7;
    so.corpora_dir = MOAT_SHARED_DIR "/corpora";
    so.out_dir = w.dir;
    auto sim = sim::Simulate(so);
    EXPECT_TRUE(sim.ok()) << sim.status().message();
    w.log = w.dir + "/log.jsonl";
    class Gather : public ExchangeSink {
     public:
      explicit Gather(SmallWorld& w) : w_(w) {}
      void Consume(std::span<const Exchange> batch) override {
        for (const Exchange& x : batch) {
          w_.accounts.insert(x.account_id);
          w_.raw.insert(x.account_id);
          if (!x.ip.empty()) w_.raw.insert(x.ip);
          if (!x.email_domain.empty()) w_.raw.insert(x.email_domain);
          if (x.prompt.size() >= 8) w_.raw.insert(x.prompt);
        }
      }

     private:
      SmallWorld& w_;
    } gather(w);
    ingest::Quarantine discard;
    const auto report = ingest::ReadAll({w.log}, ingest::IngestOptions{}, discard, gather);
    EXPECT_TRUE(report.errors.empty());
    return w;
  }();
  return w;
}

}  // namespace moat::intel::testing
