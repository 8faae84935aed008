// The last gate before a bundle leaves: an allow-list of object types and
// fields with the shape each value may take, and a search of every string for
// the raw values the exporter read. Written against the serialised bundle, so
// it checks what would actually be sent, whatever code produced it.
#include <cstdio>
#include <cstring>
#include <map>
#include <regex>
#include <set>
#include <unordered_map>

#include <simdjson.h>

#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/intel/bundle.h"

namespace moat::intel {
namespace {

enum class Shape : uint8_t {
  kType, kSpec, kId, kIdList, kTs, kInt, kText, kName, kEnum, kPattern, kMoatExtensions, kTlpExtensions,
  kExternalRefs, kStringList, kHexDigest, kSketch
};

struct FieldRule {
  Shape shape;
  std::set<std::string> values;  // kEnum / kStringList
};
using Rules = std::map<std::string, FieldRule>;

const std::map<std::string, Rules>& AllowList() {
  static const std::map<std::string, Rules> rules = [] {
    const Rules common = {{"type", {Shape::kType, {}}},       {"spec_version", {Shape::kSpec, {}}},
                          {"id", {Shape::kId, {}}},           {"created_by_ref", {Shape::kId, {}}},
                          {"created", {Shape::kTs, {}}},      {"modified", {Shape::kTs, {}}},
                          {"confidence", {Shape::kInt, {}}},  {"object_marking_refs", {Shape::kIdList, {}}}};
    auto with = [&](Rules extra) {
      Rules r = common;
      r.insert(extra.begin(), extra.end());
      return r;
    };
    std::map<std::string, Rules> m;
    m["marking-definition"] = {{"type", {Shape::kType, {}}},
                               {"spec_version", {Shape::kSpec, {}}},
                               {"id", {Shape::kId, {}}},
                               {"created", {Shape::kTs, {}}},
                               {"name", {Shape::kEnum, {"TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}}},
                               {"extensions", {Shape::kTlpExtensions, {}}}};
    m["identity"] = with({{"name", {Shape::kName, {}}}, {"identity_class", {Shape::kEnum, {"system", "organization"}}}});
    m["extension-definition"] = with({{"name", {Shape::kEnum, {"moat-keyed-indicators"}}},
                                      {"description", {Shape::kText, {}}},
                                      {"schema", {Shape::kText, {}}},
                                      {"version", {Shape::kEnum, {"1.0"}}},
                                      {"extension_types", {Shape::kStringList, {"property-extension"}}}});
    m["attack-pattern"] = with({{"name", {Shape::kText, {}}},
                                {"description", {Shape::kText, {}}},
                                {"external_references", {Shape::kExternalRefs, {}}}});
    m["campaign"] = with({{"name", {Shape::kText, {}}},
                          {"description", {Shape::kText, {}}},
                          {"first_seen", {Shape::kTs, {}}},
                          {"last_seen", {Shape::kTs, {}}}});
    m["infrastructure"] = with({{"name", {Shape::kText, {}}},
                                {"infrastructure_types", {Shape::kStringList, {"anonymization"}}},
                                {"first_seen", {Shape::kTs, {}}},
                                {"last_seen", {Shape::kTs, {}}}});
    m["indicator"] = with({{"name", {Shape::kText, {}}},
                           {"indicator_types", {Shape::kStringList, {"malicious-activity"}}},
                           {"pattern", {Shape::kPattern, {}}},
                           {"pattern_type", {Shape::kEnum, {"stix"}}},
                           {"pattern_version", {Shape::kEnum, {"2.1"}}},
                           {"valid_from", {Shape::kTs, {}}},
                           {"valid_until", {Shape::kTs, {}}},
                           {"extensions", {Shape::kMoatExtensions, {}}}});
    m["relationship"] = with({{"relationship_type", {Shape::kEnum, {"uses", "indicates"}}},
                              {"source_ref", {Shape::kId, {}}},
                              {"target_ref", {Shape::kId, {}}}});
    m["sighting"] = with({{"sighting_of_ref", {Shape::kId, {}}},
                          {"where_sighted_refs", {Shape::kIdList, {}}},
                          {"first_seen", {Shape::kTs, {}}},
                          {"last_seen", {Shape::kTs, {}}},
                          {"count", {Shape::kInt, {}}}});
    return m;
  }();
  return rules;
}

bool IsId(std::string_view s) {
  static const std::regex re("^[a-z][a-z0-9-]*--[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s.begin(), s.end(), re);
}
bool IsHex(std::string_view s, size_t n) {
  return s.size() == n && s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}
// Descriptive text moat writes itself: printable ASCII, no e-mail address
// shapes, bounded. Raw values are caught by the deny-list search as well.
bool IsText(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (c < 0x20 || c > 0x7e || c == '@') return false;
  return true;
}
bool IsPattern(std::string_view s) {
  static const std::regex digest(
      "^\\[x-moat-keyed-digest:kind = '(ip|subnet|asn|payment|email_domain|tls_fingerprint|system_prompt)' AND "
      "x-moat-keyed-digest:hmac_sha256 = '[0-9a-f]{64}' AND x-moat-keyed-digest:key_id = '[A-Za-z0-9._-]{1,64}'\\]$");
  static const std::regex sketch(
      "^\\[x-moat-template-sketch:sketch_id = '[0-9a-f]{64}' AND x-moat-template-sketch:key_id = "
      "'[A-Za-z0-9._-]{1,64}'\\]$");
  return std::regex_match(s.begin(), s.end(), digest) || std::regex_match(s.begin(), s.end(), sketch);
}

// Finds raw values inside strings: values indexed by their first 4 bytes, so
// each position of each string costs one hash lookup.
class DenyList {
 public:
  explicit DenyList(const RawValues& raw) {
    for (const std::string& v : raw.values) {
      if (v.size() < kMin) continue;
      index_[Prefix(v.data())].push_back(&v);
    }
  }
  // The raw value found in `s`, or nullptr.
  const std::string* Find(std::string_view s) const {
    if (s.size() < kMin) return nullptr;
    for (size_t i = 0; i + kMin <= s.size(); ++i) {
      const auto it = index_.find(Prefix(s.data() + i));
      if (it == index_.end()) continue;
      for (const std::string* v : it->second)
        if (s.size() - i >= v->size() && std::memcmp(s.data() + i, v->data(), v->size()) == 0) return v;
    }
    return nullptr;
  }

 private:
  // Shorter values (a 3-digit ASN) would match by chance inside any digest.
  static constexpr size_t kMin = 5;
  static uint32_t Prefix(const char* p) {
    uint32_t x;
    std::memcpy(&x, p, 4);
    return x;
  }
  std::unordered_map<uint32_t, std::vector<const std::string*>> index_;
};

class Checker {
 public:
  explicit Checker(const RawValues& raw) : deny_(raw) {}

  Status Bundle(simdjson::dom::element doc) {
    simdjson::dom::object top;
    if (doc.get_object().get(top)) return Status::Error("intel guard: the bundle is not a JSON object");
    for (auto field : top) {
      const std::string_view k = field.key;
      if (k != "type" && k != "id" && k != "objects") return Fail("bundle", k, "field not on the allow-list");
    }
    std::string_view type, id;
    if (doc["type"].get_string().get(type) || type != "bundle") return Fail("bundle", "type", "must be \"bundle\"");
    if (doc["id"].get_string().get(id) || !IsId(id) || !id.starts_with("bundle--"))
      return Fail("bundle", "id", "not a bundle id");
    simdjson::dom::array objects;
    if (doc["objects"].get_array().get(objects)) return Fail("bundle", "objects", "must be an array");
    size_t i = 0;
    for (simdjson::dom::element obj : objects) {
      Status s = Object(obj, "objects[" + std::to_string(i++) + "]");
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

 private:
  Status Fail(const std::string& where, std::string_view field, const std::string& what) {
    return Status::Error("intel guard: refused: " + where + "." + std::string(field) + ": " + what);
  }

  // Every string passes the deny list, whatever its field.
  Status Str(const std::string& where, std::string_view field, std::string_view s) {
    if (const std::string* v = deny_.Find(s))
      return Fail(where, field, "contains a raw input value (" + std::to_string(v->size()) + " bytes)");
    return Status::Ok();
  }

  Status Object(simdjson::dom::element obj, const std::string& where_in) {
    std::string_view type;
    if (obj["type"].get_string().get(type)) return Fail(where_in, "type", "missing");
    const auto rules = AllowList().find(std::string(type));
    if (rules == AllowList().end()) return Fail(where_in, "type", "object type " + std::string(type) + " is not on the allow-list");
    const std::string where = where_in + " (" + std::string(type) + ")";
    simdjson::dom::object o;
    if (obj.get_object().get(o)) return Fail(where, "", "not an object");
    for (auto field : o) {
      const std::string_view k = field.key;
      const auto rule = rules->second.find(std::string(k));
      if (rule == rules->second.end()) return Fail(where, k, "field not on the allow-list");
      Status s = Value(where, k, rule->second, field.value, type);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  Status StringValue(const std::string& where, std::string_view k, simdjson::dom::element v, std::string_view& s) {
    if (v.get_string().get(s)) return Fail(where, k, "must be a string");
    return Str(where, k, s);
  }

  Status Value(const std::string& where, std::string_view k, const FieldRule& rule, simdjson::dom::element v,
               std::string_view type) {
    std::string_view s;
    switch (rule.shape) {
      case Shape::kType: return StringValue(where, k, v, s);
      case Shape::kSpec: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && s != "2.1") return Fail(where, k, "must be 2.1");
        return st;
      }
      case Shape::kId: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !IsId(s)) return Fail(where, k, "not a STIX identifier");
        return st;
      }
      case Shape::kTs: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !ParseRfc3339(s)) return Fail(where, k, "not a timestamp");
        return st;
      }
      case Shape::kInt: {
        int64_t n;
        if (v.get_int64().get(n) || n < 0) return Fail(where, k, "must be a non-negative integer");
        return Status::Ok();
      }
      case Shape::kText:
      case Shape::kName: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !IsText(s, rule.shape == Shape::kName ? 120 : 1200))
          return Fail(where, k, "text outside the allowed shape (printable ASCII, no '@')");
        return st;
      }
      case Shape::kEnum: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !rule.values.count(std::string(s))) return Fail(where, k, "value not allowed");
        return st;
      }
      case Shape::kPattern: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !IsPattern(s)) return Fail(where, k, "pattern is not a keyed-digest or sketch pattern");
        return st;
      }
      case Shape::kIdList:
      case Shape::kStringList: {
        simdjson::dom::array arr;
        if (v.get_array().get(arr)) return Fail(where, k, "must be an array");
        for (simdjson::dom::element e : arr) {
          Status st = StringValue(where, k, e, s);
          if (!st.ok()) return st;
          if (rule.shape == Shape::kIdList && !IsId(s)) return Fail(where, k, "not a STIX identifier");
          if (rule.shape == Shape::kStringList && !rule.values.count(std::string(s)))
            return Fail(where, k, "value not allowed");
        }
        return Status::Ok();
      }
      case Shape::kHexDigest: {
        Status st = StringValue(where, k, v, s);
        if (st.ok() && !IsHex(s, 64)) return Fail(where, k, "not a 64-digit hex digest");
        return st;
      }
      case Shape::kSketch: {
        simdjson::dom::array arr;
        if (v.get_array().get(arr)) return Fail(where, k, "must be an array");
        for (simdjson::dom::element e : arr) {
          Status st = StringValue(where, k, e, s);
          if (!st.ok()) return st;
          if (!IsHex(s, 16)) return Fail(where, k, "sketch entries are 16 hex digits");
        }
        return Status::Ok();
      }
      case Shape::kExternalRefs: {
        simdjson::dom::array arr;
        if (v.get_array().get(arr)) return Fail(where, k, "must be an array");
        static const Rules ref = {{"source_name", {Shape::kEnum, {"mitre-atlas"}}},
                                  {"external_id", {Shape::kEnum, {"AML.T0024", "AML.T0024.002"}}},
                                  {"description", {Shape::kText, {}}},
                                  {"url", {Shape::kEnum,
                                           {"https://atlas.mitre.org/techniques/AML.T0024",
                                            "https://atlas.mitre.org/techniques/AML.T0024.002"}}}};
        for (simdjson::dom::element e : arr) {
          Status st = Nested(where + "." + std::string(k), e, ref, type);
          if (!st.ok()) return st;
        }
        return Status::Ok();
      }
      case Shape::kTlpExtensions:
      case Shape::kMoatExtensions: {
        simdjson::dom::object exts;
        if (v.get_object().get(exts)) return Fail(where, k, "must be an object");
        static const Rules tlp = {{"extension_type", {Shape::kEnum, {"property-extension"}}},
                                  {"tlp_2_0", {Shape::kEnum, {"clear", "green", "amber", "amber+strict", "red"}}}};
        static const Rules moat = {
            {"extension_type", {Shape::kEnum, {"property-extension"}}},
            {"key_id", {Shape::kName, {}}},
            {"kind", {Shape::kEnum, {"ip", "subnet", "asn", "payment", "email_domain", "tls_fingerprint", "system_prompt", "template"}}},
            {"digest", {Shape::kHexDigest, {}}},
            {"sketch", {Shape::kSketch, {}}},
            {"shingle_words", {Shape::kInt, {}}},
            {"accounts", {Shape::kInt, {}}},
            {"exchanges", {Shape::kInt, {}}},
            {"recipient", {Shape::kName, {}}}};
        for (auto ext : exts) {
          const std::string_view ek = ext.key;
          const bool is_tlp = rule.shape == Shape::kTlpExtensions;
          if (is_tlp ? ek != "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
                     : !(ek.starts_with("extension-definition--") && IsId(ek)))
            return Fail(where, k, "extension " + std::string(ek) + " is not on the allow-list");
          Status st = Nested(where + ".extensions", ext.value, is_tlp ? tlp : moat, type);
          if (!st.ok()) return st;
        }
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

  Status Nested(const std::string& where, simdjson::dom::element e, const Rules& rules, std::string_view type) {
    simdjson::dom::object o;
    if (e.get_object().get(o)) return Fail(where, "", "must be an object");
    for (auto field : o) {
      const auto rule = rules.find(std::string(field.key));
      if (rule == rules.end()) return Fail(where, field.key, "field not on the allow-list");
      Status s = Value(where, field.key, rule->second, field.value, type);
      if (!s.ok()) return s;
    }
    return Status::Ok();
  }

  DenyList deny_;
};

}  // namespace

