#include "moat/engine/engine.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <numeric>

#include "moat/core/check.h"
#include "moat/core/json_writer.h"
#include "moat/core/time.h"

namespace moat::engine {
namespace {

// First multiple of `step` strictly after t.
EventTime NextBoundary(EventTime t, EventTime step) {
  EventTime q = t / step;
  if (t % step != 0 && t < 0) --q;
  return (q + 1) * step;
}

// Singular; the caller adds the plural s.
const char* SignalNoun(features::LinkKind k) {
  switch (k) {
    case features::LinkKind::kPayment: return "payment instrument";
    case features::LinkKind::kEmailDomain: return "uncommon e-mail domain";
    case features::LinkKind::kOrg: return "organisation";
    case features::LinkKind::kSubnet: return "subnet";
    case features::LinkKind::kTlsFingerprint: return "TLS fingerprint";
    case features::LinkKind::kSystemPrompt: return "system prompt";
    case features::LinkKind::kTemplate: return "prompt template";
    case features::LinkKind::kLockstep: return "lockstep wake-up time";
    case features::LinkKind::kPromptSet: return "near-duplicate prompt";
  }
  return "attribute";
}

Status WriteFile(const std::string& path, const std::string& data) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return Status::Error("cannot open " + path + ": " + std::strerror(errno));
  const size_t n = std::fwrite(data.data(), 1, data.size(), f);
  const bool ok = n == data.size() && std::fclose(f) == 0;
  if (!ok) return Status::Error("cannot write " + path);
  return Status::Ok();
}

}  // namespace

Engine::Engine(DetectorConfig cfg) : cfg_(cfg), linker_(cfg.link) {
  MOAT_CHECK(cfg_.score_tick > 0 && cfg_.link_tick >= cfg_.score_tick);
}

void Engine::Consume(std::span<const Exchange> batch) {
  MOAT_CHECK(!finished_);
  for (const Exchange& x : batch) {
    if (!started_) [[unlikely]] {
      started_ = true;
      next_score_tick_ = NextBoundary(x.ts, cfg_.score_tick);
      next_link_tick_ = NextBoundary(x.ts, cfg_.link_tick);
    }
    // A tick at T decides on exchanges with ts < T; it runs when the first
    // exchange at or after T arrives, so nothing later has been applied.
    if (x.ts >= next_score_tick_) [[unlikely]] {
      Tick(next_score_tick_, false);
      next_score_tick_ = NextBoundary(x.ts, cfg_.score_tick);
    }
    if (x.ts < last_tick_) [[unlikely]] ++stats_.late_exchanges;
    Apply(x);
  }
}

void Engine::Apply(const Exchange& x) {
  const uint32_t a = accounts_.Intern(x.account_id);
  if (a == states_.size()) {
    states_.emplace_back();
    runtime_.emplace_back();
  }
  features::AccountState& st = states_[a];
  keys_.Extract(x, scratch_, features::KeyExtractor::SampleContent(x, st.n_prompts, cfg_.state));
  uint64_t new_template = 0;
  const bool sketches_were_changed = st.sketches_changed;
  const uint32_t fresh = st.Update(x, scratch_, cfg_.state, &new_template);
  if (st.sketches_changed && !sketches_were_changed) [[unlikely]] sketch_dirty_.push_back(a);
  if (fresh != 0) [[unlikely]] {
    for (int k = 0; k < features::kLinkKinds; ++k)
      if (fresh & (1u << k)) linker_.CountAccount(static_cast<features::LinkKind>(k), scratch_.link[k]);
  }
  if (new_template != 0) [[unlikely]] {
    const uint32_t id = keys_.InternTemplate(new_template);
    if (st.AddTemplate(id)) linker_.CountAccount(features::LinkKind::kTemplate, id);
  }
  Runtime& rt = runtime_[a];
  if (!rt.touched) {
    rt.touched = true;
    touched_.push_back(a);
  }
  dirty_link_ = true;
  ++stats_.exchanges;
  if (external_ != nullptr) [[unlikely]] external_->Observe(x);
}

const score::PartnerEvidence* Engine::Partner(uint32_t a) const {
  const auto it = partner_.find(a);
  return it == partner_.end() ? nullptr : &it->second;
}

score::CampaignContext Engine::Context(uint32_t a) const {
  score::CampaignContext ctx;
  const int32_t c = runtime_[a].campaign;
  if (c >= 0) {
    ctx.component = &components_[c];
    ctx.mean_member_score = component_mean_[c];
    ctx.strength = component_strength_[c];
  }
  return ctx;
}

