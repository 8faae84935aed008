// Traffic simulator: writes a synthetic exchange log (spec/exchange-log.md)
// built from the real prompt sets and API traces under corpora/, plus the
// ground truth per account. Must never be linked into detection code.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"

namespace moat::sim {

// 2026-02-01T00:00:00Z
inline constexpr EventTime kDefaultSimStart = 1769904000LL * 1'000'000LL;

struct SimOptions {
  // seed | benign | evasive-lowslow | evasive-blend | evasive-all
  std::string scenario = "seed";
  double scale = 1.0;  // multiplies account counts (and so volume)
  // Multiplies the campaigns' account counts instead of `scale` when > 0:
  // replays an incident's extractor volume without scaling benign traffic
  // as far.
  double extractor_scale = 0;
  int days = 7;
  uint64_t seed = 1;
  std::string corpora_dir = "../shared/corpora";
  std::string out_dir;  // writes out_dir/log.jsonl and out_dir/truth.jsonl
  EventTime start = kDefaultSimStart;
};

struct SimSummary {
  uint64_t exchanges = 0;
  uint64_t accounts = 0;  // accounts with at least one exchange (= lines of truth.jsonl)
  std::map<std::string, uint64_t> accounts_by_population;
  std::map<std::string, uint64_t> exchanges_by_population;
  std::map<std::string, uint64_t> accounts_by_label;
  std::map<std::string, uint64_t> exchanges_by_label;
  uint64_t delayed_lines = 0;  // lines written out of ts order (all within 5 minutes)
};

[[nodiscard]] Result<SimSummary> Simulate(const SimOptions& options);

std::vector<std::string> ScenarioNames();

}  // namespace moat::sim
