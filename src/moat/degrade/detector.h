// Tests text for the watermark with every active key. Each (previous word,
// synonym set) slot counts once however often it repeats, so repetitive text
// cannot inflate the evidence and p-values stay honest.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <array>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include "moat/degrade/stats.h"
#include "moat/degrade/watermark.h"

namespace moat::degrade {

struct KeyScore {
  std::string key_id;
  SlotCounts counts;  // first occurrence of each slot
  TestResult test;    // exact test on `counts`
  // Every occurrence: per slot, the share of occurrences that use the key's
  // choice, summed over slots and compared with its exact null mean and
  // variance (under the null the choice is a uniform draw from the slot's
  // members). A z-test, for pooled corpora where slots repeat and a
  // student's preferences show in the shares rather than in one draw.
  double weighted_z = 0;
  double weighted_p = 1;
  // With reference text (Detector::UseReference): the same test on the difference
  // between each member's share here and in the reference, so that a
  // member's natural popularity, which the key's choice is independent of,
  // no longer adds variance. Under the null the choice is still a uniform
  // draw among the slot's members, so the mean and variance stay exact.
  double reference_z = 0;
  double reference_p = 1;
};

struct Detection {
  uint64_t slots = 0;        // unique slots the test rests on (after the occurrence filter)
  uint64_t occurrences = 0;  // eligible words read, repeats included
  std::vector<KeyScore> per_key;
  size_t best = 0;       // index into per_key with the smallest p-value
  double p_value = 1;    // Sidak-corrected over the keys tried
  double p_randomized = 1;  // the same on randomized per-key p-values
  double weighted_p = 1;    // Sidak-corrected smallest weighted_p
  double reference_p = 1;   // Sidak-corrected smallest reference_p (1 without reference)
  bool has_reference = false;
  double score() const { return slots == 0 ? 0.0 : static_cast<double>(per_key[best].counts.hits) / slots; }
};

// Member use per slot in text written without the key: the provider's own
// model's unmarked answers to similar prompts, for the reference-corrected
// test. Count once, share among detectors.
class ReferenceCounts {
 public:
  explicit ReferenceCounts(const Watermarker& marker) : marker_(marker) {}
  void Add(std::string_view text);
  // Occurrences of each member in `slot`; nullptr when the slot never occurred.
  const std::array<uint32_t, kMaxSetSize>* Find(uint64_t slot) const {
    const auto it = counts_.find(slot);
    return it == counts_.end() ? nullptr : &it->second;
  }
  bool empty() const { return counts_.empty(); }

 private:
  const Watermarker& marker_;
  boost::unordered_flat_map<uint64_t, std::array<uint32_t, kMaxSetSize>> counts_;
  std::vector<SlotObservation> scratch_;
};

// The slot keys of `texts` (what RestrictTo takes).
boost::unordered_flat_set<uint64_t> ServedSlots(const Watermarker& marker, const std::vector<std::string_view>& texts);

class Detector {
 public:
  // `keys` must be non-empty and outlive the detector. Slots seen fewer
  // than `min_occurrences` times are left out of the test: on samples of a
  // suspect model, slots it produced once are mostly back-off noise, slots it
  // repeats are what it learned. The filter reads only the text, never the
  // key, so the null distribution stays exact.
  Detector(const Watermarker& marker, std::vector<const WatermarkKey*> keys, uint32_t min_occurrences = 1)
      : marker_(marker), keys_(std::move(keys)), min_occurrences_(min_occurrences) {}

  // Tests only slots in `served` (slot keys, e.g. from ServedSlots): the
  // supervised provenance test, when the texts a suspect could have
  // harvested are known. Which slots a marked text contains never depends
  // on the key's choice in that slot, so the null stays exact. Empty: all.
  void RestrictTo(boost::unordered_flat_set<uint64_t> served) { served_ = std::move(served); }

  // Adds the slots of `text` not seen since the last Clear: call once per
  // document for a per-document test, or for every document of a corpus
  // before Finish for a pooled one.
  void Add(std::string_view text);
  // Adds the reference-corrected test; `reference` must outlive Finish. It
  // never changes which slots are tested. Null or empty: no such test.
  void UseReference(const ReferenceCounts* reference) { reference_ = reference; }

  // `u` in [0, 1) breaks ties for the randomized p-value (derive it from the
  // document, e.g. a hash, to stay reproducible).
  Detection Finish(double u = 0.5) const;
  void Clear();

 private:
  const Watermarker& marker_;
  std::vector<const WatermarkKey*> keys_;
  uint32_t min_occurrences_ = 1;
  boost::unordered_flat_set<uint64_t> served_;
  boost::unordered_flat_map<uint64_t, uint32_t> seen_;  // slot -> index in unique_
  std::vector<SlotObservation> unique_;
  std::vector<std::array<uint32_t, kMaxSetSize>> uses_;  // per unique slot: occurrences of each member
  std::vector<SlotObservation> scratch_;
  uint64_t occurrences_ = 0;
  const ReferenceCounts* reference_ = nullptr;
};

}  // namespace moat::degrade
