// Collect: from a scan's campaigns and its log, the indicators a provider may
// share. Two passes over the log: the first reads campaign members (their
// attribute values and a sample of their prompts), the second counts how many
// other accounts use each candidate value or template shingle, so only values
// held mostly by the campaign leave.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <simdjson.h>

#include "moat/core/interner.h"
#include "moat/core/time.h"
#include "moat/core/text_file.h"
#include "moat/ingest/ingest.h"
#include "moat/intel/bundle.h"
#include "moat/text/normalize.h"
#include "moat/text/template_miner.h"

namespace moat::intel {
namespace {

// Prompts mined per account: the first kPromptFirst, then 1 in kPromptEvery,
// at most kPromptCap. Bounds memory and time whatever the volume.
constexpr uint32_t kPromptFirst = 16, kPromptEvery = 8, kPromptCap = 48;

struct ValueUse {
  std::vector<uint32_t> accounts;  // sorted unique after pass 1
  uint64_t exchanges = 0;
  EventTime first = INT64_MAX, last = INT64_MIN;
};

struct Sample {
  uint32_t account;
  EventTime ts;
  std::string normalised;
  std::vector<uint64_t> shingles;
};

struct Template {
  int campaign;
  std::vector<uint64_t> constant;  // sorted
  std::vector<uint32_t> accounts;
  uint64_t prompts = 0;
  EventTime first = INT64_MAX, last = INT64_MIN;
};

class MemberSink : public ExchangeSink {
 public:
  MemberSink(const std::unordered_map<std::string, int>& member_campaign, int campaigns, uint64_t seed,
             RawValues& raw)
      : member_campaign_(member_campaign), values_(campaigns), samples_(campaigns), span_(campaigns), seed_(seed),
        raw_(raw) {}

  struct Span {
    uint64_t exchanges = 0;
    EventTime first = INT64_MAX, last = INT64_MIN;
  };

  void Consume(std::span<const Exchange> batch) override {
    for (const Exchange& x : batch) {
      const auto it = member_campaign_.find(x.account_id);
      if (it == member_campaign_.end()) continue;
      const int c = it->second;
      ++span_[c].exchanges;
      span_[c].first = std::min(span_[c].first, x.ts);
      span_[c].last = std::max(span_[c].last, x.ts);
      const uint32_t a = accounts_.Intern(x.account_id);
      if (a == prompts_seen_.size()) {
        prompts_seen_.push_back(0);
        raw_.values.push_back(x.account_id);
      }
      ExtractAttributes(x, attrs_);
      for (int k = 0; k < kDigestKinds; ++k) {
        const std::string& v = attrs_.value[k];
        if (v.empty()) continue;
        ValueUse& use = values_[c][KeyOf(static_cast<Kind>(k), v)];
        if (use.accounts.empty() || use.accounts.back() != a) use.accounts.push_back(a);
        ++use.exchanges;
        use.first = std::min(use.first, x.ts);
        use.last = std::max(use.last, x.ts);
      }
      Remember(x);
      if (!x.Has(Field::kPrompt) || x.prompt.empty()) continue;
      const uint32_t n = prompts_seen_[a]++;
      if (!(n < kPromptFirst || (n % kPromptEvery == 0 && n / kPromptEvery < kPromptCap))) continue;
      Sample s{a, x.ts, {}, {}};
      PromptShingles(x.prompt, seed_, s.shingles, s.normalised);
      raw_.values.push_back(x.prompt);
      samples_[c].push_back(std::move(s));
    }
  }

  static std::string KeyOf(Kind k, std::string_view v) {
    std::string key(1, static_cast<char>('0' + static_cast<int>(k)));
    key.append(v);
    return key;
  }

  std::vector<std::unordered_map<std::string, ValueUse>>& values() { return values_; }
  std::vector<std::vector<Sample>>& samples() { return samples_; }
  const std::vector<Span>& spans() const { return span_; }

