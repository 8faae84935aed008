#include "moat/score/scorer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moat::score {
namespace {

using features::AccountState;

// 0 at or below lo, 1 at or above hi, linear between.
double Ramp(double x, double lo, double hi) {
  if (x <= lo) return 0.0;
  if (x >= hi) return 1.0;
  return (x - lo) / (hi - lo);
}
// 1 at or below lo, 0 at or above hi.
double RampDown(double x, double lo, double hi) { return 1.0 - Ramp(x, lo, hi); }

double& W(ScoreResult& r, Signal s) { return r.weight[static_cast<int>(s)]; }

double ExchangesPerActiveDay(const AccountState& s) {
  return s.active_days ? double(s.exchanges) / s.active_days : 0.0;
}
double AgeHoursAtFirstUse(const AccountState& s) {
  return double(s.first_ts - s.account_created) / 3.6e9;
}
double MaxOutputShare(const AccountState& s) {
  if (s.n_max_tokens == 0) return 0.0;
  return double(std::max(s.n_high_max_tokens, s.n_near_max)) / s.n_max_tokens;
}
// A client stack that is not one (user agent, TLS) pair: one user agent over
// several TLS stacks (a spoofed UA string) or many user agents over one TLS
// stack (UA rotation).
bool ClientMismatch(const AccountState& s) {
  const int ua = s.user_agents.Distinct(), tls = s.tls_fingerprints.Distinct();
  const int pairs = s.client_pairs.Distinct();
  if (ua == 0 || tls == 0) return false;
  return pairs > std::max(ua, tls) || (ua >= 4 && tls == 1);
}
double ActiveFraction(const AccountState& s) {
  const double span = s.SpanHours();
  return span > 0 ? double(s.active_hours) / std::max(span, 1.0) : 1.0;
}
double CampaignSizeFactor(size_t size, const DetectorConfig& cfg) {
  if (size < 2) return 0.0;
  return std::min(1.0, std::log2(double(size)) / std::log2(cfg.campaign_full_size));
}

std::string Pct(double x) { return std::to_string(static_cast<int>(std::lround(x * 100))) + "%"; }
std::string Fixed(double x, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}
std::string DurationText(double hours) {
  if (hours < 1) return std::to_string(static_cast<int>(std::lround(hours * 60))) + " minutes";
  if (hours < 1.5) return "1 hour";
  if (hours < 48) return std::to_string(static_cast<int>(std::lround(hours))) + " hours";
  return std::to_string(static_cast<int>(std::lround(hours / 24))) + " days";
}
// "1 shared subnet", "9 shared payment instruments".
std::string KindCount(uint32_t n, features::LinkKind k) {
  const char* one = "shared attribute";
  switch (k) {
    case features::LinkKind::kPayment: one = "shared payment instrument"; break;
    case features::LinkKind::kEmailDomain: one = "shared e-mail domain"; break;
    case features::LinkKind::kOrg: one = "shared organisation"; break;
    case features::LinkKind::kSubnet: one = "shared subnet"; break;
    case features::LinkKind::kTlsFingerprint: one = "shared TLS fingerprint"; break;
    case features::LinkKind::kSystemPrompt: one = "shared system prompt"; break;
    case features::LinkKind::kTemplate: one = "shared prompt template"; break;
    case features::LinkKind::kLockstep: one = "shared lockstep wake-up time"; break;
    case features::LinkKind::kPromptSet: one = "shared near-duplicate prompt"; break;
  }
  return std::to_string(n) + " " + one + (n == 1 ? "" : "s");
}

}  // namespace

std::vector<int> EvidenceByStrength(const link::Component& comp) {
  std::vector<int> kinds;
  for (int k = 0; k < features::kLinkKinds; ++k)
    if (comp.evidence[k].values > 0) kinds.push_back(k);
  std::stable_sort(kinds.begin(), kinds.end(), [&](int x, int y) {
    const auto& a = comp.evidence[x];
    const auto& b = comp.evidence[y];
    if (a.strength != b.strength) return a.strength > b.strength;
    return a.accounts > b.accounts;
  });
  return kinds;
}

