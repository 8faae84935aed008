#include "moat/ingest/reorder.h"

#include <algorithm>
#include <functional>
#include <string_view>
#include <utility>

#include "moat/core/check.h"

namespace moat::ingest {
namespace {

uint64_t HashId(const std::string& id) { return std::hash<std::string_view>{}(id); }

}  // namespace

ReorderBuffer::ReorderBuffer(ExchangeSink& sink, const ReorderOptions& options)
    : ReorderBuffer(&sink, nullptr, options) {}

ReorderBuffer::ReorderBuffer(BatchTaker& taker, const ReorderOptions& options)
    : ReorderBuffer(nullptr, &taker, options) {}

ReorderBuffer::ReorderBuffer(ExchangeSink* sink, BatchTaker* taker, const ReorderOptions& options)
    : sink_(sink), taker_(taker), options_(options) {
  if (options_.batch_size == 0) options_.batch_size = 1;
  if (options_.max_buffered == 0) options_.max_buffered = 1;
  out_.resize(options_.batch_size);
}

void ReorderBuffer::Push(Exchange& x) {
  const bool has_id = x.Has(Field::kRequestId);
  uint64_t h = 0;
  bool track_id = false;
  if (has_id) {
    h = HashId(x.request_id);
    const auto it = ids_.find(h);
    if (it == ids_.end()) {
      track_id = true;
    } else if (slab_[it->second].request_id == x.request_id) {
      ++duplicates_;
      return;
    }
  }
  if (x.ts < watermark_) {
    ++late_;
    Emit(x);
    return;
  }
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slab_.size());
    slab_.emplace_back();
  }
  std::swap(slab_[slot], x);
  const auto later = [](const Entry& a, const Entry& b) {
    return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
  };
  heap_.push_back(Entry{slab_[slot].ts, seq_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), later);
  if (track_id) ids_.emplace(h, slot);

  if (slab_[slot].ts > max_ts_) {
    max_ts_ = slab_[slot].ts;
    // Saturating: lateness never wraps the watermark around.
    const EventTime wm = max_ts_ < std::numeric_limits<EventTime>::min() + options_.allowed_lateness
                             ? std::numeric_limits<EventTime>::min()
                             : max_ts_ - options_.allowed_lateness;
    watermark_ = std::max(watermark_, wm);
  }
  while (!heap_.empty() && heap_.front().ts <= watermark_) ReleaseTop();
  while (heap_.size() > options_.max_buffered) {
    watermark_ = std::max(watermark_, heap_.front().ts);
    ReleaseTop();
  }
}

void ReorderBuffer::ReleaseTop() {
  const auto later = [](const Entry& a, const Entry& b) {
    return a.ts != b.ts ? a.ts > b.ts : a.seq > b.seq;
  };
  std::pop_heap(heap_.begin(), heap_.end(), later);
  const uint32_t slot = heap_.back().slot;
  heap_.pop_back();
  Exchange& x = slab_[slot];
  if (x.Has(Field::kRequestId)) {
    const auto it = ids_.find(HashId(x.request_id));
    if (it != ids_.end() && it->second == slot) ids_.erase(it);
  }
  Emit(x);
  free_.push_back(slot);
}

void ReorderBuffer::Emit(Exchange& x) {
  std::swap(out_[out_n_++], x);
  if (out_n_ == out_.size()) EmitBatch();
}

void ReorderBuffer::EmitBatch() {
  if (out_n_ == 0) return;
  if (taker_ != nullptr) {
    taker_->Take(out_, out_n_);
    MOAT_DCHECK(out_.size() == options_.batch_size);
  } else {
    sink_->Consume(std::span<const Exchange>(out_.data(), out_n_));
  }
  out_n_ = 0;
}

void ReorderBuffer::Flush() {
  while (!heap_.empty()) ReleaseTop();
  if (max_ts_ != std::numeric_limits<EventTime>::min()) watermark_ = std::max(watermark_, max_ts_);
  EmitBatch();
}

}  // namespace moat::ingest
