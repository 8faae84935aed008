#include "moat/store/store.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <variant>

namespace moat::store {
namespace {

// PRAGMA application_id: "MOAT". Tells a moat store from any other SQLite file.
constexpr int32_t kApplicationId = 0x4d4f4154;

constexpr std::array<std::string_view, 4> kAppealStatusNames = {"open", "in_review", "granted", "denied"};

// Schema by version: kMigrations[v] takes a store from version v to v + 1.
// Audit tables refuse UPDATE and DELETE: appeals change state by appending
// events, overrides by appending a newer override.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE actions(
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  old_action TEXT NOT NULL,
  new_action TEXT NOT NULL,
  rule TEXT NOT NULL,
  evidence TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  wall_time INTEGER NOT NULL,
  actor TEXT NOT NULL);
CREATE INDEX actions_by_account ON actions(account_id, id);
CREATE TABLE appeals(
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  text TEXT NOT NULL,
  submitted_by TEXT NOT NULL,
  wall_time INTEGER NOT NULL);
CREATE INDEX appeals_by_account ON appeals(account_id, id);
CREATE TABLE appeal_events(
  id INTEGER PRIMARY KEY,
  appeal_id INTEGER NOT NULL REFERENCES appeals(id),
  status TEXT NOT NULL CHECK (status IN ('open', 'in_review', 'granted', 'denied')),
  actor TEXT NOT NULL,
  note TEXT NOT NULL,
  wall_time INTEGER NOT NULL);
CREATE INDEX appeal_events_by_appeal ON appeal_events(appeal_id, id);
CREATE TABLE overrides(
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL,
  action TEXT NOT NULL,
  degrade_mode TEXT NOT NULL,
  throttle TEXT NOT NULL,
  since INTEGER NOT NULL,
  until INTEGER NOT NULL,
  analyst TEXT NOT NULL,
  reason TEXT NOT NULL,
  wall_time INTEGER NOT NULL);
CREATE INDEX overrides_by_account ON overrides(account_id, id);
CREATE TABLE checkpoints(
  name TEXT PRIMARY KEY,
  position BLOB NOT NULL,
  wall_time INTEGER NOT NULL);
CREATE TRIGGER actions_append_only_u BEFORE UPDATE ON actions BEGIN SELECT RAISE(ABORT, 'actions is append-only'); END;
CREATE TRIGGER actions_append_only_d BEFORE DELETE ON actions BEGIN SELECT RAISE(ABORT, 'actions is append-only'); END;
CREATE TRIGGER appeals_append_only_u BEFORE UPDATE ON appeals BEGIN SELECT RAISE(ABORT, 'appeals is append-only'); END;
CREATE TRIGGER appeals_append_only_d BEFORE DELETE ON appeals BEGIN SELECT RAISE(ABORT, 'appeals is append-only'); END;
CREATE TRIGGER appeal_events_append_only_u BEFORE UPDATE ON appeal_events BEGIN SELECT RAISE(ABORT, 'appeal_events is append-only'); END;
CREATE TRIGGER appeal_events_append_only_d BEFORE DELETE ON appeal_events BEGIN SELECT RAISE(ABORT, 'appeal_events is append-only'); END;
CREATE TRIGGER overrides_append_only_u BEFORE UPDATE ON overrides BEGIN SELECT RAISE(ABORT, 'overrides is append-only'); END;
CREATE TRIGGER overrides_append_only_d BEFORE DELETE ON overrides BEGIN SELECT RAISE(ABORT, 'overrides is append-only'); END;
)sql",
    // 2: exports of shared indicators (intel).
    R"sql(
CREATE TABLE intel_exports(
  id INTEGER PRIMARY KEY,
  bundle_id TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  producer TEXT NOT NULL,
  recipient TEXT NOT NULL,
  collection TEXT NOT NULL,
  destination TEXT NOT NULL,
  key_ids TEXT NOT NULL,
  counts TEXT NOT NULL,
  actor TEXT NOT NULL,
  wall_time INTEGER NOT NULL);
