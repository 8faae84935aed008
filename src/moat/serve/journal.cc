#include "moat/serve/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace moat::serve {

namespace {

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

Journal::Journal(int fd, std::string path, uint64_t size, bool fsync)
    : fd_(fd), path_(std::move(path)), fsync_(fsync), written_(size), synced_(size) {}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::unique_ptr<Journal>> Journal::Open(const std::string& path, bool fsync) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Error(Errno("journal: cannot open " + path));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return Status::Error(Errno("journal: cannot stat " + path));
  }
  // Find the end of the last complete line: an unacknowledged torn write
  // must not glue itself to the next batch.
  uint64_t size = static_cast<uint64_t>(st.st_size);
  uint64_t keep = size;
  std::vector<char> buf(64 * 1024);
  while (keep > 0) {
    const uint64_t from = keep > buf.size() ? keep - buf.size() : 0;
    const ssize_t n = ::pread(fd, buf.data(), keep - from, static_cast<off_t>(from));
    if (n != static_cast<ssize_t>(keep - from)) {
      ::close(fd);
      return Status::Error(Errno("journal: cannot read " + path));
    }
    size_t i = static_cast<size_t>(n);
    while (i > 0 && buf[i - 1] != '\n') --i;
    if (i > 0) {
      keep = from + i;
      break;
    }
    keep = from;
  }
  if (keep != size) {
    if (::ftruncate(fd, static_cast<off_t>(keep)) != 0) {
      ::close(fd);
      return Status::Error(Errno("journal: cannot cut the torn tail of " + path));
    }
  }
  if (::lseek(fd, static_cast<off_t>(keep), SEEK_SET) < 0) {
    ::close(fd);
    return Status::Error(Errno("journal: cannot seek " + path));
  }
  auto j = std::unique_ptr<Journal>(new Journal(fd, path, keep, fsync));
  j->truncated_ = size - keep;
  return j;
}

Result<uint64_t> Journal::Append(std::string_view lines,
                                 const std::function<void(uint64_t end)>& then) {
  uint64_t end = 0;
  {
    std::lock_guard lock(append_mu_);
    if (!error_.empty()) return Status::Error(error_);
    size_t done = 0;
    while (done < lines.size()) {
      const ssize_t n = ::write(fd_, lines.data() + done, lines.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        // A partial line may be on disk; it is unacknowledged and Open cuts
        // it off, but this process must not append after it.
        error_ = Errno("journal: write to " + path_);
        return Status::Error(error_);
      }
      done += static_cast<size_t>(n);
    }
    written_ += lines.size();
    end = written_;
    if (then) then(end);
  }
  if (!fsync_) return end;
  // Group commit: one fsync covers every append written before it started.
  std::unique_lock lock(sync_mu_);
  while (synced_ < end) {
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    lock.unlock();
    const uint64_t target = size();
    const bool ok = ::fdatasync(fd_) == 0;
    const std::string err = ok ? "" : Errno("journal: fsync " + path_);
    lock.lock();
    syncing_ = false;
    if (ok) synced_ = std::max(synced_, target);
    synced_cv_.notify_all();
    if (!ok) return Status::Error(err);
  }
  return end;
}

uint64_t Journal::size() const {
  std::lock_guard lock(append_mu_);
  return written_;
}

}  // namespace moat::serve
