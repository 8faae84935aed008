#include "moat/intel/keyed.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include <simdjson.h>

#include "moat/text/normalize.h"
#include "moat/text/shingle.h"

namespace moat::intel {
namespace {

// moat's UUIDv5 namespace (itself UUIDv5 of "moat.intel" in the URL namespace).
constexpr unsigned char kNamespace[16] = {0x6b, 0x1f, 0x3a, 0x52, 0x9e, 0x04, 0x5c, 0x8d,
                                          0xa1, 0x7e, 0x2c, 0x44, 0x90, 0xd3, 0x1b, 0x65};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

void Lower(std::string_view in, std::string& out) {
  out.assign(in);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

// Canonical address and its subnet; false when `ip` is not an address.
bool CanonicalIp(std::string_view ip, std::string& addr, std::string& subnet) {
  char buf[INET6_ADDRSTRLEN + 1];
  const std::string s(Trim(ip));
  unsigned char bytes[16];
  if (inet_pton(AF_INET, s.c_str(), bytes) == 1) {
    inet_ntop(AF_INET, bytes, buf, sizeof buf);
    addr = buf;
    std::snprintf(buf, sizeof buf, "%u.%u.%u.0/24", bytes[0], bytes[1], bytes[2]);
    subnet = buf;
    return true;
  }
  if (inet_pton(AF_INET6, s.c_str(), bytes) == 1) {
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
    addr = buf;
    std::memset(bytes + 6, 0, 10);
    inet_ntop(AF_INET6, bytes, buf, sizeof buf);
    subnet = std::string(buf) + "/48";
    return true;
  }
  return false;
}

}  // namespace

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::optional<uint64_t> ParseHex64(std::string_view s) {
  if (s.size() != 16) return std::nullopt;
  const auto bytes = FromHex(s);
  if (!bytes) return std::nullopt;
  uint64_t v = 0;
  for (unsigned char c : *bytes) v = (v << 8) | c;
  return v;
}

std::string HmacHex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), out, &len);
  return ToHex(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string Sha256Hex(std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, EVP_sha256(), nullptr);
  return ToHex(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string Uuid5(std::string_view name) {
  std::string input(reinterpret_cast<const char*>(kNamespace), 16);
  input.append(name);
  unsigned char h[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), h, &len, EVP_sha1(), nullptr);
  h[6] = static_cast<unsigned char>((h[6] & 0x0F) | 0x50);
  h[8] = static_cast<unsigned char>((h[8] & 0x3F) | 0x80);
  const std::string x = ToHex(std::string_view(reinterpret_cast<const char*>(h), 16));
  return x.substr(0, 8) + "-" + x.substr(8, 4) + "-" + x.substr(12, 4) + "-" + x.substr(16, 4) + "-" + x.substr(20, 12);
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kIp: return "ip";
    case Kind::kSubnet: return "subnet";
    case Kind::kAsn: return "asn";
    case Kind::kPayment: return "payment";
    case Kind::kEmailDomain: return "email_domain";
    case Kind::kTls: return "tls_fingerprint";
    case Kind::kSystemPrompt: return "system_prompt";
    case Kind::kTemplate: return "template";
  }
  return "unknown";
}

std::optional<Kind> ParseKind(std::string_view name) {
  for (int k = 0; k <= static_cast<int>(Kind::kTemplate); ++k)
    if (name == KindName(static_cast<Kind>(k))) return static_cast<Kind>(k);
  return std::nullopt;
}

void ExtractAttributes(const Exchange& x, Attributes& out) {
  for (std::string& v : out.value) v.clear();
  auto& v = out.value;
  if (x.Has(Field::kIp) && !CanonicalIp(x.ip, v[int(Kind::kIp)], v[int(Kind::kSubnet)])) {
    v[int(Kind::kIp)].clear();
    v[int(Kind::kSubnet)].clear();
  }
  if (x.Has(Field::kAsn) && x.asn > 0) v[int(Kind::kAsn)] = "AS" + std::to_string(x.asn);
  if (x.Has(Field::kPaymentFingerprint)) Lower(Trim(x.payment_fingerprint), v[int(Kind::kPayment)]);
  if (x.Has(Field::kEmailDomain)) {
    std::string_view d = Trim(x.email_domain);
    while (!d.empty() && d.front() == '@') d.remove_prefix(1);
    while (!d.empty() && d.back() == '.') d.remove_suffix(1);
    Lower(d, v[int(Kind::kEmailDomain)]);
  }
  if (x.Has(Field::kTlsFingerprint)) Lower(Trim(x.tls_fingerprint), v[int(Kind::kTls)]);
  if (x.Has(Field::kSystemPrompt) && !x.system_prompt.empty()) text::Normalize(x.system_prompt, v[int(Kind::kSystemPrompt)]);
}

std::string Digest(const CoalitionKey& key, Kind kind, std::string_view normalised) {
  std::string msg = KindName(kind);
  msg.push_back('\n');
  msg.append(normalised);
  return HmacHex(key.key, msg);
}

uint64_t TemplateSeed(const CoalitionKey& key) {
  const std::string h = HmacHex(key.key, "moat template sketch seed v1");
  return *ParseHex64(std::string_view(h).substr(0, 16));
}

void PromptShingles(std::string_view prompt, uint64_t seed, std::vector<uint64_t>& out, std::string& scratch) {
  out.clear();
  text::Normalize(prompt, scratch);
  text::ForEachShingle(scratch, text::ShingleOptions{kShingleWords, seed}, [&](uint64_t h) { out.push_back(h); });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

double Containment(const std::vector<uint64_t>& sketch, const std::vector<uint64_t>& shingles) {
  if (sketch.empty()) return 0.0;
  size_t hit = 0;
  for (uint64_t h : sketch)
    if (std::binary_search(shingles.begin(), shingles.end(), h)) ++hit;
  return double(hit) / double(sketch.size());
}

CoalitionKey KeyFromPassphrase(std::string_view key_id, std::string_view passphrase) {
  CoalitionKey k;
  k.key_id = std::string(key_id);
  k.key = *FromHex(Sha256Hex(std::string("moat coalition key\n") + std::string(passphrase)));
  k.local_secret = *FromHex(Sha256Hex(std::string("moat local secret\n") + std::string(passphrase)));
  return k;
}

Result<CoalitionKey> LoadKey(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::padded_string text;
  if (simdjson::padded_string::load(path).get(text)) return Status::Error("intel: cannot read key file " + path);
  simdjson::dom::element doc;
  if (parser.parse(text).get(doc)) return Status::Error("intel: " + path + ": not JSON");
  std::string_view id, key_hex, secret_hex;
  if (doc["key_id"].get_string().get(id) || id.empty())
    return Status::Error("intel: " + path + ": missing string key_id");
  if (doc["key_hex"].get_string().get(key_hex)) return Status::Error("intel: " + path + ": missing string key_hex");
  CoalitionKey k;
  k.key_id = std::string(id);
  const auto key = FromHex(key_hex);
  if (!key || key->size() < 16) return Status::Error("intel: " + path + ": key_hex must be >= 32 hex digits");
  k.key = *key;
  // Required: derived from the coalition key it would let partners recompute
  // the producer's object ids.
  if (doc["local_secret_hex"].get_string().get(secret_hex))
    return Status::Error("intel: " + path + ": missing string local_secret_hex (your own secret, never shared)");
  const auto secret = FromHex(secret_hex);
  if (!secret || secret->size() < 16)
    return Status::Error("intel: " + path + ": local_secret_hex must be >= 32 hex digits");
  k.local_secret = *secret;
  return k;
}

}  // namespace moat::intel
