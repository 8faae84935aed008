// Stage 1: per-account streaming state, updated once per exchange and bounded
// in size (counters and small fixed sketches, never per-exchange lists). It
// must never look across accounts: cross-account indexes live in `link`.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <string>

#include <boost/unordered/unordered_flat_map.hpp>

#include "moat/core/exchange.h"
#include "moat/features/prompt_scan.h"
#include "moat/features/sketches.h"
#include "moat/text/lexicons.h"
#include "moat/text/template_miner.h"

namespace moat::features {

// Attributes an operator tends to reuse across the accounts it runs; stage 2
// links on them.
enum class LinkKind : uint8_t {
  kPayment = 0,
  kEmailDomain,
  kOrg,
  kSubnet,  // /24 of IPv4, /48 of IPv6
  kTlsFingerprint,
  kSystemPrompt,
  // A prompt template (normalised opening or closing) the account repeats:
  // registered once the account has used it kTemplateRepeat times, so one-off
  // prompts never enter the cross-account index.
  kTemplate,
  // Lockstep activity: LSH band keys of a MinHash of the times the account
  // wakes up after a pause. Accounts driven by one scheduler start together;
  // replaced (not appended) as the sketch changes, see AccountState::wakeups.
  kLockstep,
  // Near-duplicate prompt sets: the same for a MinHash of the account's
  // prompts (by their opening and closing), so accounts replaying the same
  // prompts (several answers per prompt, re-runs after a ban) share values.
  kPromptSet,
};
inline constexpr int kLinkKinds = 9;
// Kinds whose values an account replaces over time (the others only append).
constexpr bool IsReplaced(LinkKind k) { return k == LinkKind::kLockstep || k == LinkKind::kPromptSet; }
inline constexpr uint32_t kNoValue = UINT32_MAX;
const char* LinkKindName(LinkKind k);

// Interns 64-bit value hashes to dense ids. Strings are hashed once with XXH3
// and never stored: linking needs equality, not the values themselves.
class HashIndex {
 public:
  uint32_t Intern(uint64_t h) {
    auto [it, inserted] = ids_.try_emplace(h, static_cast<uint32_t>(ids_.size()));
    return it->second;
  }
  size_t size() const { return ids_.size(); }

