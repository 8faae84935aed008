#include "moat/intel/bundle.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/intel/stix_ids.h"

namespace moat::intel {
namespace {

std::string Ts(EventTime t) { return FormatRfc3339(t); }

std::string IndicatorPattern(const Indicator& i, const std::string& key_id) {
  if (i.kind == Kind::kTemplate)
    return "[x-moat-template-sketch:sketch_id = '" + SketchId(i.sketch) + "' AND x-moat-template-sketch:key_id = '" +
           key_id + "']";
  return std::string("[x-moat-keyed-digest:kind = '") + KindName(i.kind) + "' AND x-moat-keyed-digest:hmac_sha256 = '" +
         i.digest + "' AND x-moat-keyed-digest:key_id = '" + key_id + "']";
}

void Markings(JsonWriter& w, Tlp t) {
  w.Key("object_marking_refs");
  w.BeginArray();
  w.String(TlpMarkingId(t));
  w.EndArray();
}

void Common(JsonWriter& w, std::string_view type, const std::string& id, EventTime created, EventTime modified,
            const std::string& created_by) {
  w.Key("type");
  w.String(type);
  w.Key("spec_version");
  w.String("2.1");
  w.Key("id");
  w.String(id);
  if (!created_by.empty()) {
    w.Key("created_by_ref");
    w.String(created_by);
  }
  w.Key("created");
  w.String(Ts(created));
  w.Key("modified");
  w.String(Ts(std::max(created, modified)));
}

// moat itself, the creator of the objects every bundle shares (attack
// pattern, extension-definition).
void MoatIdentity(JsonWriter& w, const std::string& id, EventTime fixed) {
  w.BeginObject();
  Common(w, "identity", id, fixed, fixed, "");
  w.Key("name");
  w.String("moat");
  w.Key("identity_class");
  w.String("system");
  w.EndObject();
}

void Relationship(JsonWriter& w, const std::string& type, const std::string& source, const std::string& target,
                  EventTime created, EventTime modified, const std::string& producer, Tlp tlp) {
  w.BeginObject();
  Common(w, "relationship", StixId("relationship", type + "|" + source + "|" + target), created, modified, producer);
  w.Key("relationship_type");
  w.String(type);
  w.Key("source_ref");
  w.String(source);
  w.Key("target_ref");
  w.String(target);
  Markings(w, tlp);
  w.EndObject();
}

}  // namespace

const char* TlpName(Tlp t) {
  switch (t) {
    case Tlp::kClear: return "clear";
    case Tlp::kGreen: return "green";
    case Tlp::kAmber: return "amber";
    case Tlp::kAmberStrict: return "amber+strict";
    case Tlp::kRed: return "red";
  }
  return "amber";
}

std::optional<Tlp> ParseTlp(std::string_view name) {
  for (int t = 0; t <= static_cast<int>(Tlp::kRed); ++t)
    if (name == TlpName(static_cast<Tlp>(t))) return static_cast<Tlp>(t);
  return std::nullopt;
}

// The TLP 2.0 marking definitions published with STIX 2.1 (FIRST TLP 2.0).
const char* TlpMarkingId(Tlp t) {
  switch (t) {
    case Tlp::kClear: return "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
    case Tlp::kGreen: return "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
    case Tlp::kAmber: return "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";
    case Tlp::kAmberStrict: return "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003";
    case Tlp::kRed: return "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
  }
  return "";
}

std::string ExtensionDefinitionEnvelope() {
  std::string objects;
  JsonWriter w(objects);
  w.BeginArray();
  const EventTime fixed = ParseRfc3339(kMoatObjectsCreated).value();
  const std::string moat_identity = MoatIdentityId();
  const std::string ext = ExtensionDefinitionId();
  MoatIdentity(w, moat_identity, fixed);
  w.BeginObject();
  Common(w, "extension-definition", ext, fixed, fixed, moat_identity);
  w.Key("name");
  w.String(kExtensionName);
  w.Key("description");
  w.String(kExtensionDescription);
  w.Key("schema");
  w.String(kExtensionSchema);
  w.Key("version");
  w.String("1.0");
  w.Key("extension_types");
  w.BeginArray();
  w.String("property-extension");
  w.EndArray();
  w.EndObject();

  w.EndArray();
  return "{\"objects\":" + objects + "}";
}

std::string BuildBundle(const std::vector<CampaignIntel>& campaigns, const CoalitionKey& key,
                        const ExportOptions& o) {
  std::string objects;
  JsonWriter w(objects);
  w.BeginArray();
  const EventTime fixed = ParseRfc3339(kMoatObjectsCreated).value();
  const std::string moat_identity = MoatIdentityId();
  const std::string producer = ProducerIdentityId(o.producer);
  const std::string ext = ExtensionDefinitionId();
  const std::string attack = AttackPatternId();

  std::set<Tlp> used{o.tlp};
  for (const CampaignIntel& c : campaigns)
    for (const Indicator& i : c.indicators) used.insert(i.tlp);
  for (Tlp t : used) {
    w.BeginObject();
    w.Key("type");
    w.String("marking-definition");
    w.Key("spec_version");
    w.String("2.1");
    w.Key("id");
    w.String(TlpMarkingId(t));
    w.Key("created");
    w.String(kTlpCreated);
    w.Key("name");
    w.String(std::string("TLP:") + (t == Tlp::kAmberStrict ? "AMBER+STRICT" : t == Tlp::kClear ? "CLEAR"
                                    : t == Tlp::kGreen                               ? "GREEN"
                                    : t == Tlp::kRed                                 ? "RED"
                                                                                     : "AMBER"));
    w.Key("extensions");
    w.BeginObject();
    w.Key(kTlpExtensionId);
    w.BeginObject();
    w.Key("extension_type");
    w.String("property-extension");
    w.Key("tlp_2_0");
    w.String(TlpName(t));
    w.EndObject();
    w.EndObject();
    w.EndObject();
  }

  MoatIdentity(w, moat_identity, fixed);

  w.BeginObject();
  Common(w, "identity", producer, fixed, fixed, "");
  w.Key("name");
  w.String(o.producer);
  w.Key("identity_class");
  w.String("organization");
  Markings(w, o.tlp);
  w.EndObject();

  w.BeginObject();
  Common(w, "attack-pattern", attack, fixed, fixed, moat_identity);
  w.Key("name");
  w.String("Model distillation through an inference API");
  w.Key("description");
  w.String(
      "Many coordinated accounts harvest a model's answers (often its reasoning) through its inference API to train a "
      "copy of the model.");
  w.Key("external_references");
  w.BeginArray();
  for (const auto& [id, name] : {std::pair{"AML.T0024", "Exfiltration via AI Inference API"},
                                 std::pair{"AML.T0024.002", "Extract AI Model"}}) {
    w.BeginObject();
    w.Key("source_name");
    w.String("mitre-atlas");
    w.Key("external_id");
    w.String(id);
    w.Key("description");
    w.String(name);
    w.Key("url");
    w.String(std::string("https://atlas.mitre.org/techniques/") + id);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();

  for (const CampaignIntel& c : campaigns) {
    const std::string cid = CampaignStixId(key, c.local_id);
    const std::string short_id = cid.substr(std::string("campaign--").size(), 8);
    const EventTime created = c.first_seen;
    const EventTime modified = std::max(c.last_seen, c.modified_floor);
    w.BeginObject();
    Common(w, "campaign", cid, created, modified, producer);
    w.Key("name");
    w.String("distillation campaign " + short_id);
    w.Key("description");
    w.String("Coordinated extraction: " + std::to_string(c.accounts) + " accounts, " + std::to_string(c.exchanges) +
             " exchanges.");
    w.Key("first_seen");
    w.String(Ts(c.first_seen));
    w.Key("last_seen");
    w.String(Ts(c.last_seen));
    w.Key("confidence");
    w.Int(std::clamp(static_cast<int>(c.score * 100 + 0.5), 0, 100));
    Markings(w, o.tlp);
    w.EndObject();
    Relationship(w, "uses", cid, attack, created, modified, producer, o.tlp);

    bool network = false;
    for (const Indicator& i : c.indicators)
      network |= i.kind == Kind::kIp || i.kind == Kind::kSubnet || i.kind == Kind::kAsn;
    if (network) {
      const std::string infra = StixId("infrastructure", "proxy pool|" + cid);
      w.BeginObject();
      Common(w, "infrastructure", infra, created, modified, producer);
      w.Key("name");
      w.String("proxy pool of campaign " + short_id);
      w.Key("infrastructure_types");
      w.BeginArray();
      w.String("anonymization");
      w.EndArray();
      w.Key("first_seen");
      w.String(Ts(c.first_seen));
      w.Key("last_seen");
      w.String(Ts(c.last_seen));
      Markings(w, o.tlp);
      w.EndObject();
      Relationship(w, "uses", cid, infra, created, modified, producer, o.tlp);
    }

    for (const Indicator& i : c.indicators) {
      const std::string content = i.kind == Kind::kTemplate ? SketchId(i.sketch) : i.digest;
      const std::string iid = StixId("indicator", o.producer + "|" + cid + "|" + KindName(i.kind) + "|" + content);
      w.BeginObject();
      const EventTime i_modified = std::max(i.last_seen, c.modified_floor);
      Common(w, "indicator", iid, i.first_seen, i_modified, producer);
      w.Key("name");
      w.String(std::string(KindName(i.kind)) + " of campaign " + short_id);
      w.Key("indicator_types");
      w.BeginArray();
      w.String("malicious-activity");
      w.EndArray();
      w.Key("pattern");
      w.String(IndicatorPattern(i, key.key_id));
      w.Key("pattern_type");
      w.String("stix");
      w.Key("pattern_version");
      w.String("2.1");
      w.Key("valid_from");
      w.String(Ts(i.first_seen));
      w.Key("valid_until");
      w.String(Ts(i.last_seen + EventTime{o.valid_days} * kMicrosPerDay));
      w.Key("confidence");
      w.Int(i.confidence);
      w.Key("extensions");
      w.BeginObject();
      w.Key(ext);
      w.BeginObject();
      w.Key("extension_type");
      w.String("property-extension");
      w.Key("key_id");
      w.String(key.key_id);
      w.Key("kind");
      w.String(KindName(i.kind));
      if (i.kind == Kind::kTemplate) {
        w.Key("sketch");
        w.BeginArray();
        for (uint64_t h : i.sketch) w.String(Hex64(h));
        w.EndArray();
        w.Key("shingle_words");
        w.Uint(kShingleWords);
      } else {
        w.Key("digest");
        w.String(i.digest);
      }
      w.Key("accounts");
      w.Uint(i.accounts);
      w.Key("exchanges");
      w.Uint(i.exchanges);
      if (i.tlp == Tlp::kRed) {
        w.Key("recipient");
        w.String(i.recipient);
      }
      w.EndObject();
      w.EndObject();
      Markings(w, i.tlp);
      w.EndObject();
      Relationship(w, "indicates", iid, cid, i.first_seen, i_modified, producer, i.tlp);
    }

    w.BeginObject();
    Common(w, "sighting", StixId("sighting", "own|" + cid), created, modified, producer);
    w.Key("sighting_of_ref");
    w.String(cid);
    w.Key("where_sighted_refs");
    w.BeginArray();
    w.String(producer);
    w.EndArray();
    w.Key("first_seen");
    w.String(Ts(c.first_seen));
    w.Key("last_seen");
    w.String(Ts(c.last_seen));
    w.Key("count");
    w.Uint(std::min<uint64_t>(c.exchanges, 999'999'999));
    Markings(w, o.tlp);
    w.EndObject();
  }
  w.EndArray();

  std::string out;
  JsonWriter b(out);
  b.BeginObject();
  b.Key("type");
  b.String("bundle");
  b.Key("id");
  b.String("bundle--" + Uuid5("bundle|" + Sha256Hex(objects)));
  b.Key("objects");
  b.Raw(objects);
  b.EndObject();
  return out;
}

}  // namespace moat::intel
