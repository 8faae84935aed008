#include "moat/ingest/source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

namespace moat::ingest {

struct LineSource::Codec {
  z_stream zs{};
  bool z_ready = false;
  bool in_member = false;  // gzip: inside a member whose trailer is not read yet
  ZSTD_DStream* zd = nullptr;
  bool frame_open = false;  // zstd: inside a frame that is not complete yet

  ~Codec() {
    if (z_ready) inflateEnd(&zs);
    if (zd != nullptr) ZSTD_freeDStream(zd);
  }
};

namespace {

std::unique_ptr<char[]> NewBuffer(size_t capacity) {
  // Zeroed so that the padding simdjson reads past a line is initialised.
  return std::unique_ptr<char[]>(new char[capacity + kLinePadding]());
}

}  // namespace

Result<std::unique_ptr<LineSource>> LineSource::Open(const std::string& path,
                                                     size_t max_line_bytes) {
  int fd = 0;
  bool owns = false;
  if (path != "-") {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::Error("ingest: " + path + ": " + std::strerror(errno));
    owns = true;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    if (owns) ::close(fd);
    return Status::Error("ingest: " + path + ": " + std::strerror(err));
  }
  if (S_ISDIR(st.st_mode)) {
    if (owns) ::close(fd);
    return Status::Error("ingest: " + path + ": is a directory");
  }
  std::unique_ptr<LineSource> src(new LineSource(path, fd, owns, max_line_bytes));
  if (S_ISREG(st.st_mode)) src->file_size_ = static_cast<uint64_t>(st.st_size);

  // Magic bytes decide the format; names like .gz can lie.
  while (src->in_end_ < 4 && !src->in_eof_) {
    if (!src->ReadRaw()) return Status::Error(src->error_);
  }
  const auto* m = reinterpret_cast<const unsigned char*>(src->in_.get());
  const size_t n = src->in_end_;
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
    src->compression_ = Compression::kGzip;
    src->codec_ = std::make_unique<Codec>();
    // 16 + MAX_WBITS: gzip wrapper only.
    if (inflateInit2(&src->codec_->zs, 16 + MAX_WBITS) != Z_OK)
      return Status::Error("ingest: " + path + ": cannot initialise zlib");
    src->codec_->z_ready = true;
  } else if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
    src->compression_ = Compression::kZstd;
    src->codec_ = std::make_unique<Codec>();
    src->codec_->zd = ZSTD_createDStream();
    if (src->codec_->zd == nullptr || ZSTD_isError(ZSTD_initDStream(src->codec_->zd)))
      return Status::Error("ingest: " + path + ": cannot initialise zstd");
  }
  return src;
}

LineSource::LineSource(std::string path, int fd, bool owns_fd, size_t max_line_bytes)
    : path_(std::move(path)),
      fd_(fd),
      owns_fd_(owns_fd),
      max_line_bytes_(max_line_bytes),
      in_(new char[kBlockBytes]),
      buf_(NewBuffer(2 * kBlockBytes)),
      cap_(2 * kBlockBytes) {}

LineSource::~LineSource() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

bool LineSource::Fail(std::string what) {
  if (error_.empty()) error_ = "ingest: " + path_ + ": " + what;
  out_eof_ = true;
  return false;
}

bool LineSource::ReadRaw() {
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  for (;;) {
    const ssize_t n = ::read(fd_, in_.get() + in_end_, kBlockBytes - in_end_);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(std::strerror(errno));
    }
    if (n == 0) in_eof_ = true;
    in_end_ += static_cast<size_t>(n);
    bytes_in_ += static_cast<uint64_t>(n);
    return true;
  }
}

