// The decision cache: DecisionState (see policy.h).
#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <boost/unordered/unordered_flat_map.hpp>
#include <xxhash.h>

#include "moat/core/time.h"
#include "moat/policy/gcra.h"
#include "moat/policy/policy.h"

namespace moat::policy {
namespace {

constexpr std::string_view kDefaultRule = "default";
constexpr std::string_view kOverrideRule = "override";
constexpr size_t kAccountShards = 64;  // power of two
constexpr size_t kBlockShards = 16;

struct StringHash {
  using is_transparent = void;
  using is_avalanching = void;  // xxHash: the flat map needs no extra mixing
  size_t operator()(std::string_view s) const { return XXH3_64bits(s.data(), s.size()); }
};
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

// An address parsed once per request: its own key, its subnet's key and,
// only when a block or campaign needs it, its subnet as text.
struct Address {
  int family = 0;  // 0: none or unparseable
  uint8_t bytes[16] = {};
  uint64_t key = 0;
  uint64_t subnet_key = 0;
  int prefix = 0;

  void Parse(std::string_view ip, int v4_prefix, int v6_prefix) {
    family = 0;
    key = subnet_key = 0;
    char buf[INET6_ADDRSTRLEN];
    if (ip.empty() || ip.size() >= sizeof buf) return;
    std::memcpy(buf, ip.data(), ip.size());
    buf[ip.size()] = '\0';
    size_t len = 0;
    if (inet_pton(AF_INET, buf, bytes) == 1) {
      family = AF_INET;
      len = 4;
      prefix = v4_prefix;
    } else if (inet_pton(AF_INET6, buf, bytes) == 1) {
      family = AF_INET6;
      len = 16;
      prefix = v6_prefix;
    } else {
      return;
    }
    key = XXH3_64bits_withSeed(bytes, len, uint64_t(family));
    uint8_t masked[16] = {};
    for (size_t i = 0; i < len; ++i) {
      const int keep = std::clamp(prefix - int(i) * 8, 0, 8);
      masked[i] = uint8_t(bytes[i] & uint8_t(0xff00u >> keep));
    }
    subnet_key = XXH3_64bits_withSeed(masked, len, uint64_t(family) * 131 + uint64_t(prefix));
    std::memcpy(subnet_bytes, masked, sizeof masked);
  }
  std::string SubnetText() const {
    char buf[INET6_ADDRSTRLEN];
    if (family == 0 || inet_ntop(family, subnet_bytes, buf, sizeof buf) == nullptr) return {};
    return std::string(buf) + "/" + std::to_string(prefix);
  }
  uint8_t subnet_bytes[16] = {};
};

// Block keys: the target mixed into the value's hash so an address and an
// account with the same text never collide.
uint64_t BlockKey(BlockTarget t, uint64_t value_hash) {
  return value_hash ^ (0x9e3779b97f4a7c15ull * (uint64_t(t) + 1));
}

uint64_t AsnHash(int64_t asn) { return asn == 0 ? 0 : XXH3_64bits(&asn, sizeof asn); }

// The key of a block given as text (admin, restore): what Decide computes
// from the request for the same target.
uint64_t BlockValueHash(BlockTarget t, std::string_view value, const Policy& p) {
  switch (t) {
    case BlockTarget::kAddress: {
      Address a;
      a.Parse(value, p.subnet_v4_prefix(), p.subnet_v6_prefix());
      return a.key;
    }
    case BlockTarget::kSubnet: {
      // "a.b.c.0/24" or a bare address: the subnet at the policy's prefix.
      Address a;
      a.Parse(value.substr(0, value.find('/')), p.subnet_v4_prefix(), p.subnet_v6_prefix());
      return a.subnet_key;
    }
    case BlockTarget::kAsn: {
      int64_t asn = 0;
      for (char c : value) {
        if (c < '0' || c > '9') return 0;
        asn = asn * 10 + (c - '0');
      }
      return AsnHash(asn);
    }
    case BlockTarget::kAccount:
    case BlockTarget::kPayment: return HashKey(value);
  }
  return 0;
}

bool Active(EventTime until, EventTime now) { return until == 0 || now < until; }

}  // namespace

struct CampaignFlag {
  Action action = Action::kAllow;
  std::string_view rule;  // interned
  std::string_view degrade_mode;
  ThrottleSpec throttle;
  bool review = false;
  bool block_infrastructure = false;
  EventTime since = 0;
  EventTime until = 0;  // 0: forever
};

// Never freed while the state lives: accounts point at it and decisions
// hand out views of its id.
struct CampaignEntry {
  std::string id;
  std::mutex mu;
  uint32_t size = 0;
  std::vector<std::string> members;  // accounts the cache has seen in it
  std::optional<CampaignFlag> flag;
  Gcra requests;
  Gcra tokens;
  // Payment instruments and subnets its members were seen with.
  std::unordered_set<uint64_t> infra_keys;
  std::vector<std::pair<BlockTarget, std::string>> infra;
};

struct OverrideEntry {
  Override o;
  std::string_view degrade_mode;  // interned
  std::string_view analyst;       // interned
};

// What only verdict updates and infrastructure changes touch, out of the
// request path's cache lines.
struct AccountCold {
  std::vector<std::pair<score::Signal, double>> all_reasons;  // for re-masking after a policy swap
  // Last infrastructure seen, so a campaign learns it when the account joins.
  std::string payment;
  std::string subnet;
};

// Hot fields first: a Decide reads the first two cache lines.
struct AccountEntry {
  score::Verdict verdict = score::Verdict::kBenign;
  Action last_action = Action::kAllow;
  bool indicator = false;
  uint8_t n_reasons = 0;
  uint32_t reason_mask = 0;  // reasons at or above the policy's reason_min_weight
  double score = 0;
  std::array<score::Signal, kMaxDecisionReasons> reasons{};
  uint32_t campaign_size = 0;
  CampaignEntry* campaign = nullptr;
  EventTime first_seen = 0;
  uint64_t org_hash = 0;
  uint64_t payment_hash = 0;
  uint64_t subnet_key = 0;
  std::unique_ptr<OverrideEntry> override;
  std::string_view last_rule = kDefaultRule;  // interned
  Gcra requests;
  Gcra tokens;
  EventTime updated = 0;
  std::unique_ptr<AccountCold> cold;

