// Exact tail probabilities for the watermark test and a uniformity check for
// p-values. Pure functions, no state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace moat::degrade {

// Hits from independent slots, grouped by how many members could stand in
// the slot: slots[k] slots each hit with probability 1/k (k = 2..4).
struct SlotCounts {
  std::array<uint64_t, 5> slots{};
  uint64_t hits = 0;
  uint64_t total() const { return slots[2] + slots[3] + slots[4]; }
  double expected() const { return slots[2] / 2.0 + slots[3] / 3.0 + slots[4] / 4.0; }
  double variance() const { return slots[2] / 4.0 + slots[3] * 2.0 / 9.0 + slots[4] * 3.0 / 16.0; }
};

// P(X >= h) for X the sum of the three binomials, computed exactly (the k=3
// and k=4 pmfs are convolved over their +-40 sd windows, then combined with
// the exact k=2 binomial tail).
double UpperTail(const std::array<uint64_t, 5>& slots, uint64_t h);

struct TestResult {
  double z = 0;             // (hits - expected) / sd; 0 with no slots
  double p_value = 1;       // P(X >= hits): exact and conservative
  double p_randomized = 1;  // P(X > hits) + u P(X = hits): exactly uniform under the null
};
TestResult Test(const SlotCounts& counts, double u);

// Sidak correction of the smallest of `tests` p-values: exact for
// independent tests (different keys give independent choices).
double SidakCorrect(double p_min, size_t tests);

struct KsResult {
  double d = 0;        // sup |F_n(x) - x|
  double p_value = 1;  // Kolmogorov-Smirnov against U(0,1)
};
KsResult KsUniform(std::vector<double> p_values);

}  // namespace moat::degrade
