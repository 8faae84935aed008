// Fixed STIX identifiers and the deterministic (UUIDv5) ids of moat's objects:
// the same content always gets the same id, so a re-export is a new version
// of the same objects rather than new objects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moat/intel/keyed.h"

namespace moat::intel {

inline constexpr const char* kTlpCreated = "2022-10-01T00:00:00.000Z";
inline constexpr const char* kTlpExtensionId = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
inline constexpr const char* kMoatObjectsCreated = "2026-01-01T00:00:00.000Z";
inline constexpr const char* kExtensionName = "moat-keyed-indicators";
inline constexpr const char* kExtensionDescription =
    "Keyed indicators of LLM distillation campaigns: HMAC-SHA256 digests under a coalition key of normalised "
    "attribute values, and keyed bottom-k shingle sketches of prompt templates.";
inline constexpr const char* kExtensionSchema =
    "Property extension on indicator. key_id: coalition key id. kind: ip, subnet, asn, payment, email_domain, "
    "tls_fingerprint, system_prompt or template. digest: lower-case hex HMAC-SHA256(key, kind LF normalised value). "
    "sketch: the bottom-64 keyed 64-bit hashes (16 hex digits each) of the word 3-shingles the template's prompts "
    "share; a prompt matches when it contains at least 60 percent of them. accounts, exchanges: support of the "
    "indicator at the producer. recipient: the one partner a TLP:RED indicator is for.";

inline std::string StixId(std::string_view type, std::string_view name) {
  return std::string(type) + "--" + Uuid5(std::string(type) + "|" + std::string(name));
}
inline std::string MoatIdentityId() { return StixId("identity", "moat"); }
inline std::string ProducerIdentityId(std::string_view producer) { return StixId("identity", producer); }
inline std::string ExtensionDefinitionId() { return StixId("extension-definition", "moat-keyed-indicators v1"); }
inline std::string AttackPatternId() { return StixId("attack-pattern", "AML.T0024.002"); }
// Keyed by the local secret: a partner holding the coalition key still cannot
// test guessed account ids (the scan's campaign id names one) against it.
inline std::string CampaignStixId(const CoalitionKey& key, std::string_view local_id) {
  return StixId("campaign", HmacHex(key.local_secret, local_id));
}
inline std::string SketchId(const std::vector<uint64_t>& sketch) {
  std::string all;
  for (uint64_t h : sketch) all += Hex64(h);
  return Sha256Hex(all);
}

}  // namespace moat::intel