  AccountCold& Cold() {
    if (!cold) cold = std::make_unique<AccountCold>();
    return *cold;
  }
  std::string_view payment() const { return cold ? std::string_view(cold->payment) : std::string_view(); }
  std::string_view subnet() const { return cold ? std::string_view(cold->subnet) : std::string_view(); }
};

struct BlockEntry {
  BlockInfo info;
  std::string_view why;  // info.why interned: decisions hand out this view
};

// Open addressing: a lookup touches the group's metadata and the slot,
// which holds the key and the entry side by side. Entries move on rehash, so
// nothing outside a shard's lock keeps a reference to one.
struct alignas(64) AccountShard {
  mutable std::mutex mu;
  boost::unordered_flat_map<std::string, AccountEntry, StringHash, std::equal_to<>> map;
};

struct alignas(64) BlockShard {
  mutable std::mutex mu;
  std::unordered_map<uint64_t, BlockEntry> map;
};

// What the rules, blocks, campaign flags and overrides say about one
// account before any limiter runs.
struct Resolution {
  Action action = Action::kAllow;
  DecisionSource source = DecisionSource::kDefault;
  std::string_view rule = kDefaultRule;
  std::string_view degrade_mode;
  ThrottleSpec throttle;  // a copy: a campaign flag may change once its lock is released
  std::optional<BlockTarget> block_target;
  bool review = false;
  const Rule* matched = nullptr;  // the rule, when the source is a rule
};

struct RequestKeys {
  uint64_t org_hash = 0;
  uint64_t model_hash = 0;
  Address addr;
  uint64_t payment_hash = 0;
  uint64_t asn_hash = 0;
  bool indicator = false;
};

struct DecisionState::Impl {
  // The running policy. Every policy ever set is kept until the state goes
  // (a reload is rare and a policy is a few KB), so the request path reads a
  // plain pointer and decisions may hold views into any of them.
  std::atomic<const Policy*> current{nullptr};
  mutable std::mutex policies_mu;
  std::vector<std::shared_ptr<const Policy>> policies;
  // One bit per block key (never cleared: a stale bit costs one locked
  // lookup), so requests matching no block take no block-shard lock.
  std::array<std::atomic<uint64_t>, 1024> block_filter{};
  std::array<AccountShard, kAccountShards> accounts;
  std::array<BlockShard, kBlockShards> blocks;
  std::atomic<uint64_t> n_blocks{0};

  mutable std::mutex campaigns_mu;
  std::unordered_map<std::string, std::unique_ptr<CampaignEntry>, StringHash, std::equal_to<>> campaigns;

  mutable std::mutex intern_mu;
  StringSet interned;

  std::mutex changes_mu;
  std::vector<ActionChange> changes;
  std::atomic<uint64_t> n_changes{0};
  std::atomic<uint64_t> n_accounts{0};
  std::atomic<uint64_t> n_overrides{0};
  std::atomic<uint64_t> updates_applied{0};

  std::string_view Intern(std::string_view s) {
    if (s.empty()) return {};
    std::lock_guard lock(intern_mu);
    auto it = interned.find(s);
    if (it == interned.end()) it = interned.emplace(s).first;
    return *it;  // node-based set: the string never moves
  }

  // Middle bits of the hash: the flat map uses the top bits for position
  // and the low byte for its metadata.
  static size_t ShardIndex(std::string_view account_id) {
    return (StringHash{}(account_id) >> 32) & (kAccountShards - 1);
  }
  AccountShard& ShardOf(std::string_view account_id) { return accounts[ShardIndex(account_id)]; }
  const AccountShard& ShardOf(std::string_view account_id) const { return accounts[ShardIndex(account_id)]; }

