#include "moat/text/minhash.h"

#include <algorithm>

#include "moat/core/check.h"

namespace moat::text {
namespace {

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

void MinHasher::Clear(std::span<uint32_t> sketch) { std::fill(sketch.begin(), sketch.end(), kMinHashEmpty); }

bool MinHasher::IsEmpty(std::span<const uint32_t> sketch) {
  return std::all_of(sketch.begin(), sketch.end(), [](uint32_t v) { return v == kMinHashEmpty; });
}

void MinHasher::Merge(std::span<uint32_t> into, std::span<const uint32_t> from) {
  MOAT_CHECK(into.size() == from.size());
  for (size_t i = 0; i < into.size(); ++i) into[i] = std::min(into[i], from[i]);
}

void MinHasher::Densify(std::span<const uint32_t> raw, std::span<uint32_t> dense) const {
  MOAT_CHECK(raw.size() == dense.size() && raw.size() <= kMaxMinHashSlots);
  const size_t k = raw.size();
  size_t filled = 0;
  for (size_t i = 0; i < k; ++i) filled += raw[i] != kMinHashEmpty;
  std::copy(raw.begin(), raw.end(), dense.begin());
  if (filled == 0 || filled == k) return;
  // Optimal densification: bin i probes bins h(i, 1), h(i, 2), ... (keyed by
  // the seed, independent of the data) and copies the first non-empty one.
  // Two sketches probe in the same order, which keeps the estimate unbiased
  // with the lowest variance. Expected probes per empty bin: K / filled.
  const uint64_t base = options_.seed ^ 0x2545f4914f6cdd1dULL;
  for (size_t i = 0; i < k; ++i) {
    if (raw[i] != kMinHashEmpty) continue;
    uint64_t state = base + i * 0xd1b54a32d192ed03ULL;
    for (;;) {
      const uint64_t x = SplitMix(state);
      const size_t j = static_cast<size_t>(((x >> 32) * k) >> 32);
      if (raw[j] != kMinHashEmpty) {
        dense[i] = raw[j];
        break;
      }
    }
  }
}

double MinHasher::JaccardDense(std::span<const uint32_t> a, std::span<const uint32_t> b) {
  MOAT_CHECK(a.size() == b.size());
  if (a.empty() || a[0] == kMinHashEmpty || b[0] == kMinHashEmpty) return 0.0;  // dense: one empty bin means all
  size_t equal = 0;
  for (size_t i = 0; i < a.size(); ++i) equal += a[i] == b[i];
  return static_cast<double>(equal) / static_cast<double>(a.size());
}

double MinHasher::Jaccard(std::span<const uint32_t> raw_a, std::span<const uint32_t> raw_b) const {
  MOAT_CHECK(raw_a.size() == raw_b.size() && raw_a.size() <= kMaxMinHashSlots);
  std::array<uint32_t, kMaxMinHashSlots> da, db;
  const size_t k = raw_a.size();
  Densify(raw_a, std::span(da.data(), k));
  Densify(raw_b, std::span(db.data(), k));
  return JaccardDense(std::span(da.data(), k), std::span(db.data(), k));
}

size_t MinHasher::BandKeys(std::span<const uint32_t> raw, LshBands bands, std::span<uint64_t> keys) const {
  MOAT_CHECK(raw.size() <= kMaxMinHashSlots);
  MOAT_CHECK(static_cast<size_t>(bands.bands) * bands.rows <= raw.size());
  MOAT_CHECK(keys.size() >= bands.bands);
  std::array<uint32_t, kMaxMinHashSlots> dense;
  const size_t k = raw.size();
  Densify(raw, std::span(dense.data(), k));
  if (k == 0 || dense[0] == kMinHashEmpty) return 0;
  for (uint32_t b = 0; b < bands.bands; ++b) {
    keys[b] = XXH3_64bits_withSeed(dense.data() + static_cast<size_t>(b) * bands.rows,
                                   bands.rows * sizeof(uint32_t), options_.seed + 0x9e3779b97f4a7c15ULL * (b + 1));
  }
  return bands.bands;
}

}  // namespace moat::text