const char* SignalCode(Signal s) {
  switch (s) {
    case Signal::kHighVolume: return "high_volume";
    case Signal::kOutputHarvesting: return "output_harvesting";
    case Signal::kMaxOutput: return "max_output";
    case Signal::kReasoningElicitation: return "reasoning_elicitation";
    case Signal::kReasoningHarvest: return "reasoning_harvest";
    case Signal::kSingleTurn: return "single_turn";
    case Signal::kMachineTiming: return "machine_timing";
    case Signal::kAlwaysOn: return "always_on";
    case Signal::kNewAccount: return "new_account";
    case Signal::kTemplatedPrompts: return "templated_prompts";
    case Signal::kClientMismatch: return "client_mismatch";
    case Signal::kProxyRotation: return "proxy_rotation";
    case Signal::kOutputRequest: return "output_request";
    case Signal::kTaskBreadth: return "task_breadth";
    case Signal::kTopicBreadth: return "topic_breadth";
    case Signal::kCampaignMember: return "campaign_member";
    case Signal::kPartnerIndicator: return "partner_indicator";
    case Signal::kEvaluationRun: return "evaluation_run";
    case Signal::kBurstThenSilence: return "burst_then_silence";
    case Signal::kOfficeHours: return "office_hours";
    case Signal::kMultiTurn: return "multi_turn";
    case Signal::kEstablishedAccount: return "established_account";
  }
  return "unknown";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kBenign: return "benign";
    case Verdict::kSuspicious: return "suspicious";
    case Verdict::kExtraction: return "extraction";
  }
  return "benign";
}

double CampaignStrength(const link::Component& comp, double mean_raw_score, const DetectorConfig& c) {
  const double n = double(comp.members.size());
  if (n < 2) return 0.0;
  const double intent = Ramp(mean_raw_score, c.campaign_intent_lo, c.campaign_intent_hi);
  const double outside_org = 1.0 - c.campaign_org_damp * (double(comp.org_members) / n);
  return CampaignSizeFactor(comp.members.size(), c) * intent * outside_org;
}

ScoreResult Score(const AccountState& s, const CampaignContext& campaign, const DetectorConfig& c) {
  ScoreResult r;
  if (s.exchanges == 0) return r;
  const bool enough = s.exchanges >= c.min_exchanges;

  W(r, Signal::kHighVolume) = c.high_volume_weight * Ramp(ExchangesPerActiveDay(s), c.high_volume_lo, c.high_volume_hi);
  W(r, Signal::kOutputHarvesting) = c.output_ratio_weight * Ramp(s.OutputInputRatio(), c.output_ratio_lo, c.output_ratio_hi);
  W(r, Signal::kMaxOutput) = c.max_output_weight * Ramp(MaxOutputShare(s), c.max_output_lo, c.max_output_hi);
  W(r, Signal::kReasoningElicitation) = c.elicitation_weight * Ramp(s.ElicitShare(), c.elicitation_lo, c.elicitation_hi);
  W(r, Signal::kReasoningHarvest) =
      c.reasoning_harvest_weight * Ramp(s.ReasoningTokenShare(), c.reasoning_harvest_lo, c.reasoning_harvest_hi);
  if (s.n_analysed >= c.content_min_prompts) {
    W(r, Signal::kOutputRequest) =
        c.output_request_weight * Ramp(s.OutputRequestShare(), c.output_request_lo, c.output_request_hi);
    W(r, Signal::kTaskBreadth) = c.task_breadth_weight * Ramp(s.TaskBreadth(), c.task_breadth_lo, c.task_breadth_hi);
    W(r, Signal::kTopicBreadth) =
        c.topic_breadth_weight * Ramp(s.TopicBreadth(), c.topic_breadth_lo, c.topic_breadth_hi);
  }
  if (enough) {
    W(r, Signal::kSingleTurn) = c.single_turn_weight * Ramp(s.SingleTurnShare(), c.single_turn_lo, c.single_turn_hi);
    W(r, Signal::kTemplatedPrompts) = c.templated_weight * Ramp(s.TemplateShare(), c.templated_lo, c.templated_hi);
  }
  if (s.log_gap.n >= c.machine_timing_min_gaps)
    W(r, Signal::kMachineTiming) =
        c.machine_timing_weight * RampDown(s.log_gap.Stddev(), c.machine_timing_lo, c.machine_timing_hi);
  if (s.SpanHours() >= c.always_on_min_span_hours)
    W(r, Signal::kAlwaysOn) = c.always_on_weight * Ramp(s.ActiveHoursOfDay(), c.always_on_hours_lo, c.always_on_hours_hi);
  if (s.account_created != 0)
    W(r, Signal::kNewAccount) =
        c.new_account_weight * RampDown(AgeHoursAtFirstUse(s), c.new_account_full_hours, c.new_account_zero_hours);
  if (ClientMismatch(s)) W(r, Signal::kClientMismatch) = c.client_mismatch_weight;
  {
    const double ips = s.IpEstimate();
    const double by_ip = Ramp(ips, c.proxy_ips_lo, c.proxy_ips_hi) *
                         Ramp(ips / s.exchanges, c.proxy_ip_share_lo, c.proxy_ip_share_hi);
    const double by_asn = Ramp(s.asns.Distinct(), c.proxy_asns_lo, c.proxy_asns_hi);
    W(r, Signal::kProxyRotation) = c.proxy_rotation_weight * std::max(by_ip, by_asn);
  }

  // Mitigations.
  if (s.Share(s.n_org) >= c.evaluation_min_org_share)
    W(r, Signal::kEvaluationRun) =
        c.evaluation_run_weight * Ramp(s.TemperatureZeroShare(), c.evaluation_temp0_lo, c.evaluation_temp0_hi);
  if (s.SpanHours() >= c.burst_min_span_hours)
    W(r, Signal::kBurstThenSilence) =
        c.burst_weight * RampDown(ActiveFraction(s), c.burst_active_fraction_lo, c.burst_active_fraction_hi);
  if (s.active_days >= c.office_hours_min_days)
    W(r, Signal::kOfficeHours) =
        c.office_hours_weight * Ramp(s.BusiestWindowShare(10), c.office_hours_share_lo, c.office_hours_share_hi);
  if (s.n_turn_known > 0)
    W(r, Signal::kMultiTurn) = c.multi_turn_weight * Ramp(s.FollowupShare(), c.multi_turn_lo, c.multi_turn_hi);
  if (s.account_created != 0 && AgeHoursAtFirstUse(s) >= c.established_days * 24)
    W(r, Signal::kEstablishedAccount) = c.established_weight;

  double keep = 1.0;  // prod(1 - w) over raising signals except campaign
  for (int i = 0; i < kFirstMitigation; ++i)
    if (i != static_cast<int>(Signal::kCampaignMember)) keep *= 1.0 - std::clamp(r.weight[i], 0.0, 1.0);
  double damp = 1.0;
  for (int i = kFirstMitigation; i < kSignals; ++i) damp *= 1.0 - std::clamp(r.weight[i], 0.0, 1.0);
  r.raw_score = 1.0 - keep;
  r.own_score = (1.0 - keep) * damp;

  // Campaign evidence is not damped by the member's own mitigations: an
  // operator can make every account look human on its own, and the group's
  // coordination is what that camouflage cannot hide.
  double campaign_keep = 1.0;
  if (campaign.component != nullptr) {
    W(r, Signal::kCampaignMember) = c.campaign_weight * campaign.strength;
    campaign_keep = 1.0 - std::clamp(W(r, Signal::kCampaignMember), 0.0, 1.0);
  }
  r.score = 1.0 - (1.0 - r.own_score) * campaign_keep;
  const bool enough_in_campaign = campaign.component != nullptr && s.exchanges >= c.campaign_min_exchanges;

  if (r.score >= c.extraction && (enough || enough_in_campaign)) r.verdict = Verdict::kExtraction;
  else if (r.score >= c.suspicious) r.verdict = Verdict::kSuspicious;
  return r;
}

