#include "moat/store/store.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace moat::store {
namespace {

namespace fs = std::filesystem;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moat-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = (dir_ / "audit.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> MustOpen(StoreOptions o = {}) {
    auto s = Store::Open(path_, o);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  // Runs `sql` on a separate raw connection; returns the error, or "" on success.
  std::string RawExec(const std::string& sql) {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    char* err = nullptr;
    std::string out;
    if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) out = err ? err : "error";
    sqlite3_free(err);
    sqlite3_close(db);
    return out;
  }

  fs::path dir_;
  std::string path_;
};

ActionRecord Action(std::string account, std::string from, std::string to, EventTime t) {
  ActionRecord r;
  r.account_id = std::move(account);
  r.old_action = std::move(from);
  r.new_action = std::move(to);
  r.rule = "extraction";
  r.evidence_json = R"({"verdict":"extraction","score":0.9,"reasons":["high_volume"],"campaign_id":null})";
  r.event_time = t;
  r.wall_time = 1000 + t;
  r.actor = "engine";
  return r;
}

TEST_F(StoreTest, AppendsAndReadsBack) {
  auto s = MustOpen();
  ASSERT_TRUE(s);
  auto id1 = s->AppendAction(Action("a", "allow", "throttle", 10));
  auto id2 = s->AppendAction(Action("b", "allow", "suspend", 11));
  auto id3 = s->AppendAction(Action("a", "throttle", "suspend", 12));
  ASSERT_TRUE(id1.ok() && id2.ok() && id3.ok());
  EXPECT_LT(id1.value(), id3.value());
  auto h = s->AccountHistory("a");
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h.value().size(), 2u);
  EXPECT_EQ(h.value()[0].new_action, "throttle");
  EXPECT_EQ(h.value()[1].new_action, "suspend");
  EXPECT_EQ(h.value()[1].id, id3.value());
  EXPECT_EQ(h.value()[1].evidence_json, Action("a", "", "", 0).evidence_json);
  EXPECT_EQ(h.value()[1].wall_time, 1012);
  auto last = s->AccountHistory("a", 1);
  ASSERT_TRUE(last.ok());
  ASSERT_EQ(last.value().size(), 1u);
  EXPECT_EQ(last.value()[0].id, id3.value());

  // Appeals: filed open, moved by appended events.
  Appeal ap;
  ap.account_id = "a";
  ap.text = "we are a university lab";
  ap.submitted_by = "user@uni.example";
  auto appeal = s->AppendAppeal(ap);
  ASSERT_TRUE(appeal.ok());
  auto open = s->AppealsByStatus(AppealStatus::kOpen);
  ASSERT_TRUE(open.ok());
  ASSERT_EQ(open.value().size(), 1u);
  EXPECT_EQ(open.value()[0].text, ap.text);
  EXPECT_GT(open.value()[0].wall_time, 0);  // the store's clock
  ASSERT_TRUE(s->AppendAppealEvent({0, appeal.value(), AppealStatus::kInReview, "ana", "looking", 0}).ok());
  ASSERT_TRUE(s->AppendAppealEvent({0, appeal.value(), AppealStatus::kGranted, "ana", "verified", 0}).ok());
  EXPECT_TRUE(s->AppealsByStatus(AppealStatus::kOpen).value().empty());
  auto granted = s->AppealsByStatus(AppealStatus::kGranted);
  ASSERT_EQ(granted.value().size(), 1u);
  EXPECT_EQ(granted.value()[0].status_actor, "ana");
  EXPECT_EQ(granted.value()[0].status_note, "verified");
  EXPECT_EQ(s->AppealHistory(appeal.value()).value().size(), 3u);
  EXPECT_EQ(s->AppealsOfAccount("a").value().size(), 1u);
  const auto bad = s->AppendAppealEvent({0, 999, AppealStatus::kDenied, "ana", "", 0});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("appeal 999 does not exist"), std::string::npos);

  // Overrides: the latest per account wins; "clear" ends one.
  OverrideRecord o;
  o.account_id = "a";
  o.action = "allow";
  o.since = 100;
  o.until = 200;
  o.analyst = "ana";
  o.reason = "appeal granted";
  ASSERT_TRUE(s->AppendOverride(o).ok());
  o.account_id = "b";
  o.action = "throttle";
  o.throttle_json = R"({"requests_per_minute":10})";
  o.until = 1000;
  ASSERT_TRUE(s->AppendOverride(o).ok());
  auto active = s->ActiveOverrides(150);
  ASSERT_TRUE(active.ok());
  ASSERT_EQ(active.value().size(), 2u);
  EXPECT_EQ(active.value()[1].throttle_json, o.throttle_json);
  EXPECT_EQ(s->ActiveOverrides(99).value().size(), 0u);   // not yet
  EXPECT_EQ(s->ActiveOverrides(200).value().size(), 1u);  // a's ended
  o.action = "clear";
  o.since = 300;
  ASSERT_TRUE(s->AppendOverride(o).ok());
  EXPECT_EQ(s->ActiveOverrides(250).value().size(), 1u);
  EXPECT_EQ(s->ActiveOverrides(300).value().size(), 0u);
  EXPECT_EQ(s->OverridesOfAccount("b").value().size(), 2u);

  ASSERT_TRUE(s->SaveCheckpoint({"engine", std::string("\x00\x01offset=42", 11), 0}).ok());
  ASSERT_TRUE(s->SaveCheckpoint({"engine", std::string("\x00\x02offset=99", 11), 0}).ok());
  auto cp = s->LoadCheckpoint("engine");
  ASSERT_TRUE(cp.ok() && cp.value().has_value());
  EXPECT_EQ(cp.value()->position, std::string("\x00\x02offset=99", 11));
  EXPECT_FALSE(s->LoadCheckpoint("other").value().has_value());

  auto c = s->Counts();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.value().actions, 3);
  EXPECT_EQ(c.value().appeals, 1);
  EXPECT_EQ(c.value().appeal_events, 3);
  EXPECT_EQ(c.value().overrides, 3);
  EXPECT_EQ(c.value().checkpoints, 1);
}

