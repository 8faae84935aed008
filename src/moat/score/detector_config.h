// Every weight and threshold of the detector in one immutable object with
// documented defaults (a config file parser fills it later). Parsed once,
// passed by value; nothing else in score/link/features holds a tunable.
#pragma once

#include <cstdint>

#include "moat/core/time.h"
#include "moat/features/account_state.h"
#include "moat/link/linker.h"

namespace moat::score {

struct DetectorConfig {
  features::StateConfig state;
  link::LinkConfig link;

  // --- Event-time ticks ---------------------------------------------------
  // Touched accounts are re-scored at every multiple of score_tick; campaigns
  // are re-linked at every multiple of link_tick. A decision at tick T uses
  // only exchanges with ts < T.
  EventTime score_tick = 10 * kMicrosPerMinute;
  EventTime link_tick = kMicrosPerHour;

  // --- Verdict thresholds ---------------------------------------------------
  double suspicious = 0.5;
  double extraction = 0.75;
  // Accounts whose raw score (raising signals, before mitigations and
  // campaign evidence) reaches this are offered to the linker; below it an
  // account cannot be pulled into a campaign at all.
  double link_threshold = 0.12;
  // Shares over fewer exchanges than this are noise: no `extraction` verdict.
  uint32_t min_exchanges = 20;

  // --- Signals: each is max_weight * ramp(measure, lo, hi) -----------------
  // Volume is weak on purpose: distributed campaigns keep each account at an
  // ordinary volume, and heavy legitimate users are many.
  double high_volume_weight = 0.15;
  double high_volume_lo = 300, high_volume_hi = 3000;  // exchanges per active day
  // Harvesting buys long answers for short prompts.
  double output_ratio_weight = 0.2;
  double output_ratio_lo = 3, output_ratio_hi = 10;  // output / input tokens
  double max_output_weight = 0.2;
  double max_output_lo = 0.3, max_output_hi = 0.9;  // share of high or exhausted max_tokens
  // Asking for the reasoning itself is the core of distillation of reasoning.
  double elicitation_weight = 0.35;
  double elicitation_lo = 0.1, elicitation_hi = 0.8;  // share of prompts
  double reasoning_harvest_weight = 0.15;
  double reasoning_harvest_lo = 0.3, reasoning_harvest_hi = 0.8;  // reasoning / output tokens
  // Each harvested sample is independent, so conversations stay single-turn.
  double single_turn_weight = 0.15;
  double single_turn_lo = 0.8, single_turn_hi = 1.0;
  // Scripts pace requests evenly; people and aggregated end users are bursty
  // (the log of Poisson gaps has sd ~1.28). Full weight at log-gap sd <= lo.
  double machine_timing_weight = 0.3;
  double machine_timing_lo = 0.4, machine_timing_hi = 1.0;
  uint32_t machine_timing_min_gaps = 10;
  // Around the clock, flat over the day.
  double always_on_weight = 0.2;
  double always_on_hours_lo = 16, always_on_hours_hi = 23;  // hours of day with traffic
  double always_on_min_span_hours = 20;
  // Fresh accounts: operators create them to spend them.
  double new_account_weight = 0.1;
  double new_account_full_hours = 24, new_account_zero_hours = 168;
  double templated_weight = 0.15;
  double templated_lo = 0.5, templated_hi = 0.95;  // share of sampled prompts in the top mined template
  // Content, over each account's analysed prompt sample (see
  // StateConfig::content_first): scored once at least content_min_prompts
  // prompts were analysed.
  uint32_t content_min_prompts = 20;
  // Asking for the longest / verbatim / complete answer (a harvester's
  // request); people ask for it now and then.
  double output_request_weight = 0.1;
  double output_request_lo = 0.2, output_request_hi = 0.7;  // share of sampled prompts
  // Sweeping the task types / topics of the lexicons systematically (a
  // dataset builder covers the space; a person or product stays in a few).
  double task_breadth_weight = 0.1;
  double task_breadth_lo = 6, task_breadth_hi = 10;  // distinct task types of 11
  double topic_breadth_weight = 0.1;
  double topic_breadth_lo = 14, topic_breadth_hi = 24;  // distinct topics of 28
  double client_mismatch_weight = 0.15;
  double proxy_rotation_weight = 0.25;
  double proxy_ips_lo = 5, proxy_ips_hi = 30;            // estimated distinct addresses
  double proxy_ip_share_lo = 0.2, proxy_ip_share_hi = 0.8;  // addresses per exchange
  double proxy_asns_lo = 3, proxy_asns_hi = 8;
  // Campaign evidence: campaign_weight * CampaignStrength, where strength is
  // size factor * ramp(members' mean raw score) * (1 - org_damp * org share).
  // A linked group is reported as a campaign only at strength >= min_strength.
  double campaign_weight = 0.95;
  double campaign_full_size = 16;  // size factor is log2(size)/log2(full)
  double campaign_intent_lo = 0.08, campaign_intent_hi = 0.2;
  double campaign_org_damp = 0.9;
  double campaign_min_strength = 0.3;
  // Campaign members may reach extraction on fewer exchanges than
  // min_exchanges: the evidence is the group's, not one account's shares.
  uint32_t campaign_min_exchanges = 5;

  // --- Partner evidence (intel): a coalition partner's indicator matched ----
  // partner_indicator weight = partner_weight * confidence * partner trust,
  // capped at partner_cap, which must stay below `extraction`; until the
  // account's own and campaign evidence reach partner_min_own the score stays
  // at or below partner_cap, so partner evidence alone never decides.
  double partner_weight = 0.6;
  double partner_cap = 0.6;
  double partner_min_own = 0.3;
  // Corroborated partner evidence may decide from this many exchanges.
  uint32_t partner_min_exchanges = 2;

  // --- Mitigations: pull legitimate heavy users toward benign --------------
  // score = (1 - prod(1 - w_i)) * prod(1 - m_j).
  // Benchmarks and evaluations pin temperature 0 for reproducibility and run
  // under an organisation; harvesters want varied samples and avoid tying
  // thousands of accounts to one org.
  double evaluation_run_weight = 0.5;
  double evaluation_temp0_lo = 0.7, evaluation_temp0_hi = 0.95;
  double evaluation_min_org_share = 0.9;
  // Batch jobs and benchmark runs come in bursts followed by silence;
  // harvesting maximises throughput and keeps going.
  double burst_weight = 0.3;
  double burst_min_span_hours = 24;
  double burst_active_fraction_lo = 0.1, burst_active_fraction_hi = 0.3;  // full at lo
  // People work in a daily window; scripts do not need to.
  double office_hours_weight = 0.25;
  double office_hours_share_lo = 0.8, office_hours_share_hi = 0.95;  // busiest 10 hours
  uint32_t office_hours_min_days = 2;
  // Real conversations continue; harvested samples do not.
  double multi_turn_weight = 0.6;
  double multi_turn_lo = 0.15, multi_turn_hi = 0.5;  // share of follow-up turns
  // Old accounts with a history are costly to fake in bulk.
  double established_weight = 0.2;
  double established_days = 180;
};

}  // namespace moat::score
