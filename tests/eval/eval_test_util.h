// Temp-dir fixtures for eval tests: tiny logs, truth and scan files.
#pragma once

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "moat/core/time.h"

namespace moat::eval::evaltest {

inline EventTime T0() { return *ParseRfc3339("2026-02-01T00:00:00Z"); }
// RFC 3339 text for T0 + `seconds`.
inline std::string At(int64_t seconds) { return FormatRfc3339(T0() + seconds * kMicrosPerSecond); }

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "moat_eval_XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Write(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::string WriteGz(const std::string& name, const std::string& text) const {
    const std::string p = path_ + "/" + name;
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(f);
    return p;
  }

 private:
  std::string path_;
};

}  // namespace moat::eval::evaltest
