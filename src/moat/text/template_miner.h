// Online prompt-template mining in the spirit of Drain (He et al. 2017),
// adapted to prompts: templates are wrappers (prefix + {question} + suffix)
// with variable length, so prompts are aligned from the start (head) and from
// the end (tail) rather than requiring equal token counts. Bounded memory and
// no allocation per prompt once warm. Part of `text`, which never knows about
// accounts: it sees texts and returns cluster ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

namespace moat::text {

struct TemplateMinerOptions {
  uint64_t seed = 0;               // keys token hashes and signatures
  uint32_t max_clusters = 1u << 16;  // memory bound (about 250 bytes each)
  // A prompt is mined on its first head_tokens and last tail_tokens words; a
  // prompt of N <= head+tail words is split ceil(N/2) / floor(N/2). Each <= 32.
  uint32_t head_tokens = 24;
  uint32_t tail_tokens = 24;
  // Tree depth: the leading words (class tokens included) that, with the word
  // count when it is below this, pick the head leaf (and make the
  // signature); the trailing words likewise pick the tail leaf.
  uint32_t key_tokens = 3;
  // Clusters compared per leaf (head leaf and tail leaf), most recently used first.
  uint32_t max_leaf_scan = 16;
  // Similarity needed to join a cluster: the best of whole-prompt, head-only
  // and tail-only agreement (constant template words that match over the
  // positions compared, with a penalty for length differences; see
  // template_miner.cc).
  double similarity = 0.4;  // Drain3's default
  // Words longer than this, or holding a digit, are wildcards from the start.
  uint32_t max_token_bytes = 24;
  // Texts longer than this are mined on their first head_tokens words and
  // the last tail_tokens words of the final tail_window_bytes, so the cost of
  // one Add is bounded whatever the prompt length.
  uint32_t long_text_bytes = 4096;
  uint32_t tail_window_bytes = 1024;
};

struct TemplateMatch {
  // Stable for the life of the cluster, never reused (monotonic; wraps only
  // after 2^32 clusters). Local to this miner.
  uint32_t cluster_id = 0;
  // Keyed hash of the cluster's shape bucket: its leading key_tokens words
  // (wildcards as such) and, for prompts shorter than that, the word count.
  // Fixed when the cluster is created and shared by every member, so it never
  // changes as the template generalises; determined by content alone, so
  // separate miners (shards, restarts) with the same seed agree on it. It is
  // coarser than cluster_id: distinct templates that open alike share it.
  uint64_t signature = 0;
  bool created = false;  // this text founded a new cluster
};

struct TemplateMinerStats {
  uint64_t added = 0;
  uint64_t created = 0;
  uint64_t evicted = 0;
};

// Not thread-safe (Add mutates); one per stage-1 shard.
//
// Memory bound: at most max_clusters clusters. When full, a text that matches
// no cluster evicts the least recently used cluster (its id is retired; if
// its template comes back it gets a new id). Campaign templates are hot and
// stay; a flood of one-off organic prompts churns only cold clusters.
class TemplateMiner {
 public:
  explicit TemplateMiner(TemplateMinerOptions options = {});

  // Mines one (normalised) text.
  TemplateMatch Add(std::string_view text);

  size_t cluster_count() const { return size_; }
  const TemplateMinerStats& stats() const { return stats_; }
  const TemplateMinerOptions& options() const { return options_; }
  // Members seen and constant (non-wildcard) template positions of a live
  // cluster; false when the id is unknown or evicted. O(clusters): for tests
  // and reports.
  bool Describe(uint32_t cluster_id, uint64_t* members, uint32_t* constant_positions) const;
  size_t MemoryBytes() const;

 private:
  static constexpr uint32_t kNone = 0xFFFFFFFFu;
  struct Slot {
    uint64_t key[2];  // [0] head key (= signature), [1] tail key
    uint64_t members;
    uint32_t id;
    uint32_t lru_prev, lru_next;
    uint32_t leaf_prev[2], leaf_next[2];
    uint8_t head_len, tail_len;
    bool has_tail_key;
  };
  struct Shape;

  void ReadShape(std::string_view text, Shape& shape) const;
  double Similarity(const Slot& slot, const uint32_t* tokens, const Shape& shape) const;
  uint32_t NewSlot();
  void LruUnlink(uint32_t s);
  void LruPushFront(uint32_t s);
  void LeafUnlink(uint32_t s, int side);
  void LeafPushFront(uint32_t s, int side);
  void Unindex(uint32_t s);

  TemplateMinerOptions options_;
  uint32_t width_;  // head_tokens + tail_tokens
  std::vector<Slot> slots_;
  std::vector<uint32_t> tokens_;  // slot * width_: head left to right, then tail from the end
  // Two leaf indexes: by the leading words (the signature) and by the
  // trailing words, so a wrapper whose constant part is only its suffix
  // ("Question: {q} <long instructions>") still meets its cluster.
  boost::unordered_flat_map<uint64_t, uint32_t> leaves_[2];  // key -> most recent slot
  size_t size_ = 0;
  uint32_t lru_head_ = kNone, lru_tail_ = kNone;
  uint32_t next_id_ = 1;
  TemplateMinerStats stats_;
};

}  // namespace moat::text
