// Watermark keys: ids, secrets and rotation. A key file is JSON Lines, one
// key per line: {"id": "2026-11-a", "secret": "<64 hex>", "active": true}.
// Secrets never leave this object except through KeyedHash.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/status.h"

namespace moat::degrade {

inline constexpr size_t kMinSecretBytes = 16;

class WatermarkKey {
 public:
  // `secret` is raw bytes (at least kMinSecretBytes).
  WatermarkKey(std::string id, std::string_view secret, bool active);

  const std::string& id() const { return id_; }
  bool active() const { return active_; }
  // Keyed XXH3 over (context fingerprint, word fingerprint): without the
  // secret the choices it drives look like ordinary word variation. Not a
  // cryptographic MAC (see docs/degrade.md).
  uint64_t Hash(uint64_t context, uint64_t word) const;

 private:
  std::string id_;
  bool active_ = true;
  alignas(64) std::array<unsigned char, 192> expanded_{};
};

// All keys of one key file, in file order. Detection tries every active key;
// marking uses the last active one, so rotating is: append a new active key
// (it marks from now on), keep the old ones active while their outputs may
// still be in circulation, set "active": false to retire a leaked key.
class KeyRing {
 public:
  static Result<KeyRing> Parse(std::string_view jsonl, std::string_view source);
  static Result<KeyRing> Load(const std::string& path);
  explicit KeyRing(std::vector<WatermarkKey> keys) : keys_(std::move(keys)) {}

  const std::vector<WatermarkKey>& keys() const { return keys_; }
  std::vector<const WatermarkKey*> Active() const;
  // The key that marks new outputs: the last active one (nullptr when none).
  const WatermarkKey* MarkingKey() const;

 private:
  std::vector<WatermarkKey> keys_;
};

// One key-file line with a fresh random 32-byte secret from the OS.
std::string NewKeyLine(std::string_view id);

// Hex helpers for key files; false on odd length or a non-hex digit.
bool DecodeHex(std::string_view hex, std::string& out);
std::string EncodeHex(std::string_view bytes);

}  // namespace moat::degrade
