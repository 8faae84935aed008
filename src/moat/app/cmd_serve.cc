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
#include "moat/serve/intel_live.h"
#include "moat/serve/service.h"
#include "moat/serve/taxii_routes.h"
#include "moat/serve/transform_routes.h"

namespace moat::app {
namespace {

struct ServeArgs {
  std::string listen = "127.0.0.1:8080";
  std::string tls_cert, tls_key;  // HTTPS only, when both are set
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
  // Intel on the live engine (docs/intel.md): export into a TAXII collection, partner feed.
  std::vector<std::string> intel_keys;
  uint32_t intel_interval_s = 60;
  std::string intel_tlp = "amber";
  serve::LiveIntelOptions intel;
  serve::ServiceOptions service;  // header names
};

EventTime WallClockNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The live export and partner feed, hooked into the service's options.
Result<std::unique_ptr<serve::LiveIntel>> MakeLiveIntel(ServeArgs& args, serve::ServiceOptions& o) {
  for (const std::string& path : args.intel_keys) {
    auto key = intel::LoadKey(path);
    if (!key.ok()) return key.status();
    args.intel.keys.push_back(std::move(key.value()));
  }
  const auto tlp = intel::ParseTlp(args.intel_tlp);
  if (!tlp) return Status::Error("--intel-tlp must be clear, green, amber, amber+strict or red");
  args.intel.export_options.tlp = *tlp;
  args.intel.interval = std::chrono::seconds(args.intel_interval_s);
  args.intel.logs = args.inputs;
  return serve::LiveIntel::Create(args.intel, o);
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
  so.tls_cert_file = args.tls_cert;
  so.tls_key_file = args.tls_key;

  // SIGINT/SIGTERM end the process cleanly: blocked here, awaited below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::unique_ptr<serve::LiveIntel> live_intel;  // outlives the service: its engine uses the feed's evidence
  if (!args.intel_keys.empty() || !args.intel.feed_path.empty() || !args.intel.collection.empty()) {
    auto live = MakeLiveIntel(args, o);
    if (!live.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", live.status().message().c_str());
      return kExitBadInput;
    }
    live_intel = std::move(live.value());
    if (live_intel->has_feed())
      std::fprintf(stderr, "moat serve: intel feed: %zu partner indicators (%zu more under keys not given)\n",
                   live_intel->feed_indicators(), live_intel->feed_unknown_key());
  }
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
  if (live_intel) {
    if (Status st = live_intel->Start(*service.value(), taxii.get()); !st.ok()) {
      std::fprintf(stderr, "moat serve: %s\n", st.message().c_str());
      server.Stop();
      return kExitBadInput;
    }
  }
  service.value()->StartInputs(args.inputs);
  std::fprintf(stderr, "moat serve: listening on %s://%s:%u (%d workers, clock %s)\n",
               so.tls_cert_file.empty() ? "http" : "https", so.address.c_str(), server.port(), so.threads,
               args.clock.c_str());
  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "moat serve: signal %d, stopping\n", sig);
  server.Stop();
  if (live_intel) live_intel->Stop();  // a last export round is not run; trust is saved
  service.value().reset();
  return kExitOk;
}

}  // namespace

void RegisterServe(CLI::App& app, CommandSet& commands) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand("serve", "decision service beside a gateway: ingest, detect, decide");
  cmd->add_option("--listen", args->listen, "HOST:PORT to listen on")->capture_default_str();
  auto* tls_cert = cmd->add_option("--tls-cert", args->tls_cert,
                                   "serve HTTPS only: certificate chain (PEM, leaf first)");
  auto* tls_key = cmd->add_option("--tls-key", args->tls_key, "private key of --tls-cert (PEM)");
  tls_cert->needs(tls_key);
  tls_key->needs(tls_cert);
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
  cmd->add_option("--intel-key", args->intel_keys,
                  "coalition key file (repeatable): the first signs live exports, all are accepted in the feed")
      ->check(CLI::ExistingFile);
  cmd->add_option("--intel-collection", args->intel.collection,
                  "live export: publish the engine's campaigns into this collection of --taxii-config");
  cmd->add_option("--intel-producer", args->intel.export_options.producer, "live export: your identity's name")
      ->capture_default_str();
  cmd->add_option("--intel-interval", args->intel_interval_s,
                  "live export: seconds between exports (also how often learned trust is saved)")
      ->capture_default_str()->check(CLI::Range(1u, 86400u));
  cmd->add_option("--intel-k", args->intel.export_options.k_floor,
                  "live export: k-anonymity floor (accounts an indicator must rest on)")
      ->capture_default_str();
  cmd->add_option("--intel-tlp", args->intel_tlp, "live export: TLP 2.0 marking")->capture_default_str();
  cmd->add_option("--intel-recipient", args->intel.recipient,
                  "live export: to whom, for the audit (default: the partners that may read the collection)");
  cmd->add_option("--intel-feed", args->intel.feed_path,
                  "partner feed (moat intel pull --out): partner evidence and indicator_match for the policy")
      ->check(CLI::ExistingFile);
  cmd->callback([args, &commands] { commands.Set([args] { return RunServe(*args); }); });
}

}  // namespace moat::app
