// Stage 2: links suspicious accounts into campaigns through the attributes an
// operator reuses (payment instrument, subnet, system prompt, e-mail domain,
// org, client fingerprint, repeated prompt templates). Sees only account
// summaries (interned value ids, never raw prompts). Pairs are scored by the
// rarity-weighted values they share, kept in indexes that persist across
// link runs and are updated only where something changed (a candidate came
// or went, a value gained holders), and groups are peeled to their dense core
// so that one stray shared value cannot pull an unrelated account into a
// campaign.
//
// A value held by many candidates (a campaign-wide template, a proxy pool's
// subnet) is a hub: instead of one pair entry per pair of its holders, which
// grows with holders^2 and sank the 24,000-account incident replay, its
// holders are linked through the value itself, as a clique held implicitly.
// Pairs still sum what they share exactly: a pair's explicit weight (small
// values) plus the hubs both hold; a set of hubs that links on its own (one
// shared payment card, or a template plus a subnet) becomes one clique.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "moat/features/account_state.h"

namespace moat::link {

using features::kLinkKinds;
using features::LinkKind;

struct LinkConfig {
  // Strength of one shared value of each kind when every account that uses
  // it is a candidate (index: LinkKind). A payment instrument is nearly
  // personal; a subnet or e-mail domain is shared by strangers far more often,
  // and a TLS fingerprint is shared by everyone on the same SDK build.
  std::array<double, kLinkKinds> kind_weight = {
      1.0,   // payment
      0.5,   // email_domain
      0.6,   // org
      0.5,   // subnet
      0.15,  // tls_fingerprint
      0.6,   // system_prompt
      0.45,  // template (a repeated prompt opening or ending)
      // lockstep: one of 16 MinHash slots of the wake-up times shared, so
      // identical schedules sum to 0.6 and a pair adds about 0.6 x Jaccard
      0.0375,
      // prompt_set: the same over the prompts sent
      0.0375,
  };
  // Two candidates are joined when the values they share add up to this.
  // Above every weak kind alone, so one shared subnet or domain never links.
  double min_edge = 0.8;
  // A value with more candidate holders than this becomes a hub (and stays
  // one): memory and work linear in its holders instead of quadratic. 8
  // rather than 64: the same campaigns and verdicts on the quality matrix,
  // and the default-scale scan 1.1x faster (fewer explicit pairs to keep).
  uint32_t hub_holders = 8;
  // Dense core: in a group of three or more, an account must have at least
  // this many linked neighbours, or share one single value of at least
  // strong_edge strength with a neighbour (a pure payment card), to stay.
  uint32_t min_core_degree = 2;
  double strong_edge = 0.9;
  // In a large group, an account must also be linked to at least this share
  // of the group: a bystander who shares a few common phrases or a carrier
  // address with some members touches a handful of them, members touch many.
  double min_core_share = 0.025;
};

// One account offered for linking: its id and stage-1 state (valid for the
// duration of the Link call only).
struct Candidate {
  uint32_t account = 0;
  const features::AccountState* state = nullptr;
};

struct KindEvidence {
  uint32_t values = 0;    // distinct shared values of this kind that linked members
  uint32_t accounts = 0;  // members holding one of them
  double strength = 0;    // sum of those values' strengths (rarity-weighted)
};

struct Component {
  std::vector<uint32_t> members;  // account ids, ascending
  std::array<KindEvidence, kLinkKinds> evidence{};
  uint64_t edges = 0;            // linked pairs inside the component (hub cliques counted in full)
  uint32_t org_members = 0;      // members that call the API under an organisation
  uint32_t payment_values = 0;   // distinct payment instruments over all members
};

struct LinkResult {
  std::vector<Component> components;  // only those with >= 2 members
};

struct LinkStats {
  uint64_t holder_adds = 0;      // (value, candidate) registrations
  uint64_t holder_removes = 0;
  uint64_t pair_updates = 0;     // pair weight changes applied
  uint64_t strength_resets = 0;  // values whose applied strength changed
  size_t pairs = 0;              // explicit pairs sharing at least one weighted non-hub value
  size_t edges = 0;              // explicit pairs at or above min_edge
  size_t hubs = 0;               // values linked through themselves
  size_t hub_memberships = 0;
};

class Linker {
 public:
  explicit Linker(LinkConfig cfg);

