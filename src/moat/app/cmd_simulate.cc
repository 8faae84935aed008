// `moat simulate`: realistic traffic from the real corpora, with ground truth.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "moat/app/commands.h"
#include "moat/sim/simulate.h"

namespace moat::app {

std::string DefaultCorporaDir() {
  if (const char* env = std::getenv("MOAT_CORPORA"); env != nullptr && *env != '\0') return env;
  namespace fs = std::filesystem;
  // The checkout layout: <root>/moat (this repo) beside <root>/shared.
  const fs::path from_source = fs::path(MOAT_SOURCE_DIR) / ".." / "shared" / "corpora";
  std::error_code ec;
  if (fs::is_directory(from_source, ec)) return fs::weakly_canonical(from_source, ec).string();
  return "../shared/corpora";
}

void RegisterSimulate(CLI::App& app, CommandSet& commands) {
  auto opts = std::make_shared<sim::SimOptions>();
  opts->corpora_dir = DefaultCorporaDir();
  CLI::App* cmd = app.add_subcommand("simulate", "write a simulated exchange log and its ground truth");
  std::string scenarios;
  for (const auto& s : sim::ScenarioNames()) scenarios += (scenarios.empty() ? "" : ", ") + s;
  cmd->add_option("--scenario", opts->scenario, "one of: " + scenarios)->capture_default_str();
  cmd->add_option("--scale", opts->scale, "multiplies account counts")->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--extractor-scale", opts->extractor_scale,
                  "multiplies the campaigns' account counts instead of --scale (0: use --scale)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--days", opts->days, "length of the simulated period")->capture_default_str()
      ->check(CLI::Range(1, 365));
  cmd->add_option("--seed", opts->seed, "random seed: same seed, same bytes")->capture_default_str();
  cmd->add_option("--corpora", opts->corpora_dir, "folder of the real prompt sets and traces")
      ->capture_default_str();
  cmd->add_option("--out", opts->out_dir, "output folder (log.jsonl, truth.jsonl)")->required();
  cmd->callback([opts, &commands] {
    commands.Set([opts] {
      auto result = sim::Simulate(*opts);
      if (!result.ok()) {
        std::fprintf(stderr, "moat simulate: %s\n", result.status().message().c_str());
        return kExitBadInput;
      }
      const auto& s = result.value();
      std::fprintf(stderr, "moat simulate: scenario %s, %llu accounts, %llu exchanges -> %s\n",
                   opts->scenario.c_str(), static_cast<unsigned long long>(s.accounts),
                   static_cast<unsigned long long>(s.exchanges), opts->out_dir.c_str());
      for (const auto& [population, n] : s.accounts_by_population) {
        const auto it = s.exchanges_by_population.find(population);
        std::fprintf(stderr, "  %-20s %8llu accounts %10llu exchanges\n", population.c_str(),
                     static_cast<unsigned long long>(n),
                     static_cast<unsigned long long>(
                         it == s.exchanges_by_population.end() ? 0 : it->second));
      }
      return kExitOk;
    });
  });
}

}  // namespace moat::app
