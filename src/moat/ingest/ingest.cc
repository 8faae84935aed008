#include "moat/ingest/ingest.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>

#include "moat/ingest/reorder.h"
#include "moat/ingest/source.h"

namespace moat::ingest {
namespace {

// One input and its next accepted record, the head of the k-way merge.
struct Stream {
  std::unique_ptr<LineSource> source;
  Exchange head;
  bool has_head = false;
  bool reported = false;  // error already recorded
};

class Reader {
 public:
  Reader(const IngestOptions& options, Quarantine& quarantine, IngestReport& report,
         const std::function<void(const IngestStats&)>& progress)
      : decoder_(options.max_line_bytes),
        quarantine_(quarantine),
        report_(report),
        progress_(progress) {}

  // Reads lines of `s` until one is accepted (becomes s.head) or the input ends.
  void Advance(Stream& s) {
    s.has_head = false;
    IngestStats& st = report_.stats;
    SourceLine line;
    while (s.source->Next(line)) {
      ++st.lines;
      if (progress_ && st.lines % kProgressEveryLines == 0) Progress();
      const LineOutcome outcome =
          line.too_long ? LineOutcome::kLineTooLong : decoder_.Decode(line.text, s.head);
      ++st.by_outcome[ToIndex(outcome)];
      if (outcome != LineOutcome::kAccepted) [[unlikely]] {
        ++st.rejected_total;
        quarantine_.Keep(s.source->path(), line.number, outcome, line.text);
        continue;
      }
      ++st.accepted;
      st.min_ts = std::min(st.min_ts, s.head.ts);
      st.max_ts = std::max(st.max_ts, s.head.ts);
      s.has_head = true;
      return;
    }
    if (!s.source->error().empty() && !s.reported) {
      s.reported = true;
      report_.errors.push_back(SourceError{s.source->path(), s.source->error()});
    }
  }

  void Progress() {
    if (!progress_) return;
    report_.stats.bytes_compressed = bytes_done_;
    report_.stats.bytes_uncompressed = bytes_done_raw_;
    for (const Stream* s : live_) {
      report_.stats.bytes_compressed += s->source->bytes_compressed();
      report_.stats.bytes_uncompressed += s->source->bytes_uncompressed();
    }
    progress_(report_.stats);
  }

  void Retire(Stream& s) {
    bytes_done_ += s.source->bytes_compressed();
    bytes_done_raw_ += s.source->bytes_uncompressed();
    live_.erase(std::find(live_.begin(), live_.end(), &s));
  }

  std::vector<Stream*> live_;
  uint64_t bytes_done_ = 0;
  uint64_t bytes_done_raw_ = 0;

 private:
  LineDecoder decoder_;
  Quarantine& quarantine_;
  IngestReport& report_;
  const std::function<void(const IngestStats&)>& progress_;
};

// Hands full batches from the reading thread to the consuming one by swapping
// vectors (no record is copied); a few batches in flight bound the memory and
// make the reader wait when the consumer is the slower side.
class BatchPipe : public BatchTaker {
 public:
  explicit BatchPipe(size_t max_in_flight) : max_in_flight_(max_in_flight) {}

  void Take(std::vector<Exchange>& batch, size_t n) override {
    std::unique_lock lock(mu_);
    can_push_.wait(lock, [&] { return full_.size() < max_in_flight_; });
    std::vector<Exchange> fresh;
    if (free_.empty()) {
      fresh.resize(batch.size());
    } else {
      fresh = std::move(free_.back());
      free_.pop_back();
    }
    std::swap(fresh, batch);
    full_.push_back(Full{std::move(fresh), n});
    can_pop_.notify_one();
  }

  void Close() {
    std::lock_guard lock(mu_);
    closed_ = true;
    can_pop_.notify_one();
  }

