// Turns verdicts into actions in the request path: an ordered rule file
// (TOML, parsed once into an immutable Policy) and a thread-safe decision
// cache (DecisionState) fed by the engine's verdict updates and queried per
// request. Knows no transport and holds no clock: every call takes `now`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"
#include "moat/engine/engine.h"
#include "moat/score/scorer.h"

namespace moat::policy {

// Ordered by severity: a bigger value restricts more. Allow-listed orgs are
// capped at kThrottle.
enum class Action : uint8_t { kAllow = 0, kThrottle, kDegrade, kChallenge, kSuspend, kBlock };
inline constexpr int kActions = 6;
const char* ActionName(Action a);  // "allow", "throttle", "degrade", "challenge", "suspend", "block"
std::optional<Action> ParseAction(std::string_view name);

// What a `block` puts on the block list.
enum class BlockTarget : uint8_t { kAccount = 0, kAddress, kSubnet, kAsn, kPayment };
const char* BlockTargetName(BlockTarget t);  // "account", "address", "subnet", "asn", "payment"
std::optional<BlockTarget> ParseBlockTarget(std::string_view name);

// The stable reason codes a rule may name (score::SignalCode of every
// score::Signal, in enum order), and back.
std::span<const std::string_view> ReasonCodes();
std::optional<score::Signal> ParseReasonCode(std::string_view code);

// GCRA limits. A rate of 0 is "no limit on this dimension". Bursts are how
// many requests / output tokens may pass back to back on an idle limiter.
struct ThrottleSpec {
  double requests_per_minute = 0;
  double output_tokens_per_minute = 0;
  double burst_requests = 0;  // 0: one sixth of a minute's rate, at least 1
  double burst_tokens = 0;    // 0: one sixth of a minute's rate
  // Shared by all members of the account's campaign (0: none).
  double campaign_requests_per_minute = 0;
  double campaign_output_tokens_per_minute = 0;

  bool empty() const {
    return requests_per_minute <= 0 && output_tokens_per_minute <= 0 && campaign_requests_per_minute <= 0 &&
           campaign_output_tokens_per_minute <= 0;
  }
};

// One [[rule]] of the file. Every condition that is set must hold; a rule
// with no condition matches every request.
struct Rule {
  std::string name;
  int line = 0;  // where the rule starts in its file

  // --- conditions
  uint8_t verdicts = 0;  // bit (1 << Verdict) per accepted verdict; 0: any
  std::optional<double> min_score;  // score >= min_score
  std::optional<double> max_score;  // score <  max_score
  uint32_t reasons_any = 0;         // bit (1 << Signal): at least one present
  uint32_t reasons_all = 0;         // bit (1 << Signal): all present
  std::optional<bool> in_campaign;
  uint32_t min_campaign_size = 0;
  uint32_t max_campaign_size = UINT32_MAX;
  std::vector<std::string> orgs;     // request org among these; empty: any
  std::vector<uint64_t> org_hashes;  // the same, hashed (what matching compares)
  std::vector<std::string> models;   // request model among these; empty: any
  std::vector<uint64_t> model_hashes;
  std::optional<bool> allowlisted;      // org (or account) on the allow-list
  std::optional<bool> indicator_match;  // a shared indicator matched the account or request

  // --- action
  Action action = Action::kAllow;
  std::string degrade_mode;  // kDegrade: passed through to the gateway
  ThrottleSpec throttle;     // kThrottle
  BlockTarget block_target = BlockTarget::kAccount;  // kBlock
  EventTime duration = 0;  // kBlock: how long the block lasts; campaign_wide: how long the flag lasts; 0 forever
  // Acting on one member acts on the whole campaign at once (every member
  // gets this rule's action until `duration` ends) ...
  bool campaign_wide = false;
  // ... and blocks the campaign's payment instruments and subnets for
  // accounts first seen after the flag.
  bool block_infrastructure = false;
  bool review = false;  // decisions by this rule ask for a person
};

// The account's side of a match (what the cache knows) plus the request's.
struct MatchInput {
  score::Verdict verdict = score::Verdict::kBenign;
  double score = 0;
  uint32_t reasons = 0;  // bit (1 << Signal) of reasons at or above reason_min_weight
  bool in_campaign = false;
  uint32_t campaign_size = 0;
  uint64_t org_hash = 0;  // HashKey(org); 0: none
  uint64_t model_hash = 0;
  bool allowlisted = false;
  bool indicator_match = false;
};

// XXH3-64 of a key as the policy compares it (orgs, models, accounts,
// payment fingerprints). 0 for the empty string, never for any other.
uint64_t HashKey(std::string_view s);

// An immutable, validated policy. Shared by pointer: a reload builds a new
// one and swaps it in; the DecisionState keeps the old one alive.
class Policy {
 public:
  // Parses a policy file. Errors carry `origin:line:column: what`, e.g. a TOML
  // syntax error, an unknown key, an unknown reason code or action.
  static Result<std::shared_ptr<const Policy>> Parse(std::string_view toml, const std::string& origin);
  static Result<std::shared_ptr<const Policy>> Load(const std::string& path);
  // No rules, nothing allow-listed: every request is allowed.
  static std::shared_ptr<const Policy> AllowAll();

