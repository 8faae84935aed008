// Minimal, fast JSON output for JSON Lines files. Strings are escaped per
// RFC 8259; bytes that are not valid UTF-8 are written as \udcXX (Python's
// "surrogateescape"), so the exact input bytes can always be recovered:
//   json.loads(line)["raw"].encode("utf-8", "surrogateescape")
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moat {

// Appends `s` as a quoted JSON string.
void AppendJsonString(std::string_view s, std::string& out);

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool IsValidUtf8(std::string_view s);

// Builds one JSON object at a time into a caller-owned string. Keys are
// trusted literals; values are escaped. Not a general serializer: nesting is
// by explicit Begin/End calls, commas are handled here.
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  void BeginObject() { Sep(); out_.push_back('{'); first_ = true; }
  void EndObject() { out_.push_back('}'); first_ = false; }
  void BeginArray() { Sep(); out_.push_back('['); first_ = true; }
  void EndArray() { out_.push_back(']'); first_ = false; }
  void Key(std::string_view k);
  void String(std::string_view v) { Sep(); AppendJsonString(v, out_); }
  void Int(int64_t v);
  void Uint(uint64_t v);
  // Fixed decimals, trailing zeros trimmed; non-finite values become null.
  void Double(double v, int decimals = 6);
  void Bool(bool v) { Sep(); out_.append(v ? "true" : "false"); }
  void Null() { Sep(); out_.append("null"); }
  // Pre-serialised JSON value (caller guarantees it is valid).
  void Raw(std::string_view json) { Sep(); out_.append(json); }

 private:
  void Sep() {
    if (after_key_) { after_key_ = false; return; }
    if (!first_) out_.push_back(',');
    first_ = false;
  }
  std::string& out_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace moat
