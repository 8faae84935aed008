#include "moat/serve/intel_live.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace moat::serve {

Result<int64_t> RecordExport(store::Store& store, std::string_view bundle_json, const std::string& producer,
                             const std::string& recipient, const std::string& collection,
                             const std::string& destination, const std::string& actor) {
  auto summary = intel::SummarizeBundle(bundle_json);
  if (!summary.ok()) return summary.status();
  store::ExportRecord r;
  r.bundle_id = summary.value().bundle_id;
  r.sha256 = summary.value().sha256;
  r.producer = producer;
  r.recipient = recipient;
  r.collection = collection;
  r.destination = destination;
  r.key_ids_json = intel::KeyIdsJson(summary.value());
  r.counts_json = intel::CountsJson(summary.value());
  r.actor = actor;
  return store.AppendExport(r);
}

LiveIntel::LiveIntel(LiveIntelOptions options) : options_(std::move(options)) {}

LiveIntel::~LiveIntel() { Stop(); }

Result<std::unique_ptr<LiveIntel>> LiveIntel::Create(LiveIntelOptions options, ServiceOptions& service) {
  if (options.keys.empty() && (!options.collection.empty() || !options.feed_path.empty()))
    return Status::Error("intel: a coalition key is required to export or to match a feed");
  if (options.interval.count() <= 0) return Status::Error("intel: the export interval must be positive");
  std::unique_ptr<LiveIntel> live(new LiveIntel(std::move(options)));
  if (!live->options_.feed_path.empty()) {
    std::ifstream in(live->options_.feed_path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return Status::Error("intel: cannot read the feed " + live->options_.feed_path);
    auto indicators = intel::ParseIndicators(text.str());
    if (!indicators.ok())
      return Status::Error(live->options_.feed_path + ": " + indicators.status().message());
    live->matcher_ = std::make_unique<intel::IndicatorMatcher>(live->options_.keys, std::move(indicators.value()));
    intel::TrustOptions trust;
    trust.partner_weight = service.detector.partner_weight;
    trust.confirm_at = service.detector.suspicious;
    live->source_ = std::make_unique<intel::PartnerEvidenceSource>(*live->matcher_, trust);
    service.external_evidence = live->source_.get();
  }
  LiveIntel* raw = live.get();
  service.on_store_open = [raw](store::Store& store) { return raw->Restore(store); };
  return live;
}

// Before the journal replays: the trust learned before the restart, and what
// was already published (so unchanged campaigns are not published again).
Status LiveIntel::Restore(store::Store& store) {
  if (source_) {
    auto saved = store.LoadCheckpoint(kTrustCheckpoint);
    if (!saved.ok()) return saved.status();
    if (saved.value())
      if (Status st = source_->LoadState(saved.value()->position); !st.ok())
        return Status::Error("store " + store.path() + ": " + st.message());
  }
  if (exporting()) {
    auto saved = store.LoadCheckpoint(kLedgerCheckpoint);
    if (!saved.ok()) return saved.status();
    std::lock_guard lock(export_mu_);
    if (saved.value())
      if (Status st = ledger_.Load(saved.value()->position); !st.ok())
        return Status::Error("store " + store.path() + ": " + st.message());
  }
  return Status::Ok();
}

Status LiveIntel::Start(Service& service, intel::TaxiiServer* taxii) {
  if (exporting()) {
    if (taxii == nullptr) return Status::Error("intel: live export needs the TAXII server (--taxii-config)");
    const intel::TaxiiCollection* collection = nullptr;
    for (const intel::TaxiiCollection& c : taxii->config().collections)
      if (c.id == options_.collection) collection = &c;
    if (collection == nullptr)
      return Status::Error("intel: collection " + options_.collection + " is not in the TAXII config");
    if (options_.recipient.empty()) {
      for (const auto& [partner, rights] : collection->rights) {
        if (!rights.first) continue;
        options_.recipient += (options_.recipient.empty() ? "" : ",") + partner;
      }
    }
  }
  // Only once started may Stop (or the destructor) touch the service.
  service_ = &service;
  taxii_ = taxii;
  if (!exporting() && !has_feed()) return Status::Ok();
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void LiveIntel::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, options_.interval, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (exporting()) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = ExportNow();
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!r.ok()) {
        std::fprintf(stderr, "moat serve: intel export: %s\n", r.status().message().c_str());
      } else if (r.value().published > 0) {
        std::fprintf(stderr,
                     "moat serve: intel export: %zu of %zu campaigns changed, %zu indicators, %zu new objects in "
                     "collection %s (%s, %.2f s)\n",
                     r.value().published, r.value().campaigns, r.value().indicators, r.value().objects_added,
                     options_.collection.c_str(), r.value().bundle_id.c_str(), secs);
      }
      if (has_feed()) {
        auto n = PublishSightingsNow();
        if (!n.ok())
          std::fprintf(stderr, "moat serve: intel sightings: %s\n", n.status().message().c_str());
        else if (n.value() > 0)
          std::fprintf(stderr, "moat serve: intel sightings: %zu published to collection %s\n", n.value(),
                       options_.collection.c_str());
      }
    }
    if (Status st = SaveState(); !st.ok())
      std::fprintf(stderr, "moat serve: intel state: %s\n", st.message().c_str());
    lock.lock();
  }
}

