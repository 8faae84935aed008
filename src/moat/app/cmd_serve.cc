// `moat serve`: the decision service beside a gateway (see docs/serve.md).
// Wiring only: options, the HTTP server, the service, signals.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "moat/app/commands.h"
#include "moat/score/config_file.h"
#include "moat/serve/http_server.h"
#include "moat/serve/service.h"
#include "moat/serve/taxii_routes.h"
#include "moat/serve/transform_routes.h"

namespace moat::app {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  int threads = 2;
  std::string data_dir;
  std::string policy_path;
  std::string config_path;
  std::string admin_token_file;
  std::string clock = "wall";
  std::vector<std::string> inputs;
  bool no_fsync = false;
  size_t max_body_mb = 64;
  std::string watermark_keys;  // POST /v1/transform: key file for the watermark modes
  std::string synonyms = degrade::DefaultSynonymsPath();
  std::string taxii_config;    // TAXII 2.1 server for partners under /taxii2/, when set
  serve::ServiceOptions service;  // header names
};

EventTime WallClockNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int RunServe(ServeArgs& args) {
  serve::ServiceOptions o = args.service;
  o.data_dir = args.data_dir;
  o.policy_path = args.policy_path;
  o.fsync = !args.no_fsync;
  o.clock = args.clock == "event" ? serve::ClockMode::kEvent : serve::ClockMode::kWall;
  if (!args.config_path.empty()) {
    if (Status st = score::LoadDetectorConfig(args.config_path, o.detector); !st.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", st.message().c_str());
      return kExitBadInput;
    }
  }
  if (!args.admin_token_file.empty()) {
    std::ifstream in(args.admin_token_file);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string token = ss.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
      token.pop_back();
    }
    if (!in || token.size() < 16) {
      std::fprintf(stderr, "moat serve: %s: cannot read an admin token of at least 16 characters\n",
                   args.admin_token_file.c_str());
      return kExitBadInput;
    }
    o.admin_token = std::move(token);
  }
  serve::ServerOptions so;
  const size_t colon = args.listen.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "moat serve: --listen wants HOST:PORT, got '%s'\n", args.listen.c_str());
    return kExitBadInput;
  }
  so.address = args.listen.substr(0, colon);
  try {
    so.port = static_cast<uint16_t>(std::stoul(args.listen.substr(colon + 1)));
  } catch (const std::exception&) {
    std::fprintf(stderr, "moat serve: --listen: bad port in '%s'\n", args.listen.c_str());
    return kExitBadInput;
  }
  so.threads = args.threads;
  so.max_body_bytes = args.max_body_mb << 20;

  // SIGINT/SIGTERM end the process cleanly: blocked here, awaited below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto service = serve::Service::Open(o);
  if (!service.ok()) {
    std::fprintf(stderr, "moat serve: %s\n", service.status().message().c_str());
    return kExitFailure;
  }
  const serve::RecoveryReport& rec = service.value()->recovery();
  std::fprintf(stderr,
               "moat serve: recovered %llu exchanges from the journal in %.2f s (%llu torn bytes cut, "
               "%llu overrides restored)\n",
               static_cast<unsigned long long>(rec.journal_exchanges), rec.seconds,
               static_cast<unsigned long long>(rec.torn_bytes),
               static_cast<unsigned long long>(rec.overrides_restored));
  auto transformer = degrade::Transformer::Load(args.synonyms, args.watermark_keys);
  if (!transformer.ok()) {
    std::fprintf(stderr, "moat serve: %s\n", transformer.status().message().c_str());
    return kExitBadInput;
  }
  std::unique_ptr<intel::TaxiiServer> taxii;
  if (!args.taxii_config.empty()) {
    auto config = intel::LoadTaxiiConfig(args.taxii_config);
    if (!config.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", config.status().message().c_str());
      return kExitBadInput;
    }
    auto opened = intel::TaxiiServer::Open(std::move(config.value()), WallClockNow);
    if (!opened.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", opened.status().message().c_str());
      return kExitBadInput;
    }
    taxii = std::move(opened.value());
  }
  serve::HttpServer server(so);
  service.value()->Mount(server);
  serve::MountTransform(server, transformer.value());
  if (taxii) serve::MountTaxii(server, *taxii);
  if (Status st = server.Start(); !st.ok()) {
    std::fprintf(stderr, "moat serve: %s\n", st.message().c_str());
    return kExitFailure;
  }
  service.value()->StartInputs(args.inputs);
  std::fprintf(stderr, "moat serve: listening on http://%s:%u (%d workers, clock %s)\n",
               so.address.c_str(), server.port(), so.threads, args.clock.c_str());
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "moat serve: signal %d, stopping\n", sig);
  server.Stop();
  service.value().reset();
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, CommandSet& commands) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "decision service beside a gateway: ingest, detect, decide");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on")->capture_default_str();
  cmd->add_option("--threads", args->threads, "HTTP worker threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  cmd->add_option("--data-dir", args->data_dir,
                  "state folder: journal.jsonl (exchanges), audit.db (store), quarantine.jsonl")
      ->required();
  cmd->add_option("--policy", args->policy_path, "policy file (TOML); default: allow everything")
      ->check(CLI::ExistingFile);
  cmd->add_option("--config", args->config_path, "detector config (TOML); default: built-in")
      ->check(CLI::ExistingFile);
  cmd->add_option("--admin-token-file", args->admin_token_file,
                  "file holding the bearer token of the admin API; without it the admin API is off")
      ->check(CLI::ExistingFile);
  cmd->add_option("--clock", args->clock,
                  "wall: decide at the wall clock; event: at the request's ts (replay)")
      ->check(CLI::IsMember({"wall", "event"}))->capture_default_str();
  cmd->add_option("--input", args->inputs, "exchange logs to ingest as well (- for stdin)");
  cmd->add_flag("--no-fsync", args->no_fsync,
                "acknowledge batches before they reach the disk (tests, benchmarks)");
  cmd->add_option("--max-body-mb", args->max_body_mb, "largest request body")->capture_default_str();
  cmd->add_option("--account-header", args->service.account_header, "ext_authz: account id header")
      ->capture_default_str();
  cmd->add_option("--api-key-header", args->service.api_key_header, "ext_authz: API key id header")
      ->capture_default_str();
  cmd->add_option("--ip-header", args->service.ip_header,
                  "ext_authz: client address header (last entry of a list: the one the edge appended)")
      ->capture_default_str();
  cmd->add_option("--org-header", args->service.org_header, "ext_authz: organisation header")
      ->capture_default_str();
  cmd->add_option("--model-header", args->service.model_header, "ext_authz: model header")
      ->capture_default_str();
  cmd->add_option("--authz-prefix", args->service.authz_prefix,
                  "path prefix of the ext_authz routes (Envoy's path_prefix)")
      ->capture_default_str();
  cmd->add_option("--watermark-keys", args->watermark_keys,
                  "key file for the watermark modes of POST /v1/transform (moat watermark keygen)");
  cmd->add_option("--synonyms", args->synonyms, "synonym sets for the watermark (TSV)")->capture_default_str();
  cmd->add_option("--taxii-config", args->taxii_config,
                  "serve TAXII 2.1 to partners under /taxii2/ (config as for moat intel taxii)");
  cmd->callback([args, &commands] { commands.Set([args] { return RunServe(*args); }); });
}

}  // namespace moat::app