bool LineSource::Fill() {
  if (out_eof_) return false;
  // Keep only the unfinished line, at the front.
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    scan_ -= begin_;
    begin_ = 0;
  }
  if (end_ == cap_) {
    // One line fills the buffer: grow (bounded, Next cuts lines at max_line_bytes_).
    const size_t cap = cap_ * 2;
    auto bigger = NewBuffer(cap);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    cap_ = cap;
  }
  char* out = buf_.get() + end_;
  const size_t room = cap_ - end_;

  switch (compression_) {
    case Compression::kNone: {
      if (in_begin_ < in_end_) {  // the block read to sniff the format
        const size_t n = std::min(room, in_end_ - in_begin_);
        std::memcpy(out, in_.get() + in_begin_, n);
        in_begin_ += n;
        end_ += n;
        bytes_out_ += n;
        return true;
      }
      if (in_eof_) {
        out_eof_ = true;
        return false;
      }
      for (;;) {
        const ssize_t n = ::read(fd_, out, room);
        if (n < 0) {
          if (errno == EINTR) continue;
          return Fail(std::strerror(errno));
        }
        if (n == 0) {
          in_eof_ = out_eof_ = true;
          return false;
        }
        end_ += static_cast<size_t>(n);
        bytes_in_ += static_cast<uint64_t>(n);
        bytes_out_ += static_cast<uint64_t>(n);
        return true;
      }
    }
    case Compression::kGzip: {
      Codec& c = *codec_;
      for (;;) {
        if (in_begin_ == in_end_ && !in_eof_ && !ReadRaw()) return false;
        const bool have_in = in_begin_ < in_end_;
        if (!have_in && !c.in_member) {
          out_eof_ = true;
          return false;
        }
        if (!c.in_member) {
          // Next member of a multi-member file (cat a.gz b.gz).
          inflateReset(&c.zs);
          c.in_member = true;
        }
        c.zs.next_in = reinterpret_cast<Bytef*>(in_.get() + in_begin_);
        c.zs.avail_in = static_cast<uInt>(in_end_ - in_begin_);
        c.zs.next_out = reinterpret_cast<Bytef*>(out);
        c.zs.avail_out = static_cast<uInt>(std::min<size_t>(room, 1u << 30));
        const uInt avail_out = c.zs.avail_out;
        const int r = inflate(&c.zs, Z_NO_FLUSH);
        const size_t consumed = (in_end_ - in_begin_) - c.zs.avail_in;
        const size_t produced = avail_out - c.zs.avail_out;
        in_begin_ += consumed;
        end_ += produced;
        bytes_out_ += produced;
        if (r == Z_STREAM_END) {
          c.in_member = false;
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
          return Fail("corrupt gzip data near compressed byte " +
                      std::to_string(bytes_in_ - (in_end_ - in_begin_)) + " (" +
                      (c.zs.msg != nullptr ? c.zs.msg : "inflate error") + ")");
        }
        if (produced > 0) return true;
        if (consumed == 0 && !have_in && in_eof_)
          return Fail("truncated gzip stream after " + std::to_string(bytes_in_) + " bytes");
      }
    }
    case Compression::kZstd: {
      Codec& c = *codec_;
      for (;;) {
        if (in_begin_ == in_end_ && !in_eof_ && !ReadRaw()) return false;
        const bool have_in = in_begin_ < in_end_;
        if (!have_in && !c.frame_open) {
          out_eof_ = true;
          return false;
        }
        ZSTD_inBuffer in{in_.get() + in_begin_, in_end_ - in_begin_, 0};
        ZSTD_outBuffer ob{out, room, 0};
        const size_t r = ZSTD_decompressStream(c.zd, &ob, &in);
        if (ZSTD_isError(r)) {
          return Fail("corrupt zstd data near compressed byte " +
                      std::to_string(bytes_in_ - (in_end_ - in_begin_)) + " (" +
                      ZSTD_getErrorName(r) + ")");
        }
        in_begin_ += in.pos;
        end_ += ob.pos;
        bytes_out_ += ob.pos;
        // 0: a frame is complete and flushed; anything else: more to come.
        c.frame_open = r != 0;
        if (ob.pos > 0) return true;
        if (in.pos == 0 && !have_in && in_eof_)
          return Fail("truncated zstd stream after " + std::to_string(bytes_in_) + " bytes");
      }
    }
  }
  return false;
}

bool LineSource::Next(SourceLine& line) {
  for (;;) {
    if (skipping_) {
      // The head of an over-long line was delivered; drop the rest of it.
      const char* nl = static_cast<const char*>(std::memchr(buf_.get() + scan_, '\n', end_ - scan_));
      if (nl == nullptr) {
        begin_ = end_ = scan_ = 0;
        if (!Fill()) return false;
        continue;
      }
      begin_ = scan_ = static_cast<size_t>(nl - buf_.get()) + 1;
      skipping_ = false;
    }
    const char* base = buf_.get();
    const char* nl = static_cast<const char*>(std::memchr(base + scan_, '\n', end_ - scan_));
    if (nl != nullptr) {
      const size_t stop = static_cast<size_t>(nl - base);
      size_t len = stop - begin_;
      line.number = ++line_no_;
      line.too_long = len > max_line_bytes_;
      if (line.too_long) {
        len = max_line_bytes_;
      } else if (len > 0 && base[begin_ + len - 1] == '\r') {
        --len;
      }
      line.text = std::string_view(base + begin_, len);
      begin_ = scan_ = stop + 1;
      return true;
    }
    scan_ = end_;
    if (end_ - begin_ > max_line_bytes_) {
      line.number = ++line_no_;
      line.too_long = true;
      line.text = std::string_view(base + begin_, max_line_bytes_);
      skipping_ = true;
      return true;
    }
    if (out_eof_) {
      if (begin_ == end_) return false;
      // Last line without a newline, or the fragment before a read error.
      size_t len = end_ - begin_;
      if (base[begin_ + len - 1] == '\r') --len;
      line.number = ++line_no_;
      line.too_long = false;
      line.text = std::string_view(base + begin_, len);
      begin_ = scan_ = end_;
      return true;
    }
    Fill();
  }
}

}  // namespace moat::ingest