Status CheckBundle(std::string_view bundle_json, const RawValues& raw) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(bundle_json);
  if (parser.parse(text).get(doc)) return Status::Error("intel guard: the bundle is not valid JSON");
  Checker checker(raw);
  return checker.Bundle(doc);
}

Result<ExportSummary> SummarizeBundle(std::string_view bundle_json) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  const simdjson::padded_string text(bundle_json);
  if (parser.parse(text).get(doc)) return Status::Error("intel audit: the bundle is not valid JSON");
  ExportSummary out;
  std::set<std::string> keys;
  simdjson::dom::array objects;
  if (doc["objects"].get_array().get(objects)) return Status::Error("intel audit: the bundle has no objects");
  for (simdjson::dom::element o : objects) {
    std::string_view type;
    if (o["type"].get_string().get(type)) continue;
    ++out.objects[std::string(type)];
    if (type != "indicator") continue;
    simdjson::dom::object exts;
    if (!o["extensions"].get_object().get(exts))
      for (auto e : exts) {
        std::string_view kind, key_id;
        if (!e.value["kind"].get_string().get(kind)) ++out.indicators_by_kind[std::string(kind)];
        if (!e.value["key_id"].get_string().get(key_id)) keys.insert(std::string(key_id));
      }
    simdjson::dom::array marks;
    if (!o["object_marking_refs"].get_array().get(marks))
      for (simdjson::dom::element m : marks) {
        std::string_view id;
        if (!m.get_string().get(id)) ++out.indicators_by_marking[std::string(id)];
      }
  }
  std::string_view bundle_id;
  if (!doc["id"].get_string().get(bundle_id)) out.bundle_id = std::string(bundle_id);
  out.sha256 = Sha256Hex(bundle_json);
  out.key_ids.assign(keys.begin(), keys.end());
  return out;
}

