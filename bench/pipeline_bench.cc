// Whole-pipeline benchmark on one log file: the time to merely read the file
// (the floor), decode-only (ingest with a sink that only counts), the full
// scan (ingest + engine + verdict files) on one core, and the full scan with
// the background reader thread; each the median of several runs in the same
// process, so the ratios are measured under the same conditions.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "moat/engine/engine.h"
#include "moat/ingest/ingest.h"

namespace {

using Clock = std::chrono::steady_clock;

// Reads the file in 1 MiB blocks and counts newlines: what any reader must pay.
uint64_t ReadOnly(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return 0;
  std::vector<char> buf(1 << 20);
  uint64_t lines = 0;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
    const char* p = buf.data();
    const char* end = p + n;
    while ((p = static_cast<const char*>(std::memchr(p, '\n', end - p))) != nullptr) {
      ++lines;
      ++p;
    }
  }
  std::fclose(f);
  return lines;
}

template <typename F>
double MedianSeconds(int runs, F&& body) {
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    body();
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: pipeline_bench LOG OUT_DIR [RUNS]\n");
    return 2;
  }
  const std::string log = argv[1];
  const std::string out_dir = argv[2];
  const int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  std::filesystem::create_directories(out_dir);
  const double mb = static_cast<double>(std::filesystem::file_size(log)) / 1e6;

  uint64_t lines = 0;
  const double read_s = MedianSeconds(runs, [&] { lines = ReadOnly(log); });

  // One core: reading and the engine on the same thread, as the issue's
  // single-core figure asks; then the background reader on a second thread.
  moat::ingest::IngestOptions one_thread;
  one_thread.background_reader = false;
  moat::ingest::IngestOptions two_threads;
  two_threads.background_reader = true;

  uint64_t decoded = 0;
  const double decode_s = MedianSeconds(runs, [&] {
    moat::ingest::Quarantine quarantine;  // counts only
    moat::ingest::CountingSink sink;
    const auto report = moat::ingest::ReadAll({log}, one_thread, quarantine, sink);
    decoded = sink.count();
    if (!report.errors.empty()) std::fprintf(stderr, "%s\n", report.errors[0].message.c_str());
  });

  uint64_t accounts = 0;
  const auto full_scan = [&](const moat::ingest::IngestOptions& options) {
    moat::ingest::Quarantine quarantine;
    moat::engine::Engine engine{moat::score::DetectorConfig{}};
    const auto report = moat::ingest::ReadAll({log}, options, quarantine, engine);
    engine.Finish();
    if (!engine.WriteVerdicts(out_dir).ok()) std::fprintf(stderr, "cannot write verdicts\n");
    accounts = engine.stats().accounts;
    (void)report;
  };
  const double scan_s = MedianSeconds(runs, [&] { full_scan(one_thread); });
  const double scan_mt_s = MedianSeconds(runs, [&] { full_scan(two_threads); });

  std::printf("log: %s  %.1f MB  %llu lines  %llu exchanges  %llu accounts  (median of %d runs)\n",
              log.c_str(), mb, static_cast<unsigned long long>(lines),
              static_cast<unsigned long long>(decoded), static_cast<unsigned long long>(accounts),
              runs);
  std::printf("%-12s %10s %16s %10s %14s\n", "stage", "seconds", "exchanges/s", "MB/s",
              "x read time");
  const auto row = [&](const char* name, double s) {
    std::printf("%-12s %10.3f %16.0f %10.1f %14.2f\n", name, s, decoded / s, mb / s, s / read_s);
  };
  row("read-only", read_s);
  row("decode-only", decode_s);
  row("scan-1-core", scan_s);
  row("scan-2-thr", scan_mt_s);
  std::printf("full scan / decode-only (one core): %.2f\n", scan_s / decode_s);
  std::printf("speed-up of the background reader: %.2fx\n", scan_s / scan_mt_s);
  return 0;
}
