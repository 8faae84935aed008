// Decodes one exchange-log v1 line (spec/exchange-log.md) into an Exchange and
// classifies bad lines. Per-record path: no exceptions, no logging, and no
// allocation once the reused Exchange and parser have grown to fit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "moat/core/exchange.h"

namespace moat::ingest {

// Every line ends in exactly one of these. Codes are stable: they appear in
// quarantine files and statistics.
enum class LineOutcome : uint8_t {
  kAccepted,
  kEmptyLine,         // blank or whitespace only
  kInvalidJson,       // not one JSON value, or trailing content after the object
  kInvalidUtf8,       // bytes that are not UTF-8
  kNotAnObject,       // valid JSON but not an object
  kMissingTs,         // no "ts" (or "ts": null)
  kMissingAccountId,  // no "account_id", "account_id": null or ""
  kBadTimestamp,      // ts or account_created is a string but not RFC 3339 (years 0000-9999, UTC)
  kWrongType,         // a known field holds the wrong JSON type (see field())
  kLineTooLong,       // longer than the decoder's limit
};
inline constexpr size_t kOutcomeCount = 10;

std::string_view OutcomeCode(LineOutcome outcome);
constexpr size_t ToIndex(LineOutcome outcome) { return static_cast<size_t>(outcome); }

inline constexpr size_t kDefaultMaxLineBytes = size_t{16} << 20;

// Bytes that must be readable after every line handed to Decode (simdjson
// reads ahead in 64-byte blocks). Sources allocate their buffers with this.
inline constexpr size_t kLinePadding = 64;

// Rules beyond the spec's table, decided here:
//  - JSON null on an optional field means absent; on ts / account_id it means
//    missing (missing_ts / missing_account_id), as exchange.h treats null and
//    absent alike. A non-null, non-string ts / account_id is wrong_type.
//  - Integer fields take JSON integers that fit int64; a fraction or exponent
//    (1.5, 1e3, 1.0) or an integer outside int64 is wrong_type. Negative values
//    are accepted as they are (the spec only asks for an integer); consumers
//    clamp where a negative count makes no sense.
//  - temperature takes any JSON number representable as a double.
//  - Unknown fields are ignored but their values must still be valid JSON.
//  - Duplicate keys: the last one wins.
//  - When a line has several problems: invalid JSON/UTF-8 wins over a field
//    problem (first one in the line), which wins over missing_ts, then
//    missing_account_id.
class LineDecoder {
 public:
  explicit LineDecoder(size_t max_line_bytes = kDefaultMaxLineBytes);
  ~LineDecoder();
  LineDecoder(LineDecoder&&) noexcept;
  LineDecoder& operator=(LineDecoder&&) noexcept;

  // `line` excludes the newline and must be followed by kLinePadding readable
  // bytes (their content does not matter). `out` is cleared first and holds a
  // complete record only when kAccepted is returned.
  LineOutcome Decode(std::string_view line, Exchange& out);

  // The field a kWrongType / kBadTimestamp / kMissing* outcome is about, for
  // humans; empty otherwise. Points at static storage.
  std::string_view field() const { return field_; }

  size_t max_line_bytes() const { return max_line_bytes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  size_t max_line_bytes_;
  std::string_view field_;
};

}  // namespace moat::ingest