TEST_F(StoreTest, AuditRowsAreAppendOnly) {
  {
    auto s = MustOpen();
    ASSERT_TRUE(s->AppendAction(Action("a", "allow", "block", 1)).ok());
    Appeal ap;
    ap.account_id = "a";
    ASSERT_TRUE(s->AppendAppeal(ap).ok());
    OverrideRecord o;
    o.account_id = "a";
    o.action = "allow";
    ASSERT_TRUE(s->AppendOverride(o).ok());
    ExportRecord e;
    e.bundle_id = "bundle--1";
    ASSERT_TRUE(s->AppendExport(e).ok());
  }
  const std::pair<const char*, const char*> tables[] = {
      {"actions", "new_action = 'allow'"},
      {"appeals", "text = 'edited'"},
      {"appeal_events", "status = 'granted'"},
      {"overrides", "until = 0"},
      {"intel_exports", "recipient = 'someone else'"},
  };
  for (auto [table, set] : tables) {
    EXPECT_NE(RawExec(std::string("UPDATE ") + table + " SET " + set).find(std::string(table) + " is append-only"),
              std::string::npos)
        << table;
    EXPECT_NE(RawExec(std::string("DELETE FROM ") + table).find("append-only"), std::string::npos) << table;
  }
  auto s = MustOpen();
  EXPECT_EQ(s->Counts().value().actions, 1);
  EXPECT_EQ(s->AccountHistory("a").value()[0].new_action, "block");
}