void Engine::ScoreAccount(uint32_t a, EventTime t) {
  Runtime& rt = runtime_[a];
  if (listener_ && !rt.pending) {
    rt.pending = true;
    pending_.push_back(a);
  }
  rt.result = score::Score(states_[a], Context(a), cfg_);
  if (external_ != nullptr) [[unlikely]] {
    score::PartnerEvidence p = external_->Evidence(accounts_.Name(a), rt.result, states_[a].exchanges);
    if (p.weight > 0) {
      score::ApplyPartnerEvidence(rt.result, p, states_[a], Context(a), cfg_);
      partner_[a] = std::move(p);
    } else {
      partner_.erase(a);
    }
  }
  if (rt.result.verdict == score::Verdict::kExtraction && !rt.flagged) {
    rt.flagged = true;
    rt.first_flagged = t;
  }
  // A verdict of extraction is sticky: policy may already have acted on it,
  // and first_flagged_ts must agree with the final verdict. The reasons
  // still show the current evidence.
  if (rt.flagged) {
    rt.peak_score = std::max(rt.peak_score, rt.result.score);
    rt.result.verdict = score::Verdict::kExtraction;
    rt.result.score = rt.peak_score;
  }
}

void Engine::Tick(EventTime t, bool force_link) {
  ++stats_.score_ticks;
  for (uint32_t a : touched_) {
    runtime_[a].touched = false;
    ScoreAccount(a, t);
  }
  touched_.clear();
  if (force_link || t >= next_link_tick_) {
    if (dirty_link_ || force_link) Relink(t);
    next_link_tick_ = NextBoundary(t, cfg_.link_tick);
  }
  last_tick_ = t;
  if (listener_) Publish(t);
}

void Engine::Publish(EventTime t) {
  std::vector<VerdictUpdate> updates;
  for (uint32_t a : pending_) {
    Runtime& rt = runtime_[a];
    rt.pending = false;
    const uint32_t key = rt.campaign >= 0 ? component_key_[rt.campaign] : 0;
    if (rt.result.verdict == rt.published_verdict && key == rt.published_campaign) continue;
    VerdictUpdate u;
    u.account_id = accounts_.Name(a);
    u.verdict = rt.result.verdict;
    u.previous = rt.published_verdict;
    u.score = rt.result.score;
    u.at = t;
    if (key != 0) {
      u.campaign_id = "cmp-" + std::string(accounts_.Name(key - 1));
      u.campaign_size = static_cast<uint32_t>(components_[rt.campaign].members.size());
    }
    u.reasons = score::Explain(states_[a], Context(a), rt.result, cfg_, Partner(a));
    rt.published_verdict = rt.result.verdict;
    rt.published_campaign = key;
    updates.push_back(std::move(u));
  }
  pending_.clear();
  if (!updates.empty()) listener_(updates);
}

// Derives the values of the replaced kinds (one per MinHash slot of the
// wake-up and prompt sketches) of accounts whose sketches changed, and swaps
// them in the linker's counts.
void Engine::RefreshSketchValues() {
  constexpr size_t kSlots = features::AccountState::kSketchSlots;
  std::array<uint64_t, kSlots> keys;
  std::array<uint32_t, kSlots> ids;
  auto refresh = [&](features::AccountState& st, features::LinkKind kind, std::span<const uint32_t> sketch) {
    const size_t n = sketch_hasher_.BandKeys(sketch, text::LshBands{kSlots, 1}, keys);
    for (size_t i = 0; i < n; ++i) ids[i] = keys_.InternSlotKey(kind, keys[i]);
    std::sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(n));
    const auto unique = static_cast<size_t>(std::unique(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(n)) - ids.begin());
    auto& slots = st.attrs[static_cast<int>(kind)];
    if (slots.size == unique && std::equal(ids.begin(), ids.begin() + slots.size, slots.ids.begin())) return;
    for (int i = 0; i < slots.size; ++i) linker_.UncountAccount(kind, slots.ids[i]);
    slots = {};
    for (size_t i = 0; i < unique; ++i) {
      slots.Add(ids[i]);
      linker_.CountAccount(kind, ids[i]);
    }
    ++st.replaced_epoch;
  };
  for (uint32_t a : sketch_dirty_) {
    features::AccountState& st = states_[a];
    st.sketches_changed = false;
    if (st.n_wakeups >= cfg_.state.lockstep_min_wakeups) refresh(st, features::LinkKind::kLockstep, st.wakeups);
    const auto distinct = static_cast<uint32_t>(
        std::count_if(st.prompt_set.begin(), st.prompt_set.end(), [](uint32_t v) { return v != text::kMinHashEmpty; }));
    if (st.n_prompts >= cfg_.state.prompt_set_min_prompts && distinct >= cfg_.state.prompt_set_min_distinct)
      refresh(st, features::LinkKind::kPromptSet, st.prompt_set);
  }
  sketch_dirty_.clear();
}