namespace {

void WriteCounts(JsonWriter& w, const ExportSummary& s) {
  for (const auto& [name, map] : {std::pair{"objects", &s.objects}, std::pair{"indicators_by_kind", &s.indicators_by_kind},
                                  std::pair{"indicators_by_marking", &s.indicators_by_marking}}) {
    w.Key(name);
    w.BeginObject();
    for (const auto& [k, n] : *map) {
      w.Key(k);
      w.Uint(n);
    }
    w.EndObject();
  }
}

}  // namespace

std::string CountsJson(const ExportSummary& s) {
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  WriteCounts(w, s);
  w.EndObject();
  return out;
}

std::string KeyIdsJson(const ExportSummary& s) {
  std::string out;
  JsonWriter w(out);
  w.BeginArray();
  for (const std::string& k : s.key_ids) w.String(k);
  w.EndArray();
  return out;
}

Status AppendAudit(const std::string& audit_path, std::string_view bundle_json, std::string_view recipient,
                   const std::string& out_path, EventTime wall_time) {
  auto summary = SummarizeBundle(bundle_json);
  if (!summary.ok()) return summary.status();
  const ExportSummary& s = summary.value();
  std::string line;
  JsonWriter w(line);
  w.BeginObject();
  w.Key("ts");
  w.String(FormatRfc3339(wall_time));
  w.Key("action");
  w.String("export");
  w.Key("recipient");
  w.String(recipient);
  w.Key("out");
  w.String(out_path);
  w.Key("bundle_id");
  w.String(s.bundle_id);
  w.Key("sha256");
  w.String(s.sha256);
  w.Key("key_ids");
  w.BeginArray();
  for (const std::string& k : s.key_ids) w.String(k);
  w.EndArray();
  WriteCounts(w, s);
  w.EndObject();
  line.push_back('\n');
  std::FILE* f = std::fopen(audit_path.c_str(), "ab");
  if (f == nullptr) return Status::Error("intel audit: cannot open " + audit_path);
  const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !ok) return Status::Error("intel audit: cannot write " + audit_path);
  return Status::Ok();
}

}  // namespace moat::intel
