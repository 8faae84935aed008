// The durable exchange journal of `moat serve`: every accepted line of every
// POST /v1/exchanges batch, appended in the order the engine consumes them
// and fsync'd before the batch is acknowledged. A restart replays it to
// rebuild the engine. Concurrent appenders share fsyncs (group commit).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "moat/core/status.h"

namespace moat::serve {

class Journal {
 public:
  // Opens (creates) `path` for appending. A torn last line (a crash in the
  // middle of a write that was never acknowledged) is cut off first.
  static Result<std::unique_ptr<Journal>> Open(const std::string& path, bool fsync = true);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `lines` (complete lines, each ending in '\n'). `then` runs under
  // the append lock with the end offset, so whatever it enqueues is in
  // journal order. Returns the end offset once it is on disk.
  Result<uint64_t> Append(std::string_view lines, const std::function<void(uint64_t end)>& then);

  uint64_t size() const;
  const std::string& path() const { return path_; }
  // Bytes cut off a torn tail at Open (0 normally).
  uint64_t truncated_bytes() const { return truncated_; }

 private:
  Journal(int fd, std::string path, uint64_t size, bool fsync);
  int fd_;
  std::string path_;
  bool fsync_;
  uint64_t truncated_ = 0;
  mutable std::mutex append_mu_;
  uint64_t written_ = 0;  // guarded by append_mu_
  std::mutex sync_mu_;
  std::condition_variable synced_cv_;
  uint64_t synced_ = 0;  // guarded by sync_mu_
  bool syncing_ = false;
  std::string error_;  // first write/sync error; sticks (guarded by append_mu_)
};

}  // namespace moat::serve
