#include "moat/intel/matcher.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <unordered_map>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/intel/stix_ids.h"

namespace moat::intel {

Result<std::vector<PartnerIndicator>> ParseIndicators(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(json);
  if (parser.parse(text).get(doc)) return Status::Error("intel import: not valid JSON");
  simdjson::dom::array objects;
  if (doc["objects"].get_array().get(objects)) return Status::Error("intel import: no \"objects\" array");
  std::map<std::string, std::string> identity_name;
  for (simdjson::dom::element o : objects) {
    std::string_view type, id, name;
    if (o["type"].get_string().get(type) || type != "identity") continue;
    if (!o["id"].get_string().get(id) && !o["name"].get_string().get(name))
      identity_name[std::string(id)] = std::string(name);
  }
  std::vector<PartnerIndicator> out;
  std::map<std::string, std::pair<size_t, EventTime>> latest;  // indicator id -> (index in out, modified)
  size_t i = 0;
  for (simdjson::dom::element o : objects) {
    const std::string where = "intel import: objects[" + std::to_string(i++) + "]";
    std::string_view type;
    if (o["type"].get_string().get(type) || type != "indicator") continue;
    simdjson::dom::object exts;
    if (o["extensions"].get_object().get(exts)) continue;
    for (auto e : exts) {
      std::string_view kind_name, key_id, id, creator;
      if (e.value["kind"].get_string().get(kind_name) || e.value["key_id"].get_string().get(key_id)) continue;
      const auto kind = ParseKind(kind_name);
      if (!kind) return Status::Error(where + ": unknown kind " + std::string(kind_name));
      if (o["id"].get_string().get(id)) return Status::Error(where + ": indicator without id");
      std::string_view modified_text;
      std::optional<EventTime> modified;
      if (!o["modified"].get_string().get(modified_text)) modified = ParseRfc3339(modified_text);
      const auto seen = latest.find(std::string(id));
      if (seen != latest.end() && seen->second.second >= modified.value_or(0)) continue;  // an older version
      PartnerIndicator p;
      p.indicator_id = std::string(id);
      p.kind = *kind;
      p.key_id = std::string(key_id);
      if (!o["created_by_ref"].get_string().get(creator)) {
        p.partner_ref = std::string(creator);
        const auto n = identity_name.find(p.partner_ref);
        p.partner = n != identity_name.end() ? n->second : p.partner_ref;
      }
      int64_t confidence = 50;
      if (o["confidence"].get_int64().get(confidence)) confidence = 50;
      p.confidence = std::clamp(double(confidence) / 100.0, 0.0, 1.0);
      if (*kind == Kind::kTemplate) {
        simdjson::dom::array sketch;
        if (e.value["sketch"].get_array().get(sketch)) return Status::Error(where + ": template without sketch");
        for (simdjson::dom::element h : sketch) {
          std::string_view hex;
          std::optional<uint64_t> v;
          if (h.get_string().get(hex) || !(v = ParseHex64(hex)))
            return Status::Error(where + ": sketch entries must be 16 hex digits");
          p.sketch.push_back(*v);
        }
        std::sort(p.sketch.begin(), p.sketch.end());
        if (p.sketch.empty()) return Status::Error(where + ": empty sketch");
      } else {
        std::string_view digest;
        if (e.value["digest"].get_string().get(digest) || digest.size() != 64)
          return Status::Error(where + ": digest must be 64 hex digits");
        p.digest = std::string(digest);
      }
      if (seen != latest.end()) {
        out[seen->second.first] = std::move(p);
        seen->second.second = modified.value_or(0);
      } else {
        latest.emplace(p.indicator_id, std::pair{out.size(), modified.value_or(0)});
        out.push_back(std::move(p));
      }
      break;  // one moat extension per indicator
    }
  }
  return out;
}

IndicatorMatcher::IndicatorMatcher(std::vector<CoalitionKey> keys, std::vector<PartnerIndicator> indicators,
                                   MatcherOptions options)
    : options_(options) {
  for (CoalitionKey& k : keys) keys_.push_back({std::move(k), 0});
  for (KeyState& k : keys_) k.seed = TemplateSeed(k.key);
  by_shingle_.resize(keys_.size());
  for (PartnerIndicator& p : indicators) {
    size_t key = keys_.size();
    for (size_t k = 0; k < keys_.size(); ++k)
      if (keys_[k].key.key_id == p.key_id) key = k;
    if (key == keys_.size()) {  // under a key we do not hold: cannot be matched
      ++skipped_unknown_key_;
      continue;
    }
    const uint32_t i = static_cast<uint32_t>(indicators_.size());
    if (p.kind == Kind::kTemplate) {
      for (uint64_t h : p.sketch) by_shingle_[key][h].push_back(i);
    } else {
      by_digest_[p.digest].push_back(i);
    }
    indicators_.push_back(std::move(p));
  }
}

IndicatorMatch IndicatorMatcher::Make(uint32_t i) const {
  const PartnerIndicator& p = indicators_[i];
  return {i, p.partner, p.indicator_id, p.confidence};
}

void IndicatorMatcher::MatchValue(Kind kind, std::string_view normalised, std::vector<IndicatorMatch>& out) {
  if (by_digest_.empty()) return;
  std::string cache_key(1, static_cast<char>('0' + static_cast<int>(kind)));
  cache_key.append(normalised);
  auto it = value_cache_.find(cache_key);
  if (it == value_cache_.end()) {
    std::vector<uint32_t> found;
    for (const KeyState& k : keys_) {
      const auto d = by_digest_.find(Digest(k.key, kind, normalised));
      if (d == by_digest_.end()) continue;
      for (uint32_t i : d->second)
        if (indicators_[i].kind == kind) found.push_back(i);
    }
    it = value_cache_.emplace(std::move(cache_key), std::move(found)).first;
  }
  for (uint32_t i : it->second) out.push_back(Make(i));
}

void IndicatorMatcher::Match(const Exchange& x, std::vector<IndicatorMatch>& out) {
  ExtractAttributes(x, attrs_);
  for (int k = 0; k < kDigestKinds; ++k)
    if (!attrs_.value[k].empty()) MatchValue(static_cast<Kind>(k), attrs_.value[k], out);
  if (!x.Has(Field::kPrompt) || x.prompt.empty()) return;
  bool any = false;
  for (const auto& m : by_shingle_) any |= !m.empty();
  if (!any) return;
  const uint32_t n = prompts_seen_[x.account_id]++;
  if (!(n < options_.prompt_first || n % options_.prompt_every == 0)) return;
  for (size_t k = 0; k < keys_.size(); ++k) {
    if (by_shingle_[k].empty()) continue;
    PromptShingles(x.prompt, keys_[k].seed, shingles_, scratch_);
    hits_.clear();
    for (uint64_t h : shingles_) {
      const auto it = by_shingle_[k].find(h);
      if (it != by_shingle_[k].end()) hits_.insert(hits_.end(), it->second.begin(), it->second.end());
    }
    std::sort(hits_.begin(), hits_.end());
    for (size_t a = 0; a < hits_.size();) {
      size_t b = a;
      while (b < hits_.size() && hits_[b] == hits_[a]) ++b;
      const PartnerIndicator& p = indicators_[hits_[a]];
      if (double(b - a) >= options_.min_containment * double(p.sketch.size())) out.push_back(Make(hits_[a]));
      a = b;
    }
  }
}

PartnerEvidenceSource::PartnerEvidenceSource(IndicatorMatcher& matcher, TrustOptions options)
    : matcher_(matcher), options_(options), indicator_counts_(matcher.indicators().size()),
      seen_(matcher.indicators().size()) {}

void PartnerEvidenceSource::Observe(const Exchange& x) {
  scratch_.clear();
  matcher_.Match(x, scratch_);
  if (scratch_.empty()) return;
  AccountMatches& m = accounts_[x.account_id];
  for (const IndicatorMatch& hit : scratch_) {
    const auto pos = std::lower_bound(m.indicators.begin(), m.indicators.end(), hit.indicator);
    Seen& s = seen_[hit.indicator];
    if (pos == m.indicators.end() || *pos != hit.indicator) {
      m.indicators.insert(pos, hit.indicator);
      ++s.accounts;
      if (m.judged != Judged::kNone) Credit(m, hit.indicator);
    }
    if (s.first == 0) s.first = x.ts;
    s.last = std::max(s.last, x.ts);
  }
}

double PartnerEvidenceSource::TrustOf(const Counts& c) const {
  return (options_.prior * options_.prior_weight + c.confirmed) / (options_.prior_weight + c.confirmed + c.contradicted);
}

// A judged account's new indicator carries the account's judgement too, so
// the counts are a function of each account's indicators and judgement (what
// SaveState keeps), whatever order matches and judgements came in.
void PartnerEvidenceSource::Credit(const AccountMatches& m, uint32_t added) {
  Counts& ic = indicator_counts_[added];
  ++(m.judged == Judged::kConfirmed ? ic.confirmed : ic.contradicted);
  const std::string& partner = matcher_.indicators()[added].partner;
  for (uint32_t i : m.indicators)
    if (i != added && matcher_.indicators()[i].partner == partner) return;  // the partner already counts it
  Counts& pc = partners_[partner];
  ++(m.judged == Judged::kConfirmed ? pc.confirmed : pc.contradicted);
}

void PartnerEvidenceSource::Judge(AccountMatches& m, Judged now) {
  if (now == m.judged) return;
  std::set<std::string_view> partners;
  for (uint32_t i : m.indicators) partners.insert(matcher_.indicators()[i].partner);
  auto apply = [&](Judged j, int d) {
    if (j == Judged::kNone) return;
    for (uint32_t i : m.indicators) {
      uint32_t& n = j == Judged::kConfirmed ? indicator_counts_[i].confirmed : indicator_counts_[i].contradicted;
      n += d;
    }
    for (std::string_view p : partners) {
      Counts& c = partners_[std::string(p)];
      uint32_t& n = j == Judged::kConfirmed ? c.confirmed : c.contradicted;
      n += d;
    }
  };
  apply(m.judged, -1);
  apply(now, +1);
  m.judged = now;
}

score::PartnerEvidence PartnerEvidenceSource::Evidence(std::string_view account_id, const score::ScoreResult& without,
                                                       uint32_t exchanges) {
  score::PartnerEvidence out;
  const auto it = accounts_.find(std::string(account_id));
  if (it == accounts_.end()) return out;
  AccountMatches& m = it->second;
  // Trust feedback from local evidence alone (the score passed in excludes
  // partner evidence, so a partner cannot confirm itself).
  if (without.score >= options_.confirm_at) Judge(m, Judged::kConfirmed);
  else if (exchanges >= options_.contradict_min_exchanges && without.score < options_.contradict_below)
    Judge(m, Judged::kContradicted);
  else if (m.judged == Judged::kConfirmed) Judge(m, Judged::kNone);

  double keep = 1.0;
  std::set<std::string_view> partners, kinds;
  double partner_trust = 0;
  for (uint32_t i : m.indicators) {
    const PartnerIndicator& p = matcher_.indicators()[i];
    const auto pc = partners_.find(p.partner);
    const double pt = pc == partners_.end() ? options_.prior : TrustOf(pc->second);
    const double w = options_.partner_weight * p.confidence * TrustOf(indicator_counts_[i]) * pt;
    keep *= 1.0 - std::clamp(w, 0.0, 1.0);
    partners.insert(p.partner);
    kinds.insert(KindName(p.kind));
    partner_trust = std::max(partner_trust, pt);
  }
  out.weight = 1.0 - keep;
  char trust[16];
  std::snprintf(trust, sizeof trust, "%.2f", partner_trust);
  out.detail = "matched " + std::to_string(m.indicators.size()) + " shared indicator" +
               (m.indicators.size() == 1 ? "" : "s") + " (";
  bool first = true;
  for (std::string_view k : kinds) {
    out.detail += (first ? "" : ", ") + std::string(k);
    first = false;
  }
  out.detail += ") of partner ";
  first = true;
  for (std::string_view p : partners) {
    out.detail += (first ? "" : ", ") + std::string(p);
    first = false;
  }
  out.detail += std::string(", trust ") + trust;
  return out;
}

std::vector<PartnerTrust> PartnerEvidenceSource::Trust() const {
  std::vector<PartnerTrust> out;
  std::set<std::string> names;
  for (const PartnerIndicator& p : matcher_.indicators()) names.insert(p.partner);
  for (const std::string& n : names) {
    const auto it = partners_.find(n);
    const Counts c = it == partners_.end() ? Counts{} : it->second;
    out.push_back({n, c.confirmed, c.contradicted, TrustOf(c)});
  }
  return out;
}

std::map<std::string, double> PartnerEvidenceSource::IndicatorTrust() const {
  std::map<std::string, double> out;
  for (size_t i = 0; i < indicator_counts_.size(); ++i) {
    const Counts& c = indicator_counts_[i];
    if (c.confirmed + c.contradicted > 0) out[matcher_.indicators()[i].indicator_id] = TrustOf(c);
  }
  return out;
}

std::string PartnerEvidenceSource::SaveState() const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("version");
  w.Uint(1);
  w.Key("accounts");
  w.BeginArray();
  // Sorted, so the same state is the same bytes.
  std::vector<const std::pair<const std::string, AccountMatches>*> judged;
  for (const auto& entry : accounts_)
    if (entry.second.judged != Judged::kNone) judged.push_back(&entry);
  std::sort(judged.begin(), judged.end(), [](auto* a, auto* b) { return a->first < b->first; });
  for (const auto* entry : judged) {
    w.BeginObject();
    w.Key("account");
    w.String(entry->first);
    w.Key("judged");
    w.String(entry->second.judged == Judged::kConfirmed ? "confirmed" : "contradicted");
    w.Key("indicators");
    w.BeginArray();
    for (uint32_t i : entry->second.indicators) w.String(matcher_.indicators()[i].indicator_id);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return out;
}

Status PartnerEvidenceSource::LoadState(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(json);
  if (parser.parse(text).get(doc)) return Status::Error("intel trust state: not valid JSON");
  uint64_t version = 0;
  if (doc["version"].get_uint64().get(version) || version != 1)
    return Status::Error("intel trust state: unknown version (this build reads version 1)");
  simdjson::dom::array accounts;
  if (doc["accounts"].get_array().get(accounts)) return Status::Error("intel trust state: no \"accounts\" array");
  std::unordered_map<std::string_view, uint32_t> by_id;
  for (uint32_t i = 0; i < matcher_.indicators().size(); ++i) by_id.emplace(matcher_.indicators()[i].indicator_id, i);
  size_t n = 0;
  for (simdjson::dom::element a : accounts) {
    const std::string where = "intel trust state: accounts[" + std::to_string(n++) + "]";
    std::string_view account, judged;
    simdjson::dom::array ids;
    if (a["account"].get_string().get(account) || a["judged"].get_string().get(judged) ||
        a["indicators"].get_array().get(ids))
      return Status::Error(where + ": needs account, judged and indicators");
    if (judged != "confirmed" && judged != "contradicted")
      return Status::Error(where + ": judged must be confirmed or contradicted");
    AccountMatches m;
    for (simdjson::dom::element id : ids) {
      std::string_view s;
      if (id.get_string().get(s)) return Status::Error(where + ": indicator ids must be strings");
      if (const auto it = by_id.find(s); it != by_id.end()) m.indicators.push_back(it->second);
    }
    std::sort(m.indicators.begin(), m.indicators.end());
    m.indicators.erase(std::unique(m.indicators.begin(), m.indicators.end()), m.indicators.end());
    if (m.indicators.empty()) continue;  // the feed no longer holds what it matched
    auto [it, inserted] = accounts_.emplace(std::string(account), AccountMatches{});
    if (!inserted) return Status::Error(where + ": account listed twice");
    it->second.indicators = std::move(m.indicators);
    for (uint32_t i : it->second.indicators) ++seen_[i].accounts;
    Judge(it->second, judged == "confirmed" ? Judged::kConfirmed : Judged::kContradicted);
  }
  return Status::Ok();
}

std::string PartnerEvidenceSource::SightingsBundle(const std::string& producer) const {
  std::string objects;
  JsonWriter w(objects);
  w.BeginArray();
  const std::string me = ProducerIdentityId(producer);
  const EventTime fixed = ParseRfc3339(kMoatObjectsCreated).value();
  w.BeginObject();
  w.Key("type");
  w.String("identity");
  w.Key("spec_version");
  w.String("2.1");
  w.Key("id");
  w.String(me);
  w.Key("created");
  w.String(FormatRfc3339(fixed));
  w.Key("modified");
  w.String(FormatRfc3339(fixed));
  w.Key("name");
  w.String(producer);
  w.Key("identity_class");
  w.String("organization");
  w.EndObject();
  for (size_t i = 0; i < seen_.size(); ++i) {
    const Seen& s = seen_[i];
    if (s.accounts == 0) continue;
    const PartnerIndicator& p = matcher_.indicators()[i];
    w.BeginObject();
    w.Key("type");
    w.String("sighting");
    w.Key("spec_version");
    w.String("2.1");
    w.Key("id");
    w.String(StixId("sighting", producer + "|" + p.indicator_id));
    w.Key("created_by_ref");
    w.String(me);
    w.Key("created");
    w.String(FormatRfc3339(s.first));
    w.Key("modified");
    w.String(FormatRfc3339(s.last));
    w.Key("sighting_of_ref");
    w.String(p.indicator_id);
    w.Key("where_sighted_refs");
    w.BeginArray();
    w.String(me);
    w.EndArray();
    w.Key("first_seen");
    w.String(FormatRfc3339(s.first));
    w.Key("last_seen");
    w.String(FormatRfc3339(s.last));
    w.Key("count");
    w.Uint(s.accounts);
    w.EndObject();
  }
  w.EndArray();
  return "{\"type\":\"bundle\",\"id\":\"bundle--" + Uuid5("sightings|" + Sha256Hex(objects)) +
         "\",\"objects\":" + objects + "}";
}

}  // namespace moat::intel