  const std::vector<Rule>& rules() const { return rules_; }
  // The first matching rule, or null.
  const Rule* Match(const MatchInput& in) const;

  bool IsAllowlistedOrg(uint64_t org_hash) const;
  bool IsAllowlistedAccount(std::string_view account_id) const;
  const std::vector<std::string>& allowlisted_orgs() const { return allow_orgs_; }
  // The most an allow-listed org gets instead of a harsher action.
  const ThrottleSpec& allowlist_throttle() const { return allow_throttle_; }

  double reason_min_weight() const { return reason_min_weight_; }
  int subnet_v4_prefix() const { return subnet_v4_prefix_; }
  int subnet_v6_prefix() const { return subnet_v6_prefix_; }
  EventTime infrastructure_duration() const { return infra_duration_; }
  // Which kinds of a flagged campaign's infrastructure are blocked for new
  // accounts (settings.infrastructure_targets: "payment", "subnet").
  bool blocks_infrastructure(BlockTarget t) const {
    return t == BlockTarget::kPayment ? infra_payment_ : t == BlockTarget::kSubnet ? infra_subnet_ : false;
  }
  const std::string& origin() const { return origin_; }

 private:
  friend class PolicyParser;
  std::string origin_;
  std::vector<Rule> rules_;
  std::vector<std::string> allow_orgs_;
  std::vector<uint64_t> allow_org_hashes_;  // sorted
  std::vector<std::string> allow_accounts_;  // sorted
  ThrottleSpec allow_throttle_;
  double reason_min_weight_ = 0;
  int subnet_v4_prefix_ = 24;
  int subnet_v6_prefix_ = 48;
  EventTime infra_duration_ = 7 * 24 * 3600 * EventTime{1'000'000};
  bool infra_payment_ = true;
  bool infra_subnet_ = true;
};

// One request as the gateway sees it. Views: valid for the call only.
struct DecideRequest {
  std::string_view account_id;
  std::string_view api_key_id;
  std::string_view ip;  // IPv4 or IPv6 text; empty: unknown
  std::string_view org_id;
  std::string_view model;
  std::string_view payment_fingerprint;  // empty: unknown
  int64_t asn = 0;                       // 0: unknown
  int64_t output_tokens_estimate = 0;    // 0: unknown (the token limiter is not charged)
  bool indicator_match = false;          // the gateway matched a shared indicator
};

// Why a decision came out as it did.
enum class DecisionSource : uint8_t { kDefault = 0, kRule, kCampaign, kBlockList, kOverride };
const char* DecisionSourceName(DecisionSource s);  // "default", "rule", "campaign", "block_list", "override"

inline constexpr int kMaxDecisionReasons = 6;

struct Decision {
  Action action = Action::kAllow;
  // Whether the gateway lets this request through: allow, degrade, and
  // throttle while under its limits. False for a throttled request over its
  // limit (retry_after_ms > 0), challenge, suspend and block.
  bool admit = true;
  // A person should look: the rule asks for review, or an allow-listed org
  // was capped at throttle instead of a harsher action.
  bool review = false;
  DecisionSource source = DecisionSource::kDefault;
  std::string_view rule;          // rule name; "default" when none matched, "override" for overrides
  std::string_view degrade_mode;  // kDegrade only
  int64_t retry_after_ms = 0;     // throttled over the limit: when a retry would pass
  std::optional<BlockTarget> block_target;  // kBlock: what was blocked
  score::Verdict verdict = score::Verdict::kBenign;
  double score = 0;
  std::string_view campaign_id;  // empty: none
  std::array<score::Signal, kMaxDecisionReasons> reasons{};  // strongest first
  uint8_t n_reasons = 0;
  // The views (rule, degrade_mode, campaign_id) stay valid as long as the
  // DecisionState that made the decision: it keeps every policy it ran.

