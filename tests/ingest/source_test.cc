#include "moat/ingest/source.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "test_util.h"

namespace moat::ingest {
namespace {

using testing::Gzip;
using testing::TempDir;
using testing::WriteFile;
using testing::Zstd;

struct ReadResult {
  std::vector<std::string> lines;
  std::vector<uint64_t> numbers;
  std::string error;
  Compression compression = Compression::kNone;
  uint64_t in = 0, out = 0;
};

ReadResult ReadLines(const std::string& path, size_t max = kDefaultMaxLineBytes) {
  ReadResult r;
  auto opened = LineSource::Open(path, max);
  if (!opened.ok()) {
    r.error = opened.status().message();
    return r;
  }
  auto& src = *opened.value();
  SourceLine line;
  while (src.Next(line)) {
    r.lines.emplace_back(line.text);
    r.numbers.push_back(line.number);
    EXPECT_LE(line.text.size(), max);
  }
  r.error = src.error();
  r.compression = src.compression();
  r.in = src.bytes_compressed();
  r.out = src.bytes_uncompressed();
  return r;
}

std::string ManyLines(int n, const std::string& prefix = "line") {
  std::string s;
  for (int i = 0; i < n; ++i) s += prefix + std::to_string(i) + " " + std::string(i % 97, 'x') + "\n";
  return s;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == '\n') {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  if (start < s.size()) out.push_back(s.substr(start));
  return out;
}

TEST(LineSource, PlainCrlfAndNoFinalNewline) {
  const auto dir = TempDir();
  WriteFile(dir / "a.jsonl", "one\r\ntwo\n\nthree\r\nlast");
  const ReadResult r = ReadLines((dir / "a.jsonl").string());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.lines, (std::vector<std::string>{"one", "two", "", "three", "last"}));
  EXPECT_EQ(r.numbers, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(r.in, 21u);
  EXPECT_EQ(r.out, 21u);
}

TEST(LineSource, EmptyFile) {
  const auto dir = TempDir();
  WriteFile(dir / "e.jsonl", "");
  const ReadResult r = ReadLines((dir / "e.jsonl").string());
  EXPECT_EQ(r.error, "");
  EXPECT_TRUE(r.lines.empty());
}

TEST(LineSource, LargePlainFileAcrossBlocks) {
  const auto dir = TempDir();
  const std::string data = ManyLines(60000);  // > 2 MiB: several blocks
  WriteFile(dir / "big.jsonl", data);
  const ReadResult r = ReadLines((dir / "big.jsonl").string());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.lines, Split(data));
}

TEST(LineSource, GzipByMagicNotName) {
  const auto dir = TempDir();
  const std::string data = ManyLines(50000);
  WriteFile(dir / "a.jsonl", Gzip(data));  // no .gz: the magic decides
  const ReadResult r = ReadLines((dir / "a.jsonl").string());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.compression, Compression::kGzip);
  EXPECT_EQ(r.lines, Split(data));
  EXPECT_EQ(r.out, data.size());
}

TEST(LineSource, MultiMemberGzip) {
  const auto dir = TempDir();
  const std::string a = ManyLines(1000, "a"), b = ManyLines(10, "b"), c = "tail-no-newline";
  WriteFile(dir / "m.gz", Gzip(a) + Gzip(b) + Gzip(c));
  const ReadResult r = ReadLines((dir / "m.gz").string());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.lines, Split(a + b + c));
}

TEST(LineSource, MultiFrameZstd) {
  const auto dir = TempDir();
  const std::string a = ManyLines(40000, "a"), b = ManyLines(10, "b");
  WriteFile(dir / "m.zst", Zstd(a) + Zstd(b));
  const ReadResult r = ReadLines((dir / "m.zst").string());
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.compression, Compression::kZstd);
  EXPECT_EQ(r.lines, Split(a + b));
}

TEST(LineSource, TruncatedGzipNamesFileAndKeepsLines) {
  const auto dir = TempDir();
  const std::string data = ManyLines(20000);
  const std::string gz = Gzip(data);
  const std::string path = (dir / "t.jsonl.gz").string();
  WriteFile(path, gz.substr(0, gz.size() / 2));
  const ReadResult r = ReadLines(path);
  EXPECT_NE(r.error.find("ingest: " + path + ": truncated gzip stream after"), std::string::npos)
      << r.error;
  ASSERT_GT(r.lines.size(), 1000u);
  const auto all = Split(data);
  // Every complete line before the cut is there, in order; the last may be a fragment.
  for (size_t i = 0; i + 1 < r.lines.size(); ++i) ASSERT_EQ(r.lines[i], all[i]);
  EXPECT_EQ(all[r.lines.size() - 1].rfind(r.lines.back(), 0), 0u);
}

TEST(LineSource, TruncatedZstdNamesFileAndKeepsLines) {
  const auto dir = TempDir();
  const std::string data = ManyLines(20000);
  const std::string z = Zstd(data);
  const std::string path = (dir / "t.jsonl.zst").string();
  WriteFile(path, z.substr(0, z.size() * 2 / 3));
  const ReadResult r = ReadLines(path);
  EXPECT_NE(r.error.find("ingest: " + path + ": truncated zstd stream after"), std::string::npos)
      << r.error;
  ASSERT_GT(r.lines.size(), 1000u);
  const auto all = Split(data);
  for (size_t i = 0; i + 1 < r.lines.size(); ++i) ASSERT_EQ(r.lines[i], all[i]);
}

TEST(LineSource, CorruptGzip) {
  const auto dir = TempDir();
  std::string gz = Gzip(ManyLines(5000));
  for (size_t i = gz.size() / 2; i < gz.size() / 2 + 64; ++i) gz[i] = static_cast<char>(gz[i] ^ 0x5a);
  const std::string path = (dir / "c.gz").string();
  WriteFile(path, gz);
  const ReadResult r = ReadLines(path);
  EXPECT_NE(r.error.find("ingest: " + path + ": "), std::string::npos) << r.error;
  EXPECT_FALSE(r.lines.empty());
}

TEST(LineSource, DirectoryAndMissingFile) {
  const auto dir = TempDir();
  ReadResult r = ReadLines(dir.string());
  EXPECT_EQ(r.error, "ingest: " + dir.string() + ": is a directory");
  r = ReadLines((dir / "nope.jsonl").string());
  EXPECT_EQ(r.error, "ingest: " + (dir / "nope.jsonl").string() + ": No such file or directory");
}

TEST(LineSource, OverLongLineIsCutAndCountedOnce) {
  const auto dir = TempDir();
  const std::string huge(3 * LineSource::kBlockBytes + 17, 'z');
  WriteFile(dir / "l.jsonl", "first\n" + huge + "\nafter\n" + huge);
  const size_t max = 1000;
  auto opened = LineSource::Open((dir / "l.jsonl").string(), max);
  ASSERT_TRUE(opened.ok());
  auto& src = *opened.value();
  SourceLine line;
  std::vector<std::pair<std::string, bool>> got;
  while (src.Next(line)) got.emplace_back(std::string(line.text), line.too_long);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], std::make_pair(std::string("first"), false));
  EXPECT_EQ(got[1], std::make_pair(std::string(max, 'z'), true));
  EXPECT_EQ(got[2], std::make_pair(std::string("after"), false));
  EXPECT_EQ(got[3], std::make_pair(std::string(max, 'z'), true));
}

}  // namespace
}  // namespace moat::ingest
