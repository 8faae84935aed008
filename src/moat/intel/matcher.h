// Import side of intel: partners' indicators (from STIX bundles or TAXII
// envelopes), matched against local traffic with the same keyed digests and
// template sketches, and a per-partner trust learned from whether local
// evidence confirms the accounts they point at. Plugs into the engine as its
// ExternalEvidence; never sees a partner's raw values, nor sends local ones.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"
#include "moat/engine/engine.h"
#include "moat/intel/keyed.h"

namespace moat::intel {

struct PartnerIndicator {
  std::string partner;       // the producer identity's name (its id when the bundle lacks the identity)
  std::string partner_ref;   // the producer identity's id
  std::string indicator_id;  // STIX id
  Kind kind = Kind::kIp;
  std::string key_id;
  std::string digest;
  std::vector<uint64_t> sketch;
  double confidence = 0;  // 0..1
};

// Indicators of moat's keyed-indicator extension in a bundle or a TAXII
// envelope ({"objects": [...]}); other objects are skipped. A feed holds
// every version a partner published of an indicator: only the latest
// (`modified`) counts. Errors name the object.
[[nodiscard]] Result<std::vector<PartnerIndicator>> ParseIndicators(std::string_view json);

struct IndicatorMatch {
  uint32_t indicator = 0;  // index into the matcher's indicators
  std::string_view partner;
  std::string_view indicator_id;
  double confidence = 0;
};

struct MatcherOptions {
  double min_containment = 0.6;  // template: share of the sketch a prompt must contain
  // Prompts sketched per account: the first prompt_first, then 1 in prompt_every.
  uint32_t prompt_first = 16;
  uint32_t prompt_every = 8;
};

// Matches exchanges against imported indicators. Digests are computed once
// per distinct local value (cached), prompts on a per-account sample.
class IndicatorMatcher {
 public:
  IndicatorMatcher(std::vector<CoalitionKey> keys, std::vector<PartnerIndicator> indicators,
                   MatcherOptions options = {});

  // Appends the matches of one exchange to `out`.
  void Match(const Exchange& x, std::vector<IndicatorMatch>& out);
  // Matches of one normalised attribute value.
  void MatchValue(Kind kind, std::string_view normalised, std::vector<IndicatorMatch>& out);

  const std::vector<PartnerIndicator>& indicators() const { return indicators_; }
  size_t skipped_unknown_key() const { return skipped_unknown_key_; }

 private:
  struct KeyState {
    CoalitionKey key;
    uint64_t seed = 0;
  };
  IndicatorMatch Make(uint32_t i) const;

  MatcherOptions options_;
  std::vector<KeyState> keys_;
  std::vector<PartnerIndicator> indicators_;
  std::unordered_map<std::string, std::vector<uint32_t>> by_digest_;  // digest -> indicators
  std::unordered_map<std::string, std::vector<uint32_t>> value_cache_;  // kind+value -> indicators
  // Per key: shingle hash -> template indicators holding it.
  std::vector<std::unordered_map<uint64_t, std::vector<uint32_t>>> by_shingle_;
  std::unordered_map<std::string, uint32_t> prompts_seen_;
  Attributes attrs_;
  std::vector<uint64_t> shingles_;
  std::string scratch_;
  std::vector<uint32_t> hits_;
  size_t skipped_unknown_key_ = 0;
};

struct TrustOptions {
  double prior = 0.7;        // trust in a partner before any evidence
  double prior_weight = 4;   // ... worth this many judged accounts
  double partner_weight = 0.6;  // DetectorConfig::partner_weight
  double confirm_at = 0.5;   // own + campaign score at which a matched account confirms
  double contradict_below = 0.15;  // ... and below which, after contradict_min_exchanges, it contradicts
  uint32_t contradict_min_exchanges = 20;
};

struct PartnerTrust {
  std::string partner;
  uint32_t confirmed = 0;
  uint32_t contradicted = 0;
  double trust = 0;
};

// The engine's ExternalEvidence: matches every exchange, keeps each account's
// matched indicators, and weighs them by confidence x indicator trust x
// partner trust. Trust is learned on the stream: a matched account whose own
// evidence reaches `confirm_at` confirms the partner (and indicator); one that
// stays clean contradicts it. A partner whose indicators keep pointing at
// accounts that look benign here loses its weight.
class PartnerEvidenceSource : public engine::ExternalEvidence {
 public:
  PartnerEvidenceSource(IndicatorMatcher& matcher, TrustOptions options = {});

  void Observe(const Exchange& x) override;
  score::PartnerEvidence Evidence(std::string_view account_id, const score::ScoreResult& without,
                                  uint32_t exchanges) override;

  std::vector<PartnerTrust> Trust() const;
  // Trust per indicator (its STIX id), for indicators with any judgement.
  std::map<std::string, double> IndicatorTrust() const;
  uint64_t matched_accounts() const { return accounts_.size(); }

  // What trust is learned from, to survive a restart: each judged account
  // with the ids of the indicators it matched and its judgement. Partner and
  // indicator trust are rebuilt from it, so replaying the same exchanges
  // after LoadState changes nothing (a judgement is per account, not per
  // exchange). Names local accounts: it stays local.
  std::string SaveState() const;
  // Before the first Observe. Indicators no longer in the feed are dropped.
  // Errors name what is wrong with `json`.
  [[nodiscard]] Status LoadState(std::string_view json);
  // Sightings of the partners' indicators, as a STIX bundle from `producer`
  // (count: local accounts matched), for pushing back to the partners.
  std::string SightingsBundle(const std::string& producer) const;

 private:
  enum class Judged : uint8_t { kNone = 0, kConfirmed, kContradicted };
  struct AccountMatches {
    std::vector<uint32_t> indicators;  // sorted unique
    Judged judged = Judged::kNone;
  };
  struct Counts {
    uint32_t confirmed = 0, contradicted = 0;
  };
  struct Seen {
    uint32_t accounts = 0;
    EventTime first = 0, last = 0;
  };
  double TrustOf(const Counts& c) const;
  void Judge(AccountMatches& m, Judged now);
  void Credit(const AccountMatches& m, uint32_t added);

  IndicatorMatcher& matcher_;
  TrustOptions options_;
  std::unordered_map<std::string, AccountMatches> accounts_;
  std::map<std::string, Counts> partners_;
  std::vector<Counts> indicator_counts_;
  std::vector<Seen> seen_;
  std::vector<IndicatorMatch> scratch_;
};

}  // namespace moat::intel
