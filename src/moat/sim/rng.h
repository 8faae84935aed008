// Seeded randomness for the simulator. Every distribution is written here on
// top of xoshiro256** so the same seed gives the same bytes on every standard
// library (std:: distributions are implementation-defined).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

namespace moat::sim {

inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Mixes several values into one seed (order matters).
inline uint64_t MixSeed(uint64_t a, uint64_t b, uint64_t c = 0) {
  uint64_t s = a ^ 0x6a09e667f3bcc909ull;
  uint64_t x = SplitMix64(s);
  s ^= b * 0xd1342543de82ef95ull;
  x ^= SplitMix64(s);
  s ^= c * 0x9fb21c651e98df25ull;
  return x ^ SplitMix64(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed = 1) { Seed(seed); }
  void Seed(uint64_t seed) {
    uint64_t sm = seed;
    for (auto& v : s_) v = SplitMix64(sm);
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // [0, 1)
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }
  // [0, n)
  uint64_t Below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
  }
  // [lo, hi]
  int64_t Int(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo + 1))); }
  bool Chance(double p) { return Uniform() < p; }
  double Normal() {
    // Box-Muller, no cached second value so the stream stays simple.
    double u1 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  double Normal(double mean, double sd) { return mean + sd * Normal(); }
  double Exponential(double mean) { return -mean * std::log(1.0 - Uniform()); }
  double LogNormal(double median, double sigma) { return median * std::exp(sigma * Normal()); }
  // Marsaglia-Tsang; shape > 0, mean = shape * scale.
  double Gamma(double shape, double scale) {
    if (shape < 1.0) {
      const double u = Uniform();
      return Gamma(shape + 1.0, scale) * std::pow(u < 1e-300 ? 1e-300 : u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1.0 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = Uniform();
      if (u < 1.0 - 0.0331 * x * x * x * x) return d * v * scale;
      if (std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v))) return d * v * scale;
    }
  }
  // Geometric count >= 1 with the given mean.
  int64_t Geometric1(double mean) {
    if (mean <= 1.0) return 1;
    const double p = 1.0 / mean;
    return 1 + static_cast<int64_t>(std::floor(std::log(1.0 - Uniform()) / std::log(1.0 - p)));
  }
  int64_t Poisson(double mean) {
    if (mean > 50) return std::max<int64_t>(0, std::llround(Normal(mean, std::sqrt(mean))));
    const double l = std::exp(-mean);
    int64_t k = 0;
    double p = 1.0;
    do {
      ++k;
      p *= Uniform();
    } while (p > l);
    return k - 1;
  }
  template <typename T>
  const T& Pick(const std::vector<T>& v) { return v[Below(v.size())]; }
  // Index by weights (linear scan: weight lists are short).
  size_t Weighted(const std::vector<double>& w) {
    double total = 0;
    for (double x : w) total += x;
    double r = Uniform() * total;
    for (size_t i = 0; i < w.size(); ++i) {
      if (r < w[i]) return i;
      r -= w[i];
    }
    return w.size() - 1;
  }
  std::string Hex(int digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    s.reserve(digits);
    uint64_t bits = Next();
    for (int i = 0; i < digits; ++i) {
      if (i % 16 == 15) bits = Next();
      s.push_back(kHex[bits & 15]);
      bits >>= 4;
    }
    return s;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Draws from an empirical distribution (values with weights) by inverse CDF.
class Empirical {
 public:
  Empirical() = default;
  void Add(double value, double weight = 1.0) {
    if (weight <= 0) return;
    values_.push_back(value);
    total_ += weight;
    cdf_.push_back(total_);
  }
  bool empty() const { return values_.empty(); }
  size_t size() const { return values_.size(); }
  double Sample(Rng& rng) const {
    if (values_.empty()) return 0.0;
    const double r = rng.Uniform() * total_;
    const size_t i = std::upper_bound(cdf_.begin(), cdf_.end(), r) - cdf_.begin();
    return values_[std::min(i, values_.size() - 1)];
  }
  // Sample restricted to the upper part of the distribution (quantile >= q).
  double SampleAbove(Rng& rng, double q) const {
    if (values_.empty()) return 0.0;
    const double r = (q + (1.0 - q) * rng.Uniform()) * total_;
    const size_t i = std::upper_bound(cdf_.begin(), cdf_.end(), r) - cdf_.begin();
    return values_[std::min(i, values_.size() - 1)];
  }
  double Mean() const {
    double m = 0, prev = 0;
    for (size_t i = 0; i < values_.size(); ++i) {
      m += values_[i] * (cdf_[i] - prev);
      prev = cdf_[i];
    }
    return total_ > 0 ? m / total_ : 0.0;
  }

 private:
  std::vector<double> values_;
  std::vector<double> cdf_;
  double total_ = 0;
};

// Zipf over ranks 1..n with exponent s, by a precomputed CDF.
class Zipf {
 public:
  Zipf(size_t n, double s) {
    for (size_t k = 1; k <= n; ++k) e_.Add(static_cast<double>(k), 1.0 / std::pow(static_cast<double>(k), s));
  }
  size_t Sample(Rng& rng) const { return static_cast<size_t>(e_.Sample(rng)); }

 private:
  Empirical e_;
};

}  // namespace moat::sim