CREATE TRIGGER intel_exports_append_only_u BEFORE UPDATE ON intel_exports BEGIN SELECT RAISE(ABORT, 'intel_exports is append-only'); END;
CREATE TRIGGER intel_exports_append_only_d BEFORE DELETE ON intel_exports BEGIN SELECT RAISE(ABORT, 'intel_exports is append-only'); END;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

EventTime WallNow() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  // `persistent`: kept for the life of the connection (the writer's statements).
  Status Prepare(sqlite3* db, const char* sql, bool persistent = false) {
    sqlite3_finalize(s_);
    s_ = nullptr;
    if (sqlite3_prepare_v3(db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &s_, nullptr) != SQLITE_OK)
      return Status::Error(std::string("store: cannot prepare statement: ") + sqlite3_errmsg(db));
    return Status::Ok();
  }
  sqlite3_stmt* get() const { return s_; }
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  void Bind(int i, std::string_view v) { sqlite3_bind_text(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT); }
  void BindBlob(int i, std::string_view v) { sqlite3_bind_blob(s_, i, v.data(), int(v.size()), SQLITE_TRANSIENT); }
  void Bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int Step() { return sqlite3_step(s_); }
  int64_t Int(int col) const { return sqlite3_column_int64(s_, col); }
  std::string Text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_blob(s_, col));
    return p ? std::string(p, size_t(sqlite3_column_bytes(s_, col))) : std::string();
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Status Exec(sqlite3* db, const char* sql, const std::string& path) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = "store " + path + ": " + (err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    return Status::Error(msg);
  }
  return Status::Ok();
}

Result<int64_t> PragmaInt(sqlite3* db, const char* sql, const std::string& path) {
  Stmt s;
  if (Status st = s.Prepare(db, sql); !st.ok()) {
    // The first read of a file that is not SQLite fails here.
    return Status::Error("store " + path + ": not a moat store (" + sqlite3_errmsg(db) + ")");
  }
  if (s.Step() != SQLITE_ROW) return Status::Error("store " + path + ": not a moat store (" + sqlite3_errmsg(db) + ")");
  return s.Int(0);
}

Result<sqlite3*> OpenConnection(const std::string& path, bool create, const StoreOptions& o) {
  sqlite3* db = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_FULLMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = "store " + path + ": cannot open: " + (db ? sqlite3_errmsg(db) : "out of memory");
    sqlite3_close_v2(db);
    return Status::Error(msg);
  }
  sqlite3_busy_timeout(db, o.busy_timeout_ms);
  sqlite3_extended_result_codes(db, 1);
  return db;
}

}  // namespace

const char* AppealStatusName(AppealStatus s) { return kAppealStatusNames[static_cast<size_t>(s)].data(); }

std::optional<AppealStatus> ParseAppealStatus(std::string_view name) {
  for (size_t i = 0; i < kAppealStatusNames.size(); ++i)
    if (kAppealStatusNames[i] == name) return static_cast<AppealStatus>(i);
  return std::nullopt;
}

// One caller's write, waiting for the commit that contains it.
struct Job {
  std::variant<std::span<const ActionRecord>, const Appeal*, const AppealEvent*, const OverrideRecord*,
               const Checkpoint*, const ExportRecord*>
      what;
  size_t records = 1;
  std::vector<int64_t> ids;
  Status status;
  bool done = false;
};

struct Store::Impl {
  std::string path;
  StoreOptions options;
  sqlite3* writer = nullptr;  // used by the writer thread only (and Open/close)
  sqlite3* reader = nullptr;
  mutable std::mutex reader_mu;

  std::mutex mu;
  std::condition_variable wake;  // the writer: jobs queued or stopping
  std::condition_variable done;  // callers: a batch committed
  std::deque<Job*> queue;
  bool stopping = false;
  std::thread thread;