 private:
  // Every raw field of a member is on the guard's deny list (once).
  void Remember(const Exchange& x) {
    for (const std::string* v : {&x.ip, &x.email_domain, &x.payment_fingerprint, &x.tls_fingerprint, &x.org_id,
                                 &x.api_key_id, &x.system_prompt}) {
      if (v->size() < 3 || seen_raw_.count(*v)) continue;
      seen_raw_.insert(*v);
      raw_.values.push_back(*v);
    }
  }

  const std::unordered_map<std::string, int>& member_campaign_;
  Interner accounts_;
  std::vector<uint32_t> prompts_seen_;
  std::vector<std::unordered_map<std::string, ValueUse>> values_;  // per campaign: kind+value -> use
  std::vector<std::vector<Sample>> samples_;                        // per campaign
  std::vector<Span> span_;                                          // per campaign
  std::unordered_set<std::string> seen_raw_;
  Attributes attrs_;
  uint64_t seed_;
  RawValues& raw_;
};

// Pass 2: distinct non-member accounts using each candidate value / shingle.
class OthersSink : public ExchangeSink {
 public:
  OthersSink(const std::unordered_map<std::string, int>& member_campaign,
             std::unordered_map<std::string, std::unordered_set<uint32_t>>& value_holders,
             std::unordered_map<uint64_t, std::unordered_set<uint32_t>>& shingle_holders, uint64_t seed)
      : member_campaign_(member_campaign), value_holders_(value_holders), shingle_holders_(shingle_holders),
        seed_(seed) {}

  void Consume(std::span<const Exchange> batch) override {
    for (const Exchange& x : batch) {
      if (member_campaign_.count(x.account_id)) continue;
      const uint32_t a = accounts_.Intern(x.account_id);
      if (a == prompts_seen_.size()) prompts_seen_.push_back(0);
      ExtractAttributes(x, attrs_);
      for (int k = 0; k < kDigestKinds; ++k) {
        if (attrs_.value[k].empty()) continue;
        const auto it = value_holders_.find(MemberSink::KeyOf(static_cast<Kind>(k), attrs_.value[k]));
        if (it != value_holders_.end()) it->second.insert(a);
      }
      if (shingle_holders_.empty() || !x.Has(Field::kPrompt) || x.prompt.empty()) continue;
      const uint32_t n = prompts_seen_[a]++;
      if (!(n < kPromptFirst || (n % kPromptEvery == 0 && n / kPromptEvery < kPromptCap))) continue;
      PromptShingles(x.prompt, seed_, shingles_, scratch_);
      for (uint64_t h : shingles_) {
        const auto it = shingle_holders_.find(h);
        if (it != shingle_holders_.end()) it->second.insert(a);
      }
    }
  }

