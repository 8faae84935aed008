// Reads the lines of one exchange log: a path or "-" for stdin, plain, gzip
// or zstd (detected by magic bytes). Lines are views into a padded block
// buffer, ready for LineDecoder without a copy. Errors are values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "moat/core/status.h"
#include "moat/ingest/line_decoder.h"

namespace moat::ingest {

enum class Compression : uint8_t { kNone, kGzip, kZstd };

struct SourceLine {
  std::string_view text;  // without "\n" or "\r\n"; kLinePadding readable bytes follow
  uint64_t number = 0;    // 1-based physical line number
  bool too_long = false;  // longer than max_line_bytes: `text` holds only the first part
};

class LineSource {
 public:
  static constexpr size_t kBlockBytes = size_t{1} << 20;

  // Fails (message names the file) when the input cannot be opened or is a
  // directory. Reading errors come later, through error().
  static Result<std::unique_ptr<LineSource>> Open(const std::string& path,
                                                  size_t max_line_bytes = kDefaultMaxLineBytes);
  ~LineSource();
  LineSource(const LineSource&) = delete;
  LineSource& operator=(const LineSource&) = delete;

  // Next physical line; false at the end of input or after an error. The view
  // stays valid until the next call. Every complete line read before an error
  // is delivered, and so is a final fragment cut short by the error.
  bool Next(SourceLine& line);

  // Empty unless reading failed: "ingest: FILE: what happened".
  const std::string& error() const { return error_; }
  const std::string& path() const { return path_; }
  Compression compression() const { return compression_; }
  uint64_t bytes_compressed() const { return bytes_in_; }     // read from the file
  uint64_t bytes_uncompressed() const { return bytes_out_; }  // after decompression
  uint64_t file_size() const { return file_size_; }           // 0 when unknown (stdin, pipes)

 private:
  struct Codec;
  LineSource(std::string path, int fd, bool owns_fd, size_t max_line_bytes);
  bool Fill();  // appends decoded bytes to buf_; false at EOF or error
  bool ReadRaw();  // refills in_; false at EOF or error
  bool Fail(std::string what);

  std::string path_;
  int fd_ = -1;
  bool owns_fd_ = false;
  size_t max_line_bytes_;
  Compression compression_ = Compression::kNone;
  std::unique_ptr<Codec> codec_;

  // Compressed input (also holds the first block of a plain file).
  std::unique_ptr<char[]> in_;
  size_t in_begin_ = 0, in_end_ = 0;
  bool in_eof_ = false;

  // Decoded bytes: [begin_, end_) not yet returned; capacity cap_ plus padding.
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0;
  size_t begin_ = 0, end_ = 0, scan_ = 0;
  bool out_eof_ = false;
  bool skipping_ = false;  // discarding the rest of an over-long line

  uint64_t line_no_ = 0;
  uint64_t bytes_in_ = 0, bytes_out_ = 0, file_size_ = 0;
  std::string error_;
};

}  // namespace moat::ingest