void LiveIntel::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (service_ != nullptr)
    if (Status st = SaveState(); !st.ok())
      std::fprintf(stderr, "moat serve: intel state: %s\n", st.message().c_str());
}

Result<LiveExportReport> LiveIntel::ExportNow() {
  if (!exporting() || service_ == nullptr || taxii_ == nullptr)
    return Status::Error("intel: live export is not configured or not started");
  std::lock_guard lock(export_mu_);
  const intel::CoalitionKey& key = options_.keys.front();
  const intel::ExportOptions& o = options_.export_options;
  // The engine's campaigns now, under the ids its verdict updates use
  // ("cmp-" and the first member): stable while the campaign lives, unlike
  // campaigns.jsonl's rank, so each is one STIX campaign across exports.
  auto jsonl = service_->OnEngine([](engine::Engine& e) { return e.CampaignsJsonl(); });
  if (!jsonl.ok()) return jsonl.status();
  auto campaigns = intel::ParseCampaigns(jsonl.value(), "engine campaigns");
  if (!campaigns.ok()) return campaigns.status();
  for (intel::CampaignMembers& c : campaigns.value())
    if (!c.accounts.empty()) c.id = "cmp-" + c.accounts.front();
  // The members' exchanges: the journal (POSTed batches) and the input files.
  std::vector<std::string> logs{service_->journal_path()};
  for (const std::string& l : options_.logs)
    if (l != "-") logs.push_back(l);
  auto collected = intel::Collect(campaigns.value(), logs, key, o);
  if (!collected.ok()) return collected.status();

  LiveExportReport report;
  report.campaigns = collected.value().campaigns.size();
  const std::vector<intel::CampaignIntel> changed = ledger_.Changed(collected.value().campaigns, key, o);
  report.published = changed.size();
  if (changed.empty()) return report;
  for (const intel::CampaignIntel& c : changed) report.indicators += c.indicators.size();
  const std::string bundle = intel::BuildBundle(changed, key, o);
  if (Status st = intel::CheckBundle(bundle, collected.value().raw); !st.ok()) return st;
  // The definition the indicators reference travels in the same collection
  // (held once: the server keeps one copy per id and version).
  auto definition = taxii_->Publish(options_.collection, intel::ExtensionDefinitionEnvelope());
  if (!definition.ok()) return definition.status();
  auto added = taxii_->Publish(options_.collection, bundle);
  if (!added.ok()) return added.status();
  report.objects_added = added.value();
  auto summary = intel::SummarizeBundle(bundle);
  if (!summary.ok()) return summary.status();
  report.bundle_id = summary.value().bundle_id;
  auto audit = RecordExport(service_->audit(), bundle, o.producer, options_.recipient, options_.collection,
                            "taxii:" + options_.collection, "moat serve");
  if (!audit.ok()) return audit.status();
  report.audit_id = audit.value();
  ledger_.Record(changed, key, o);
  if (Status st = service_->audit().SaveCheckpoint({kLedgerCheckpoint, ledger_.Save(), 0}); !st.ok()) return st;
  return report;
}