 private:
  const std::unordered_map<std::string, int>& member_campaign_;
  std::unordered_map<std::string, std::unordered_set<uint32_t>>& value_holders_;
  std::unordered_map<uint64_t, std::unordered_set<uint32_t>>& shingle_holders_;
  Interner accounts_;
  std::vector<uint32_t> prompts_seen_;
  Attributes attrs_;
  std::vector<uint64_t> shingles_;
  std::string scratch_;
  uint64_t seed_;
};

// The campaign's templates: clusters of its sampled prompts (TemplateMiner)
// used by >= k accounts, as the shingles most of their prompts share.
std::vector<Template> MineTemplates(int campaign, const std::vector<Sample>& samples, uint64_t seed,
                                    const ExportOptions& o) {
  text::TemplateMinerOptions mo;
  mo.seed = seed;
  text::TemplateMiner miner(mo);
  std::map<uint32_t, std::vector<const Sample*>> clusters;
  for (const Sample& s : samples) clusters[miner.Add(s.normalised).cluster_id].push_back(&s);
  std::vector<Template> out;
  for (const auto& [id, members] : clusters) {
    if (members.size() < o.template_min_prompts) continue;
    Template t;
    t.campaign = campaign;
    std::unordered_map<uint64_t, uint32_t> count;
    for (const Sample* s : members) {
      t.accounts.push_back(s->account);
      t.first = std::min(t.first, s->ts);
      t.last = std::max(t.last, s->ts);
      for (uint64_t h : s->shingles) ++count[h];
    }
    std::sort(t.accounts.begin(), t.accounts.end());
    t.accounts.erase(std::unique(t.accounts.begin(), t.accounts.end()), t.accounts.end());
    if (t.accounts.size() < o.k_floor) continue;
    t.prompts = members.size();
    for (const auto& [h, n] : count)
      if (n >= o.template_shingle_share * double(members.size())) t.constant.push_back(h);
    std::sort(t.constant.begin(), t.constant.end());
    if (t.constant.size() >= o.template_min_shingles) out.push_back(std::move(t));
  }
  return out;
}

int Confidence(double score, double share, uint32_t accounts, uint32_t k) {
  const double support = std::min(1.0, double(accounts) / double(2 * std::max(k, 1u)));
  return std::clamp(static_cast<int>(std::lround(100.0 * std::min(score, 1.0) * share * (0.5 + 0.5 * support))), 1,
                    100);
}

}  // namespace

Result<std::vector<CampaignMembers>> ParseCampaigns(std::string_view all, const std::string& origin) {
  std::vector<CampaignMembers> out;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  while (!all.empty()) {
    const std::string_view line = NextLine(all);
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = origin + ":" + std::to_string(line_no);
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc)) return Status::Error("intel: " + where + ": not JSON");
    CampaignMembers c;
    std::string_view id;
    simdjson::dom::array accounts;
    if (doc["campaign_id"].get_string().get(id)) return Status::Error("intel: " + where + ": missing campaign_id");
    if (doc["accounts"].get_array().get(accounts)) return Status::Error("intel: " + where + ": missing accounts");
    c.id = std::string(id);
    for (simdjson::dom::element a : accounts) {
      std::string_view name;
      if (a.get_string().get(name)) return Status::Error("intel: " + where + ": accounts must be strings");
      c.accounts.emplace_back(name);
    }
    if (doc["score"].get_double().get(c.score)) c.score = 1.0;
    out.push_back(std::move(c));
  }
  return out;
}

Result<Collected> Collect(const std::string& scan_dir, const std::vector<std::string>& logs, const CoalitionKey& key,
                          const ExportOptions& o) {
  const std::string path = scan_dir + "/campaigns.jsonl";
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return Status::Error("intel: cannot read " + path);
  auto campaigns = ParseCampaigns(std::string_view(text.data(), text.size()), path);
  if (!campaigns.ok()) return campaigns.status();
  return Collect(campaigns.value(), logs, key, o);
}

