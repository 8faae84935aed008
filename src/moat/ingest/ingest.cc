#include "moat/ingest/ingest.h"

#include <algorithm>
#include <memory>
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

}  // namespace

IngestReport ReadAll(const std::vector<std::string>& inputs, const IngestOptions& options,
                     Quarantine& quarantine, ExchangeSink& sink,
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
  ReorderOptions reorder_options;
  reorder_options.allowed_lateness = options.allowed_lateness;
  ReorderBuffer reorder(sink, reorder_options);

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

}  // namespace moat::ingest
