#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "moat/text/minhash.h"
#include "moat/text/normalize.h"
#include "moat/text/simhash.h"

namespace moat::text {
namespace {

std::string RandomText(std::mt19937_64& rng, int words, int vocabulary) {
  std::string s;
  for (int i = 0; i < words; ++i) {
    if (i) s.push_back(' ');
    s += "w" + std::to_string(rng() % vocabulary);
  }
  return s;
}

TEST(Shingles, CountsAndTinyInputs) {
  auto count = [](std::string_view t, uint32_t k) {
    int n = 0;
    ForEachShingle(t, ShingleOptions{k, 1}, [&](uint64_t) { ++n; });
    return n;
  };
  EXPECT_EQ(count("", 3), 0);
  EXPECT_EQ(count("...", 3), 0);
  EXPECT_EQ(count("one", 3), 1);
  EXPECT_EQ(count("one two", 3), 1);
  EXPECT_EQ(count("one two three", 3), 1);
  EXPECT_EQ(count("a b c d e", 3), 3);
  EXPECT_EQ(count("a b c d e", 1), 5);
}

// Random sets with a chosen overlap: estimate within tolerance of the exact Jaccard.
TEST(MinHash, JaccardEstimateNearExact) {
  MinHasher hasher(MinHashOptions{.seed = 42});
  std::mt19937_64 rng(7);
  for (const double target : {0.0, 0.1, 0.3, 0.5, 0.8, 1.0}) {
    double total_error = 0;
    const int trials = 20;
    for (int t = 0; t < trials; ++t) {
      const int n = 400;
      const int shared = static_cast<int>(std::lround(2 * n * target / (1 + target)));
      std::vector<uint64_t> a, b;
      for (int i = 0; i < shared; ++i) {
        const uint64_t x = rng();
        a.push_back(x);
        b.push_back(x);
      }
      while (static_cast<int>(a.size()) < n) a.push_back(rng());
      while (static_cast<int>(b.size()) < n) b.push_back(rng());
      const double exact = static_cast<double>(shared) / (2 * n - shared);
      MinHash128 sa, sb;
      MinHasher::Clear(sa);
      MinHasher::Clear(sb);
      for (uint64_t x : a) hasher.AddElement(x, sa);
      for (uint64_t x : b) hasher.AddElement(x, sb);
      const double est = hasher.Jaccard(sa, sb);
      EXPECT_NEAR(est, exact, 0.15) << "target " << target;
      total_error += est - exact;
    }
    EXPECT_NEAR(total_error / trials, 0.0, 0.04) << "bias at " << target;
  }
}

// Small sets leave most bins empty: densification must still give a sane estimate.
TEST(MinHash, DensifiedSmallSetsStayUnbiased) {
  MinHasher hasher(MinHashOptions{.seed = 3});
  std::mt19937_64 rng(11);
  double sum = 0;
  const int trials = 300;
  for (int t = 0; t < trials; ++t) {
    // 10 elements each, 5 shared: J = 5/15.
    MinHash128 sa, sb;
    MinHasher::Clear(sa);
    MinHasher::Clear(sb);
    for (int i = 0; i < 5; ++i) {
      const uint64_t x = rng();
      hasher.AddElement(x, sa);
      hasher.AddElement(x, sb);
    }
    for (int i = 0; i < 5; ++i) hasher.AddElement(rng(), sa);
    for (int i = 0; i < 5; ++i) hasher.AddElement(rng(), sb);
    sum += hasher.Jaccard(sa, sb);
  }
  EXPECT_NEAR(sum / trials, 1.0 / 3, 0.05);
}

TEST(MinHash, TinyAndEmptyInputs) {
  MinHasher hasher;
  MinHash64 a, b, empty;
  hasher.Sketch("hello", a);
  hasher.Sketch("hello", b);
  hasher.Sketch("", empty);
  EXPECT_FALSE(MinHasher::IsEmpty(a));
  EXPECT_TRUE(MinHasher::IsEmpty(empty));
  EXPECT_DOUBLE_EQ(hasher.Jaccard(a, b), 1.0);
  EXPECT_DOUBLE_EQ(hasher.Jaccard(a, empty), 0.0);
  EXPECT_DOUBLE_EQ(hasher.Jaccard(empty, empty), 0.0);
  MinHash64 dense;
  hasher.Densify(a, dense);
  for (uint32_t v : dense) EXPECT_NE(v, kMinHashEmpty);
  hasher.Sketch("hello there", b);
  EXPECT_LT(hasher.Jaccard(a, b), 1.0);
  std::array<uint64_t, 8> keys;
  EXPECT_EQ(hasher.BandKeys(empty, LshBands{8, 8}, keys), 0u);
  EXPECT_EQ(hasher.BandKeys(a, LshBands{8, 8}, keys), 8u);
}

TEST(MinHash, UnionSketchEqualsSketchOfUnion) {
  MinHasher hasher(MinHashOptions{.seed = 9});
  std::mt19937_64 rng(5);
  MinHash128 merged, direct, part;
  MinHasher::Clear(merged);
  MinHasher::Clear(direct);
  for (int p = 0; p < 20; ++p) {
    MinHasher::Clear(part);
    for (int i = 0; i < 1 + p % 4; ++i) {
      const uint64_t x = rng() % 50;  // overlapping parts
      hasher.AddElement(x, part);
      hasher.AddElement(x, direct);
    }
    MinHasher::Merge(merged, part);
  }
  EXPECT_EQ(merged, direct);
  // Same for texts: the union of two prompts' shingle sets via AddText.
  MinHash128 t1, t2, both;
  hasher.Sketch("solve the equation for x", t1);
  hasher.Sketch("translate this into french please", t2);
  hasher.Sketch("solve the equation for x", both);
  hasher.AddText("translate this into french please", both);
  MinHasher::Merge(t1, t2);
  EXPECT_EQ(t1, both);
}

TEST(MinHash, DeterministicPerSeedAndDifferentAcrossSeeds) {
  const std::string text = Normalize("Please explain, step by step, how to solve 3x + 5 = 20.");
  MinHash128 a, b, c;
  MinHasher(MinHashOptions{.seed = 1}).Sketch(text, a);
  MinHasher(MinHashOptions{.seed = 1}).Sketch(text, b);
  MinHasher(MinHashOptions{.seed = 2}).Sketch(text, c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::array<uint64_t, 16> ka, kc;
  ASSERT_EQ(MinHasher(MinHashOptions{.seed = 1}).BandKeys(a, LshBands{16, 8}, ka), 16u);
  ASSERT_EQ(MinHasher(MinHashOptions{.seed = 2}).BandKeys(c, LshBands{16, 8}, kc), 16u);
  for (int i = 0; i < 16; ++i) EXPECT_NE(ka[i], kc[i]);
}

bool ShareBand(const MinHasher& h, const MinHash128& a, const MinHash128& b, LshBands bands) {
  std::array<uint64_t, 64> ka, kb;
  const size_t n = h.BandKeys(a, bands, ka);
  if (h.BandKeys(b, bands, kb) != n) return false;
  for (size_t i = 0; i < n; ++i) {
    if (ka[i] == kb[i]) return true;
  }
  return false;
}

TEST(MinHash, LshPairsNearDuplicatesNotStrangers) {
  MinHasher hasher(MinHashOptions{.seed = 77});
  std::mt19937_64 rng(1);
  const LshBands bands{32, 4};  // threshold about (1/32)^(1/4) = 0.42
  int near_hits = 0, far_hits = 0;
  const int trials = 200;
  for (int t = 0; t < trials; ++t) {
    std::string base = RandomText(rng, 60, 5000);
    std::string edited = base + " " + RandomText(rng, 3, 5000);  // a few words appended
    MinHash128 a, b, c;
    hasher.Sketch(base, a);
    hasher.Sketch(edited, b);
    hasher.Sketch(RandomText(rng, 60, 5000), c);
    near_hits += ShareBand(hasher, a, b, bands);
    far_hits += ShareBand(hasher, a, c, bands);
  }
  EXPECT_GE(near_hits, trials * 95 / 100);
  EXPECT_LE(far_hits, trials * 2 / 100);
}

TEST(SimHash, NearDuplicatesAreCloseStrangersFar) {
  std::mt19937_64 rng(2);
  const ShingleOptions opts{3, 5};
  double near = 0, far = 0;
  const int trials = 100;
  for (int t = 0; t < trials; ++t) {
    const std::string base = RandomText(rng, 80, 5000);
    near += HammingDistance(SimHash(base, opts), SimHash(base + " w1 w2", opts));
    far += HammingDistance(SimHash(base, opts), SimHash(RandomText(rng, 80, 5000), opts));
  }
  EXPECT_LT(near / trials, 6);
  EXPECT_GT(far / trials, 26);
  EXPECT_EQ(SimHash("", opts), 0u);
  EXPECT_EQ(SimHash("same text here", opts), SimHash("same text here", opts));
  EXPECT_NE(SimHash("same text here", opts), SimHash("same text here", ShingleOptions{3, 6}));
  EXPECT_EQ(HammingDistance(0, ~uint64_t{0}), 64);
}

}  // namespace
}  // namespace moat::text
