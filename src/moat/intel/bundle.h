// Export side of intel: from a scan's campaigns and the log they came from,
// the indicators a provider may share (k-anonymous, distinctive, keyed), as a
// STIX 2.1 bundle; a final guard refuses any bundle carrying a raw value or a
// field outside the allow-list. Reads logs and scan files; writes no network.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"
#include "moat/intel/keyed.h"

namespace moat::intel {

enum class Tlp : uint8_t { kClear = 0, kGreen, kAmber, kAmberStrict, kRed };
const char* TlpName(Tlp t);  // "clear", "green", "amber", "amber+strict", "red"
std::optional<Tlp> ParseTlp(std::string_view name);
// The official TLP 2.0 marking-definition id, "marking-definition--...".
const char* TlpMarkingId(Tlp t);

struct Indicator {
  Kind kind = Kind::kIp;
  std::string digest;            // digest kinds: 64 hex digits
  std::vector<uint64_t> sketch;  // kTemplate: sorted bottom-k keyed shingle hashes
  uint32_t accounts = 0;         // campaign accounts resting on the value
  uint64_t exchanges = 0;
  EventTime first_seen = 0, last_seen = 0;
  int confidence = 0;  // 0..100
  Tlp tlp = Tlp::kAmber;
  std::string recipient;  // only for TLP:RED (below the k floor): the one partner
};

struct CampaignIntel {
  std::string local_id;  // the scan's campaign_id: keys the STIX id, never written
  uint32_t accounts = 0;
  uint64_t exchanges = 0;
  EventTime first_seen = 0, last_seen = 0;
  double score = 0;
  std::vector<Indicator> indicators;
  // Every object of the campaign is versioned no earlier than this: a live
  // export re-publishing changed content sets it past the last version it
  // published, so partners see a strictly newer `modified`. 0: none.
  EventTime modified_floor = 0;
};

struct ExportOptions {
  std::string producer = "moat provider";  // identity name of the producer
  uint32_t k_floor = 3;                    // accounts an indicator must rest on
  // Only values held mostly by the campaign: campaign holders / all holders.
  // A value ordinary customers share (a webmail domain, a carrier NAT) is
  // neither distinctive nor theirs to share.
  double min_campaign_share = 0.9;
  Tlp tlp = Tlp::kAmber;
  // When set, indicators below the k floor are exported too, marked TLP:RED
  // for this partner alone.
  std::string red_recipient;
  int valid_days = 30;  // valid_until = last_seen + this
  size_t max_per_kind = 200;  // indicators per campaign and kind, most accounts first
  // Template mining: a template needs this share of its prompts to contain a
  // shingle for the shingle to be part of it, and this many prompts.
  double template_shingle_share = 0.5;
  uint32_t template_min_prompts = 12;
  uint32_t template_min_shingles = 8;
};

// Every raw value the exporter read (account ids, addresses, domains,
// fingerprints, prompts it mined, system prompts): the guard's deny list.
struct RawValues {
  std::vector<std::string> values;
};

struct Collected {
  std::vector<CampaignIntel> campaigns;
  RawValues raw;
};

// A campaign as a scan (campaigns.jsonl) or the live engine names it.
struct CampaignMembers {
  std::string id;  // keys the STIX id; never written
  std::vector<std::string> accounts;
  double score = 1.0;
};

// The campaigns of campaigns.jsonl text (spec/verdicts.md; also what
// engine::Engine::CampaignsJsonl returns). `origin` names the source in errors.
[[nodiscard]] Result<std::vector<CampaignMembers>> ParseCampaigns(std::string_view jsonl, const std::string& origin);

// Reads the logs twice through moat::ingest: the campaign members' attribute
// values and prompts, then every other account's use of the candidate values
// (for distinctiveness).
[[nodiscard]] Result<Collected> Collect(const std::vector<CampaignMembers>& campaigns,
                                        const std::vector<std::string>& logs, const CoalitionKey& key,
                                        const ExportOptions& options);
// The same for a scan: its campaigns from scan_dir/campaigns.jsonl.
[[nodiscard]] Result<Collected> Collect(const std::string& scan_dir, const std::vector<std::string>& logs,
                                        const CoalitionKey& key, const ExportOptions& options);

// The STIX 2.1 bundle (one JSON object). Deterministic: ids are UUIDv5 of
// keyed content, `modified` is the campaign's last_seen, so re-exporting the
// same data gives the same bytes and new data a new version.
std::string BuildBundle(const std::vector<CampaignIntel>& campaigns, const CoalitionKey& key,
                        const ExportOptions& options);

// moat's identity and the extension-definition of the keyed indicators, as a
// TAXII envelope ({"objects": [...]}) to publish once per collection. Not in
// the bundles: the STIX 2.1 JSON schemas' bundle.json does not list
// extension-definition, and its custom-object branch needs an object to match
// exactly one of core and cyber-observable-core, which no SDO-shaped object
// can; indicators reference the definition by its fixed id instead.
std::string ExtensionDefinitionEnvelope();

// The final pass before anything leaves: every object type and field must be
// on the allow-list, every string must have the shape its field allows, and
// no string may equal or contain a raw value. An error names the object and
// field.
[[nodiscard]] Status CheckBundle(std::string_view bundle_json, const RawValues& raw);

// What an audit records of a bundle: its id and SHA-256, the key ids of its
// digests, objects by type, indicators by kind and by TLP marking.
struct ExportSummary {
  std::string bundle_id;
  std::string sha256;
  std::vector<std::string> key_ids;  // sorted
  std::map<std::string, uint64_t> objects, indicators_by_kind, indicators_by_marking;
};
[[nodiscard]] Result<ExportSummary> SummarizeBundle(std::string_view bundle_json);
// {"objects": {...}, "indicators_by_kind": {...}, "indicators_by_marking": {...}}
std::string CountsJson(const ExportSummary& s);
// ["key id", ...]
std::string KeyIdsJson(const ExportSummary& s);

// Appends one JSON line to `audit_path`: when (wall clock), to whom, what
// (bundle id, sha256, campaigns, indicators by kind and TLP), under which key.
[[nodiscard]] Status AppendAudit(const std::string& audit_path, std::string_view bundle_json,
                                 std::string_view recipient, const std::string& out_path, EventTime wall_time);

}  // namespace moat::intel
