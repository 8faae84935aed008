// The `moat` binary: one subcommand per job. Only wiring lives here; every
// algorithm is in a module below.
#include <CLI/CLI.hpp>

#include "moat/app/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"moat: catch adversarial distillation in LLM API traffic"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "moat 0.1.0");
  moat::app::CommandSet commands;
  moat::app::RegisterSimulate(app, commands);
  moat::app::RegisterScan(app, commands);
  moat::app::RegisterEval(app, commands);
  moat::app::RegisterServe(app, commands);
  moat::app::RegisterReplay(app, commands);
  moat::app::RegisterIntel(app, commands);
  moat::app::RegisterDegrade(app, commands);
  moat::app::RegisterWatermark(app, commands);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 like input errors, after CLI11 prints the reason.
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return commands.Run();
}
