// Subcommand registration. Each Register* adds a CLI11 subcommand whose
// callback stores the work to run; main runs it after parsing, so exit codes
// come back as values rather than exceptions.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace moat::app {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the job itself failed (cannot write output, ...)
inline constexpr int kExitBadInput = 2;  // bad arguments or unreadable/truncated input

class CommandSet {
 public:
  void Set(std::function<int()> run) { run_ = std::move(run); }
  int Run() const { return run_ ? run_() : kExitBadInput; }

 private:
  std::function<int()> run_;
};

void RegisterSimulate(CLI::App& app, CommandSet& commands);
void RegisterScan(CLI::App& app, CommandSet& commands);
void RegisterEval(CLI::App& app, CommandSet& commands);
void RegisterServe(CLI::App& app, CommandSet& commands);
void RegisterReplay(CLI::App& app, CommandSet& commands);
void RegisterIntel(CLI::App& app, CommandSet& commands);
void RegisterDegrade(CLI::App& app, CommandSet& commands);
void RegisterWatermark(CLI::App& app, CommandSet& commands);

// ../shared/corpora relative to the binary's source tree, or $MOAT_CORPORA.
std::string DefaultCorporaDir();

}  // namespace moat::app