Result<Collected> Collect(const std::vector<CampaignMembers>& campaigns, const std::vector<std::string>& logs,
                          const CoalitionKey& key, const ExportOptions& o) {
  std::unordered_map<std::string, int> member_campaign;
  for (size_t c = 0; c < campaigns.size(); ++c)
    for (const std::string& a : campaigns[c].accounts) member_campaign.emplace(a, static_cast<int>(c));

  Collected out;
  const uint64_t seed = TemplateSeed(key);
  ingest::IngestOptions io;
  io.background_reader = false;
  MemberSink members(member_campaign, static_cast<int>(campaigns.size()), seed, out.raw);
  {
    ingest::Quarantine discard;
    const ingest::IngestReport r = ingest::ReadAll(logs, io, discard, members);
    if (!r.errors.empty()) return Status::Error(r.errors.front().message);
  }

  // Candidates: values and template shingles resting on >= k members (or on
  // any when a TLP:RED recipient may receive those below the floor).
  const uint32_t floor = o.red_recipient.empty() ? o.k_floor : 1;
  std::unordered_map<std::string, std::unordered_set<uint32_t>> value_holders;
  std::unordered_map<std::string, uint32_t> member_holders;  // across all campaigns
  for (auto& per_campaign : members.values())
    for (auto& [value, use] : per_campaign) {
      std::sort(use.accounts.begin(), use.accounts.end());
      use.accounts.erase(std::unique(use.accounts.begin(), use.accounts.end()), use.accounts.end());
      member_holders[value] += static_cast<uint32_t>(use.accounts.size());
      if (use.accounts.size() >= floor) value_holders[value];
    }
  std::vector<Template> templates;
  std::unordered_map<uint64_t, std::unordered_set<uint32_t>> shingle_holders;
  for (size_t c = 0; c < campaigns.size(); ++c)
    for (Template& t : MineTemplates(static_cast<int>(c), members.samples()[c], seed, o)) {
      for (uint64_t h : t.constant) shingle_holders[h];
      templates.push_back(std::move(t));
    }
  OthersSink others(member_campaign, value_holders, shingle_holders, seed);
  {
    ingest::Quarantine discard;
    const ingest::IngestReport r = ingest::ReadAll(logs, io, discard, others);
    if (!r.errors.empty()) return Status::Error(r.errors.front().message);
  }

  out.campaigns.resize(campaigns.size());
  for (size_t c = 0; c < campaigns.size(); ++c) {
    CampaignIntel& ci = out.campaigns[c];
    ci.local_id = campaigns[c].id;
    ci.accounts = static_cast<uint32_t>(campaigns[c].accounts.size());
    ci.score = campaigns[c].score;
    ci.exchanges = members.spans()[c].exchanges;
    ci.first_seen = members.spans()[c].first;
    ci.last_seen = members.spans()[c].last;
    std::array<std::vector<Indicator>, kDigestKinds> by_kind;
    for (const auto& [value, use] : members.values()[c]) {
      const auto holders = value_holders.find(value);
      if (holders == value_holders.end()) continue;
      const uint32_t mine = static_cast<uint32_t>(use.accounts.size());
      if (mine < floor) continue;  // the value may be a candidate through another campaign
      const double share = double(mine) / double(member_holders[value] + holders->second.size());
      if (share < o.min_campaign_share) continue;
      Indicator ind;
      ind.kind = static_cast<Kind>(value[0] - '0');
      ind.digest = Digest(key, ind.kind, std::string_view(value).substr(1));
      ind.accounts = mine;
      ind.exchanges = use.exchanges;
      ind.first_seen = use.first;
      ind.last_seen = use.last;
      ind.confidence = Confidence(ci.score, share, mine, o.k_floor);
      ind.tlp = mine >= o.k_floor ? o.tlp : Tlp::kRed;
      if (ind.tlp == Tlp::kRed) ind.recipient = o.red_recipient;
      by_kind[static_cast<int>(ind.kind)].push_back(std::move(ind));
    }
    for (auto& list : by_kind) {
      std::sort(list.begin(), list.end(), [](const Indicator& a, const Indicator& b) {
        return a.accounts != b.accounts ? a.accounts > b.accounts : a.digest < b.digest;
      });
      if (list.size() > o.max_per_kind) list.resize(o.max_per_kind);
      for (Indicator& i : list) ci.indicators.push_back(std::move(i));
    }
    if (ci.exchanges == 0) ci.first_seen = ci.last_seen = 0;
  }
  std::set<std::vector<uint64_t>> sketches_seen;
  for (Template& t : templates) {
    CampaignIntel& ci = out.campaigns[t.campaign];
    const uint32_t mine = static_cast<uint32_t>(t.accounts.size());
    std::vector<uint64_t> kept;
    for (uint64_t h : t.constant) {
      const double share = double(mine) / double(mine + shingle_holders[h].size());
      if (share >= o.min_campaign_share) kept.push_back(h);
    }
    if (kept.size() < o.template_min_shingles) continue;
    if (kept.size() > kSketchSize) kept.resize(kSketchSize);  // sorted: the bottom-k
    if (!sketches_seen.insert(kept).second) continue;
    Indicator ind;
    ind.kind = Kind::kTemplate;
    ind.sketch = std::move(kept);
    ind.accounts = mine;
    ind.exchanges = t.prompts;
    ind.first_seen = t.first;
    ind.last_seen = t.last;
    ind.confidence = Confidence(ci.score, 1.0, mine, o.k_floor);
    ind.tlp = o.tlp;
    ci.indicators.push_back(std::move(ind));
  }
  // Campaigns with nothing to share are left out.
  std::erase_if(out.campaigns, [](const CampaignIntel& c) { return c.indicators.empty(); });
  return out;
}

}  // namespace moat::intel
