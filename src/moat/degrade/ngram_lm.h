// The "student" of the radioactivity experiment: a word trigram language
// model with interpolated Kneser-Ney smoothing, trained on answer texts and
// sampled from. Small and exact, so what it learns from marked data is
// visible, not hidden in a large network.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

namespace moat::degrade {

class TrigramLm {
 public:
  // Absolute discount of every order (the usual KN choice).
  static constexpr double kDiscount = 0.75;

  // Words, numbers and single punctuation characters are tokens; each
  // document is a sentence between <s> <s> and </s>.
  void Train(const std::vector<std::string_view>& documents);

  // One document: tokens drawn until </s> or `max_tokens`, joined back into
  // text. `state` is the caller's random state (splitmix64), advanced here.
  std::string Sample(uint64_t& state, size_t max_tokens) const;

  size_t vocabulary() const { return words_.size(); }
  size_t trigram_types() const { return tri_.size(); }
  uint64_t training_tokens() const { return training_tokens_; }

 private:
  struct Entry {
    uint32_t word;
    uint32_t count;
  };
  struct Context {
    uint32_t begin = 0, end = 0;  // range in the entry array
    uint64_t total = 0;           // sum of counts
  };
  uint32_t Intern(std::string_view w);
  // Draws from the discounted entries of `ctx`; returns UINT32_MAX with `r`
  // rescaled to [0, 1) when the draw falls in the back-off mass.
  static uint32_t Draw(const std::vector<Entry>& entries, const Context& ctx, double& r);

  std::vector<std::string> words_;
  boost::unordered_flat_map<std::string, uint32_t> ids_;
  std::vector<Entry> tri_;  // (u,v) -> w counts, grouped by context
  boost::unordered_flat_map<uint64_t, Context> tri_ctx_;
  std::vector<Entry> bi_;   // v -> w continuation counts N1+(. v w)
  boost::unordered_flat_map<uint32_t, Context> bi_ctx_;
  std::vector<double> uni_cumulative_;  // continuation counts N1+(. w), cumulative
  uint64_t training_tokens_ = 0;
};

// splitmix64: the experiments' seeded randomness.
uint64_t NextRandom(uint64_t& state);
double NextUniform(uint64_t& state);

}  // namespace moat::degrade
