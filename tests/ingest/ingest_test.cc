#include "moat/ingest/ingest.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "moat/core/exchange_json.h"
#include "moat/core/time.h"
#include "test_util.h"

namespace moat::ingest {
namespace {

using testing::Gzip;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

struct Collect : ExchangeSink {
  std::vector<Exchange> got;
  void Consume(std::span<const Exchange> batch) override {
    got.insert(got.end(), batch.begin(), batch.end());
  }
};

constexpr EventTime kT0 = 1'770'000'000 * kMicrosPerSecond;

std::string Line(EventTime ts, const std::string& account, const std::string& request_id = {}) {
  Exchange x;
  x.ts = ts;
  x.account_id = account;
  if (!request_id.empty()) {
    x.request_id = request_id;
    x.Set(Field::kRequestId);
  }
  std::string s;
  AppendExchangeJson(x, s);
  return s + "\n";
}

TEST(ReadAll, MergesInterleavedFilesByEventTime) {
  const auto dir = TempDir();
  std::string a, b;
  for (int i = 0; i < 1000; ++i) {
    a += Line(kT0 + (2 * i) * kMicrosPerSecond, "a" + std::to_string(i));
    b += Line(kT0 + (2 * i + 1) * kMicrosPerSecond, "b" + std::to_string(i));
  }
  WriteFile(dir / "a.jsonl", a);
  WriteFile(dir / "b.jsonl.gz", Gzip(b));
  Quarantine q;
  Collect sink;
  IngestOptions opt;
  opt.allowed_lateness = 0;  // the merge alone must give the order
  const IngestReport r =
      ReadAll({(dir / "a.jsonl").string(), (dir / "b.jsonl.gz").string()}, opt, q, sink);
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(sink.got.size(), 2000u);
  for (size_t i = 0; i < sink.got.size(); ++i)
    ASSERT_EQ(sink.got[i].ts, kT0 + static_cast<EventTime>(i) * kMicrosPerSecond);
  EXPECT_EQ(r.stats.lines, 2000u);
  EXPECT_EQ(r.stats.accepted, 2000u);
  EXPECT_EQ(r.stats.late, 0u);
  EXPECT_EQ(r.stats.min_ts, kT0);
  EXPECT_EQ(r.stats.max_ts, kT0 + 1999 * kMicrosPerSecond);
  EXPECT_EQ(r.stats.bytes_uncompressed, a.size() + b.size());
  EXPECT_LT(r.stats.bytes_compressed, a.size() + b.size());
}

TEST(ReadAll, BadSourcesStopAloneAndBadLinesAreQuarantined) {
  const auto dir = TempDir();
  std::string good;
  good += Line(kT0, "x", "req_1");
  good += "\n";                                 // line 2: empty
  good += "{not json\n";                        // line 3
  good += Line(kT0 + 1, "x", "req_1");          // line 4: duplicate
  good += Line(kT0 + 7 * kMicrosPerMinute, "y");  // line 5
  good += Line(kT0 + 1 * kMicrosPerMinute, "late");  // line 6: 6 minutes late
  good += "{\"ts\":\"2026-02-03T14:05:07Z\",\"account_id\":\"a\",\"prompt\":\"\xff\xfe\"}\r\n";
  WriteFile(dir / "good.jsonl", good);
  std::string trunc;
  for (int i = 0; i < 5000; ++i) trunc += Line(kT0 + i, "t" + std::to_string(i));
  const std::string gz = Gzip(trunc);
  WriteFile(dir / "trunc.gz", gz.substr(0, gz.size() - 20));

  const std::string qpath = (dir / "quarantine.jsonl").string();
  auto q = Quarantine::CreateInDir(dir.string());
  ASSERT_TRUE(q.ok()) << q.status().message();
  Collect sink;
  std::vector<IngestStats> progress;
  const IngestReport r = ReadAll(
      {(dir / "good.jsonl").string(), (dir / "missing.jsonl").string(), dir.string(),
       (dir / "trunc.gz").string()},
      IngestOptions{}, q.value(), sink, [&](const IngestStats& s) { progress.push_back(s); });
  ASSERT_TRUE(q.value().Flush().ok());

  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].source, (dir / "missing.jsonl").string());
  EXPECT_EQ(r.errors[1].message, "ingest: " + dir.string() + ": is a directory");
  EXPECT_NE(r.errors[2].message.find("trunc.gz: truncated gzip stream after"), std::string::npos);
  EXPECT_EQ(r.stats.duplicates, 1u);
  EXPECT_EQ(r.stats.late, 1u);
  EXPECT_EQ(r.stats.by_outcome[ToIndex(LineOutcome::kEmptyLine)], 1u);
  EXPECT_GE(r.stats.by_outcome[ToIndex(LineOutcome::kInvalidJson)], 1u);
  EXPECT_EQ(r.stats.by_outcome[ToIndex(LineOutcome::kInvalidUtf8)], 1u);
  EXPECT_GE(r.stats.rejected_total, 3u);  // plus, perhaps, the fragment cut by the truncation
  // The truncated file's complete lines all arrive (its last line at most is lost).
  size_t from_trunc = 0;
  for (const Exchange& x : sink.got) from_trunc += x.account_id[0] == 't';
  EXPECT_GE(from_trunc, 4990u);
  EXPECT_EQ(sink.got.size(), from_trunc + 3);  // x, y, late
  EXPECT_FALSE(progress.empty());