void Engine::Relink(EventTime t) {
  ++stats_.link_runs;
  dirty_link_ = false;
  RefreshSketchValues();
  std::vector<link::Candidate> cands;
  for (uint32_t a = 0; a < states_.size(); ++a)
    if (runtime_[a].result.raw_score >= cfg_.link_threshold) cands.push_back({a, &states_[a]});
  link::LinkResult res = linker_.Link(cands);

  // Everyone who was or now is in a campaign is re-scored at t.
  std::vector<uint32_t> rescore;
  for (const auto& comp : components_) rescore.insert(rescore.end(), comp.members.begin(), comp.members.end());
  for (uint32_t a : rescore) runtime_[a].campaign = -1;
  // Only groups strong enough to be a campaign are kept; linked colleagues
  // and look-alike bystanders stay unlinked.
  components_.clear();
  component_key_.clear();
  component_mean_.clear();
  component_strength_.clear();
  for (link::Component& comp : res.components) {
    double sum = 0;
    for (uint32_t a : comp.members) sum += runtime_[a].result.raw_score;
    const double mean = sum / double(comp.members.size());
    const double strength = score::CampaignStrength(comp, mean, cfg_);
    if (strength < cfg_.campaign_min_strength) continue;
    const auto c = static_cast<int32_t>(components_.size());
    for (uint32_t a : comp.members) {
      runtime_[a].campaign = c;
      rescore.push_back(a);
    }
    component_key_.push_back(1 + *std::min_element(comp.members.begin(), comp.members.end()));
    components_.push_back(std::move(comp));
    component_mean_.push_back(mean);
    component_strength_.push_back(strength);
  }
  for (uint32_t a : rescore) ScoreAccount(a, t);
}

void Engine::Finish() {
  if (finished_ || !started_) {
    finished_ = true;
    return;
  }
  Tick(next_score_tick_, true);
  finished_ = true;
}

std::vector<int32_t> Engine::CampaignOrder() const {
  std::vector<uint32_t> idx(components_.size());
  std::iota(idx.begin(), idx.end(), 0u);
  auto first_seen = [&](uint32_t c) {
    EventTime t = INT64_MAX;
    for (uint32_t a : components_[c].members) t = std::min(t, states_[a].first_ts);
    return t;
  };
  std::vector<EventTime> fs(components_.size());
  for (uint32_t c = 0; c < components_.size(); ++c) fs[c] = first_seen(c);
  // Ties broken by the smallest member id (first-seen account order).
  std::sort(idx.begin(), idx.end(), [&](uint32_t x, uint32_t y) {
    if (fs[x] != fs[y]) return fs[x] < fs[y];
    return components_[x].members.front() < components_[y].members.front();
  });
  std::vector<int32_t> rank(components_.size(), -1);
  for (uint32_t r = 0; r < idx.size(); ++r) rank[idx[r]] = static_cast<int32_t>(r);
  return rank;
}

namespace {
std::string CampaignId(int32_t rank) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "cmp-%04d", rank + 1);
  return buf;
}
}  // namespace

std::vector<AccountVerdict> Engine::Verdicts() const {
  const std::vector<int32_t> rank = CampaignOrder();
  std::vector<AccountVerdict> out;
  out.reserve(states_.size());
  for (uint32_t a = 0; a < states_.size(); ++a) {
    const Runtime& rt = runtime_[a];
    AccountVerdict v;
    v.account_id = accounts_.Name(a);
    v.verdict = rt.result.verdict;
    v.score = rt.result.score;
    if (rt.flagged) v.first_flagged_ts = rt.first_flagged;
    if (rt.campaign >= 0) v.campaign_id = CampaignId(rank[rt.campaign]);
    v.exchanges = states_[a].exchanges;
    out.push_back(std::move(v));
  }
  return out;
}

