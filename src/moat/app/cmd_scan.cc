// `moat scan`: replays logs through the streaming engine in event time and
// writes verdicts (spec/verdicts.md), the quarantine and a run summary.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "moat/app/commands.h"
#include "moat/core/json_writer.h"
#include "moat/core/time.h"
#include "moat/engine/engine.h"
#include "moat/ingest/ingest.h"
#include "moat/score/config_file.h"

namespace moat::app {
namespace {

struct ScanArgs {
  std::vector<std::string> inputs;
  std::string out_dir;
  std::string config_path;  // empty: built-in defaults
  bool quiet = false;
  double lateness_minutes = 5.0;
};

using Clock = std::chrono::steady_clock;

std::string Thousands(uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string SummaryJson(const ingest::IngestReport& report, const engine::EngineStats& es,
                        double seconds) {
  const auto& s = report.stats;
  std::string out;
  JsonWriter w(out);
  w.BeginObject();
  w.Key("lines");
  w.Uint(s.lines);
  w.Key("exchanges");
  w.Uint(s.accepted);
  w.Key("accounts");
  w.Uint(es.accounts);
  w.Key("campaigns");
  w.Uint(es.campaigns);
  w.Key("bad_lines");
  w.Uint(s.rejected_total);
  w.Key("bad_lines_by_reason");
  w.BeginObject();
  for (size_t i = 1; i < ingest::kOutcomeCount; ++i) {
    if (s.by_outcome[i] == 0) continue;
    w.Key(ingest::OutcomeCode(static_cast<ingest::LineOutcome>(i)));
    w.Uint(s.by_outcome[i]);
  }
  w.EndObject();
  w.Key("late");
  w.Uint(s.late);
  w.Key("duplicates");
  w.Uint(s.duplicates);
  w.Key("bytes");
  w.Uint(s.bytes_uncompressed);
  w.Key("seconds");
  w.Double(seconds, 3);
  w.Key("exchanges_per_second");
  w.Double(seconds > 0 ? static_cast<double>(s.accepted) / seconds : 0.0, 0);
  w.Key("verdicts");
  w.BeginObject();
  w.Key("extraction");
  w.Uint(es.extraction);
  w.Key("suspicious");
  w.Uint(es.suspicious);
  w.Key("benign");
  w.Uint(es.benign);
  w.EndObject();
  w.Key("errors");
  w.BeginArray();
  for (const auto& e : report.errors) {
    w.BeginObject();
    w.Key("source");
    w.String(e.source);
    w.Key("message");
    w.String(e.message);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  out.push_back('\n');
  return out;
}

void PrintSummary(const ingest::IngestReport& report, const engine::EngineStats& es,
                  double seconds, const std::string& out_dir) {
  const auto& s = report.stats;
  std::fprintf(stderr, "moat scan: %s exchanges, %s accounts in %.2f s (%s exchanges/s, %.1f MB/s)\n",
               Thousands(s.accepted).c_str(), Thousands(es.accounts).c_str(), seconds,
               Thousands(static_cast<uint64_t>(seconds > 0 ? s.accepted / seconds : 0)).c_str(),
               seconds > 0 ? s.bytes_uncompressed / seconds / 1e6 : 0.0);
  std::string bad;
  for (size_t i = 1; i < ingest::kOutcomeCount; ++i) {
    if (s.by_outcome[i] == 0) continue;
    bad += (bad.empty() ? " (" : ", ");
    bad += std::string(ingest::OutcomeCode(static_cast<ingest::LineOutcome>(i))) + " " +
           Thousands(s.by_outcome[i]);
  }
  if (!bad.empty()) bad += ")";
  std::fprintf(stderr, "  bad lines %s%s, late %s, duplicates %s\n",
               Thousands(s.rejected_total).c_str(), bad.c_str(), Thousands(s.late).c_str(),
               Thousands(s.duplicates).c_str());
  if (s.accepted > 0) {
    std::fprintf(stderr, "  event time %s .. %s\n", FormatRfc3339(s.min_ts).c_str(),
                 FormatRfc3339(s.max_ts).c_str());
  }
  std::fprintf(stderr, "  verdicts: extraction %s, suspicious %s, benign %s; campaigns %s\n",
               Thousands(es.extraction).c_str(), Thousands(es.suspicious).c_str(),
               Thousands(es.benign).c_str(), Thousands(es.campaigns).c_str());
  std::fprintf(stderr, "  wrote %s/{accounts,campaigns,quarantine}.jsonl and summary.json\n",
               out_dir.c_str());
}

int RunScan(const ScanArgs& args) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(args.out_dir, ec);
  if (ec) {
    std::fprintf(stderr, "moat scan: cannot create %s: %s\n", args.out_dir.c_str(),
                 ec.message().c_str());
    return kExitFailure;
  }
  auto quarantine = ingest::Quarantine::Create(args.out_dir + "/quarantine.jsonl");
  if (!quarantine.ok()) {
    std::fprintf(stderr, "moat scan: %s\n", quarantine.status().message().c_str());
    return kExitFailure;
  }
  score::DetectorConfig cfg;
  if (!args.config_path.empty()) {
    if (Status st = score::LoadDetectorConfig(args.config_path, cfg); !st.ok()) {
      std::fprintf(stderr, "moat scan: %s\n", st.message().c_str());
      return kExitFailure;
    }
  }
  // The config actually used, so every verdict can be traced to its settings.
  std::ofstream(args.out_dir + "/config.toml") << score::DetectorConfigToml(cfg);
  engine::Engine engine{cfg};
  ingest::IngestOptions options;
  options.allowed_lateness = static_cast<EventTime>(args.lateness_minutes * kMicrosPerMinute);

  const auto start = Clock::now();
  auto last_progress = start;
  const bool show_progress = !args.quiet && isatty(STDERR_FILENO);
  const auto progress = [&](const ingest::IngestStats& s) {
    if (!show_progress) return;
    const auto now = Clock::now();
    if (now - last_progress < std::chrono::milliseconds(500)) return;
    last_progress = now;
    const double secs = std::chrono::duration<double>(now - start).count();
    // Share of the input read, where file sizes are known (not for stdin).
    const double done = s.bytes_total > 0 ? 100.0 * s.bytes_compressed / s.bytes_total : 0.0;
    std::fprintf(stderr, "\r  %3.0f%%  %s lines, %.0f MB, %s exchanges/s, event time %s   ", done,
                 Thousands(s.lines).c_str(), s.bytes_uncompressed / 1e6,
                 Thousands(static_cast<uint64_t>(s.accepted / std::max(secs, 1e-9))).c_str(),
                 FormatRfc3339(s.max_ts).c_str());
  };
  const ingest::IngestReport report =
      ingest::ReadAll(args.inputs, options, quarantine.value(), engine, progress);
  if (show_progress) std::fputs("\r\033[K", stderr);
  engine.Finish();
  const Status closed = quarantine.value().Flush();
  const Status written = engine.WriteVerdicts(args.out_dir);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const engine::EngineStats es = engine.stats();

  std::ofstream(args.out_dir + "/summary.json") << SummaryJson(report, es, seconds);
  if (!args.quiet) PrintSummary(report, es, seconds, args.out_dir);
  // Input errors are printed even with --quiet: the exit code alone names no file.
  for (const auto& e : report.errors) std::fprintf(stderr, "moat scan: %s\n", e.message.c_str());
  for (const Status* st : {&closed, &written}) {
    if (!st->ok()) {
      std::fprintf(stderr, "moat scan: %s\n", st->message().c_str());
      return kExitFailure;
    }
  }
  return report.errors.empty() ? kExitOk : kExitBadInput;
}

}  // namespace

void RegisterScan(CLI::App& app, CommandSet& commands) {
  auto args = std::make_shared<ScanArgs>();
  CLI::App* cmd = app.add_subcommand("scan", "scan exchange logs and write verdicts");
  cmd->add_option("--input", args->inputs, "log files (.jsonl, .jsonl.gz, .jsonl.zst) or - for stdin")
      ->required();
  cmd->add_option("--out", args->out_dir, "output folder")->required();
  cmd->add_option("--lateness-minutes", args->lateness_minutes,
                  "how late a line may be and still be reordered into event time")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--config", args->config_path,
                  "detector config (TOML, see config/detector.toml); default: built-in defaults")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quiet,-q", args->quiet, "no progress line and no summary on stderr");
  cmd->callback([args, &commands] { commands.Set([args] { return RunScan(*args); }); });
}

}  // namespace moat::app