 private:
  boost::unordered_flat_map<uint64_t, uint32_t> ids_;
};

// /24 of an IPv4 or /48 of an IPv6 address as one key; 0 when unparseable.
uint64_t SubnetKey(std::string_view ip);

// Thresholds the state itself needs while counting (kept here, not in the
// scorer, because the counters depend on them).
struct StateConfig {
  int64_t high_max_tokens = 4000;   // a max_tokens at or above this asks for long output
  double near_max_fraction = 0.9;   // output_tokens >= this * max_tokens: ran to the limit
  uint32_t template_repeat = 3;     // uses of one signature before it is a linkable template
  // Content analysis (normalise, lexicons, template miner: ~10 us a prompt
  // on the simulator's long, often non-ASCII prompts)
  // runs on an account's first content_first prompts, then on a
  // deterministic 1-in-content_sample_every subsample chosen by a hash of
  // the request id (of the prompt when there is none), so a replay analyses
  // the same prompts. Content shares are estimates over that sample.
  uint32_t content_first = 24;
  uint32_t content_sample_every = 32;
  // Lockstep: a request after at least wakeup_gap of silence (or the first
  // one) is a wake-up, counted in wakeup_bucket-wide time buckets.
  EventTime wakeup_gap = 30LL * 60 * 1'000'000;
  EventTime wakeup_bucket = 30LL * 60 * 1'000'000;
  // Wake-ups an account needs before its schedule is offered for linking:
  // two accounts that each woke up once at the same time prove nothing.
  uint32_t lockstep_min_wakeups = 4;
  // Prompts an account needs before its prompt set is offered for linking,
  // and distinct ones (non-empty sketch slots): one template with only its
  // numbers changing is one near-duplicate, already the template kind's job.
  uint32_t prompt_set_min_prompts = 16;
  uint32_t prompt_set_min_distinct = 4;
};

// What one exchange contributes, hashed and interned once before the
// account's state is touched. Produced by KeyExtractor.
struct ExchangeKeys {
  std::array<uint32_t, kLinkKinds> link{};  // kNoValue when absent
  uint32_t user_agent = kNoValue;
  uint64_t ip_hash = 0;
  PromptScan prompt;
  // Content of a sampled prompt (see StateConfig::content_first); only
  // meaningful when `analysed`.
  bool analysed = false;
  text::PromptFeatures content;
  uint32_t template_cluster = 0;  // TemplateMiner cluster id
};

// Owns the value interners for everything an account may share (the engine
// owns one instance). Not thread-safe.
class KeyExtractor {
 public:
  // `analyse_content`: also normalise the prompt once and run the lexicons
  // and the template miner on it (see SampleContent).
  void Extract(const Exchange& x, ExchangeKeys& keys, bool analyse_content = true);
  // Whether the prompt of `x` is in the content sample of an account that
  // has sent `prompts_seen` prompts before it. Deterministic.
  static bool SampleContent(const Exchange& x, uint32_t prompts_seen, const StateConfig& cfg);
  // Dense id of a repeated template signature (see LinkKind::kTemplate).
  uint32_t InternTemplate(uint64_t signature) {
    return link_[static_cast<int>(LinkKind::kTemplate)].Intern(signature);
  }
  // Dense id of a sketch slot key of a replaced kind (kLockstep, kPromptSet).
  uint32_t InternSlotKey(LinkKind kind, uint64_t key) { return link_[static_cast<int>(kind)].Intern(key); }
  const text::TemplateMiner& miner() const { return miner_; }

 private:
  // Default options: a 12-word alignment with 8 clusters scanned per leaf
  // was cheaper but raised review load from 0.0006-0.0009 to 0.0009-0.0015.
  text::TemplateMiner miner_;
  std::string normalized_;
  std::string content_scratch_;  // head and tail of a long prompt, reused
  std::array<HashIndex, kLinkKinds> link_;
  HashIndex user_agents_;
};

template <size_t K>
constexpr std::array<uint32_t, K> EmptySketch() {
  std::array<uint32_t, K> a{};
  a.fill(UINT32_MAX);  // text::kMinHashEmpty
  return a;
}

struct AccountState {
  // 16 values per kind: an operator's accounts also send the organic
  // prompts they blend in, whose repeated openings can fill the first slots
  // before the campaign's own templates repeat (8 lost grouping that way).
  static constexpr int kAttrSlots = 16;

  uint32_t exchanges = 0;
  EventTime first_ts = 0;
  EventTime last_ts = 0;
  EventTime account_created = 0;  // 0: never reported

  // Activity shape.
  std::array<uint32_t, 24> hour_of_day{};  // UTC
  uint32_t active_days = 0;
  uint32_t active_hours = 0;  // distinct clock hours with traffic
  int64_t last_day = -1;
  int64_t last_hour = -1;
  Welford log_gap;  // natural log of seconds between consecutive requests

  // Token harvesting.
  uint32_t n_tokens = 0;  // exchanges reporting output_tokens
  uint64_t input_tokens = 0;
  uint64_t output_tokens = 0;
  uint64_t reasoning_tokens = 0;
  uint32_t n_reasoning = 0;  // exchanges with reasoning_tokens > 0
  uint32_t n_max_tokens = 0;
  uint32_t n_high_max_tokens = 0;
  uint32_t n_near_max = 0;

  // Conversation shape: turn 0 starts a conversation, turn 1 continues one,
  // so (turn0 - turn1) approximates conversations that stayed single-turn.
  uint32_t n_turn_known = 0;
  uint32_t n_turn0 = 0;
  uint32_t n_turn1 = 0;
  uint32_t n_followup = 0;  // turn >= 1

