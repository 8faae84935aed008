#include "moat/degrade/stats.h"

#include <algorithm>
#include <cmath>

#include <boost/math/distributions/binomial.hpp>
#include <boost/math/distributions/kolmogorov_smirnov.hpp>
#include <boost/math/special_functions/beta.hpp>

namespace moat::degrade {

namespace {

// pmf of Binomial(n, p) on [lo, hi], the window holding all but ~1e-300 of its mass.
struct Pmf {
  uint64_t lo = 0;
  std::vector<double> v;
};

Pmf BinomialPmf(uint64_t n, double p) {
  Pmf out;
  if (n == 0) {
    out.v = {1.0};
    return out;
  }
  const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
  const double lo = std::max(0.0, std::floor(mean - 40 * sd - 1));
  const double hi = std::min(static_cast<double>(n), std::ceil(mean + 40 * sd + 1));
  out.lo = static_cast<uint64_t>(lo);
  const boost::math::binomial_distribution<double> dist(static_cast<double>(n), p);
  for (uint64_t j = out.lo; j <= static_cast<uint64_t>(hi); ++j) out.v.push_back(boost::math::pdf(dist, static_cast<double>(j)));
  return out;
}

Pmf Convolve(const Pmf& a, const Pmf& b) {
  Pmf out;
  out.lo = a.lo + b.lo;
  out.v.assign(a.v.size() + b.v.size() - 1, 0.0);
  for (size_t i = 0; i < a.v.size(); ++i) {
    if (a.v[i] == 0) continue;
    for (size_t j = 0; j < b.v.size(); ++j) out.v[i + j] += a.v[i] * b.v[j];
  }
  return out;
}

// P(Binomial(n, 1/2) >= t), exact through the regularised incomplete beta.
double HalfTail(uint64_t n, int64_t t) {
  if (t <= 0) return 1.0;
  if (static_cast<uint64_t>(t) > n) return 0.0;
  return boost::math::ibeta(static_cast<double>(t), static_cast<double>(n - t + 1), 0.5);
}

}  // namespace

double UpperTail(const std::array<uint64_t, 5>& slots, uint64_t h) {
  const Pmf rest = Convolve(BinomialPmf(slots[3], 1.0 / 3), BinomialPmf(slots[4], 1.0 / 4));
  double p = 0;
  for (size_t i = 0; i < rest.v.size(); ++i)
    p += rest.v[i] * HalfTail(slots[2], static_cast<int64_t>(h) - static_cast<int64_t>(rest.lo + i));
  return std::min(1.0, p);
}

TestResult Test(const SlotCounts& counts, double u) {
  TestResult r;
  if (counts.total() == 0) {
    r.p_randomized = u;
    return r;
  }
  r.z = (counts.hits - counts.expected()) / std::sqrt(counts.variance());
  r.p_value = UpperTail(counts.slots, counts.hits);
  const double above = UpperTail(counts.slots, counts.hits + 1);
  r.p_randomized = above + u * (r.p_value - above);
  return r;
}

double SidakCorrect(double p_min, size_t tests) {
  if (tests <= 1) return p_min;
  if (p_min >= 1) return 1;
  return -std::expm1(static_cast<double>(tests) * std::log1p(-p_min));
}

KsResult KsUniform(std::vector<double> p) {
  KsResult r;
  if (p.empty()) return r;
  std::sort(p.begin(), p.end());
  const double n = static_cast<double>(p.size());
  for (size_t i = 0; i < p.size(); ++i) r.d = std::max({r.d, (i + 1) / n - p[i], p[i] - i / n});
  const boost::math::kolmogorov_smirnov_distribution<double> dist(n);
  r.p_value = boost::math::cdf(boost::math::complement(dist, r.d));
  return r;
}

}  // namespace moat::degrade
