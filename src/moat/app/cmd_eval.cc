// `moat eval`: how well a scan did against the simulator's ground truth.
#include <cstdio>
#include <memory>

#include "moat/app/commands.h"
#include "moat/core/time.h"
#include "moat/eval/evaluate.h"

namespace moat::app {

void RegisterEval(CLI::App& app, CommandSet& commands) {
  struct Args {
    eval::EvalInputs inputs;
    bool json = false;
    double lateness_minutes = 5.0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", "measure a scan against ground truth");
  cmd->add_option("--log", args->inputs.logs, "the exchange log(s) that were scanned")->required();
  cmd->add_option("--truth", args->inputs.truth, "truth.jsonl from moat simulate")->required();
  cmd->add_option("--out", args->inputs.scan_dir, "the scan's output folder")->required();
  cmd->add_flag("--json", args->json, "print one JSON object instead of the table");
  cmd->add_option("--lateness-minutes", args->lateness_minutes,
                  "the lateness the scan used (duplicates are dropped within it)")
      ->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->callback([args, &commands] {
    commands.Set([args] {
      args->inputs.ingest.allowed_lateness =
          static_cast<EventTime>(args->lateness_minutes * kMicrosPerMinute);
      auto report = eval::Evaluate(args->inputs);
      if (!report.ok()) {
        std::fprintf(stderr, "moat eval: %s\n", report.status().message().c_str());
        return kExitBadInput;
      }
      const std::string text =
          args->json ? eval::ToJson(report.value()) + "\n" : eval::FormatTable(report.value());
      std::fwrite(text.data(), 1, text.size(), stdout);
      return kExitOk;
    });
  });
}

}  // namespace moat::app