  // Quarantine: exact keys and order, and the raw bytes come back exactly.
  const std::string qtext = ReadFile(qpath);
  const std::string src = (dir / "good.jsonl").string();
  EXPECT_NE(qtext.find("{\"source\":\"" + src + "\",\"line\":2,\"reason\":\"empty_line\",\"raw\":\"\"}\n"),
            std::string::npos)
      << qtext;
  EXPECT_NE(qtext.find("\"line\":3,\"reason\":\"invalid_json\",\"raw\":\"{not json\"}"),
            std::string::npos);
  EXPECT_NE(qtext.find("\\udcff\\udcfe"), std::string::npos);

  if (std::system("python3 -c 'import json' >/dev/null 2>&1") != 0) GTEST_SKIP() << "no python3";
  const std::string out = (dir / "recovered.bin").string();
  const std::string cmd =
      "python3 -c 'import json,sys\n"
      "with open(sys.argv[2],\"wb\") as o:\n"
      "  for l in open(sys.argv[1],encoding=\"utf-8\"):\n"
      "    d=json.loads(l)\n"
      "    assert list(d)==[\"source\",\"line\",\"reason\",\"raw\"]\n"
      "    o.write(d[\"raw\"].encode(\"utf-8\",\"surrogateescape\")+b\"\\n\")' " +
      qpath + " " + out;
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::string recovered = ReadFile(out);
  EXPECT_NE(recovered.find("\"prompt\":\"\xff\xfe\"}\n"), std::string::npos);
  EXPECT_NE(recovered.find("{not json\n"), std::string::npos);
}

TEST(Quarantine, CountingOnly) {
  Quarantine q;
  q.Keep("f", 1, LineOutcome::kInvalidJson, "x");
  EXPECT_EQ(q.count(), 1u);
  EXPECT_FALSE(q.writes_file());
  EXPECT_TRUE(q.Flush().ok());
  std::string s;
  Quarantine::AppendEntry("a\"b", 7, LineOutcome::kWrongType, "\x01\xc3", s);
  EXPECT_EQ(s, R"({"source":"a\"b","line":7,"reason":"wrong_type","raw":"\u0001\udcc3"})");
}

// The background reader hands batches across threads by swapping vectors:
// the sink must see exactly the records, order and statistics of the
// single-threaded path, over many batches and with late and duplicate lines.
TEST(ReadAll, BackgroundReaderMatchesSingleThread) {
  const auto dir = TempDir();
  std::string log;
  uint64_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    const EventTime jitter = static_cast<EventTime>((state >> 33) % (4 * kMicrosPerMinute));
    const EventTime late = (i % 997 == 0) ? 10 * kMicrosPerMinute : 0;
    log += Line(kT0 + i * kMicrosPerSecond - jitter - late, "acct" + std::to_string(i % 37),
                "r" + std::to_string(i % 500 == 1 ? i - 1 : i));  // a retry now and then
  }
  WriteFile(dir / "log.jsonl", log);
  const auto run = [&](bool background) {
    Quarantine q;
    Collect sink;
    IngestOptions opt;
    opt.background_reader = background;
    const IngestReport r = ReadAll({(dir / "log.jsonl").string()}, opt, q, sink);
    EXPECT_TRUE(r.errors.empty());
    return std::make_pair(r.stats, std::move(sink.got));
  };
  const auto [st1, got1] = run(false);
  const auto [st2, got2] = run(true);
  ASSERT_EQ(got1.size(), got2.size());
  EXPECT_GT(st1.late, 0u);
  EXPECT_GT(st1.duplicates, 0u);
  EXPECT_EQ(st1.late, st2.late);
  EXPECT_EQ(st1.duplicates, st2.duplicates);
  EXPECT_EQ(st1.accepted, st2.accepted);
  for (size_t i = 0; i < got1.size(); ++i) {
    ASSERT_EQ(got1[i].ts, got2[i].ts) << i;
    ASSERT_EQ(got1[i].account_id, got2[i].account_id) << i;
    ASSERT_EQ(got1[i].request_id, got2[i].request_id) << i;
  }
}

}  // namespace
}  // namespace moat::ingest