  // Content. Signatures on every prompt; the rest over the analysed sample
  // (StateConfig::content_*), so its shares are estimates.
  uint32_t n_prompts = 0;
  TopKeys<8> prefixes;  // opening signatures: linkable templates
  TopKeys<8> suffixes;  // closing signatures: linkable templates
  uint32_t n_analysed = 0;
  uint32_t n_elicit = 0;          // analysed prompts asking for reasoning
  uint32_t n_output_request = 0;  // analysed prompts asking for long / verbatim output
  uint32_t task_mask = 0;         // bit per text::TaskType seen
  uint32_t topic_mask = 0;        // bit per text::Topic seen
  TopKeys<8> mined_templates;     // TemplateMiner cluster ids of analysed prompts

  // Parameters.
  uint32_t n_temperature = 0;
  uint32_t n_temperature_zero = 0;
  CappedSet<8> temperatures;  // rounded to 1/1000
  CappedSet<8> max_tokens_values;
  uint32_t n_org = 0;

  // Network and client.
  Hll64 ips;
  CappedSet<8> asns;
  CappedSet<8> user_agents;
  CappedSet<8> tls_fingerprints;
  CappedSet<8> client_pairs;  // (user agent, tls) pair hashes

  std::array<AttrSlots<kAttrSlots>, kLinkKinds> attrs;

  // Raw one-permutation MinHashes of the wake-up buckets (see StateConfig)
  // and of the prompts: bounded, mergeable; their slot keys become the
  // kLockstep and kPromptSet attribute values when the engine re-links.
  static constexpr size_t kSketchSlots = 16;
  std::array<uint32_t, kSketchSlots> wakeups = EmptySketch<kSketchSlots>();
  std::array<uint32_t, kSketchSlots> prompt_set = EmptySketch<kSketchSlots>();
  uint32_t n_wakeups = 0;
  uint16_t replaced_epoch = 0;   // bumped each time a replaced kind's slots are replaced
  bool sketches_changed = false;  // since the slot keys were last derived

  // Applies one exchange. Returns a bit mask (1 << LinkKind) of attribute
  // values that are new for this account, so that the cross-account index
  // can count distinct accounts per value.
  // A template signature that has just reached cfg.template_repeat uses is
  // written to *new_template (0 when none); the caller interns it and hands
  // the id to AddTemplate.
  uint32_t Update(const Exchange& x, const ExchangeKeys& keys, const StateConfig& cfg,
                  uint64_t* new_template = nullptr);
  // Returns true when the template id newly entered the slots.
  bool AddTemplate(uint32_t id) { return attrs[static_cast<int>(LinkKind::kTemplate)].Add(id); }

  // Derived measures, all in [0,1] unless noted; 0 when undefined.
  double Share(uint32_t k) const { return exchanges ? double(k) / exchanges : 0.0; }
  double ElicitShare() const { return n_analysed ? double(n_elicit) / n_analysed : 0.0; }
  double OutputRequestShare() const { return n_analysed ? double(n_output_request) / n_analysed : 0.0; }
  int TaskBreadth() const { return std::popcount(task_mask); }
  int TopicBreadth() const { return std::popcount(topic_mask); }
  double TemplateShare() const;
  double SingleTurnShare() const;
  double FollowupShare() const { return n_turn_known ? double(n_followup) / n_turn_known : 0.0; }
  double OutputInputRatio() const;  // output / input tokens (unbounded)
  double ReasoningTokenShare() const;
  double TemperatureZeroShare() const {
    return n_temperature ? double(n_temperature_zero) / n_temperature : 0.0;
  }
  int ActiveHoursOfDay() const;         // bins of the 24-hour histogram with traffic
  double BusiestWindowShare(int width) const;  // best `width` contiguous hours' share
  double SpanHours() const { return double(last_ts - first_ts) / 3.6e9; }
  double IpEstimate() const { return ips.Estimate(); }
};

}  // namespace moat::features
