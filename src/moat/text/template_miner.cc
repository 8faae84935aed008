#include "moat/text/template_miner.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include <xxhash.h>

#include "moat/core/check.h"
#include "moat/text/normalize.h"

namespace moat::text {
namespace {

constexpr uint32_t kMaxSide = 32;
constexpr uint32_t kMaxKeyTokens = 8;
// A template position that clusters disagreed on. Real token hashes are never 0.
constexpr uint32_t kWildcard = 0;
// Variable-looking words are replaced by class tokens before mining, so that
// "solve 0 + 0" and "solve 17 + 4" agree at the number positions.
constexpr uint32_t kNumberToken = 0x4e554d31u;
constexpr uint32_t kLongToken = 0x4c4f4e47u;
// How much a difference in head/tail lengths counts against a match, per
// position: 0 would let a 4-word template swallow every longer prompt that
// opens alike; 1 would split a wrapper whose questions vary in length.
constexpr double kLengthPenalty = 0.25;
constexpr uint32_t kMinSide = 8;

}  // namespace

struct TemplateMiner::Shape {
  uint32_t head[kMaxSide];
  uint32_t tail[kMaxSide];  // tail[0] is the last word
  uint32_t head_len = 0;
  uint32_t tail_len = 0;
  uint64_t signature = 0;
  uint64_t tail_key = 0;
  bool has_tail_key = false;
};

TemplateMiner::TemplateMiner(TemplateMinerOptions options) : options_(options) {
  MOAT_CHECK(options_.head_tokens >= 1 && options_.head_tokens <= kMaxSide);
  MOAT_CHECK(options_.tail_tokens <= kMaxSide);
  MOAT_CHECK(options_.key_tokens >= 1 && options_.key_tokens <= kMaxKeyTokens &&
             options_.key_tokens <= options_.head_tokens);
  MOAT_CHECK(options_.max_clusters >= 1 && options_.max_leaf_scan >= 1);
  width_ = options_.head_tokens + options_.tail_tokens;
}

void TemplateMiner::ReadShape(std::string_view text, Shape& shape) const {
  const uint64_t seed = options_.seed;
  const uint32_t max_bytes = options_.max_token_bytes;
  auto hash = [seed, max_bytes](std::string_view w) -> uint32_t {
    if (w.size() > max_bytes) return kLongToken;
    for (const char c : w) {
      if (c >= '0' && c <= '9') return kNumberToken;
    }
    const uint32_t h = static_cast<uint32_t>(XXH3_64bits_withSeed(w.data(), w.size(), seed));
    return h == kWildcard ? 1 : h;
  };
  const uint32_t H = options_.head_tokens;
  const uint32_t T = options_.tail_tokens;
  uint32_t first[2 * kMaxSide];   // the first H + T words
  std::string_view ring[kMaxSide];  // the last T words seen
  uint64_t n = 0;
  std::string_view w;
  if (text.size() <= options_.long_text_bytes) {
    Tokenizer tokens(text);
    while (tokens.Next(w)) {
      if (n < H + T) first[n] = hash(w);
      if (T > 0) ring[n % T] = w;
      ++n;
    }
  } else {
    // Bounded cost: the head from the start, the tail from the final window.
    Tokenizer tokens(text);
    while (n < H && tokens.Next(w)) first[n++] = hash(w);
    size_t start = text.size() - std::min<size_t>(options_.tail_window_bytes, text.size());
    start = std::max(start, tokens.position());
    // Skip a word cut by the window edge.
    while (start > 0 && start < text.size() &&
           internal::kByteClass.v[static_cast<unsigned char>(text[start - 1])] != 0 &&
           internal::kByteClass.v[static_cast<unsigned char>(text[start])] != 0) {
      ++start;
    }
    Tokenizer tail_tokens(text.substr(start));
    uint64_t m = 0;
    while (tail_tokens.Next(w)) {
      if (T > 0) ring[m % T] = w;
      ++m;
    }
    // Treat it as long: head and tail do not overlap.
    shape.head_len = static_cast<uint32_t>(n);
    std::memcpy(shape.head, first, n * sizeof(uint32_t));
    shape.tail_len = static_cast<uint32_t>(std::min<uint64_t>(m, T));
    for (uint32_t j = 0; j < shape.tail_len; ++j) shape.tail[j] = hash(ring[(m - 1 - j) % T]);
    n += H + T + m;  // only "more than H + T" matters below
  }
  if (text.size() <= options_.long_text_bytes) {
    if (n <= H + T) {
      uint32_t head_len = static_cast<uint32_t>(std::min<uint64_t>((n + 1) / 2, H));
      if (n - head_len > T) head_len = static_cast<uint32_t>(n - T);
      shape.head_len = head_len;
      shape.tail_len = static_cast<uint32_t>(n) - shape.head_len;
      std::memcpy(shape.head, first, shape.head_len * sizeof(uint32_t));
      for (uint32_t j = 0; j < shape.tail_len; ++j) shape.tail[j] = first[n - 1 - j];
    } else {
      shape.head_len = H;
      shape.tail_len = T;
      std::memcpy(shape.head, first, H * sizeof(uint32_t));
      for (uint32_t j = 0; j < T; ++j) shape.tail[j] = hash(ring[(n - 1 - j) % T]);
    }
  }
  // Shape bucket: the leading key_tokens words; the word count only when the
  // text is shorter than that (wrappers vary in length, so no count otherwise).
  const uint32_t d = options_.key_tokens;
  uint32_t key[kMaxKeyTokens + 1];
  const uint32_t have = static_cast<uint32_t>(std::min<uint64_t>(n, d));
  key[0] = n < d ? static_cast<uint32_t>(n) : 0xFFFFu;
  for (uint32_t i = 0; i < have; ++i) {
    if (i < shape.head_len) key[i + 1] = shape.head[i];
    else if (i - shape.head_len < shape.tail_len) key[i + 1] = shape.tail[shape.tail_len - 1 - (i - shape.head_len)];
    else key[i + 1] = kLongToken;
  }
  shape.signature = XXH3_64bits_withSeed(key, (have + 1) * sizeof(uint32_t), seed ^ 0x7a3c9d1e5b2f4861ULL);
  shape.has_tail_key = n > d && shape.tail_len >= d;
  if (shape.has_tail_key) {
    shape.tail_key = XXH3_64bits_withSeed(shape.tail, d * sizeof(uint32_t), seed ^ 0x1f83d9abfb41bd6bULL);
  }
}

// Drain's similarity (constant template words that match, over positions
// compared) on head and tail alignments, with a mild penalty for lengths that
// differ. Generalised positions never count as matches, so a cluster does not
// become a sink once most of it is wildcards. A wrapper may be constant at one
// end only, so each side also counts on its own once it compares at least
// kMinSide positions (fewer would let the shared leaf key decide alone).
double TemplateMiner::Similarity(const Slot& slot, const uint32_t* t, const Shape& s) const {
  const uint32_t hc = std::min<uint32_t>(slot.head_len, s.head_len);
  const uint32_t tc = std::min<uint32_t>(slot.tail_len, s.tail_len);
  uint32_t mh = 0, mt = 0;
  for (uint32_t i = 0; i < hc; ++i) mh += (t[i] != kWildcard) & (t[i] == s.head[i]);
  const uint32_t* tt = t + options_.head_tokens;
  for (uint32_t j = 0; j < tc; ++j) mt += (tt[j] != kWildcard) & (tt[j] == s.tail[j]);
  const double ph = kLengthPenalty * std::abs(static_cast<int>(slot.head_len) - static_cast<int>(s.head_len));
  const double pt = kLengthPenalty * std::abs(static_cast<int>(slot.tail_len) - static_cast<int>(s.tail_len));
  const double denom = static_cast<double>(hc + tc) + ph + pt;
  if (denom == 0) return 1.0;  // both empty
  double sim = (mh + mt) / denom;
  if (hc >= kMinSide) sim = std::max(sim, mh / (hc + ph));
  if (tc >= kMinSide) sim = std::max(sim, mt / (tc + pt));
  return sim;
}

TemplateMatch TemplateMiner::Add(std::string_view text) {
  Shape s;
  ReadShape(text, s);
  ++stats_.added;
  uint32_t best = kNone;
  double best_sim = -1;
  for (int side = 0; side < 2; ++side) {
    if (side == 1 && !s.has_tail_key) break;
    const auto it = leaves_[side].find(side == 0 ? s.signature : s.tail_key);
    if (it == leaves_[side].end()) continue;
    uint32_t scanned = 0;
    for (uint32_t cur = it->second; cur != kNone && scanned < options_.max_leaf_scan;
         cur = slots_[cur].leaf_next[side], ++scanned) {
      const double sim = Similarity(slots_[cur], &tokens_[static_cast<size_t>(cur) * width_], s);
      if (sim > best_sim) {
        best_sim = sim;
        best = cur;
      }
    }
  }
  if (best != kNone && best_sim >= options_.similarity) {
    Slot& slot = slots_[best];
    uint32_t* t = &tokens_[static_cast<size_t>(best) * width_];
    const uint32_t hc = std::min<uint32_t>(slot.head_len, s.head_len);
    const uint32_t tc = std::min<uint32_t>(slot.tail_len, s.tail_len);
    for (uint32_t i = 0; i < hc; ++i) {
      if (t[i] != s.head[i]) t[i] = kWildcard;
    }
    uint32_t* tt = t + options_.head_tokens;
    for (uint32_t j = 0; j < tc; ++j) {
      if (tt[j] != s.tail[j]) tt[j] = kWildcard;
    }
    ++slot.members;
    if (lru_head_ != best) {
      LruUnlink(best);
      LruPushFront(best);
    }
    for (int side = 0; side < 2; ++side) {
      if ((side == 0 || slot.has_tail_key) && slot.leaf_prev[side] != kNone) {
        LeafUnlink(best, side);
        LeafPushFront(best, side);
      }
    }
    return TemplateMatch{slot.id, slot.key[0], false};
  }

  const uint32_t idx = NewSlot();
  Slot& slot = slots_[idx];
  slot.key[0] = s.signature;
  slot.key[1] = s.tail_key;
  slot.has_tail_key = s.has_tail_key;
  slot.members = 1;
  slot.id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;
  slot.head_len = static_cast<uint8_t>(s.head_len);
  slot.tail_len = static_cast<uint8_t>(s.tail_len);
  uint32_t* t = &tokens_[static_cast<size_t>(idx) * width_];
  std::fill(t, t + width_, kWildcard);
  std::memcpy(t, s.head, s.head_len * sizeof(uint32_t));
  std::memcpy(t + options_.head_tokens, s.tail, s.tail_len * sizeof(uint32_t));
  LruPushFront(idx);
  LeafPushFront(idx, 0);
  if (slot.has_tail_key) LeafPushFront(idx, 1);
  ++stats_.created;
  return TemplateMatch{slot.id, slot.key[0], true};
}

uint32_t TemplateMiner::NewSlot() {
  if (size_ < options_.max_clusters) {
    slots_.push_back(Slot{});
    tokens_.resize(tokens_.size() + width_);
    ++size_;
    return static_cast<uint32_t>(slots_.size() - 1);
  }
  const uint32_t victim = lru_tail_;
  MOAT_CHECK(victim != kNone);
  Unindex(victim);
  LruUnlink(victim);
  ++stats_.evicted;
  return victim;
}

void TemplateMiner::LruUnlink(uint32_t s) {
  Slot& x = slots_[s];
  if (x.lru_prev != kNone) slots_[x.lru_prev].lru_next = x.lru_next;
  else lru_head_ = x.lru_next;
  if (x.lru_next != kNone) slots_[x.lru_next].lru_prev = x.lru_prev;
  else lru_tail_ = x.lru_prev;
}

void TemplateMiner::LruPushFront(uint32_t s) {
  Slot& x = slots_[s];
  x.lru_prev = kNone;
  x.lru_next = lru_head_;
  if (lru_head_ != kNone) slots_[lru_head_].lru_prev = s;
  lru_head_ = s;
  if (lru_tail_ == kNone) lru_tail_ = s;
}

void TemplateMiner::LeafUnlink(uint32_t s, int side) {
  Slot& x = slots_[s];
  const uint32_t prev = x.leaf_prev[side];
  const uint32_t next = x.leaf_next[side];
  if (prev != kNone) {
    slots_[prev].leaf_next[side] = next;
  } else if (next == kNone) {
    leaves_[side].erase(x.key[side]);
  } else {
    leaves_[side][x.key[side]] = next;
  }
  if (next != kNone) slots_[next].leaf_prev[side] = prev;
}

void TemplateMiner::LeafPushFront(uint32_t s, int side) {
  Slot& x = slots_[s];
  x.leaf_prev[side] = kNone;
  x.leaf_next[side] = kNone;
  auto [it, inserted] = leaves_[side].try_emplace(x.key[side], s);
  if (!inserted) {
    x.leaf_next[side] = it->second;
    slots_[it->second].leaf_prev[side] = s;
    it->second = s;
  }
}

void TemplateMiner::Unindex(uint32_t s) {
  LeafUnlink(s, 0);
  if (slots_[s].has_tail_key) LeafUnlink(s, 1);
}

bool TemplateMiner::Describe(uint32_t cluster_id, uint64_t* members, uint32_t* constant_positions) const {
  for (size_t i = 0; i < size_; ++i) {
    if (slots_[i].id != cluster_id) continue;
    *members = slots_[i].members;
    const uint32_t* t = &tokens_[i * width_];
    uint32_t c = 0;
    for (uint32_t j = 0; j < slots_[i].head_len; ++j) c += t[j] != kWildcard;
    for (uint32_t j = 0; j < slots_[i].tail_len; ++j) c += t[options_.head_tokens + j] != kWildcard;
    *constant_positions = c;
    return true;
  }
  return false;
}

size_t TemplateMiner::MemoryBytes() const {
  return slots_.capacity() * sizeof(Slot) + tokens_.capacity() * sizeof(uint32_t) +
         (leaves_[0].bucket_count() + leaves_[1].bucket_count()) * (sizeof(std::pair<uint64_t, uint32_t>) + 1);
}

}  // namespace moat::text