  // Counts one more account that uses `value` (called when the value first
  // enters an account's state). Over ALL accounts, so rarity is known.
  void CountAccount(LinkKind kind, uint32_t value);
  // The reverse, when an account replaces a value (IsReplaced kinds).
  void UncountAccount(LinkKind kind, uint32_t value);
  uint32_t AccountsWith(LinkKind kind, uint32_t value) const;

  // Brings the indexes up to date with the current candidates (any order;
  // an account absent from the list stops being one) and returns the
  // connected components under edges of at least min_edge, peeled to their
  // dense cores. Index work is proportional to what changed since the last
  // call (new and departed candidates, new values of candidates, values whose
  // rarity moved); the components pass is linear in the explicit pairs, hub
  // memberships and linked edges. Deterministic: pair weights are integer
  // sums, independent of update order, and adjacency follows the (fixed)
  // order of updates.
  LinkResult Link(std::span<const Candidate> candidates);

  const LinkConfig& config() const { return cfg_; }
  const LinkStats& stats() const { return stats_; }
  size_t MemoryBytes() const;

 private:
  struct ValueState {
    std::vector<uint32_t> holders;  // candidate accounts, in registration order
    int32_t q = 0;                  // strength applied to holder pairs (1/kScale units)
    uint32_t value = 0;
    uint8_t kind = 0;
    bool dirty = false;
    bool hub = false;
  };
  struct CandState {
    std::array<uint8_t, kLinkKinds> registered{};  // leading attribute slots registered
    std::vector<uint32_t> values;                   // value indexes registered
    uint16_t replaced_epoch = 0;                    // of the replaced kinds' slots registered
    uint16_t hubs = 0;                              // registered values that are hubs
  };
  struct PairSum {
    int32_t w = 0;       // sum of shared values' strengths
    int32_t strong = 0;  // shared values at or above strong_edge on their own
  };

  uint32_t ValueIndex(int kind, uint32_t value);
  void MarkDirty(uint32_t vi);
  int32_t TargetStrength(const ValueState& v, uint32_t value) const;
  void AddHolder(uint32_t vi, uint32_t account);
  void RemoveHolder(uint32_t vi, uint32_t account);
  void SetStrength(uint32_t vi, int32_t q);
  void ApplyToPairs(const ValueState& v, int32_t dq, int32_t ds);
  void AddToPair(uint32_t a, uint32_t b, int32_t dw, int32_t dstrong);
  void EnsureAccount(uint32_t account);
  LinkResult Components(std::span<const Candidate> candidates);

  LinkConfig cfg_;
  int32_t min_edge_q_;
  int32_t strong_q_;
  // Per kind: strengths at or below this are too common to matter.
  std::array<int32_t, kLinkKinds> floor_q_;
  std::array<std::vector<uint32_t>, kLinkKinds> accounts_per_value_;
  boost::unordered_flat_map<uint64_t, uint32_t> value_index_;  // (kind, value) -> values_
  std::vector<ValueState> values_;
  std::vector<uint32_t> dirty_;
  boost::unordered_flat_map<uint32_t, CandState> cands_;
  boost::unordered_flat_map<uint64_t, PairSum> pairs_;
  // Per account: linked neighbours (pairs at or above min_edge) and how many
  // of those links carry a strong value.
  std::vector<std::vector<uint32_t>> adj_;
  std::vector<uint32_t> strong_links_;
  size_t edges_ = 0;
  LinkStats stats_;
};

}  // namespace moat::link
