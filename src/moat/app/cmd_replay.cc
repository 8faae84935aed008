// `moat replay`: the closed loop against a running `moat serve --clock event`.
#include <cstdio>
#include <fstream>
#include <memory>

#include <unistd.h>

#include "moat/app/commands.h"
#include "moat/serve/replay.h"

namespace moat::app {
namespace {

struct ReplayArgs {
  std::vector<std::string> logs;
  std::string truth;
  std::string server = "http://127.0.0.1:8080";
  std::string policy;
  std::string json_out;
  int connections = 4;
  size_t step = 64;
  uint64_t max_engine_lag = 256;
};

int RunReplayCmd(const ReplayArgs& args) {
  serve::ReplayOptions o;
  o.logs = args.logs;
  o.truth_path = args.truth;
  o.policy_path = args.policy;
  o.connections = args.connections;
  o.step = std::max<size_t>(1, args.step);
  o.max_engine_lag = args.max_engine_lag;
  o.progress = isatty(STDERR_FILENO);
  auto ep = serve::ParseUrl(args.server);
  if (!ep.ok()) {
    std::fprintf(stderr, "moat replay: %s\n", ep.status().message().c_str());
    return kExitBadInput;
  }
  o.server = ep.value();
  auto report = serve::RunReplay(o);
  if (!report.ok()) {
    std::fprintf(stderr, "moat replay: %s\n", report.status().message().c_str());
    return kExitFailure;
  }
  std::fputs(serve::ReplayReportText(report.value()).c_str(), stdout);
  if (!args.json_out.empty()) {
    std::ofstream out(args.json_out);
    out << serve::ReplayReportJson(report.value());
    if (!out) {
      std::fprintf(stderr, "moat replay: cannot write %s\n", args.json_out.c_str());
      return kExitFailure;
    }
  }
  return kExitOk;
}

}  // namespace

void RegisterReplay(CLI::App& app, CommandSet& commands) {
  auto args = std::make_shared<ReplayArgs>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "closed loop: drive moat serve as a gateway would and report what each population received");
  cmd->add_option("--log", args->logs, "exchange log(s), replayed in event order")->required();
  cmd->add_option("--truth", args->truth, "truth.jsonl of the simulation (read only for the report)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--server", args->server, "moat serve URL (started with --clock event)")
      ->capture_default_str();
  cmd->add_option("--policy", args->policy,
                  "the server's policy file: its allow-listed orgs are reported apart")
      ->check(CLI::ExistingFile);
  cmd->add_option("--json", args->json_out, "also write the report as JSON here");
  cmd->add_option("--connections", args->connections, "decision connections (pipelined)")
      ->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--step", args->step,
                  "exchanges decided, then posted back as one batch (the gateway's log shipping)")
      ->capture_default_str();
  cmd->add_option("--max-engine-lag", args->max_engine_lag,
                  "posted exchanges the engine may be behind before the replay waits for it")
      ->capture_default_str();
  cmd->callback([args, &commands] { commands.Set([args] { return RunReplayCmd(*args); }); });
}

}  // namespace moat::app