void ApplyPartnerEvidence(ScoreResult& r, const PartnerEvidence& partner, const AccountState& s,
                          const CampaignContext& campaign, const DetectorConfig& c) {
  const double w = std::clamp(std::min(partner.weight, c.partner_cap), 0.0, 1.0);
  if (w <= 0.0) return;
  W(r, Signal::kPartnerIndicator) = w;
  const double own = r.score;  // own and campaign evidence
  double score = 1.0 - (1.0 - own) * (1.0 - w);
  if (own < c.partner_min_own) score = std::max(own, std::min(score, c.partner_cap));
  r.score = score;
  // Corroborated partner evidence is about the operator, not this account's
  // volume, so it may decide early like campaign evidence does.
  const bool enough = s.exchanges >= c.min_exchanges ||
                      (campaign.component != nullptr && s.exchanges >= c.campaign_min_exchanges) ||
                      s.exchanges >= c.partner_min_exchanges;
  if (score >= c.extraction && enough) r.verdict = Verdict::kExtraction;
  else if (score >= c.suspicious) r.verdict = std::max(r.verdict, Verdict::kSuspicious);
}

namespace {
// Content shares are estimated from a sample once an account has sent more
// prompts than were analysed; the detail says so.
std::string SampleNote(const AccountState& s) {
  if (s.n_analysed >= s.n_prompts) return "";
  return " (estimated from " + std::to_string(s.n_analysed) + " of " + std::to_string(s.n_prompts) + " prompts)";
}
}  // namespace