  // Caller holds the shard lock.
  AccountEntry& Entry(AccountShard& shard, std::string_view account_id, EventTime now) {
    auto it = shard.map.find(account_id);
    if (it != shard.map.end()) return it->second;
    it = shard.map.emplace(std::string(account_id), AccountEntry{}).first;
    it->second.first_seen = now;
    n_accounts.fetch_add(1, std::memory_order_relaxed);
    return it->second;
  }

  CampaignEntry* Campaign(std::string_view id) {
    std::lock_guard lock(campaigns_mu);
    auto it = campaigns.find(id);
    if (it == campaigns.end()) {
      auto c = std::make_unique<CampaignEntry>();
      c->id = std::string(id);
      it = campaigns.emplace(c->id, std::move(c)).first;
    }
    return it->second.get();
  }

  BlockShard& BlockShardOf(uint64_t key) { return blocks[(key >> 7) & (kBlockShards - 1)]; }

  // The block on `key` in force for an account first seen at `first_seen`.
  const BlockEntry* FindBlock(BlockShard& shard, uint64_t key, EventTime first_seen, EventTime now) {
    auto it = shard.map.find(key);
    if (it == shard.map.end()) return nullptr;
    const BlockInfo& b = it->second.info;
    if (now < b.since || !Active(b.until, now)) return nullptr;
    if (b.new_accounts_only && first_seen < b.since) return nullptr;
    return &it->second;
  }

