// moat serve's side of intel: a partner feed as the live engine's evidence,
// with the trust it learns kept in the store across restarts, and a live
// export that publishes the engine's current campaigns into the mounted TAXII
// collection every interval, each export audited in the store. Wiring only:
// what is shared and how it is guarded is intel's (the same code as
// `moat intel export`); intel never includes serve.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "moat/core/status.h"
#include "moat/intel/bundle.h"
#include "moat/intel/ledger.h"
#include "moat/intel/matcher.h"
#include "moat/intel/taxii.h"
#include "moat/serve/service.h"
#include "moat/store/store.h"

namespace moat::serve {

struct LiveIntelOptions {
  // The first key signs exports; every key is accepted in the feed.
  std::vector<intel::CoalitionKey> keys;
  // Export: on when `collection` is set.
  intel::ExportOptions export_options;
  std::string collection;  // id of a collection of the mounted TAXII server
  std::string recipient;   // audit: to whom; default: the partners that may read the collection
  std::chrono::milliseconds interval{std::chrono::seconds(60)};  // also how often trust is saved
  // Exchange logs the engine reads beside its journal (moat serve --input);
  // "-" (stdin) cannot be read again and is left out of exports.
  std::vector<std::string> logs;
  // Feed: on when set (a feed as `moat intel pull --out` writes it, or a bundle).
  std::string feed_path;
};

// What one export did.
struct LiveExportReport {
  size_t campaigns = 0;      // campaigns with something to share
  size_t published = 0;      // of those, changed since the last export: published now
  size_t indicators = 0;     // in the published campaigns
  size_t objects_added = 0;  // objects new to the collection
  std::string bundle_id;     // empty when nothing changed
  int64_t audit_id = 0;      // the store's export record; 0 when nothing changed
};

// Appends the store's audit record of a bundle that left: what (id,
// SHA-256, key ids and counts, read from the bundle), to whom, where, by whom.
[[nodiscard]] Result<int64_t> RecordExport(store::Store& store, std::string_view bundle_json,
                                           const std::string& producer, const std::string& recipient,
                                           const std::string& collection, const std::string& destination,
                                           const std::string& actor);

// Store checkpoint names (state, replaced on each save; not audit rows).
inline constexpr const char* kTrustCheckpoint = "intel.trust";
inline constexpr const char* kLedgerCheckpoint = "intel.ledger";

class LiveIntel {
 public:
  // Reads the feed and hooks into `service` (the evidence source, and the
  // restore of trust and of the publish ledger from the store before the
  // journal replays). Call before Service::Open with these options.
  static Result<std::unique_ptr<LiveIntel>> Create(LiveIntelOptions options, ServiceOptions& service);
  ~LiveIntel();
  LiveIntel(const LiveIntel&) = delete;
  LiveIntel& operator=(const LiveIntel&) = delete;

  // After Service::Open: starts the thread that exports and saves trust
  // every interval. `taxii` holds the export collection (null when not
  // exporting); both must outlive this object's Stop.
  [[nodiscard]] Status Start(Service& service, intel::TaxiiServer* taxii);
  // Stops the thread and saves trust and ledger. Call before the Service is
  // destroyed (the evidence source must outlive the Service).
  void Stop();

  // One export now (the thread calls this every interval).
  [[nodiscard]] Result<LiveExportReport> ExportNow();
  // Sightings of the feed's indicators (local accounts that matched them)
  // into the export collection, for the partners, when they changed since
  // the last publish; also audited. Returns the sightings published (0 when
  // unchanged). Needs both the feed and the export collection; the thread
  // calls it after each export.
  [[nodiscard]] Result<size_t> PublishSightingsNow();
  // Trust and ledger into the store.
  [[nodiscard]] Status SaveState();
  // The partners' trust as the engine has it now.
  [[nodiscard]] Result<std::vector<intel::PartnerTrust>> Trust();
  [[nodiscard]] Result<std::map<std::string, double>> IndicatorTrust();

  bool exporting() const { return !options_.collection.empty(); }
  bool has_feed() const { return source_ != nullptr; }
  // The feed's indicators the engine matches, and those under a key not given.
  size_t feed_indicators() const { return matcher_ ? matcher_->indicators().size() : 0; }
  size_t feed_unknown_key() const { return matcher_ ? matcher_->skipped_unknown_key() : 0; }

 private:
  explicit LiveIntel(LiveIntelOptions options);
  Status Restore(store::Store& store);
  void Loop();

  LiveIntelOptions options_;
  std::unique_ptr<intel::IndicatorMatcher> matcher_;
  std::unique_ptr<intel::PartnerEvidenceSource> source_;  // used on the engine thread only
  Service* service_ = nullptr;
  intel::TaxiiServer* taxii_ = nullptr;

  std::mutex export_mu_;  // one export (and ledger, and save) at a time
  intel::PublishLedger ledger_;
  std::string saved_trust_digest_;  // SHA-256 of the trust state last saved
  std::string published_sightings_digest_;  // SHA-256 of the sightings bundle last published

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace moat::serve
