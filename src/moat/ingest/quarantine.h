// Keeps every bad input line, verbatim, in OUT/quarantine.jsonl so that no
// exchange is lost: {"source":F,"line":N,"reason":CODE,"raw":TEXT} per line.
// Raw bytes that are not UTF-8 are written as \udcXX and stay recoverable.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "moat/core/status.h"
#include "moat/ingest/line_decoder.h"

namespace moat::ingest {

class Quarantine {
 public:
  // Counting only: nothing is written.
  Quarantine() = default;
  ~Quarantine();
  Quarantine(Quarantine&&) noexcept;
  Quarantine& operator=(Quarantine&&) noexcept;

  // Creates (truncates) the file at `path`.
  static Result<Quarantine> Create(const std::string& path);
  // Creates `dir`/quarantine.jsonl.
  static Result<Quarantine> CreateInDir(const std::string& dir);

  // `line` is 1-based, counting every physical line of `source`.
  void Keep(std::string_view source, uint64_t line, LineOutcome reason, std::string_view raw);

  // Writes out what is buffered; the first write error sticks and is returned.
  [[nodiscard]] Status Flush();

  uint64_t count() const { return count_; }
  bool writes_file() const { return file_ != nullptr; }
  const std::string& path() const { return path_; }

  // One quarantine line, without the newline (exposed for tests and tools).
  static void AppendEntry(std::string_view source, uint64_t line, LineOutcome reason,
                          std::string_view raw, std::string& out);

 private:
  static constexpr size_t kFlushBytes = size_t{1} << 20;
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  std::string path_;
  std::string buffer_;
  std::string error_;
  uint64_t count_ = 0;
};

}  // namespace moat::ingest
