// The audit and case store: every change of an account's action, every
// appeal and override, every export of shared indicators, append-only in
// SQLite (WAL), plus the checkpoints a restart resumes from. A write returns
// only once it is committed to disk; concurrent writers share one transaction (group commit). Knows nothing of
// policy or transport: records carry strings and JSON.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moat/core/exchange.h"
#include "moat/core/status.h"

namespace moat::store {

// The schema version this build writes (PRAGMA user_version).
inline constexpr int kSchemaVersion = 2;

// One change of the action applied to an account.
struct ActionRecord {
  int64_t id = 0;  // assigned on append
  std::string account_id;
  std::string old_action;  // policy::ActionName
  std::string new_action;
  std::string rule;
  std::string evidence_json;  // snapshot: verdict, score, reasons, campaign (policy::EvidenceJson)
  EventTime event_time = 0;
  EventTime wall_time = 0;  // 0 on append: the store's clock
  std::string actor;        // "engine" or an analyst id
};

enum class AppealStatus : uint8_t { kOpen = 0, kInReview, kGranted, kDenied };
const char* AppealStatusName(AppealStatus s);  // "open", "in_review", "granted", "denied"
std::optional<AppealStatus> ParseAppealStatus(std::string_view name);

// An appeal as filed, with its current status (its latest status event).
struct Appeal {
  int64_t id = 0;  // assigned on append
  std::string account_id;
  std::string text;
  std::string submitted_by;
  EventTime wall_time = 0;  // 0 on append: the store's clock
  AppealStatus status = AppealStatus::kOpen;
  std::string status_actor;  // who set the current status
  std::string status_note;
  EventTime status_time = 0;
};

// One status event of an appeal (appeals never change in place).
struct AppealEvent {
  int64_t id = 0;
  int64_t appeal_id = 0;
  AppealStatus status = AppealStatus::kOpen;
  std::string actor;
  std::string note;
  EventTime wall_time = 0;
};

// An analyst override. A later record for the same account supersedes an
// earlier one; action "clear" ends the account's override.
struct OverrideRecord {
  int64_t id = 0;  // assigned on append
  std::string account_id;
  std::string action;  // policy::ActionName, or "clear"
  std::string degrade_mode;
  std::string throttle_json;  // throttle limits for action "throttle" ({} when none)
  EventTime since = 0;        // event time it takes effect
  EventTime until = 0;        // event time it ends
  std::string analyst;
  std::string reason;
  EventTime wall_time = 0;  // 0 on append: the store's clock
};

// Where a consumer (e.g. the engine fed by serve) got to. Not audit data:
// saving one replaces the previous position under the same name.
struct Checkpoint {
  std::string name;
  std::string position;  // opaque bytes (an offset, a serialised state)
  EventTime wall_time = 0;  // 0 on save: the store's clock
};

// One bundle of shared indicators that left (moat intel export, or moat
// serve's live export to its TAXII collection): what, to whom, when.
struct ExportRecord {
  int64_t id = 0;  // assigned on append
  std::string bundle_id;
  std::string sha256;       // of the bundle's bytes as sent
  std::string producer;     // the identity the bundle speaks for
  std::string recipient;    // the partner(s) it is for
  std::string collection;   // TAXII collection id; empty for a file
  std::string destination;  // the file written, or "taxii:<collection id>"
  std::string key_ids_json;  // coalition key ids of its digests (JSON array)
  std::string counts_json;   // objects by type, indicators by kind and marking (JSON object)
  std::string actor;         // "moat intel export", "moat serve"
  EventTime wall_time = 0;   // 0 on append: the store's clock
};

struct StoreCounts {
  int64_t actions = 0;
  int64_t appeals = 0;
  int64_t appeal_events = 0;
  int64_t overrides = 0;
  int64_t checkpoints = 0;
  int64_t exports = 0;
};

enum class Durability : uint8_t {
  // synchronous=FULL: the WAL is fsynced at every commit. The default.
  kFull = 0,
  // synchronous=NORMAL: fsync only at checkpoints. In WAL mode a process
  // crash (kill -9) still loses nothing committed, a power loss may lose the
  // last commits.
  kNormal,
};

struct StoreOptions {
  bool wal = true;  // false: rollback journal (DELETE mode)
  Durability durability = Durability::kFull;
  size_t max_batch = 1024;  // records per group-commit transaction
  int busy_timeout_ms = 5000;
  bool create = true;  // false: a missing file is an error
};

// Thread-safe. Writes go to one writer thread that commits whatever is
// queued in one transaction; each caller waits for the commit of its own
// records. Reads use their own connection and see every acknowledged write.
class Store {
 public:
  // Opens or creates the store, migrating an older schema. A file that is
  // not a moat store (another SQLite database, not SQLite at all, a newer
  // schema) is an error naming the path.
  static Result<std::unique_ptr<Store>> Open(const std::string& path, StoreOptions options = {});
  ~Store();  // commits what is queued, then closes
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Appends, returning once committed; ids are the rows' ids.
  Result<int64_t> AppendAction(const ActionRecord& r);
  Result<std::vector<int64_t>> AppendActions(std::span<const ActionRecord> rs);
  // Files an appeal (its first status event, open, in the same transaction).
  Result<int64_t> AppendAppeal(const Appeal& a);
  // Moves an appeal to a new status by appending an event; an unknown
  // appeal id is an error.
  Result<int64_t> AppendAppealEvent(const AppealEvent& e);
  Result<int64_t> AppendOverride(const OverrideRecord& o);
  Result<int64_t> AppendExport(const ExportRecord& e);
  Status SaveCheckpoint(const Checkpoint& c);

  // Queries (newest last unless said).
  // Action changes of one account, oldest first; `limit` 0: all, else the newest `limit`.
  Result<std::vector<ActionRecord>> AccountHistory(std::string_view account_id, size_t limit = 0) const;
  Result<std::vector<Appeal>> AppealsByStatus(AppealStatus status) const;
  Result<std::vector<Appeal>> AppealsOfAccount(std::string_view account_id) const;
  Result<std::vector<AppealEvent>> AppealHistory(int64_t appeal_id) const;
  // Per account, the latest override with since <= t, if it is not "clear"
  // and t < until: what serve reloads into the decision cache on restart.
  Result<std::vector<OverrideRecord>> ActiveOverrides(EventTime t) const;
  Result<std::vector<OverrideRecord>> OverridesOfAccount(std::string_view account_id) const;
  // Exports, oldest first; `limit` 0: all, else the newest `limit`.
  Result<std::vector<ExportRecord>> Exports(size_t limit = 0) const;
  Result<std::optional<Checkpoint>> LoadCheckpoint(std::string_view name) const;
  Result<StoreCounts> Counts() const;

  const std::string& path() const;

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moat::store
