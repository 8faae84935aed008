// Stage 2: links suspicious accounts into campaigns through the attributes an
// operator reuses (payment instrument, subnet, system prompt, e-mail domain,
// org, client fingerprint, repeated prompt templates). Sees only account
// summaries (interned value ids, never raw prompts). Pairs are scored by the
// rarity-weighted values they share, built from per-value holder lists (never
// all pairs), and groups are peeled to their dense core so that one stray
// shared value cannot pull an unrelated account into a campaign.
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
  };
  // Two candidates are joined when the values they share add up to this.
  // Above every weak kind alone, so one shared subnet or domain never links.
  double min_edge = 0.8;
  // A value held by more candidates than this pairs each holder only with
  // its next window_pairs holders (cost linear, not quadratic, in holders).
  uint32_t max_pair_holders = 96;
  uint32_t window_pairs = 24;
  // Dense core: in a group of three or more, an account must have at least
  // this many linked neighbours, or share one single value of at least
  // strong_edge strength with a neighbour (a pure payment card), to stay.
  uint32_t min_core_degree = 2;
  double strong_edge = 0.9;
  // In a large group, an account must also be linked to at least this share
  // of the group: a bystander who shares a few common phrases or a carrier
  // address with some members touches a handful of them, members touch many.
  double min_core_share = 0.03;
};

// One account offered for linking (its stage-1 state, and first-seen time to
// order campaigns).
struct Candidate {
  uint32_t account = 0;
  const features::AccountState* state = nullptr;
};

struct KindEvidence {
  uint32_t values = 0;    // distinct shared values of this kind that linked members
  uint32_t accounts = 0;  // members holding one of them
};

struct Component {
  std::vector<uint32_t> members;  // account ids, ascending
  std::array<KindEvidence, kLinkKinds> evidence{};
  uint32_t edges = 0;            // linked pairs inside the component
  uint32_t org_members = 0;      // members that call the API under an organisation
  uint32_t payment_values = 0;   // distinct payment instruments over all members
};

struct LinkResult {
  std::vector<Component> components;  // only those with >= 2 members
};

class Linker {
 public:
  explicit Linker(LinkConfig cfg) : cfg_(cfg) {}

  // Counts one more account that uses `value` (called when the value first
  // enters an account's state). Over ALL accounts, so rarity is known.
  void CountAccount(LinkKind kind, uint32_t value);
  uint32_t AccountsWith(LinkKind kind, uint32_t value) const;

  // Connected components of the candidates under edges of at least min_edge.
  LinkResult Link(std::span<const Candidate> candidates) const;

  const LinkConfig& config() const { return cfg_; }
  size_t MemoryBytes() const;

 private:
  LinkConfig cfg_;
  std::array<std::vector<uint32_t>, kLinkKinds> accounts_per_value_;
};

}  // namespace moat::link
