#include "moat/degrade/ngram_lm.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>

namespace moat::degrade {

namespace {

constexpr uint32_t kBos = 0, kEos = 1;
constexpr int kBits = 21;  // vocabulary ids fit in 21 bits (2M words)
constexpr uint64_t kMask = (1u << kBits) - 1;

uint64_t Key3(uint64_t u, uint64_t v, uint64_t w) { return u << (2 * kBits) | v << kBits | w; }

template <typename F>
void ForEachToken(std::string_view text, F&& f) {
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    size_t j = i + 1;
    if (c == '\n') {
      f(text.substr(i, 1));
    } else if (std::isspace(c)) {
    } else if (std::isalpha(c)) {
      while (j < text.size() && std::isalpha(static_cast<unsigned char>(text[j]))) ++j;
      f(text.substr(i, j - i));
    } else if (std::isdigit(c)) {
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
      f(text.substr(i, j - i));
    } else if (c >= 0x80) {
      while (j < text.size() && (static_cast<unsigned char>(text[j]) & 0xC0) == 0x80) ++j;
      f(text.substr(i, j - i));
    } else {
      f(text.substr(i, 1));
    }
    i = j;
  }
}

}  // namespace

uint64_t NextRandom(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double NextUniform(uint64_t& state) { return static_cast<double>(NextRandom(state) >> 11) * 0x1p-53; }

uint32_t TrigramLm::Intern(std::string_view w) {
  const auto [it, added] = ids_.try_emplace(std::string(w), static_cast<uint32_t>(words_.size()));
  if (added) words_.emplace_back(w);
  return it->second;
}

void TrigramLm::Train(const std::vector<std::string_view>& documents) {
  *this = TrigramLm();
  Intern("<s>");
  Intern("</s>");
  std::vector<uint64_t> keys;
  for (std::string_view doc : documents) {
    uint64_t u = kBos, v = kBos;
    ForEachToken(doc, [&](std::string_view tok) {
      const uint64_t w = Intern(tok);
      keys.push_back(Key3(u, v, w));
      u = v;
      v = w;
      ++training_tokens_;
    });
    keys.push_back(Key3(u, v, kEos));
  }
  std::sort(keys.begin(), keys.end());
  // Trigram counts grouped by (u, v); continuation keys (v, w) for each type.
  std::vector<uint64_t> bigram_types;
  for (size_t i = 0; i < keys.size();) {
    size_t j = i;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    const uint64_t ctx = keys[i] >> kBits;
    const auto [it, added] = tri_ctx_.try_emplace(ctx);
    Context& c = it->second;
    if (added) c.begin = static_cast<uint32_t>(tri_.size());
    tri_.push_back({static_cast<uint32_t>(keys[i] & kMask), static_cast<uint32_t>(j - i)});
    c.end = static_cast<uint32_t>(tri_.size());
    c.total += j - i;
    bigram_types.push_back(keys[i] & ((uint64_t{1} << (2 * kBits)) - 1));
    i = j;
  }
  std::sort(bigram_types.begin(), bigram_types.end());
  std::vector<double> uni(words_.size(), 0.0);
  for (size_t i = 0; i < bigram_types.size();) {
    size_t j = i;
    while (j < bigram_types.size() && bigram_types[j] == bigram_types[i]) ++j;
    const uint32_t v = static_cast<uint32_t>(bigram_types[i] >> kBits);
    const uint32_t w = static_cast<uint32_t>(bigram_types[i] & kMask);
    const auto [it, added] = bi_ctx_.try_emplace(v);
    Context& c = it->second;
    if (added) c.begin = static_cast<uint32_t>(bi_.size());
    bi_.push_back({w, static_cast<uint32_t>(j - i)});
    c.end = static_cast<uint32_t>(bi_.size());
    c.total += j - i;
    uni[w] += 1;  // one more distinct left neighbour
    i = j;
  }
  uni_cumulative_.resize(uni.size());
  double sum = 0;
  for (size_t w = 0; w < uni.size(); ++w) uni_cumulative_[w] = sum += uni[w];
}

uint32_t TrigramLm::Draw(const std::vector<Entry>& entries, const Context& ctx, double& r) {
  const double total = static_cast<double>(ctx.total);
  double x = r;
  for (uint32_t i = ctx.begin; i < ctx.end; ++i) {
    const double a = (entries[i].count - kDiscount) / total;
    if (x < a) return entries[i].word;
    x -= a;
  }
  const double backoff = kDiscount * (ctx.end - ctx.begin) / total;
  r = std::min(x / backoff, std::nextafter(1.0, 0.0));
  return UINT32_MAX;
}

std::string TrigramLm::Sample(uint64_t& state, size_t max_tokens) const {
  std::string out;
  uint32_t u = kBos, v = kBos;
  for (size_t n = 0; n < max_tokens; ++n) {
    double r = NextUniform(state);
    uint32_t w = UINT32_MAX;
    if (const auto it = tri_ctx_.find(Key3(u, v, 0) >> kBits); it != tri_ctx_.end()) w = Draw(tri_, it->second, r);
    if (w == UINT32_MAX)
      if (const auto it = bi_ctx_.find(v); it != bi_ctx_.end()) w = Draw(bi_, it->second, r);
    if (w == UINT32_MAX) {
      const double x = r * uni_cumulative_.back();
      w = static_cast<uint32_t>(std::upper_bound(uni_cumulative_.begin(), uni_cumulative_.end(), x) -
                                uni_cumulative_.begin());
      w = std::min<uint32_t>(w, static_cast<uint32_t>(words_.size() - 1));
    }
    if (w == kEos) break;
    if (w == kBos) continue;
    const std::string& tok = words_[w];
    const bool glue = tok.size() == 1 && std::strchr(".,;:!?)%'\n", tok[0]) != nullptr;
    if (!out.empty() && out.back() != '\n' && !glue) out.push_back(' ');
    out.append(tok);
    u = v;
    v = w;
  }
  return out;
}

}  // namespace moat::degrade
