// intel: what one provider may share with others about a campaign, and how a
// partner's shares are matched against local traffic. This header holds the
// keyed primitives: every value that leaves is an HMAC-SHA256 under the
// coalition key of a normalised value, and prompt templates leave only as
// keyed shingle sketches. Nothing here may ever emit a raw value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"

namespace moat::intel {

// The coalition's shared secret. key_id names the key so it can be rotated:
// a bundle says which key its digests are under, and a matcher holds every
// key it still accepts. local_secret never leaves: it keys the producer's own
// object ids, so a partner holding the coalition key cannot test guessed
// account ids against them.
struct CoalitionKey {
  std::string key_id;
  std::string key;           // raw bytes, >= 16
  std::string local_secret;  // raw bytes, >= 16
};

// Reads {"key_id": "...", "key_hex": "...", "local_secret_hex": "..."};
// errors name the file and the field.
[[nodiscard]] Result<CoalitionKey> LoadKey(const std::string& path);
// A key for tests and the demo, derived from a passphrase.
CoalitionKey KeyFromPassphrase(std::string_view key_id, std::string_view passphrase);

// Lower-case hex of HMAC-SHA256(key, message).
std::string HmacHex(std::string_view key, std::string_view message);
std::string Sha256Hex(std::string_view data);
// RFC 4122 version 5 UUID (SHA-1) of `name` in moat's namespace.
std::string Uuid5(std::string_view name);

// The attribute kinds that may be shared, as digests.
enum class Kind : uint8_t {
  kIp = 0,
  kSubnet,      // IPv4 /24 or IPv6 /48
  kAsn,
  kPayment,     // payment instrument fingerprint
  kEmailDomain,
  kTls,         // client TLS fingerprint
  kSystemPrompt,
  kTemplate,    // keyed template sketch (not a digest)
};
inline constexpr int kDigestKinds = 7;  // kinds before kTemplate
const char* KindName(Kind k);
std::optional<Kind> ParseKind(std::string_view name);

// A normalised attribute value; empty when the exchange has none.
struct Attributes {
  std::array<std::string, kDigestKinds> value;
};
// Normal forms: canonical address text (inet_ntop), "a.b.c.0/24" or the
// /48 prefix, "AS<n>", lower-case trimmed fingerprints and domains (no
// leading '@' or trailing '.'), system prompts through text::Normalize.
void ExtractAttributes(const Exchange& x, Attributes& out);

// The digest of one normalised value of a kind: HMAC(key, kind "\n" value).
std::string Digest(const CoalitionKey& key, Kind kind, std::string_view normalised);

// --- Template sketches ------------------------------------------------------
// A template is the set of word 3-shingles its prompts share. Its sketch is
// the bottom-k of their keyed 64-bit hashes (a KMV MinHash), keyed by a seed
// derived from the coalition key, so only key holders can compute or test
// sketches, and a prompt of a partner matches when it contains most of them.
inline constexpr uint32_t kShingleWords = 3;
inline constexpr size_t kSketchSize = 64;
uint64_t TemplateSeed(const CoalitionKey& key);
// Keyed shingle hashes of a raw prompt (normalised here), sorted, unique.
void PromptShingles(std::string_view prompt, uint64_t seed, std::vector<uint64_t>& out, std::string& scratch);
// Share of the sketch's hashes present in sorted `shingles`.
double Containment(const std::vector<uint64_t>& sketch, const std::vector<uint64_t>& shingles);

std::string Hex64(uint64_t v);
std::optional<uint64_t> ParseHex64(std::string_view s);
std::string ToHex(std::string_view bytes);
std::optional<std::string> FromHex(std::string_view hex);

}  // namespace moat::intel
