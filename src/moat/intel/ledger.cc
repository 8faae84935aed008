#include "moat/intel/ledger.h"

#include <algorithm>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/intel/stix_ids.h"

namespace moat::intel {
namespace {

// The bundle of one campaign is a function of its content: equal bytes,
// equal content (ids are keyed, timestamps are the data's).
std::string Fingerprint(CampaignIntel c, const CoalitionKey& key, const ExportOptions& o) {
  c.modified_floor = 0;
  return Sha256Hex(BuildBundle({c}, key, o));
}

EventTime NewestModified(const CampaignIntel& c) {
  // Indicators rest on members' exchanges, so none is newer than the campaign.
  return std::max({c.first_seen, c.last_seen, c.modified_floor});
}

// RFC 3339 in a bundle has millisecond precision: a newer version must be
// at least a millisecond newer.
constexpr EventTime kVersionStep = 1000;

}  // namespace

std::vector<CampaignIntel> PublishLedger::Changed(const std::vector<CampaignIntel>& all, const CoalitionKey& key,
                                                  const ExportOptions& o) const {
  std::vector<CampaignIntel> out;
  for (const CampaignIntel& c : all) {
    const auto it = campaigns_.find(CampaignStixId(key, c.local_id));
    if (it != campaigns_.end() && it->second.fingerprint == Fingerprint(c, key, o)) continue;
    CampaignIntel changed = c;
    if (it != campaigns_.end()) changed.modified_floor = it->second.modified + kVersionStep;
    out.push_back(std::move(changed));
  }
  return out;
}

void PublishLedger::Record(const std::vector<CampaignIntel>& published, const CoalitionKey& key,
                           const ExportOptions& o) {
  for (const CampaignIntel& c : published)
    campaigns_[CampaignStixId(key, c.local_id)] = {Fingerprint(c, key, o), NewestModified(c)};
}

std::string PublishLedger::Save() const {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("version");
  w.Uint(1);
  w.Key("campaigns");
  w.BeginObject();
  for (const auto& [id, e] : campaigns_) {
    w.Key(id);
    w.BeginObject();
    w.Key("fingerprint");
    w.String(e.fingerprint);
    w.Key("modified");
    w.Int(e.modified);
    w.EndObject();
  }
  w.EndObject();
  w.EndObject();
  return out;
}

Status PublishLedger::Load(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(json);
  if (parser.parse(text).get(doc)) return Status::Error("intel publish ledger: not valid JSON");
  uint64_t version = 0;
  simdjson::dom::object campaigns;
  if (doc["version"].get_uint64().get(version) || version != 1)
    return Status::Error("intel publish ledger: unknown version (this build reads version 1)");
  if (doc["campaigns"].get_object().get(campaigns))
    return Status::Error("intel publish ledger: no \"campaigns\" object");
  std::map<std::string, Entry> loaded;
  for (auto [id, e] : campaigns) {
    std::string_view fingerprint;
    int64_t modified = 0;
    if (e["fingerprint"].get_string().get(fingerprint) || e["modified"].get_int64().get(modified))
      return Status::Error("intel publish ledger: campaign " + std::string(id) + ": needs fingerprint and modified");
    loaded[std::string(id)] = {std::string(fingerprint), modified};
  }
  campaigns_ = std::move(loaded);
  return Status::Ok();
}

}  // namespace moat::intel