  Stmt insert_action, insert_appeal, insert_event, insert_override, insert_export, save_checkpoint, appeal_exists;
  Stmt begin, commit, rollback;

  ~Impl() {
    {
      std::lock_guard lock(mu);
      stopping = true;
    }
    wake.notify_all();
    if (thread.joinable()) thread.join();
    // close_v2: the connections close once the statements (members,
    // finalized after this body) are gone.
    sqlite3_close_v2(reader);
    sqlite3_close_v2(writer);
  }

  Status Prepare() {
    const std::pair<Stmt*, const char*> stmts[] = {
        {&insert_action,
         "INSERT INTO actions(account_id, old_action, new_action, rule, evidence, event_time, wall_time, actor) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
        {&insert_appeal, "INSERT INTO appeals(account_id, text, submitted_by, wall_time) VALUES(?1, ?2, ?3, ?4)"},
        {&insert_event,
         "INSERT INTO appeal_events(appeal_id, status, actor, note, wall_time) VALUES(?1, ?2, ?3, ?4, ?5)"},
        {&insert_override,
         "INSERT INTO overrides(account_id, action, degrade_mode, throttle, since, until, analyst, reason, wall_time) "
         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
        {&insert_export,
         "INSERT INTO intel_exports(bundle_id, sha256, producer, recipient, collection, destination, key_ids, counts, "
         "actor, wall_time) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
        {&save_checkpoint, "INSERT OR REPLACE INTO checkpoints(name, position, wall_time) VALUES(?1, ?2, ?3)"},
        {&appeal_exists, "SELECT 1 FROM appeals WHERE id = ?1"},
        {&begin, "BEGIN IMMEDIATE"},
        {&commit, "COMMIT"},
        {&rollback, "ROLLBACK"},
    };
    for (auto [s, sql] : stmts)
      if (Status st = s->Prepare(writer, sql, true); !st.ok()) return st;
    return Status::Ok();
  }

  Status Error(const char* what) const {
    return Status::Error("store " + path + ": " + what + ": " + sqlite3_errmsg(writer));
  }

  Status Run(Stmt& s) {
    const int rc = s.Step();
    s.Reset();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return Error("write failed");
    return Status::Ok();
  }

  Status Insert(Stmt& s, std::vector<int64_t>& ids) {
    const int rc = s.Step();
    s.Reset();
    if (rc != SQLITE_DONE) return Error("insert failed");
    ids.push_back(sqlite3_last_insert_rowid(writer));
    return Status::Ok();
  }

  Status Write(Job& job) {
    const EventTime now = WallNow();
    if (auto* actions = std::get_if<std::span<const ActionRecord>>(&job.what)) {
      for (const ActionRecord& r : *actions) {
        Stmt& s = insert_action;
        s.Bind(1, r.account_id);
        s.Bind(2, r.old_action);
        s.Bind(3, r.new_action);
        s.Bind(4, r.rule);
        s.Bind(5, r.evidence_json.empty() ? std::string_view("{}") : std::string_view(r.evidence_json));
        s.Bind(6, r.event_time);
        s.Bind(7, r.wall_time != 0 ? r.wall_time : now);
        s.Bind(8, r.actor);
        if (Status st = Insert(s, job.ids); !st.ok()) return st;
      }
    } else if (auto* a = std::get_if<const Appeal*>(&job.what)) {
      Stmt& s = insert_appeal;
      const EventTime wall = (*a)->wall_time != 0 ? (*a)->wall_time : now;
      s.Bind(1, (*a)->account_id);
      s.Bind(2, (*a)->text);
      s.Bind(3, (*a)->submitted_by);
      s.Bind(4, wall);
      if (Status st = Insert(s, job.ids); !st.ok()) return st;
      std::vector<int64_t> event_id;
      Stmt& e = insert_event;
      e.Bind(1, job.ids.back());
      e.Bind(2, std::string_view("open"));
      e.Bind(3, (*a)->submitted_by);
      e.Bind(4, std::string_view("filed"));
      e.Bind(5, wall);
      if (Status st = Insert(e, event_id); !st.ok()) return st;
    } else if (auto* ev = std::get_if<const AppealEvent*>(&job.what)) {
      appeal_exists.Bind(1, (*ev)->appeal_id);
      const int rc = appeal_exists.Step();
      appeal_exists.Reset();
      if (rc != SQLITE_ROW)
        return Status::Error("store " + path + ": appeal " + std::to_string((*ev)->appeal_id) + " does not exist");
      Stmt& s = insert_event;
      s.Bind(1, (*ev)->appeal_id);
      s.Bind(2, std::string_view(AppealStatusName((*ev)->status)));
      s.Bind(3, (*ev)->actor);
      s.Bind(4, (*ev)->note);
      s.Bind(5, (*ev)->wall_time != 0 ? (*ev)->wall_time : now);
      if (Status st = Insert(s, job.ids); !st.ok()) return st;
    } else if (auto* o = std::get_if<const OverrideRecord*>(&job.what)) {
      Stmt& s = insert_override;
      s.Bind(1, (*o)->account_id);
      s.Bind(2, (*o)->action);
      s.Bind(3, (*o)->degrade_mode);
      s.Bind(4, (*o)->throttle_json.empty() ? std::string_view("{}") : std::string_view((*o)->throttle_json));
      s.Bind(5, (*o)->since);
      s.Bind(6, (*o)->until);
      s.Bind(7, (*o)->analyst);
      s.Bind(8, (*o)->reason);
      s.Bind(9, (*o)->wall_time != 0 ? (*o)->wall_time : now);
      if (Status st = Insert(s, job.ids); !st.ok()) return st;
    } else if (auto* x = std::get_if<const ExportRecord*>(&job.what)) {
      Stmt& s = insert_export;
      const ExportRecord& e = **x;
      s.Bind(1, e.bundle_id);
      s.Bind(2, e.sha256);
      s.Bind(3, e.producer);
      s.Bind(4, e.recipient);
      s.Bind(5, e.collection);
      s.Bind(6, e.destination);
      s.Bind(7, e.key_ids_json.empty() ? std::string_view("[]") : std::string_view(e.key_ids_json));
      s.Bind(8, e.counts_json.empty() ? std::string_view("{}") : std::string_view(e.counts_json));
      s.Bind(9, e.actor);
      s.Bind(10, e.wall_time != 0 ? e.wall_time : now);
      if (Status st = Insert(s, job.ids); !st.ok()) return st;
    } else if (auto* c = std::get_if<const Checkpoint*>(&job.what)) {
      Stmt& s = save_checkpoint;
      s.Bind(1, (*c)->name);
      s.BindBlob(2, (*c)->position);
      s.Bind(3, (*c)->wall_time != 0 ? (*c)->wall_time : now);
      if (Status st = Run(s); !st.ok()) return st;
    }
    return Status::Ok();
  }

  // Writes `jobs` in one transaction. On a job's failure everything is
  // rolled back and `failed` names the job; on a failed commit, none.
  Status Transaction(std::span<Job* const> jobs, Job** failed) {
    *failed = nullptr;
    if (Status st = Run(begin); !st.ok()) return st;
    for (Job* j : jobs) {
      j->ids.clear();
      if (Status st = Write(*j); !st.ok()) {
        (void)Run(rollback);
        *failed = j;
        return st;
      }
    }
    if (Status st = Run(commit); !st.ok()) {
      (void)Run(rollback);
      return st;
    }
    return Status::Ok();
  }

  // Group commit: everything queued goes into one transaction (up to
  // max_batch records), one fsync for all. A job that fails (an appeal event
  // for an unknown appeal) sends the batch back to be written job by job,
  // so it fails alone.
  void Loop() {
    std::vector<Job*> batch;
    for (;;) {
      {
        std::unique_lock lock(mu);
        wake.wait(lock, [&] { return stopping || !queue.empty(); });
        if (queue.empty()) return;  // stopping, and nothing left to write
        size_t records = 0;
        while (!queue.empty() && (batch.empty() || records + queue.front()->records <= options.max_batch)) {
          records += queue.front()->records;
          batch.push_back(queue.front());
          queue.pop_front();
        }
      }
      Job* failed = nullptr;
      const Status st = Transaction(batch, &failed);
      if (st.ok()) {
        for (Job* j : batch) j->status = Status::Ok();
      } else if (failed == nullptr || batch.size() == 1) {
        for (Job* j : batch) j->status = st;
      } else {
        for (Job* j : batch) {
          Job* f = nullptr;
          j->status = Transaction(std::span(&j, 1), &f);
        }
      }
      {
        std::lock_guard lock(mu);
        for (Job* j : batch) {
          if (!j->status.ok()) j->ids.clear();
          j->done = true;
        }
      }
      done.notify_all();
      batch.clear();
    }
  }

  // Queues a job and waits for its commit.
  Status Submit(Job& job) {
    {
      std::unique_lock lock(mu);
      if (stopping) return Status::Error("store " + path + ": closed");
      queue.push_back(&job);
    }
    wake.notify_one();
    std::unique_lock lock(mu);
    done.wait(lock, [&] { return job.done; });
    return job.status;
  }

  Result<int64_t> SubmitOne(Job& job) {
    if (Status st = Submit(job); !st.ok()) return st;
    return job.ids.empty() ? int64_t{0} : job.ids.front();
  }

  Status ReadError(const char* what) const {
    return Status::Error("store " + path + ": " + what + ": " + sqlite3_errmsg(reader));
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

const std::string& Store::path() const { return impl_->path; }

Result<std::unique_ptr<Store>> Store::Open(const std::string& path, StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->options = options;
  impl->options.max_batch = std::max<size_t>(1, options.max_batch);
  auto w = OpenConnection(path, options.create, options);
  if (!w.ok()) return w.status();
  impl->writer = w.value();
  sqlite3* db = impl->writer;

  // What is this file? application_id tells ours from any other database.
  auto app_id = PragmaInt(db, "PRAGMA application_id", path);
  if (!app_id.ok()) return app_id.status();
  auto version = PragmaInt(db, "PRAGMA user_version", path);
  if (!version.ok()) return version.status();
  auto tables = PragmaInt(db, "SELECT count(*) FROM sqlite_master", path);
  if (!tables.ok()) return tables.status();
  const bool fresh = app_id.value() == 0 && version.value() == 0 && tables.value() == 0;
  if (!fresh && app_id.value() != kApplicationId)
    return Status::Error("store " + path + ": not a moat store (an SQLite database of another application)");
  if (version.value() > kSchemaVersion)
    return Status::Error("store " + path + ": schema version " + std::to_string(version.value()) +
                         " is newer than this build's (" + std::to_string(kSchemaVersion) + ")");

  // Durability. WAL: a commit is one append to the log; with synchronous
  // FULL the log is fsynced before COMMIT returns, so an acknowledged write
  // survives a process crash and a power loss. NORMAL skips that fsync: a
  // process crash still loses nothing (the log is in the OS page cache),
  // a power loss may lose the last commits.
  if (Status st = Exec(db, options.wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE", path); !st.ok())
    return st;
  if (options.wal) {
    Stmt s;
    if (Status st = s.Prepare(db, "PRAGMA journal_mode"); !st.ok()) return st;
    if (s.Step() != SQLITE_ROW || s.Text(0) != "wal")
      return Status::Error("store " + path + ": cannot switch to WAL mode (file system without shared memory?)");
  }
  const char* sync = options.durability == Durability::kFull ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL";
  if (Status st = Exec(db, sync, path); !st.ok()) return st;
  if (Status st = Exec(db, "PRAGMA foreign_keys=ON", path); !st.ok()) return st;

  // Migrate, one version per transaction.
  for (int64_t v = version.value(); v < kSchemaVersion; ++v) {
    const std::string sql = std::string("BEGIN IMMEDIATE;") + kMigrations[v] +
                            "PRAGMA application_id=" + std::to_string(kApplicationId) +
                            ";PRAGMA user_version=" + std::to_string(v + 1) + ";COMMIT;";
    if (Status st = Exec(db, sql.c_str(), path); !st.ok()) {
      (void)Exec(db, "ROLLBACK", path);
      return Status::Error(st.message() + " (migrating to schema version " + std::to_string(v + 1) + ")");
    }
  }
  if (Status st = impl->Prepare(); !st.ok()) return st;

  auto r = OpenConnection(path, false, options);
  if (!r.ok()) return r.status();
  impl->reader = r.value();
  if (Status st = Exec(impl->reader, "PRAGMA query_only=ON", path); !st.ok()) return st;

  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

Result<int64_t> Store::AppendAction(const ActionRecord& r) {
  Job job;
  job.what = std::span<const ActionRecord>(&r, 1);
  return impl_->SubmitOne(job);
}

Result<std::vector<int64_t>> Store::AppendActions(std::span<const ActionRecord> rs) {
  std::vector<int64_t> ids;
  // Larger spans than a batch go in batch-sized pieces, each committed.
  for (size_t i = 0; i < rs.size(); i += impl_->options.max_batch) {
    Job job;
    job.what = rs.subspan(i, std::min(impl_->options.max_batch, rs.size() - i));
    job.records = std::get<0>(job.what).size();
    if (Status st = impl_->Submit(job); !st.ok()) return st;
    ids.insert(ids.end(), job.ids.begin(), job.ids.end());
  }
  return ids;
}

Result<int64_t> Store::AppendAppeal(const Appeal& a) {
  Job job;
  job.what = &a;
  return impl_->SubmitOne(job);
}

Result<int64_t> Store::AppendAppealEvent(const AppealEvent& e) {
  Job job;
  job.what = &e;
  return impl_->SubmitOne(job);
}

Result<int64_t> Store::AppendOverride(const OverrideRecord& o) {
  Job job;
  job.what = &o;
  return impl_->SubmitOne(job);
}

Result<int64_t> Store::AppendExport(const ExportRecord& e) {
  Job job;
  job.what = &e;
  return impl_->SubmitOne(job);
}

Status Store::SaveCheckpoint(const Checkpoint& c) {
  Job job;
  job.what = &c;
  return impl_->Submit(job);
}

namespace {

ActionRecord ReadAction(const Stmt& s) {
  ActionRecord r;
  r.id = s.Int(0);
  r.account_id = s.Text(1);
  r.old_action = s.Text(2);
  r.new_action = s.Text(3);
  r.rule = s.Text(4);
  r.evidence_json = s.Text(5);
  r.event_time = s.Int(6);
  r.wall_time = s.Int(7);
  r.actor = s.Text(8);
  return r;
}

constexpr const char* kAppealColumns =
    "SELECT a.id, a.account_id, a.text, a.submitted_by, a.wall_time, e.status, e.actor, e.note, e.wall_time "
    "FROM appeals a JOIN appeal_events e "
    "ON e.id = (SELECT max(id) FROM appeal_events WHERE appeal_id = a.id) ";

Appeal ReadAppeal(const Stmt& s) {
  Appeal a;
  a.id = s.Int(0);
  a.account_id = s.Text(1);
  a.text = s.Text(2);
  a.submitted_by = s.Text(3);
  a.wall_time = s.Int(4);
  a.status = ParseAppealStatus(s.Text(5)).value_or(AppealStatus::kOpen);
  a.status_actor = s.Text(6);
  a.status_note = s.Text(7);
  a.status_time = s.Int(8);
  return a;
}

constexpr const char* kOverrideColumns =
    "SELECT id, account_id, action, degrade_mode, throttle, since, until, analyst, reason, wall_time FROM overrides ";

OverrideRecord ReadOverride(const Stmt& s) {
  OverrideRecord o;
  o.id = s.Int(0);
  o.account_id = s.Text(1);
  o.action = s.Text(2);
  o.degrade_mode = s.Text(3);
  o.throttle_json = s.Text(4);
  o.since = s.Int(5);
  o.until = s.Int(6);
  o.analyst = s.Text(7);
  o.reason = s.Text(8);
  o.wall_time = s.Int(9);
  return o;
}

// Runs a query on the reader connection, handing each row to `row`.
template <typename Bind, typename Row>
Status Query(sqlite3* db, const std::string& path, const std::string& sql, Bind&& bind, Row&& row) {
  Stmt s;
  if (Status st = s.Prepare(db, sql.c_str()); !st.ok()) return Status::Error("store " + path + ": " + st.message());
  bind(s);
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) row(s);
  if (rc != SQLITE_DONE) return Status::Error("store " + path + ": query failed: " + sqlite3_errmsg(db));
  return Status::Ok();
}

// Every row of a query, read as a T, on the reader connection under its lock.
template <typename T, typename Bind, typename Read>
Result<std::vector<T>> Rows(sqlite3* db, std::mutex& mu, const std::string& path, const std::string& sql, Bind&& bind,
                            Read&& read) {
  std::vector<T> out;
  std::lock_guard lock(mu);
  if (Status st = Query(db, path, sql, bind, [&](const Stmt& s) { out.push_back(read(s)); }); !st.ok()) return st;
  return out;
}

// The same, newest last, for queries that take the newest rows first.
template <typename T, typename Bind, typename Read>
Result<std::vector<T>> RowsOldestFirst(sqlite3* db, std::mutex& mu, const std::string& path, const std::string& sql,
                                       Bind&& bind, Read&& read) {
  auto rows = Rows<T>(db, mu, path, sql, bind, read);
  if (rows.ok()) std::reverse(rows.value().begin(), rows.value().end());
  return rows;
}

}  // namespace

Result<std::vector<ActionRecord>> Store::AccountHistory(std::string_view account_id, size_t limit) const {
  return RowsOldestFirst<ActionRecord>(
      impl_->reader, impl_->reader_mu, impl_->path,
      "SELECT id, account_id, old_action, new_action, rule, evidence, event_time, wall_time, actor "
      "FROM actions WHERE account_id = ?1 ORDER BY id DESC LIMIT ?2",
      [&](Stmt& s) {
        s.Bind(1, account_id);
        s.Bind(2, limit == 0 ? int64_t{-1} : int64_t(limit));
      },
      ReadAction);
}

Result<std::vector<Appeal>> Store::AppealsByStatus(AppealStatus status) const {
  return Rows<Appeal>(
      impl_->reader, impl_->reader_mu, impl_->path, std::string(kAppealColumns) + "WHERE e.status = ?1 ORDER BY a.id",
      [&](Stmt& s) { s.Bind(1, std::string_view(AppealStatusName(status))); }, ReadAppeal);
}

Result<std::vector<Appeal>> Store::AppealsOfAccount(std::string_view account_id) const {
  return Rows<Appeal>(impl_->reader, impl_->reader_mu, impl_->path,
                      std::string(kAppealColumns) + "WHERE a.account_id = ?1 ORDER BY a.id",
                      [&](Stmt& s) { s.Bind(1, account_id); }, ReadAppeal);
}

Result<std::vector<AppealEvent>> Store::AppealHistory(int64_t appeal_id) const {
  return Rows<AppealEvent>(
      impl_->reader, impl_->reader_mu, impl_->path,
      "SELECT id, appeal_id, status, actor, note, wall_time FROM appeal_events WHERE appeal_id = ?1 ORDER BY id",
      [&](Stmt& s) { s.Bind(1, appeal_id); },
      [](const Stmt& s) {
        AppealEvent e;
        e.id = s.Int(0);
        e.appeal_id = s.Int(1);
        e.status = ParseAppealStatus(s.Text(2)).value_or(AppealStatus::kOpen);
        e.actor = s.Text(3);
        e.note = s.Text(4);
        e.wall_time = s.Int(5);
        return e;
      });
}

Result<std::vector<OverrideRecord>> Store::ActiveOverrides(EventTime t) const {
  return Rows<OverrideRecord>(
      impl_->reader, impl_->reader_mu, impl_->path,
      std::string(kOverrideColumns) +
          "o WHERE id = (SELECT max(id) FROM overrides o2 WHERE o2.account_id = o.account_id AND o2.since <= ?1) "
          "AND action != 'clear' AND ?1 < until ORDER BY account_id",
      [&](Stmt& s) { s.Bind(1, t); }, ReadOverride);
}

Result<std::vector<OverrideRecord>> Store::OverridesOfAccount(std::string_view account_id) const {
  return Rows<OverrideRecord>(impl_->reader, impl_->reader_mu, impl_->path,
                              std::string(kOverrideColumns) + "WHERE account_id = ?1 ORDER BY id",
                              [&](Stmt& s) { s.Bind(1, account_id); }, ReadOverride);
}

Result<std::vector<ExportRecord>> Store::Exports(size_t limit) const {
  return RowsOldestFirst<ExportRecord>(
      impl_->reader, impl_->reader_mu, impl_->path,
      "SELECT id, bundle_id, sha256, producer, recipient, collection, destination, key_ids, counts, actor, wall_time "
      "FROM intel_exports ORDER BY id DESC LIMIT ?1",
      [&](Stmt& s) { s.Bind(1, limit == 0 ? int64_t{-1} : int64_t(limit)); },
      [](const Stmt& s) {
        ExportRecord e;
        e.id = s.Int(0);
        e.bundle_id = s.Text(1);
        e.sha256 = s.Text(2);
        e.producer = s.Text(3);
        e.recipient = s.Text(4);
        e.collection = s.Text(5);
        e.destination = s.Text(6);
        e.key_ids_json = s.Text(7);
        e.counts_json = s.Text(8);
        e.actor = s.Text(9);
        e.wall_time = s.Int(10);
        return e;
      });
}

Result<std::optional<Checkpoint>> Store::LoadCheckpoint(std::string_view name) const {
  std::optional<Checkpoint> out;
  std::lock_guard lock(impl_->reader_mu);
  const Status st = Query(
      impl_->reader, impl_->path, "SELECT name, position, wall_time FROM checkpoints WHERE name = ?1",
      [&](Stmt& s) { s.Bind(1, name); },
      [&](const Stmt& s) { out = Checkpoint{s.Text(0), s.Text(1), s.Int(2)}; });
  if (!st.ok()) return st;
  return out;
}

Result<StoreCounts> Store::Counts() const {
  StoreCounts c;
  std::lock_guard lock(impl_->reader_mu);
  const Status st = Query(
      impl_->reader, impl_->path,
      "SELECT (SELECT count(*) FROM actions), (SELECT count(*) FROM appeals), (SELECT count(*) FROM appeal_events), "
      "(SELECT count(*) FROM overrides), (SELECT count(*) FROM checkpoints), (SELECT count(*) FROM intel_exports)",
      [](Stmt&) {},
      [&](const Stmt& s) {
        c.actions = s.Int(0);
        c.appeals = s.Int(1);
        c.appeal_events = s.Int(2);
        c.overrides = s.Int(3);
        c.checkpoints = s.Int(4);
        c.exports = s.Int(5);
      });
  if (!st.ok()) return st;
  return c;
}

}  // namespace moat::store