TEST_F(StoreTest, ReopenKeepsEverything) {
  std::vector<int64_t> ids;
  {
    auto s = MustOpen();
    std::vector<ActionRecord> batch;
    for (int i = 0; i < 2500; ++i) batch.push_back(Action("acct-" + std::to_string(i % 50), "allow", "throttle", i));
    auto r = s->AppendActions(batch);
    ASSERT_TRUE(r.ok()) << r.status().message();
    ids = r.value();
    ASSERT_TRUE(s->SaveCheckpoint({"engine", "pos-7", 0}).ok());
  }
  ASSERT_EQ(ids.size(), 2500u);
  EXPECT_EQ(std::set<int64_t>(ids.begin(), ids.end()).size(), 2500u);
  auto s = MustOpen();
  EXPECT_EQ(s->Counts().value().actions, 2500);
  EXPECT_EQ(s->AccountHistory("acct-7").value().size(), 50u);
  EXPECT_EQ(s->LoadCheckpoint("engine").value()->position, "pos-7");
}

TEST_F(StoreTest, ExportsAreRecordedOldestFirst) {
  auto s = MustOpen();
  for (int i = 0; i < 3; ++i) {
    ExportRecord e;
    e.bundle_id = "bundle--" + std::to_string(i);
    e.sha256 = std::string(64, 'a' + i);
    e.producer = "provider-a";
    e.recipient = "provider-b";
    e.collection = "c0ffee";
    e.destination = "taxii:c0ffee";
    e.key_ids_json = R"(["k1"])";
    e.counts_json = R"({"objects":{"indicator":)" + std::to_string(i) + "}}";
    e.actor = "moat serve";
    ASSERT_TRUE(s->AppendExport(e).ok());
  }
  auto all = s->Exports();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all.value().size(), 3u);
  EXPECT_EQ(all.value()[0].bundle_id, "bundle--0");
  EXPECT_EQ(all.value()[2].counts_json, R"({"objects":{"indicator":2}})");
  EXPECT_EQ(all.value()[2].key_ids_json, R"(["k1"])");
  EXPECT_EQ(all.value()[2].destination, "taxii:c0ffee");
  EXPECT_GT(all.value()[2].wall_time, 0);
  auto last = s->Exports(1);
  ASSERT_EQ(last.value().size(), 1u);
  EXPECT_EQ(last.value()[0].bundle_id, "bundle--2");
  EXPECT_EQ(s->Counts().value().exports, 3);
}

TEST_F(StoreTest, MigratesAVersionOneStoreKeepingItsRows) {
  {
    auto s = MustOpen();
    ASSERT_TRUE(s->AppendAction(Action("a", "allow", "block", 1)).ok());
  }
  // What a build of schema version 1 left: no intel_exports table.
  ASSERT_EQ(RawExec("DROP TRIGGER intel_exports_append_only_u; DROP TRIGGER intel_exports_append_only_d; "
                    "DROP TABLE intel_exports; PRAGMA user_version = 1"),
            "");
  auto s = MustOpen();
  EXPECT_EQ(s->Counts().value().actions, 1);
  ExportRecord e;
  e.bundle_id = "bundle--after-migration";
  ASSERT_TRUE(s->AppendExport(e).ok());
  EXPECT_EQ(s->Exports().value().size(), 1u);
}

