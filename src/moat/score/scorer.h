// Transparent per-account scoring: each signal contributes a weight in [0,1]
// with a stable code and a sentence for a person; mitigations pull legitimate
// heavy users back toward benign. Pure functions of state: no I/O, no clock.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "moat/features/account_state.h"
#include "moat/link/linker.h"
#include "moat/score/detector_config.h"

namespace moat::score {

enum class Signal : uint8_t {
  // Raise the score.
  kHighVolume = 0,
  kOutputHarvesting,
  kMaxOutput,
  kReasoningElicitation,
  kReasoningHarvest,
  kSingleTurn,
  kMachineTiming,
  kAlwaysOn,
  kNewAccount,
  kTemplatedPrompts,
  kClientMismatch,
  kProxyRotation,
  kOutputRequest,
  kTaskBreadth,
  kTopicBreadth,
  kCampaignMember,
  kPartnerIndicator,  // a coalition partner's indicator matched (see ApplyPartnerEvidence)
  // Lower it (reported with negative weight).
  kEvaluationRun,
  kBurstThenSilence,
  kOfficeHours,
  kMultiTurn,
  kEstablishedAccount,
};
inline constexpr int kSignals = 22;
inline constexpr int kFirstMitigation = static_cast<int>(Signal::kEvaluationRun);
const char* SignalCode(Signal s);
inline bool IsMitigation(Signal s) { return static_cast<int>(s) >= kFirstMitigation; }

enum class Verdict : uint8_t { kBenign = 0, kSuspicious, kExtraction };
const char* VerdictName(Verdict v);

// What stage 2 says about the account's campaign, if any.
struct CampaignContext {
  const link::Component* component = nullptr;  // null: not linked
  double mean_member_score = 0;                // members' raw (pre-mitigation) scores
  double strength = 0;                         // CampaignStrength of the component
};

// How strongly a linked group looks like one extraction operation, in [0,1]:
// size (log-scaled) x intent (members' mean raw score, ramped) x how far the
// group stands outside any declared organisation. A group of colleagues under
// one org sharing a card and an office is linked, but is not a campaign.
double CampaignStrength(const link::Component& comp, double mean_raw_score, const DetectorConfig& cfg);

// The component's evidence kinds (those with a shared value), strongest
// first: by summed strength of the shared values, ties by members holding one.
std::vector<int> EvidenceByStrength(const link::Component& comp);

struct ScoreResult {
  double score = 0;       // final, campaign evidence included
  double own_score = 0;   // without campaign evidence
  double raw_score = 0;   // raising signals only, before mitigations (what linking uses)
  std::array<double, kSignals> weight{};  // mitigations stored positive
  Verdict verdict = Verdict::kBenign;
};

ScoreResult Score(const features::AccountState& s, const CampaignContext& campaign,
                  const DetectorConfig& cfg);

// What a partner's shared indicators say about an account (filled by intel's
// matcher): weight = partner_weight * indicator confidence * partner trust.
struct PartnerEvidence {
  double weight = 0;
  std::string detail;  // "matched 2 indicators of partner provider-a: ..."
};

// Folds partner evidence into a scored result as the partner_indicator
// signal. Partner evidence is capped at partner_cap (below `extraction`), and
// while the account's own and campaign evidence stays under partner_min_own
// it cannot lift the score past partner_cap: on partner evidence alone an
// account is at most `suspicious`, whatever a partner publishes.
void ApplyPartnerEvidence(ScoreResult& r, const PartnerEvidence& partner, const features::AccountState& s,
                          const CampaignContext& campaign, const DetectorConfig& cfg);

struct Reason {
  Signal signal;
  double weight;  // negative for mitigations
  std::string detail;
};
// Non-zero contributions, strongest (by magnitude) first, with details.
// `partner` supplies the partner_indicator detail when that signal is set.
std::vector<Reason> Explain(const features::AccountState& s, const CampaignContext& campaign,
                            const ScoreResult& r, const DetectorConfig& cfg,
                            const PartnerEvidence* partner = nullptr);

}  // namespace moat::score