std::vector<Reason> Explain(const AccountState& s, const CampaignContext& campaign, const ScoreResult& r,
                            const DetectorConfig& c, const PartnerEvidence* partner) {
  std::vector<Reason> out;
  for (int i = 0; i < kSignals; ++i) {
    const double w = r.weight[i];
    if (w <= 0.0) continue;
    const auto sig = static_cast<Signal>(i);
    std::string d;
    switch (sig) {
      case Signal::kHighVolume:
        d = std::to_string(static_cast<long long>(std::lround(ExchangesPerActiveDay(s)))) + " requests per active day";
        break;
      case Signal::kOutputHarvesting:
        d = "outputs are " + Fixed(s.OutputInputRatio(), 1) + "x the input tokens";
        break;
      case Signal::kMaxOutput:
        d = Pct(double(s.n_high_max_tokens) / s.n_max_tokens) + " of requests ask for >= " +
            std::to_string(c.state.high_max_tokens) + " output tokens; " +
            Pct(double(s.n_near_max) / s.n_max_tokens) + " run to the limit";
        break;
      case Signal::kReasoningElicitation:
        d = Pct(s.ElicitShare()) + " of prompts ask for step-by-step reasoning" + SampleNote(s);
        break;
      case Signal::kReasoningHarvest:
        d = Pct(s.ReasoningTokenShare()) + " of output tokens are reasoning";
        break;
      case Signal::kSingleTurn:
        d = Pct(s.SingleTurnShare()) + " of requests are one-off single-turn prompts";
        break;
      case Signal::kMachineTiming:
        d = "request gaps are machine-regular (log-gap sd " + Fixed(s.log_gap.Stddev(), 2) + ", humans ~1.3+)";
        break;
      case Signal::kAlwaysOn:
        d = "active in " + std::to_string(s.ActiveHoursOfDay()) + " of 24 hours of the day";
        break;
      case Signal::kNewAccount:
        d = "account created " + DurationText(AgeHoursAtFirstUse(s)) + " before first request";
        break;
      case Signal::kTemplatedPrompts:
        d = Pct(s.TemplateShare()) + " of prompts fit one mined template" + SampleNote(s);
        break;
      case Signal::kOutputRequest:
        d = Pct(s.OutputRequestShare()) + " of prompts ask for long or verbatim output" + SampleNote(s);
        break;
      case Signal::kTaskBreadth:
        d = std::to_string(s.TaskBreadth()) + " task types over " + std::to_string(s.n_analysed) + " sampled prompts";
        break;
      case Signal::kTopicBreadth:
        d = std::to_string(s.TopicBreadth()) + " topics over " + std::to_string(s.n_analysed) + " sampled prompts";
        break;
      case Signal::kClientMismatch:
        d = std::to_string(s.user_agents.Distinct()) + " user agents over " +
            std::to_string(s.tls_fingerprints.Distinct()) + " TLS fingerprints in " +
            std::to_string(s.client_pairs.Distinct()) + " combinations";
        break;
      case Signal::kProxyRotation:
        d = "about " + std::to_string(static_cast<long long>(std::lround(s.IpEstimate()))) + " addresses";
        if (s.asns.Distinct() > 0)
          d += " in " + std::to_string(s.asns.Distinct()) + (s.asns.overflow() ? "+" : "") + " networks";
        d += " over " + std::to_string(s.exchanges) + " requests";
        break;
      case Signal::kCampaignMember: {
        // Evidence kinds strongest first (summed rarity-weighted strength of
        // the shared values), so the detail leads with what links the group,
        // not with whatever most members happen to hold.
        const link::Component* comp = campaign.component;
        const std::vector<int> kinds = EvidenceByStrength(*comp);
        d = "linked to " + std::to_string(comp->members.size() - 1) + " accounts by ";
        for (size_t i = 0; i < kinds.size() && i < 3; ++i) {
          if (i > 0) d += i + 1 == std::min<size_t>(kinds.size(), 3) ? " and " : ", ";
          d += KindCount(comp->evidence[kinds[i]].values, static_cast<features::LinkKind>(kinds[i]));
        }
        if (kinds.empty()) d += "shared attributes";
        d += " (campaign strength " + Fixed(campaign.strength, 2) + ")";
        break;
      }
      case Signal::kPartnerIndicator:
        d = partner != nullptr ? partner->detail : "matched a partner's indicator";
        break;
      case Signal::kEvaluationRun:
        d = Pct(s.TemperatureZeroShare()) + " of requests at temperature 0 under an organisation, like an evaluation run";
        break;
      case Signal::kBurstThenSilence:
        d = "active in " + std::to_string(s.active_hours) + " of " +
            std::to_string(static_cast<long long>(std::lround(s.SpanHours()))) + " hours: bursts then silence";
        break;
      case Signal::kOfficeHours:
        d = Pct(s.BusiestWindowShare(10)) + " of traffic in one 10-hour daily window over " +
            std::to_string(s.active_days) + " days";
        break;
      case Signal::kMultiTurn:
        d = Pct(s.FollowupShare()) + " of requests continue a conversation";
        break;
      case Signal::kEstablishedAccount:
        d = "account was " + DurationText(AgeHoursAtFirstUse(s)) + " old at first request";
        break;
    }
    out.push_back({sig, IsMitigation(sig) ? -w : w, std::move(d)});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const Reason& a, const Reason& b) { return std::abs(a.weight) > std::abs(b.weight); });
  return out;
}

}  // namespace moat::score