  // Feeds every batch to `sink` on the calling thread until the pipe closes.
  void Drain(ExchangeSink& sink) {
    for (;;) {
      Full item;
      {
        std::unique_lock lock(mu_);
        can_pop_.wait(lock, [&] { return !full_.empty() || closed_; });
        if (full_.empty()) return;
        item = std::move(full_.front());
        full_.pop_front();
        can_push_.notify_one();
      }
      sink.Consume(std::span<const Exchange>(item.batch.data(), item.n));
      std::lock_guard lock(mu_);
      free_.push_back(std::move(item.batch));
    }
  }

 private:
  struct Full {
    std::vector<Exchange> batch;
    size_t n = 0;
  };
  const size_t max_in_flight_;
  std::mutex mu_;
  std::condition_variable can_push_, can_pop_;
  std::deque<Full> full_;
  std::vector<std::vector<Exchange>> free_;
  bool closed_ = false;
};

IngestReport ReadInto(const std::vector<std::string>& inputs, const IngestOptions& options,
                      Quarantine& quarantine, ReorderBuffer& reorder,
                      const std::function<void(const IngestStats&)>& progress) {
  IngestReport report;
  std::vector<std::unique_ptr<Stream>> streams;
  for (const std::string& path : inputs) {
    auto opened = LineSource::Open(path, options.max_line_bytes);
    if (!opened.ok()) {
      report.errors.push_back(SourceError{path, opened.status().message()});
      continue;
    }
    auto s = std::make_unique<Stream>();
    s->source = std::move(opened).value();
    report.stats.bytes_total += s->source->file_size();
    streams.push_back(std::move(s));
  }

  Reader reader(options, quarantine, report, progress);

  // Min-heap of streams on (head ts, input order): ties go to the earlier input.
  std::vector<std::pair<EventTime, size_t>> heap;
  const auto later = [](const auto& a, const auto& b) { return a > b; };
  for (size_t i = 0; i < streams.size(); ++i) {
    reader.live_.push_back(streams[i].get());
    reader.Advance(*streams[i]);
    if (streams[i]->has_head) {
      heap.emplace_back(streams[i]->head.ts, i);
    } else {
      reader.Retire(*streams[i]);
    }
  }
  std::make_heap(heap.begin(), heap.end(), later);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t i = heap.back().second;
    heap.pop_back();
    Stream& s = *streams[i];
    reorder.Push(s.head);  // swaps in a recycled record for the next decode
    reader.Advance(s);
    if (s.has_head) {
      heap.emplace_back(s.head.ts, i);
      std::push_heap(heap.begin(), heap.end(), later);
    } else {
      reader.Retire(s);
    }
  }
  reorder.Flush();

  IngestStats& st = report.stats;
  st.late = reorder.late();
  st.duplicates = reorder.duplicates();
  st.bytes_compressed = reader.bytes_done_;
  st.bytes_uncompressed = reader.bytes_done_raw_;
  if (progress) progress(st);
  return report;
}

}  // namespace

IngestReport ReadAll(const std::vector<std::string>& inputs, const IngestOptions& options,
                     Quarantine& quarantine, ExchangeSink& sink,
                     const std::function<void(const IngestStats&)>& progress) {
  ReorderOptions reorder_options;
  reorder_options.allowed_lateness = options.allowed_lateness;
  if (!options.background_reader) {
    ReorderBuffer reorder(sink, reorder_options);
    return ReadInto(inputs, options, quarantine, reorder, progress);
  }
  // Reading, decompressing, decoding and reordering on one thread, the sink
  // (the engine) on the caller's: the two halves cost about the same, so on
  // two cores a scan takes about as long as the slower half.
  BatchPipe pipe(/*max_in_flight=*/8);
  ReorderBuffer reorder(pipe, reorder_options);
  IngestReport report;
  std::thread reader([&] {
    report = ReadInto(inputs, options, quarantine, reorder, progress);
    pipe.Close();
  });
  pipe.Drain(sink);
  reader.join();
  return report;
}

}  // namespace moat::ingest