  std::span<const score::Signal> Reasons() const { return {reasons.data(), n_reasons}; }
};

// {"action":..,"admit":..,"rule":..,"reasons":[codes],"retry_after_ms":..,
//  "degrade_mode":..,"review":..,"source":..,"verdict":..,"score":..,"campaign_id":..}
void AppendDecisionJson(const Decision& d, std::string& out);

// An analyst's forced action on one account, until `until` (event time).
struct Override {
  Action action = Action::kAllow;
  std::string degrade_mode;  // kDegrade
  ThrottleSpec throttle;     // kThrottle
  EventTime until = 0;
  std::string analyst;
  std::string reason;
};

// A change of the action the policy assigns to an account (not of a single
// throttled request): what the audit store records.
struct ActionChange {
  std::string account_id;
  Action previous = Action::kAllow;
  Action action = Action::kAllow;
  std::string rule;
  DecisionSource source = DecisionSource::kDefault;
  score::Verdict verdict = score::Verdict::kBenign;
  double score = 0;
  std::vector<score::Signal> reasons;  // strongest first
  std::string campaign_id;
  uint32_t campaign_size = 0;
  EventTime at = 0;           // event time
  std::string actor;          // "engine", or the analyst id for overrides
};
// The evidence snapshot of a change as one JSON object:
// {"verdict":..,"score":..,"reasons":[..],"campaign_id":..,"campaign_size":..,"source":..}
std::string EvidenceJson(const ActionChange& c);

struct BlockInfo {
  BlockTarget target = BlockTarget::kAddress;
  std::string value;  // the address, subnet (a.b.c.0/24), ASN, payment fingerprint or account
  EventTime since = 0;
  EventTime until = 0;             // 0: forever
  bool new_accounts_only = false;  // infrastructure block: accounts first seen at or after `since`
  std::string why;                 // rule or campaign that put it there
};

struct AccountView {
  std::string account_id;
  score::Verdict verdict = score::Verdict::kBenign;
  double score = 0;
  std::vector<score::Signal> reasons;
  std::string campaign_id;
  uint32_t campaign_size = 0;
  EventTime first_seen = 0;
  EventTime updated = 0;  // event time of the last verdict update
  Action last_action = Action::kAllow;
  std::string last_rule;
  std::optional<Override> active_override;
};

struct CampaignView {
  std::string campaign_id;
  uint32_t size = 0;
  uint32_t known_members = 0;  // members the cache has seen
  std::optional<Action> flagged_action;  // campaign-wide action in force
  std::string flagged_rule;
  EventTime flagged_since = 0;
  EventTime flagged_until = 0;  // 0: forever
};

struct DecisionStats {
  uint64_t accounts = 0;
  uint64_t campaigns = 0;
  uint64_t flagged_campaigns = 0;
  uint64_t blocks = 0;     // entries on the block list, expired ones not yet swept included
  uint64_t overrides = 0;  // overrides held, expired ones not yet swept included
  uint64_t pending_changes = 0;
  uint64_t updates_applied = 0;
};

// The decision cache. Thread-safe: any number of threads may call Decide
// while one thread applies verdict updates and others set overrides. State
// is sharded by key, each shard behind its own mutex, so concurrent
// decisions for different accounts rarely meet. A Decide for a known account
// allocates only when its action, card or subnet changes.
class DecisionState {
 public:
  explicit DecisionState(std::shared_ptr<const Policy> policy = Policy::AllowAll());
  ~DecisionState();
  DecisionState(const DecisionState&) = delete;
  DecisionState& operator=(const DecisionState&) = delete;

  // The running policy. SetPolicy swaps atomically; decisions in flight
  // finish under the policy they started with. Every policy set is kept
  // (a few KB each) so decisions never hold a reference count.
  std::shared_ptr<const Policy> policy() const;
  void SetPolicy(std::shared_ptr<const Policy> policy);
  // Loads and swaps in a policy file; on any error the running one stays and
  // the error (with line and column) is returned.
  Status LoadPolicy(const std::string& path);

  // The engine's verdict listener: `engine.SetVerdictListener([&](auto u) {
  // state.ApplyUpdates(u); })`. Campaign-wide rules are evaluated here, so
  // flagging one member acts on the whole campaign before its next request.
  void ApplyUpdates(std::span<const engine::VerdictUpdate> updates);
  // Optional: what the exchange stream says about an account's
  // infrastructure (payment, address, ASN) and when it was first seen, so
  // campaign infrastructure can be blocked before its members call Decide.
  void ObserveExchange(const Exchange& x);
  // A shared indicator (partner feed) matched this account.
  void SetIndicatorMatch(std::string_view account_id, bool matched);

  // The per-request decision. `now` is event time (replay may run faster
  // than the wall clock).
  Decision Decide(const DecideRequest& req, EventTime now);

  // Analyst overrides take effect on the next Decide. An override with
  // until <= now is ignored. ClearOverride returns whether one was held.
  void SetOverride(std::string_view account_id, Override o, EventTime now);
  bool ClearOverride(std::string_view account_id, EventTime now);
  // Manual or restored blocks (value as in BlockInfo; subnets as a.b.c.0/24).
  void AddBlock(const BlockInfo& b);
  bool RemoveBlock(BlockTarget target, std::string_view value);
  std::vector<BlockInfo> ActiveBlocks(EventTime now) const;
  // Clears a campaign-wide flag (and nothing else). Returns whether it was set.
  bool ClearCampaignFlag(std::string_view campaign_id);

  // Lookups for admin endpoints (copying; not for the request path).
  std::optional<AccountView> Account(std::string_view account_id, EventTime now) const;
  std::vector<CampaignView> Campaigns(EventTime now) const;
  DecisionStats stats() const;

  // Moves the action changes recorded since the last call into `out`
  // (appended, in the order they happened per account). Serve writes them to
  // the audit store.
  size_t DrainActionChanges(std::vector<ActionChange>& out);
  // Drops expired blocks and overrides (cheap to call once a second).
  void Sweep(EventTime now);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::policy
