#include "moat/core/text_file.h"

#include <cstdio>

namespace moat {

Result<std::string> ReadTextFile(const std::string& path, std::string_view what) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return Status::Error("cannot open " + std::string(what) + " " + path);
  std::string text;
  char buf[1 << 14];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  const bool err = std::ferror(f) != 0;
  std::fclose(f);
  if (err) return Status::Error("cannot read " + std::string(what) + " " + path);
  return text;
}

}  // namespace moat
