// Bounded-lateness reordering into event time, with de-duplication by
// request_id inside the lateness window. Exchanges are recycled through a
// slab, so steady state moves records without allocating.
#pragma once

#include <boost/unordered/unordered_flat_map.hpp>

#include <cstdint>
#include <limits>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/exchange_sink.h"
#include "moat/core/time.h"

namespace moat::ingest {

struct ReorderOptions {
  EventTime allowed_lateness = 5 * kMicrosPerMinute;
  size_t batch_size = 1024;  // exchanges per Consume call
  // Hard cap on buffered exchanges: beyond it the oldest is released early
  // (the watermark moves up to it), so a burst cannot exhaust memory.
  size_t max_buffered = size_t{1} << 22;
};

// Receives whole outgoing batches by swapping vectors, so a batch can cross
// to another thread without copying a record. `batch` has batch_size
// elements of which the first `n` are filled; Take must leave in its place a
// vector of the same size (the records in it are recycled, never read).
class BatchTaker {
 public:
  virtual ~BatchTaker() = default;
  virtual void Take(std::vector<Exchange>& batch, size_t n) = 0;
};

class ReorderBuffer {
 public:
  ReorderBuffer(ExchangeSink& sink, const ReorderOptions& options = {});
  ReorderBuffer(BatchTaker& taker, const ReorderOptions& options = {});

  // Takes the record by swapping it out; `x` comes back holding a recycled
  // record (its string capacity reused by the caller's next decode).
  //  - duplicate request_id still inside the window: counted, not passed on;
  //  - ts below the watermark already released: passed on at once, counted late;
  //  - otherwise buffered until the watermark (newest ts - lateness) passes it,
  //    then released in (ts, arrival) order.
  void Push(Exchange& x);

  // Releases everything buffered, in order, and hands over the last batch.
  void Flush();

  uint64_t late() const { return late_; }
  uint64_t duplicates() const { return duplicates_; }
  size_t buffered() const { return heap_.size(); }
  EventTime watermark() const { return watermark_; }

 private:
  struct Entry {
    EventTime ts;
    uint64_t seq;
    uint32_t slot;
  };
  ReorderBuffer(ExchangeSink* sink, BatchTaker* taker, const ReorderOptions& options);
  void ReleaseTop();
  void Emit(Exchange& x);  // moves x into the outgoing batch
  void EmitBatch();

  ExchangeSink* sink_ = nullptr;  // exactly one of sink_ and taker_ is set
  BatchTaker* taker_ = nullptr;
  ReorderOptions options_;
  std::vector<Exchange> slab_;
  std::vector<uint32_t> free_;
  std::vector<Entry> heap_;  // min-heap on (ts, seq)
  // hash(request_id) -> slot holding it. A hash collision between different
  // ids is resolved by comparing the stored id, so nothing is dropped wrongly.
  boost::unordered_flat_map<uint64_t, uint32_t> ids_;
  std::vector<Exchange> out_;
  size_t out_n_ = 0;
  uint64_t seq_ = 0;
  EventTime max_ts_ = std::numeric_limits<EventTime>::min();
  EventTime watermark_ = std::numeric_limits<EventTime>::min();
  uint64_t late_ = 0;
  uint64_t duplicates_ = 0;
};

}  // namespace moat::ingest
