// Small fixed-size sketches for per-account streaming state. Each is one
// contiguous array inside the account record: no heap, no per-record
// allocation, bounded bytes per account whatever the traffic.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace moat::features {

// HyperLogLog with 64 one-byte registers (about 13% standard error), enough to
// tell "one address" from "hundreds of rotating addresses". Takes a 64-bit
// hash computed once by the caller.
class Hll64 {
 public:
  void Add(uint64_t h) {
    const uint32_t idx = static_cast<uint32_t>(h & 63u);
    const uint64_t rest = h >> 6;
    const uint8_t rank = static_cast<uint8_t>(rest == 0 ? 59 : std::countr_zero(rest) + 1);
    if (rank > regs_[idx]) regs_[idx] = rank;
  }
  double Estimate() const {
    double sum = 0;
    int zeros = 0;
    for (uint8_t r : regs_) {
      sum += kInversePow2[r];
      zeros += r == 0;
    }
    constexpr double kM = 64.0;
    constexpr double kAlpha = 0.709;
    const double raw = kAlpha * kM * kM / sum;
    if (raw <= 2.5 * kM && zeros > 0) return kM * std::log(kM / zeros);  // linear counting
    return raw;
  }

 private:
  static constexpr std::array<double, 64> kInversePow2 = [] {
    std::array<double, 64> t{};
    double v = 1.0;
    for (double& x : t) {
      x = v;
      v *= 0.5;
    }
    return t;
  }();
  std::array<uint8_t, 64> regs_{};
};

// Up to N distinct 32-bit values, exact until full; after that only counts
// that more exist. Used for "how many distinct temperatures / ASNs".
template <int N>
class CappedSet {
 public:
  // Returns true when `v` was not in the set before (and was added).
  bool Add(uint32_t v) {
    for (int i = 0; i < size_; ++i)
      if (vals_[i] == v) return false;
    if (size_ < N) {
      vals_[size_++] = v;
      return true;
    }
    overflow_ = true;
    return false;
  }
  int size() const { return size_; }
  bool overflow() const { return overflow_; }
  // Distinct count, reported as N+1 once the set overflowed.
  int Distinct() const { return size_ + (overflow_ ? 1 : 0); }

 private:
  std::array<uint32_t, N> vals_{};
  uint8_t size_ = 0;
  bool overflow_ = false;
};

// Space-saving heavy hitters over 64-bit keys with N counters: the most
// frequent key's count is exact when it has been in the table since it first
// appeared, and overestimates by at most (total / N) otherwise.
template <int N>
class TopKeys {
 public:
  // Returns the key's (estimated) count after adding it.
  uint32_t Add(uint64_t key) {
    int min_i = 0;
    for (int i = 0; i < N; ++i) {
      if (counts_[i] != 0 && keys_[i] == key) return ++counts_[i];
      if (counts_[i] < counts_[min_i]) min_i = i;
    }
    keys_[min_i] = key;  // replaces an empty slot or the smallest counter
    return ++counts_[min_i];
  }
  uint32_t MaxCount() const { return *std::max_element(counts_.begin(), counts_.end()); }

 private:
  std::array<uint64_t, N> keys_{};
  std::array<uint32_t, N> counts_{};
};

// The first N distinct interned values of one attribute with their counts
// (no eviction: linking wants the values an account really used, and the
// cross-account "how many accounts use this value" count stays exact for
// every value kept). Values beyond N are counted in `others`.
template <int N>
struct AttrSlots {
  std::array<uint32_t, N> ids{};
  std::array<uint32_t, N> counts{};
  uint8_t size = 0;
  uint32_t others = 0;

  // Returns true when `id` newly entered the slots.
  bool Add(uint32_t id) {
    for (int i = 0; i < size; ++i) {
      if (ids[i] == id) {
        ++counts[i];
        return false;
      }
    }
    if (size < N) {
      ids[size] = id;
      counts[size] = 1;
      ++size;
      return true;
    }
    ++others;
    return false;
  }
  // Index of the most used value, -1 when empty.
  int Top() const {
    int best = -1;
    for (int i = 0; i < size; ++i)
      if (best < 0 || counts[i] > counts[best]) best = i;
    return best;
  }
};

// Welford running mean and variance.
struct Welford {
  uint64_t n = 0;
  double mean = 0;
  double m2 = 0;
  void Add(double x) {
    ++n;
    const double d = x - mean;
    mean += d / static_cast<double>(n);
    m2 += d * (x - mean);
  }
  double Variance() const { return n > 1 ? m2 / static_cast<double>(n - 1) : 0.0; }
  double Stddev() const { return std::sqrt(Variance()); }
};

}  // namespace moat::features