TEST_F(StoreTest, RefusesFilesThatAreNotAMoatStore) {
  {
    std::ofstream(path_) << "this is not a database, just some text that is long enough to have a header........";
  }
  auto r = Store::Open(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a moat store"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(path_), std::string::npos);

  fs::remove(path_);
  ASSERT_EQ(RawExec("CREATE TABLE customers(id INTEGER)"), "");
  r = Store::Open(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("another application"), std::string::npos) << r.status().message();

  fs::remove(path_);
  ASSERT_TRUE(MustOpen());
  ASSERT_EQ(RawExec("PRAGMA user_version = 99"), "");
  r = Store::Open(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("schema version 99 is newer"), std::string::npos) << r.status().message();

  StoreOptions no_create;
  no_create.create = false;
  EXPECT_FALSE(Store::Open((dir_ / "missing.db").string(), no_create).ok());
}

TEST_F(StoreTest, ConcurrentWritersShareCommits) {
  auto s = MustOpen();
  constexpr int kThreads = 8, kEach = 100;
  std::vector<std::thread> threads;
  std::vector<std::vector<int64_t>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = s->AppendAction(Action("t" + std::to_string(t), "allow", "throttle", i));
        ASSERT_TRUE(r.ok());
        ids[t].push_back(r.value());
      }
    });
  }
  // A bad write among them fails alone; the records committed beside it stay.
  std::atomic<int> bad_failed{0};
  threads.emplace_back([&] {
    for (int i = 0; i < 20; ++i)
      if (!s->AppendAppealEvent({0, 12345, AppealStatus::kGranted, "ana", "", 0}).ok()) ++bad_failed;
  });
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad_failed.load(), 20);
  EXPECT_EQ(s->Counts().value().appeal_events, 0);
  std::set<int64_t> all;
  for (const auto& v : ids) {
    EXPECT_TRUE(std::is_sorted(v.begin(), v.end()));  // each caller's writes in its order
    all.insert(v.begin(), v.end());
  }
  EXPECT_EQ(all.size(), size_t(kThreads * kEach));
  EXPECT_EQ(s->Counts().value().actions, kThreads * kEach);
  EXPECT_EQ(s->AccountHistory("t3").value().size(), size_t(kEach));
}

// A child writes as fast as it can from several threads and reports each
// acknowledged id on a pipe; the parent kills it mid-load with SIGKILL. On
// reopen, every id the child had reported is there.
TEST_F(StoreTest, KillNineLosesNoAcknowledgedWrite) {
  for (const Durability durability : {Durability::kFull, Durability::kNormal}) {
    fs::remove(path_);
    fs::remove(path_ + "-wal");
    fs::remove(path_ + "-shm");
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(fds[0]);
      StoreOptions o;
      o.durability = durability;
      auto s = Store::Open(path_, o);
      if (!s.ok()) ::_exit(2);
      Store& store = *s.value();
      std::vector<std::thread> writers;
      for (int t = 0; t < 8; ++t) {
        writers.emplace_back([&, t] {
          for (int i = 0;; ++i) {
            auto id = store.AppendAction(Action("w" + std::to_string(t), "allow", "block", i));
            if (!id.ok()) ::_exit(3);
            const int64_t v = id.value();
            if (::write(fds[1], &v, sizeof v) != sizeof v) ::_exit(4);  // atomic: < PIPE_BUF
          }
        });
      }
      for (auto& w : writers) w.join();
      ::_exit(0);
    }
    ::close(fds[1]);
    std::vector<int64_t> acked;
    int64_t v;
    // Let it write a while: a thousand acknowledged records, or 5 s.
    const auto start = std::chrono::steady_clock::now();
    while (acked.size() < 1000 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) {
      pollfd pfd{fds[0], POLLIN, 0};
      if (::poll(&pfd, 1, 100) == 0) continue;  // a stalled child still gets killed at 5 s
      if (::read(fds[0], &v, sizeof v) != sizeof v) break;
      acked.push_back(v);
    }
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited on its own with " << WEXITSTATUS(status);
    while (::read(fds[0], &v, sizeof v) == sizeof v) acked.push_back(v);  // acknowledged before it died
    ::close(fds[0]);
    ASSERT_GE(acked.size(), 50u);  // a slow disk may not reach 1,000 in 5 s

    auto s = MustOpen();
    ASSERT_TRUE(s);
    std::set<int64_t> present;
    for (int t = 0; t < 8; ++t) {
      auto history = s->AccountHistory("w" + std::to_string(t));
      ASSERT_TRUE(history.ok());
      for (const ActionRecord& r : history.value()) present.insert(r.id);
    }
    size_t missing = 0;
    for (int64_t id : acked) missing += present.count(id) == 0;
    EXPECT_EQ(missing, 0u) << "durability " << int(durability) << ": " << acked.size() << " acknowledged, "
                           << present.size() << " present";
    EXPECT_GE(present.size(), acked.size());
  }
}

}  // namespace
}  // namespace moat::store