void Engine::AppendAccountJson(uint32_t a, const std::vector<int32_t>& rank, std::string& out) const {
  const Runtime& rt = runtime_[a];
  JsonWriter w(out);
  w.BeginObject();
  w.Key("account_id");
  w.String(accounts_.Name(a));
  w.Key("verdict");
  w.String(score::VerdictName(rt.result.verdict));
  w.Key("score");
  w.Double(rt.result.score, 4);
  w.Key("campaign_id");
  if (rt.campaign >= 0) w.String(CampaignId(rank[rt.campaign]));
  else w.Null();
  w.Key("first_flagged_ts");
  if (rt.flagged) w.String(FormatRfc3339(rt.first_flagged));
  else w.Null();
  w.Key("exchanges");
  w.Uint(states_[a].exchanges);
  w.Key("reasons");
  w.BeginArray();
  for (const score::Reason& r : score::Explain(states_[a], Context(a), rt.result, cfg_, Partner(a))) {
    w.BeginObject();
    w.Key("code");
    w.String(score::SignalCode(r.signal));
    w.Key("weight");
    w.Double(r.weight, 4);
    w.Key("detail");
    w.String(r.detail);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string Engine::AccountsJsonl() const {
  const std::vector<int32_t> rank = CampaignOrder();
  std::string out;
  for (uint32_t a = 0; a < states_.size(); ++a) {
    AppendAccountJson(a, rank, out);
    out.push_back('\n');
  }
  return out;
}

std::optional<std::string> Engine::AccountJson(std::string_view account_id) const {
  const uint32_t a = accounts_.Find(account_id);
  if (a == Interner::kNone) return std::nullopt;
  std::string out;
  AppendAccountJson(a, CampaignOrder(), out);
  return out;
}

std::string Engine::CampaignsJsonl() const {
  const std::vector<int32_t> rank = CampaignOrder();
  std::vector<uint32_t> by_rank(components_.size());
  for (uint32_t c = 0; c < components_.size(); ++c) by_rank[rank[c]] = c;
  std::string out;
  for (uint32_t c : by_rank) {
    const link::Component& comp = components_[c];
    uint64_t exchanges = 0;
    EventTime first = INT64_MAX, last = INT64_MIN, flagged = INT64_MAX;
    double score_sum = 0;
    for (uint32_t a : comp.members) {
      exchanges += states_[a].exchanges;
      first = std::min(first, states_[a].first_ts);
      last = std::max(last, states_[a].last_ts);
      if (runtime_[a].flagged) flagged = std::min(flagged, runtime_[a].first_flagged);
      score_sum += runtime_[a].result.score;
    }
    JsonWriter w(out);
    w.BeginObject();
    w.Key("campaign_id");
    w.String(CampaignId(rank[c]));
    w.Key("accounts");
    w.BeginArray();
    for (uint32_t a : comp.members) w.String(accounts_.Name(a));
    w.EndArray();
    w.Key("score");
    w.Double(score_sum / double(comp.members.size()), 4);
    w.Key("exchanges");
    w.Uint(exchanges);
    w.Key("first_seen");
    w.String(FormatRfc3339(first));
    w.Key("last_seen");
    w.String(FormatRfc3339(last));
    w.Key("first_flagged_ts");
    if (flagged != INT64_MAX) w.String(FormatRfc3339(flagged));
    else w.Null();
    w.Key("signals");
    w.BeginArray();
    for (int k : score::EvidenceByStrength(comp)) {
      const auto kind = static_cast<features::LinkKind>(k);
      w.BeginObject();
      w.Key("code");
      w.String(std::string("shared_") + features::LinkKindName(kind));
      w.Key("detail");
      const uint32_t values = comp.evidence[k].values;
      w.String(std::to_string(comp.evidence[k].accounts) + " accounts share " + std::to_string(values) + " " +
               SignalNoun(kind) + (values == 1 ? "" : "s"));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    out.push_back('\n');
  }
  return out;
}

Status Engine::WriteVerdicts(const std::string& out_dir) const {
  Status s = WriteFile(out_dir + "/accounts.jsonl", AccountsJsonl());
  if (!s.ok()) return s;
  return WriteFile(out_dir + "/campaigns.jsonl", CampaignsJsonl());
}

EngineStats Engine::stats() const {
  EngineStats s = stats_;
  s.accounts = static_cast<uint32_t>(states_.size());
  s.campaigns = static_cast<uint32_t>(components_.size());
  for (const Runtime& rt : runtime_) {
    switch (rt.result.verdict) {
      case score::Verdict::kExtraction: ++s.extraction; break;
      case score::Verdict::kSuspicious: ++s.suspicious; break;
      case score::Verdict::kBenign: ++s.benign; break;
    }
  }
  s.state_bytes_per_account = sizeof(features::AccountState) + sizeof(Runtime);
  return s;
}

}  // namespace moat::engine
