#include "moat/degrade/keys.h"

#include <fstream>
#include <random>
#include <sstream>

#define XXH_STATIC_LINKING_ONLY
#include <simdjson.h>
#include <xxhash.h>

#include "moat/core/json_writer.h"

namespace moat::degrade {

WatermarkKey::WatermarkKey(std::string id, std::string_view secret, bool active)
    : id_(std::move(id)), active_(active) {
  // Spreads any secret length over the 192 bytes XXH3 mixes with.
  (void)XXH3_generateSecret(expanded_.data(), expanded_.size(), secret.data(), secret.size());
}

uint64_t WatermarkKey::Hash(uint64_t context, uint64_t word) const {
  const uint64_t in[2] = {context, word};
  return XXH3_64bits_withSecret(in, sizeof(in), expanded_.data(), expanded_.size());
}

bool DecodeHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::string EncodeHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

Result<KeyRing> KeyRing::Parse(std::string_view jsonl, std::string_view source) {
  std::vector<WatermarkKey> keys;
  simdjson::dom::parser parser;
  size_t line_no = 0;
  while (!jsonl.empty()) {
    const size_t eol = jsonl.find('\n');
    std::string_view line = jsonl.substr(0, eol);
    jsonl = eol == std::string_view::npos ? std::string_view() : jsonl.substr(eol + 1);
    ++line_no;
    const auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::element e;
    if (parser.parse(line.data(), line.size()).get(e) || !e.is_object())
      return Status::Error(where() + "not a JSON object");
    std::string_view id, secret_hex;
    if (e["id"].get(id) || id.empty()) return Status::Error(where() + "missing string \"id\"");
    if (e["secret"].get(secret_hex)) return Status::Error(where() + "missing string \"secret\" (hex)");
    std::string secret;
    if (!DecodeHex(secret_hex, secret)) return Status::Error(where() + "\"secret\" is not hex");
    if (secret.size() < kMinSecretBytes)
      return Status::Error(where() + "\"secret\" must be at least " + std::to_string(kMinSecretBytes) +
                           " bytes (" + std::to_string(2 * kMinSecretBytes) + " hex digits)");
    bool active = true;
    if (auto a = e["active"]; a.error() != simdjson::NO_SUCH_FIELD && a.get(active))
      return Status::Error(where() + "\"active\" must be true or false");
    for (const auto& k : keys)
      if (k.id() == id) return Status::Error(where() + "duplicate key id '" + std::string(id) + "'");
    keys.emplace_back(std::string(id), secret, active);
  }
  if (keys.empty()) return Status::Error(std::string(source) + ": no keys");
  return KeyRing(std::move(keys));
}

Result<KeyRing> KeyRing::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

std::vector<const WatermarkKey*> KeyRing::Active() const {
  std::vector<const WatermarkKey*> out;
  for (const auto& k : keys_)
    if (k.active()) out.push_back(&k);
  return out;
}

const WatermarkKey* KeyRing::MarkingKey() const {
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it)
    if (it->active()) return &*it;
  return nullptr;
}

std::string NewKeyLine(std::string_view id) {
  std::random_device rd;
  std::string secret;
  for (int i = 0; i < 8; ++i) {
    const uint32_t r = rd();
    secret.append(reinterpret_cast<const char*>(&r), sizeof(r));
  }
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("id");
  w.String(id);
  w.Key("secret");
  w.String(EncodeHex(secret));
  w.Key("active");
  w.Bool(true);
  w.EndObject();
  return out;
}

}  // namespace moat::degrade
