// Public entry point of ingest: reads exchange logs (plain/gzip/zstd, several
// merged by event time), quarantines bad lines, reorders with bounded
// lateness and hands batches to an ExchangeSink. Holds no detection logic.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/exchange_sink.h"
#include "moat/core/time.h"
#include "moat/ingest/line_decoder.h"
#include "moat/ingest/quarantine.h"

namespace moat::ingest {

struct IngestOptions {
  EventTime allowed_lateness = 5 * kMicrosPerMinute;
  size_t max_line_bytes = kDefaultMaxLineBytes;
  // Read and decode on a thread of their own while the sink runs on the
  // caller's. Batches reach the sink in the same order either way.
  bool background_reader = true;
};

struct IngestStats {
  uint64_t lines = 0;     // physical lines read, blank ones included
  uint64_t accepted = 0;  // decoded records (duplicates included)
  uint64_t rejected_total = 0;
  uint64_t late = 0;        // passed on out of order: older than the watermark
  uint64_t duplicates = 0;  // same request_id inside the window: not passed on
  uint64_t bytes_compressed = 0;    // read from the inputs
  uint64_t bytes_uncompressed = 0;  // after decompression
  uint64_t bytes_total = 0;  // sum of the input file sizes known up front (progress estimate)
  std::array<uint64_t, kOutcomeCount> by_outcome{};  // indexed by ToIndex(LineOutcome)
  EventTime min_ts = std::numeric_limits<EventTime>::max();  // over accepted records
  EventTime max_ts = std::numeric_limits<EventTime>::min();
};

struct SourceError {
  std::string source;
  std::string message;  // "ingest: FILE: what happened"
};

struct IngestReport {
  IngestStats stats;
  std::vector<SourceError> errors;
};

inline constexpr uint64_t kProgressEveryLines = uint64_t{1} << 18;

// Reads every input ("-" is stdin), merging them by event time (k-way merge on
// each source's next record), then through the reorder buffer into `sink`.
// A source that fails stops alone: its error is recorded and the lines it gave
// before are kept. `progress` (optional) is called every kProgressEveryLines
// lines and once at the end; with a background reader, from the reading
// thread (the quarantine is also written there), except the final call.
IngestReport ReadAll(const std::vector<std::string>& inputs, const IngestOptions& options,
                     Quarantine& quarantine, ExchangeSink& sink,
                     const std::function<void(const IngestStats&)>& progress = {});

// A sink that only counts, for benchmarks and dry runs.
class CountingSink : public ExchangeSink {
 public:
  void Consume(std::span<const Exchange> batch) override {
    count_ += batch.size();
    ++batches_;
  }
  uint64_t count() const { return count_; }
  uint64_t batches() const { return batches_; }

 private:
  uint64_t count_ = 0;
  uint64_t batches_ = 0;
};

}  // namespace moat::ingest