  // Adds or extends a block (the later end wins).
  void PutBlock(const BlockInfo& b, uint64_t value_hash) {
    if (value_hash == 0) return;
    const uint64_t key = BlockKey(b.target, value_hash);
    BlockShard& shard = BlockShardOf(key);
    std::lock_guard lock(shard.mu);
    const std::string_view why = Intern(b.why);
    block_filter[(key >> 6) & (block_filter.size() - 1)].fetch_or(uint64_t{1} << (key & 63),
                                                                   std::memory_order_relaxed);
    auto [it, inserted] = shard.map.try_emplace(key, BlockEntry{b, why});
    if (inserted) {
      n_blocks.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    BlockInfo& cur = it->second.info;
    const bool cur_expired = !Active(cur.until, b.since);
    if (cur_expired) {
      cur = b;
      it->second.why = why;
    } else if (cur.until != 0 && (b.until == 0 || b.until > cur.until)) {
      cur.until = b.until;
    }
    cur.new_accounts_only = cur.new_accounts_only && b.new_accounts_only;
  }

  // Block-list result for a request (or, with no request, the account only).
  std::optional<Resolution> CheckBlocks(std::string_view account_id, const AccountEntry& e, const RequestKeys* rk,
                                        EventTime now) {
    if (n_blocks.load(std::memory_order_relaxed) == 0) return std::nullopt;
    const std::pair<BlockTarget, uint64_t> keys[] = {
        {BlockTarget::kAccount, HashKey(account_id)},
        {BlockTarget::kAddress, rk ? rk->addr.key : 0},
        {BlockTarget::kSubnet, rk ? rk->addr.subnet_key : e.subnet_key},
        {BlockTarget::kAsn, rk ? rk->asn_hash : 0},
        {BlockTarget::kPayment, rk && rk->payment_hash ? rk->payment_hash : e.payment_hash},
    };
    for (auto [target, h] : keys) {
      if (h == 0) continue;
      const uint64_t key = BlockKey(target, h);
      if ((block_filter[(key >> 6) & (block_filter.size() - 1)].load(std::memory_order_relaxed) &
           (uint64_t{1} << (key & 63))) == 0)
        continue;
      BlockShard& shard = BlockShardOf(key);
      std::lock_guard lock(shard.mu);
      if (const BlockEntry* b = FindBlock(shard, key, e.first_seen, now)) {
        Resolution r;
        r.action = Action::kBlock;
        r.source = DecisionSource::kBlockList;
        r.rule = b->why;
        r.block_target = target;
        return r;
      }
    }
    return std::nullopt;
  }

  // Puts the campaign's known infrastructure on the block list (caller holds c.mu).
  void BlockInfrastructure(CampaignEntry& c, const Policy& p, size_t from) {
    const CampaignFlag& f = *c.flag;
    for (size_t i = from; i < c.infra.size(); ++i) {
      if (!p.blocks_infrastructure(c.infra[i].first)) continue;
      BlockInfo b;
      b.target = c.infra[i].first;
      b.value = c.infra[i].second;
      b.since = f.since;
      b.until = p.infrastructure_duration() == 0 ? 0 : f.since + p.infrastructure_duration();
      b.new_accounts_only = true;
      b.why = std::string(f.rule);
      PutBlock(b, BlockValueHash(b.target, b.value, p));
    }
  }

  // Records the account's infrastructure in its campaign (caller holds c.mu).
  void LearnInfrastructure(CampaignEntry& c, const Policy& p, uint64_t payment_hash, std::string_view payment,
                           uint64_t subnet_key, const Address* addr, std::string_view subnet_text) {
    const size_t before = c.infra.size();
    if (payment_hash != 0 && c.infra_keys.insert(BlockKey(BlockTarget::kPayment, payment_hash)).second)
      c.infra.emplace_back(BlockTarget::kPayment, std::string(payment));
    if (subnet_key != 0 && c.infra_keys.insert(BlockKey(BlockTarget::kSubnet, subnet_key)).second)
      c.infra.emplace_back(BlockTarget::kSubnet, addr ? addr->SubnetText() : std::string(subnet_text));
    if (c.infra.size() > before && c.flag && c.flag->block_infrastructure) BlockInfrastructure(c, p, before);
  }

  MatchInput Input(const AccountEntry& e, const RequestKeys* rk, const Policy& p, std::string_view account_id) const {
    MatchInput in;
    in.verdict = e.verdict;
    in.score = e.score;
    in.reasons = e.reason_mask;
    in.in_campaign = e.campaign != nullptr;
    in.campaign_size = e.campaign ? e.campaign_size : 0;
    in.org_hash = rk && rk->org_hash ? rk->org_hash : e.org_hash;
    in.model_hash = rk ? rk->model_hash : 0;
    in.allowlisted = p.IsAllowlistedOrg(in.org_hash) || p.IsAllowlistedAccount(account_id);
    in.indicator_match = e.indicator || (rk && rk->indicator);
    return in;
  }

  // Rules, campaign flag, block list and override for one account. Caller
  // holds the account's shard lock. May flag the account's campaign.
  // `flagged`, when given, collects a campaign this call flagged.
  Resolution Resolve(std::string_view account_id, AccountEntry& e, const RequestKeys* rk, const Policy& p,
                     EventTime now, CampaignEntry** flagged = nullptr) {
    Resolution res;
    if (e.override && Active(e.override->o.until, now)) {
      const OverrideEntry& o = *e.override;
      res.action = o.o.action;
      res.source = DecisionSource::kOverride;
      res.rule = kOverrideRule;
      res.degrade_mode = o.degrade_mode;
      res.throttle = o.o.throttle;
      return res;  // an analyst's word beats every automatic source
    }
    const MatchInput in = Input(e, rk, p, account_id);
    if (const Rule* r = p.Match(in)) {
      res.action = r->action;
      res.source = DecisionSource::kRule;
      res.rule = r->name;
      res.degrade_mode = r->degrade_mode;
      res.throttle = r->throttle;
      res.review = r->review;
      res.matched = r;
      if (r->action == Action::kBlock) res.block_target = r->block_target;
    }
    if (e.campaign != nullptr) {
      CampaignEntry& c = *e.campaign;
      std::lock_guard lock(c.mu);
      if (res.matched && res.matched->campaign_wide && !in.allowlisted && Flag(c, *res.matched, p, now) && flagged)
        *flagged = &c;
      if (c.flag && !Active(c.flag->until, now)) c.flag.reset();
      if (c.flag && c.flag->action > res.action) {
        const CampaignFlag& f = *c.flag;
        res.action = f.action;
        res.source = DecisionSource::kCampaign;
        res.rule = f.rule;
        res.degrade_mode = f.degrade_mode;
        res.throttle = f.throttle;
        res.review = f.review;
        res.block_target = f.action == Action::kBlock ? std::optional(BlockTarget::kAccount) : std::nullopt;
        res.matched = nullptr;
      }
    }
    if (auto b = CheckBlocks(account_id, e, rk, now); b && b->action > res.action) res = *b;
    if (res.action > Action::kThrottle && in.allowlisted) {
      // Verified labs and contracts: never suspended or blocked
      // automatically; throttled at most, and a person looks.
      res.action = Action::kThrottle;
      res.throttle = p.allowlist_throttle();
      res.degrade_mode = {};
      res.block_target.reset();
      res.review = true;
    }
    if (res.action != Action::kDegrade) res.degrade_mode = {};
    return res;
  }

  // Flags a campaign with a campaign-wide rule (caller holds c.mu); a flag
  // in force is only replaced by a harsher one.
  bool Flag(CampaignEntry& c, const Rule& r, const Policy& p, EventTime now) {
    if (c.flag && Active(c.flag->until, now) && c.flag->action >= r.action) return false;
    CampaignFlag f;
    f.action = r.action;
    f.rule = Intern(r.name);
    f.degrade_mode = Intern(r.degrade_mode);
    f.throttle = r.throttle;
    f.review = r.review;
    f.block_infrastructure = r.block_infrastructure;
    f.since = now;
    f.until = r.duration == 0 ? 0 : now + r.duration;
    c.flag = f;
    if (f.block_infrastructure) BlockInfrastructure(c, p, 0);
    return true;
  }

  // Re-decides every known member of a campaign just flagged, so the audit
  // trail shows the whole campaign acted on at once. Takes no lock on entry.
  void ActOnMembers(CampaignEntry& c, const Policy& p, EventTime now) {
    std::vector<std::string> members;
    {
      std::lock_guard cl(c.mu);
      members = c.members;
    }
    for (const std::string& id : members) {
      AccountShard& shard = ShardOf(id);
      std::lock_guard lock(shard.mu);
      auto it = shard.map.find(id);
      if (it == shard.map.end() || it->second.campaign != &c) continue;
      const Resolution res = Resolve(id, it->second, nullptr, p, now);
      RecordChange(id, it->second, res, now, "engine");
    }
  }

  bool Allowlisted(const Policy& p, std::string_view account_id, uint64_t org_hash) const {
    return p.IsAllowlistedOrg(org_hash) || p.IsAllowlistedAccount(account_id);
  }

  void RecordChange(std::string_view account_id, AccountEntry& e, const Resolution& res, EventTime now,
                    std::string_view actor) {
    if (res.action == e.last_action && res.rule == e.last_rule) return;
    ActionChange ch;
    ch.account_id = std::string(account_id);
    ch.previous = e.last_action;
    ch.action = res.action;
    ch.rule = std::string(res.rule);
    ch.source = res.source;
    ch.verdict = e.verdict;
    ch.score = e.score;
    ch.reasons.assign(e.reasons.begin(), e.reasons.begin() + e.n_reasons);
    if (e.campaign) ch.campaign_id = e.campaign->id;
    ch.campaign_size = e.campaign_size;
    ch.at = now;
    ch.actor = actor.empty() ? "engine" : std::string(actor);
    e.last_action = res.action;
    e.last_rule = Intern(res.rule);
    std::lock_guard lock(changes_mu);
    changes.push_back(std::move(ch));
    n_changes.fetch_add(1, std::memory_order_relaxed);
  }

  void SetReasons(AccountEntry& e, const Policy& p) {
    e.reason_mask = 0;
    e.n_reasons = 0;
    if (!e.cold) return;
    for (const auto& [s, w] : e.cold->all_reasons) {
      if (std::abs(w) >= p.reason_min_weight() && w != 0) e.reason_mask |= 1u << static_cast<int>(s);
      if (w > 0 && e.n_reasons < kMaxDecisionReasons) e.reasons[e.n_reasons++] = s;
    }
  }
};

DecisionState::DecisionState(std::shared_ptr<const Policy> policy) : impl_(std::make_unique<Impl>()) {
  impl_->policies.push_back(policy ? std::move(policy) : Policy::AllowAll());
  impl_->current.store(impl_->policies.back().get(), std::memory_order_release);
}

DecisionState::~DecisionState() = default;

std::shared_ptr<const Policy> DecisionState::policy() const {
  std::lock_guard lock(impl_->policies_mu);
  return impl_->policies.back();
}

void DecisionState::SetPolicy(std::shared_ptr<const Policy> policy) {
  if (!policy) return;
  const Policy* p = policy.get();
  double old_min;
  {
    std::lock_guard lock(impl_->policies_mu);
    old_min = impl_->policies.back()->reason_min_weight();
    impl_->policies.push_back(std::move(policy));
    impl_->current.store(p, std::memory_order_release);
  }
  const double new_min = p->reason_min_weight();
  if (old_min == new_min) return;
  // Reason masks depend on the policy's threshold: recompute them.
  for (AccountShard& shard : impl_->accounts) {
    std::lock_guard lock(shard.mu);
    for (auto& [id, e] : shard.map) impl_->SetReasons(e, *p);
  }
}

Status DecisionState::LoadPolicy(const std::string& path) {
  auto loaded = Policy::Load(path);
  if (!loaded.ok()) return loaded.status();
  SetPolicy(std::move(loaded).value());
  return Status::Ok();
}

void DecisionState::ApplyUpdates(std::span<const engine::VerdictUpdate> updates) {
  const Policy* p = impl_->current.load(std::memory_order_acquire);
  std::vector<std::pair<CampaignEntry*, EventTime>> flagged;
  for (const engine::VerdictUpdate& u : updates) {
    CampaignEntry* campaign = u.campaign_id.empty() ? nullptr : impl_->Campaign(u.campaign_id);
    AccountShard& shard = impl_->ShardOf(u.account_id);
    std::lock_guard lock(shard.mu);
    AccountEntry& e = impl_->Entry(shard, u.account_id, u.at);
    e.verdict = u.verdict;
    e.score = u.score;
    e.updated = u.at;
    auto& all = e.Cold().all_reasons;
    all.clear();
    for (const score::Reason& r : u.reasons) all.emplace_back(r.signal, r.weight);
    impl_->SetReasons(e, *p);
    if (e.campaign != campaign) {
      if (e.campaign) {
        std::lock_guard cl(e.campaign->mu);
        auto& m = e.campaign->members;
        if (auto it = std::find(m.begin(), m.end(), u.account_id); it != m.end()) m.erase(it);
      }
      if (campaign) {
        std::lock_guard cl(campaign->mu);
        campaign->members.emplace_back(u.account_id);
        // An allow-listed member's cards and networks are not the campaign's.
        if (!impl_->Allowlisted(*p, u.account_id, e.org_hash))
          impl_->LearnInfrastructure(*campaign, *p, e.payment_hash, e.payment(), e.subnet_key, nullptr, e.subnet());
      }
      e.campaign = campaign;
    }
    e.campaign_size = u.campaign_size;
    if (campaign) {
      std::lock_guard cl(campaign->mu);
      campaign->size = u.campaign_size;
    }
    CampaignEntry* newly_flagged = nullptr;
    const Resolution res = impl_->Resolve(u.account_id, e, nullptr, *p, u.at, &newly_flagged);
    impl_->RecordChange(u.account_id, e, res, u.at, "engine");
    if (newly_flagged) flagged.emplace_back(newly_flagged, u.at);
  }
  for (auto [c, at] : flagged) impl_->ActOnMembers(*c, *p, at);
  impl_->updates_applied.fetch_add(updates.size(), std::memory_order_relaxed);
}

void DecisionState::ObserveExchange(const Exchange& x) {
  const Policy* p = impl_->current.load(std::memory_order_acquire);
  Address addr;
  addr.Parse(x.ip, p->subnet_v4_prefix(), p->subnet_v6_prefix());
  const uint64_t payment_hash = HashKey(x.payment_fingerprint);
  AccountShard& shard = impl_->ShardOf(x.account_id);
  std::lock_guard lock(shard.mu);
  AccountEntry& e = impl_->Entry(shard, x.account_id, x.ts);
  if (!x.org_id.empty()) e.org_hash = HashKey(x.org_id);
  if (payment_hash != 0 && payment_hash != e.payment_hash) {
    e.payment_hash = payment_hash;
    e.Cold().payment = x.payment_fingerprint;
  }
  if (addr.subnet_key != 0 && addr.subnet_key != e.subnet_key) {
    e.subnet_key = addr.subnet_key;
    e.Cold().subnet = addr.SubnetText();
  }
  if (e.campaign && !impl_->Allowlisted(*p, x.account_id, e.org_hash)) {
    std::lock_guard cl(e.campaign->mu);
    impl_->LearnInfrastructure(*e.campaign, *p, payment_hash, x.payment_fingerprint, addr.subnet_key, &addr, {});
  }
}

void DecisionState::SetIndicatorMatch(std::string_view account_id, bool matched) {
  AccountShard& shard = impl_->ShardOf(account_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.map.find(account_id);
  if (it == shard.map.end()) {
    if (!matched) return;
    it = shard.map.emplace(std::string(account_id), AccountEntry{}).first;
    impl_->n_accounts.fetch_add(1, std::memory_order_relaxed);
  }
  it->second.indicator = matched;
}

Decision DecisionState::Decide(const DecideRequest& req, EventTime now) {
  Decision d;
  const Policy& p = *impl_->current.load(std::memory_order_acquire);
  RequestKeys rk;
  rk.org_hash = HashKey(req.org_id);
  rk.model_hash = HashKey(req.model);
  rk.addr.Parse(req.ip, p.subnet_v4_prefix(), p.subnet_v6_prefix());
  rk.payment_hash = HashKey(req.payment_fingerprint);
  rk.asn_hash = AsnHash(req.asn);
  rk.indicator = req.indicator_match;

  AccountShard& shard = impl_->ShardOf(req.account_id);
  std::unique_lock lock(shard.mu);
  AccountEntry& e = impl_->Entry(shard, req.account_id, now);
  if (rk.org_hash != 0) e.org_hash = rk.org_hash;
  const bool new_payment = rk.payment_hash != 0 && rk.payment_hash != e.payment_hash;
  const bool new_subnet = rk.addr.subnet_key != 0 && rk.addr.subnet_key != e.subnet_key;
  if (new_payment) {  // allocates only when the account's infrastructure changes
    e.payment_hash = rk.payment_hash;
    e.Cold().payment = req.payment_fingerprint;
  }
  if (new_subnet) {
    e.subnet_key = rk.addr.subnet_key;
    e.Cold().subnet = rk.addr.SubnetText();
  }
  if ((new_payment || new_subnet) && e.campaign && !impl_->Allowlisted(p, req.account_id, e.org_hash)) {
    std::lock_guard cl(e.campaign->mu);
    impl_->LearnInfrastructure(*e.campaign, p, new_payment ? rk.payment_hash : 0, req.payment_fingerprint,
                               new_subnet ? rk.addr.subnet_key : 0, &rk.addr, {});
  }

  CampaignEntry* newly_flagged = nullptr;
  const Resolution res = impl_->Resolve(req.account_id, e, &rk, p, now, &newly_flagged);
  d.action = res.action;
  d.source = res.source;
  d.rule = res.rule;
  d.degrade_mode = res.degrade_mode;
  d.review = res.review;
  d.block_target = res.block_target;
  d.verdict = e.verdict;
  d.score = e.score;
  d.reasons = e.reasons;
  d.n_reasons = e.n_reasons;
  if (e.campaign) d.campaign_id = e.campaign->id;

  switch (res.action) {
    case Action::kAllow:
    case Action::kDegrade: d.admit = true; break;
    case Action::kChallenge:
    case Action::kSuspend:
    case Action::kBlock: d.admit = false; break;
    case Action::kThrottle: {
      const ThrottleSpec& t = res.throttle;
      const double tokens = double(std::max<int64_t>(req.output_tokens_estimate, 0));
      GcraStep steps[4];
      int n = 0;
      steps[n++] = GcraStep::Requests(e.requests, t.requests_per_minute, t.burst_requests);
      steps[n++] = GcraStep::Tokens(e.tokens, t.output_tokens_per_minute, t.burst_tokens, tokens);
      std::unique_lock<std::mutex> cl;
      if (e.campaign && (t.campaign_requests_per_minute > 0 || t.campaign_output_tokens_per_minute > 0)) {
        cl = std::unique_lock(e.campaign->mu);
        steps[n++] = GcraStep::Requests(e.campaign->requests, t.campaign_requests_per_minute, t.burst_requests);
        steps[n++] = GcraStep::Tokens(e.campaign->tokens, t.campaign_output_tokens_per_minute, t.burst_tokens,
                                      tokens);
      }
      const EventTime wait = GcraAdmit(std::span(steps, n), now);
      d.admit = wait == 0;
      d.retry_after_ms = (wait + 999'999) / 1'000'000;  // ns, rounded up
      break;
    }
  }
  if (res.source == DecisionSource::kRule && res.action == Action::kBlock &&
      res.matched->block_target != BlockTarget::kAccount) {
    // The rule blocks the request's address, subnet or ASN for everyone.
    BlockInfo b;
    b.target = res.matched->block_target;
    b.since = now;
    b.until = res.matched->duration == 0 ? 0 : now + res.matched->duration;
    b.why = std::string(impl_->Intern(res.matched->name));
    uint64_t h = 0;
    switch (b.target) {
      case BlockTarget::kAddress: h = rk.addr.key; b.value = std::string(req.ip); break;
      case BlockTarget::kSubnet: h = rk.addr.subnet_key; b.value = rk.addr.SubnetText(); break;
      case BlockTarget::kAsn: h = rk.asn_hash; b.value = std::to_string(req.asn); break;
      default: break;
    }
    impl_->PutBlock(b, h);
  }
  impl_->RecordChange(req.account_id, e, res, now, "engine");
  if (newly_flagged != nullptr) {  // a rule needing the request (org, model) flagged the campaign
    lock.unlock();
    impl_->ActOnMembers(*newly_flagged, p, now);
  }
  return d;
}

void DecisionState::SetOverride(std::string_view account_id, Override o, EventTime now) {
  auto entry = std::make_unique<OverrideEntry>();
  entry->degrade_mode = impl_->Intern(o.degrade_mode);
  entry->analyst = impl_->Intern(o.analyst);
  entry->o = std::move(o);
  const Policy* p = impl_->current.load(std::memory_order_acquire);
  AccountShard& shard = impl_->ShardOf(account_id);
  std::lock_guard lock(shard.mu);
  AccountEntry& e = impl_->Entry(shard, account_id, now);
  if (!e.override) impl_->n_overrides.fetch_add(1, std::memory_order_relaxed);
  const std::string_view analyst = entry->analyst;
  e.override = std::move(entry);
  const Resolution res = impl_->Resolve(account_id, e, nullptr, *p, now);
  impl_->RecordChange(account_id, e, res, now, analyst.empty() ? "analyst" : analyst);
}

bool DecisionState::ClearOverride(std::string_view account_id, EventTime now) {
  const Policy* p = impl_->current.load(std::memory_order_acquire);
  AccountShard& shard = impl_->ShardOf(account_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.map.find(account_id);
  if (it == shard.map.end() || !it->second.override) return false;
  AccountEntry& e = it->second;
  const std::string analyst(e.override->analyst.empty() ? "analyst" : e.override->analyst);
  e.override.reset();
  impl_->n_overrides.fetch_sub(1, std::memory_order_relaxed);
  const Resolution res = impl_->Resolve(account_id, e, nullptr, *p, now);
  impl_->RecordChange(account_id, e, res, now, analyst);
  return true;
}

void DecisionState::AddBlock(const BlockInfo& b) {
  BlockInfo copy = b;
  copy.why = std::string(impl_->Intern(b.why.empty() ? std::string_view("manual") : std::string_view(b.why)));
  impl_->PutBlock(copy, BlockValueHash(b.target, b.value, *impl_->current.load(std::memory_order_acquire)));
}

bool DecisionState::RemoveBlock(BlockTarget target, std::string_view value) {
  const uint64_t h = BlockValueHash(target, value, *impl_->current.load(std::memory_order_acquire));
  if (h == 0) return false;
  const uint64_t key = BlockKey(target, h);
  BlockShard& shard = impl_->BlockShardOf(key);
  std::lock_guard lock(shard.mu);
  if (shard.map.erase(key) == 0) return false;
  impl_->n_blocks.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

std::vector<BlockInfo> DecisionState::ActiveBlocks(EventTime now) const {
  std::vector<BlockInfo> out;
  for (const BlockShard& shard : impl_->blocks) {
    std::lock_guard lock(shard.mu);
    for (const auto& [key, b] : shard.map)
      if (Active(b.info.until, now)) out.push_back(b.info);
  }
  std::sort(out.begin(), out.end(), [](const BlockInfo& a, const BlockInfo& b) {
    return std::tie(a.since, a.target, a.value) < std::tie(b.since, b.target, b.value);
  });
  return out;
}

bool DecisionState::ClearCampaignFlag(std::string_view campaign_id) {
  std::lock_guard lock(impl_->campaigns_mu);
  auto it = impl_->campaigns.find(campaign_id);
  if (it == impl_->campaigns.end()) return false;
  std::lock_guard cl(it->second->mu);
  const bool had = it->second->flag.has_value();
  it->second->flag.reset();
  return had;
}

std::optional<AccountView> DecisionState::Account(std::string_view account_id, EventTime now) const {
  const AccountShard& shard = impl_->ShardOf(account_id);
  std::lock_guard lock(shard.mu);
  auto it = shard.map.find(account_id);
  if (it == shard.map.end()) return std::nullopt;
  const AccountEntry& e = it->second;
  AccountView v;
  v.account_id = std::string(account_id);
  v.verdict = e.verdict;
  v.score = e.score;
  v.reasons.assign(e.reasons.begin(), e.reasons.begin() + e.n_reasons);
  if (e.campaign) v.campaign_id = e.campaign->id;
  v.campaign_size = e.campaign_size;
  v.first_seen = e.first_seen;
  v.updated = e.updated;
  v.last_action = e.last_action;
  v.last_rule = std::string(e.last_rule);
  if (e.override && Active(e.override->o.until, now)) v.active_override = e.override->o;
  return v;
}

std::vector<CampaignView> DecisionState::Campaigns(EventTime now) const {
  std::vector<CampaignView> out;
  std::lock_guard lock(impl_->campaigns_mu);
  for (const auto& [id, c] : impl_->campaigns) {
    std::lock_guard cl(c->mu);
    CampaignView v;
    v.campaign_id = id;
    v.size = c->size;
    v.known_members = uint32_t(c->members.size());
    if (c->flag && Active(c->flag->until, now)) {
      v.flagged_action = c->flag->action;
      v.flagged_rule = std::string(c->flag->rule);
      v.flagged_since = c->flag->since;
      v.flagged_until = c->flag->until;
    }
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(), [](const CampaignView& a, const CampaignView& b) {
    return a.campaign_id < b.campaign_id;
  });
  return out;
}

DecisionStats DecisionState::stats() const {
  DecisionStats s;
  s.accounts = impl_->n_accounts.load(std::memory_order_relaxed);
  s.blocks = impl_->n_blocks.load(std::memory_order_relaxed);
  s.overrides = impl_->n_overrides.load(std::memory_order_relaxed);
  s.pending_changes = impl_->n_changes.load(std::memory_order_relaxed);
  s.updates_applied = impl_->updates_applied.load(std::memory_order_relaxed);
  std::lock_guard lock(impl_->campaigns_mu);
  s.campaigns = impl_->campaigns.size();
  for (const auto& [id, c] : impl_->campaigns) {
    std::lock_guard cl(c->mu);
    if (c->flag) ++s.flagged_campaigns;
  }
  return s;
}

size_t DecisionState::DrainActionChanges(std::vector<ActionChange>& out) {
  std::lock_guard lock(impl_->changes_mu);
  const size_t n = impl_->changes.size();
  std::move(impl_->changes.begin(), impl_->changes.end(), std::back_inserter(out));
  impl_->changes.clear();
  impl_->n_changes.store(0, std::memory_order_relaxed);
  return n;
}

void DecisionState::Sweep(EventTime now) {
  for (BlockShard& shard : impl_->blocks) {
    std::lock_guard lock(shard.mu);
    for (auto it = shard.map.begin(); it != shard.map.end();) {
      if (!Active(it->second.info.until, now)) {
        it = shard.map.erase(it);
        impl_->n_blocks.fetch_sub(1, std::memory_order_relaxed);
      } else {
        ++it;
      }
    }
  }
  for (AccountShard& shard : impl_->accounts) {
    std::lock_guard lock(shard.mu);
    for (auto& [id, e] : shard.map) {
      if (e.override && !Active(e.override->o.until, now)) {
        e.override.reset();
        impl_->n_overrides.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  }
}

}  // namespace moat::policy