Result<size_t> LiveIntel::PublishSightingsNow() {
  if (!exporting() || !has_feed() || service_ == nullptr || taxii_ == nullptr)
    return Status::Error("intel: sightings need the feed and the export collection");
  const std::string producer = options_.export_options.producer;
  intel::PartnerEvidenceSource* source = source_.get();
  auto bundle = service_->OnEngine([source, &producer](engine::Engine&) { return source->SightingsBundle(producer); });
  if (!bundle.ok()) return bundle.status();
  // Through the same guard as any bundle that leaves.
  if (Status st = intel::CheckBundle(bundle.value(), intel::RawValues{}); !st.ok()) return st;
  auto summary = intel::SummarizeBundle(bundle.value());
  if (!summary.ok()) return summary.status();
  size_t sightings = 0;
  for (const auto& [type, n] : summary.value().objects) sightings += type == "sighting" ? n : 0;
  std::lock_guard lock(export_mu_);
  const std::string digest = intel::Sha256Hex(bundle.value());
  if (sightings == 0 || digest == published_sightings_digest_) return size_t{0};
  auto added = taxii_->Publish(options_.collection, bundle.value());
  if (!added.ok()) return added.status();
  auto audit = RecordExport(service_->audit(), bundle.value(), producer, options_.recipient, options_.collection,
                            "taxii:" + options_.collection, "moat serve");
  if (!audit.ok()) return audit.status();
  published_sightings_digest_ = digest;
  return sightings;
}

Status LiveIntel::SaveState() {
  if (service_ == nullptr) return Status::Error("intel: not started");
  if (exporting()) {
    std::lock_guard lock(export_mu_);
    if (Status st = service_->audit().SaveCheckpoint({kLedgerCheckpoint, ledger_.Save(), 0}); !st.ok()) return st;
  }
  if (!source_) return Status::Ok();
  intel::PartnerEvidenceSource* source = source_.get();
  auto state = service_->OnEngine([source](engine::Engine&) { return source->SaveState(); });
  if (!state.ok()) return state.status();
  // Unchanged since the last save (a quiet interval): nothing to write.
  const std::string digest = intel::Sha256Hex(state.value());
  std::lock_guard lock(export_mu_);
  if (digest == saved_trust_digest_) return Status::Ok();
  if (Status st = service_->audit().SaveCheckpoint({kTrustCheckpoint, state.value(), 0}); !st.ok()) return st;
  saved_trust_digest_ = digest;
  return Status::Ok();
}

Result<std::vector<intel::PartnerTrust>> LiveIntel::Trust() {
  if (!source_ || service_ == nullptr) return Status::Error("intel: no feed, or not started");
  auto out = std::make_shared<std::vector<intel::PartnerTrust>>();
  intel::PartnerEvidenceSource* source = source_.get();
  auto done = service_->OnEngine([source, out](engine::Engine&) {
    *out = source->Trust();
    return std::string();
  });
  if (!done.ok()) return done.status();
  return *out;
}

Result<std::map<std::string, double>> LiveIntel::IndicatorTrust() {
  if (!source_ || service_ == nullptr) return Status::Error("intel: no feed, or not started");
  auto out = std::make_shared<std::map<std::string, double>>();
  intel::PartnerEvidenceSource* source = source_.get();
  auto done = service_->OnEngine([source, out](engine::Engine&) {
    *out = source->IndicatorTrust();
    return std::string();
  });
  if (!done.ok()) return done.status();
  return *out;
}

}  // namespace moat::serve
