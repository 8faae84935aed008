#include "moat/degrade/detector.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include <xxhash.h>

namespace moat::degrade {

boost::unordered_flat_set<uint64_t> ServedSlots(const Watermarker& marker, const std::vector<std::string_view>& texts) {
  boost::unordered_flat_set<uint64_t> slots;
  std::vector<SlotObservation> obs;
  for (std::string_view t : texts) {
    obs.clear();
    marker.Observe(t, obs);
    for (const SlotObservation& o : obs) slots.insert(o.slot);
  }
  return slots;
}

void Detector::Add(std::string_view text) {
  scratch_.clear();
  marker_.Observe(text, scratch_);
  occurrences_ += scratch_.size();
  for (const SlotObservation& o : scratch_) {
    const auto [it, added] = seen_.try_emplace(o.slot, static_cast<uint32_t>(unique_.size()));
    if (added) {
      unique_.push_back(o);
      uses_.emplace_back();
    }
    ++uses_[it->second][o.observed];
  }
}

void ReferenceCounts::Add(std::string_view text) {
  scratch_.clear();
  marker_.Observe(text, scratch_);
  for (const SlotObservation& o : scratch_) ++counts_[o.slot][o.observed];
}

void Detector::Clear() {
  seen_.clear();
  unique_.clear();
  uses_.clear();
  occurrences_ = 0;
}

Detection Detector::Finish(double u) const {
  Detection d;
  d.has_reference = reference_ != nullptr && !reference_->empty();
  d.occurrences = occurrences_;
  std::vector<uint32_t> kept;
  for (uint32_t i = 0; i < unique_.size(); ++i) {
    uint32_t n = 0;
    for (uint32_t u : uses_[i]) n += u;
    if (n >= min_occurrences_ && (served_.empty() || served_.contains(unique_[i].slot))) kept.push_back(i);
  }
  d.slots = kept.size();
  double best_p = 2, best_rand = 2, best_weighted = 2, best_reference = 2;
  for (size_t k = 0; k < keys_.size(); ++k) {
    const WatermarkKey* key = keys_[k];
    KeyScore s;
    s.key_id = key->id();
    double sum = 0, mean = 0, variance = 0;
    double ref_sum = 0, ref_mean = 0, ref_variance = 0;
    for (uint32_t i : kept) {
      const SlotObservation& o = unique_[i];
      const uint32_t choice = marker_.Choice(*key, o.context, o.set, o.valid);
      ++s.counts.slots[std::popcount(o.valid)];
      s.counts.hits += choice == o.observed;
      const auto& uses = uses_[i];
      double n = 0, m1 = 0, m2 = 0;
      for (uint32_t u : uses) n += u;
      const double k = std::popcount(o.valid);
      for (uint32_t j = 0; j < kMaxSetSize; ++j) {
        if (!(o.valid >> j & 1)) continue;
        const double share = uses[j] / n;
        m1 += share / k;
        m2 += share * share / k;
      }
      sum += uses[choice] / n;
      mean += m1;
      variance += m2 - m1 * m1;
      if (d.has_reference) {
        // Reference shares with add-one smoothing: a slot the reference
        // never shows counts as uniform.
        const auto* counts = reference_->Find(o.slot);
        double r_total = k;
        std::array<double, kMaxSetSize> r{};
        for (uint32_t j = 0; j < kMaxSetSize; ++j)
          if (o.valid >> j & 1) {
            r[j] = 1 + (counts == nullptr ? 0 : (*counts)[j]);
            r_total += r[j] - 1;
          }
        double d1 = 0, d2 = 0;
        for (uint32_t j = 0; j < kMaxSetSize; ++j) {
          if (!(o.valid >> j & 1)) continue;
          const double d = uses[j] / n - r[j] / r_total;
          d1 += d / k;
          d2 += d * d / k;
        }
        ref_sum += uses[choice] / n - r[choice] / r_total;
        ref_mean += d1;
        ref_variance += d2 - d1 * d1;
      }
    }
    if (ref_variance > 0) {
      s.reference_z = (ref_sum - ref_mean) / std::sqrt(ref_variance);
      s.reference_p = 0.5 * std::erfc(s.reference_z / std::sqrt(2.0));
    }
    if (variance > 0) {
      s.weighted_z = (sum - mean) / std::sqrt(variance);
      s.weighted_p = 0.5 * std::erfc(s.weighted_z / std::sqrt(2.0));
    }
    // Each key gets its own tie-breaker so the randomized p-values of
    // different keys stay independent (Sidak is then exact).
    const uint64_t seed[2] = {static_cast<uint64_t>(u * 0x1p53), k};
    const double u_k = static_cast<double>(XXH3_64bits(seed, sizeof(seed)) >> 11) * 0x1p-53;
    s.test = Test(s.counts, k == 0 ? u : u_k);
    if (s.test.p_value < best_p) {
      best_p = s.test.p_value;
      d.best = d.per_key.size();
    }
    best_rand = std::min(best_rand, s.test.p_randomized);
    best_weighted = std::min(best_weighted, s.weighted_p);
    best_reference = std::min(best_reference, s.reference_p);
    d.per_key.push_back(std::move(s));
  }
  d.p_value = SidakCorrect(std::min(best_p, 1.0), keys_.size());
  d.p_randomized = SidakCorrect(std::min(best_rand, 1.0), keys_.size());
  d.weighted_p = SidakCorrect(std::min(best_weighted, 1.0), keys_.size());
  d.reference_p = SidakCorrect(std::min(best_reference, 1.0), keys_.size());
  return d;
}

}  // namespace moat::degrade
