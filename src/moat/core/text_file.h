// Whole small text files (configs, policies, JSON Lines reports) and line
// splitting over them: the few lines every loader would otherwise repeat.
#pragma once

#include <string>
#include <string_view>

#include "moat/core/status.h"

namespace moat {

// The file's bytes; `what` names it in the error ("cannot open policy X").
Result<std::string> ReadTextFile(const std::string& path, std::string_view what);

// Pops the first line of `rest` (without its '\n') and advances past it.
inline std::string_view NextLine(std::string_view& rest) {
  const size_t nl = rest.find('\n');
  const std::string_view line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  return line;
}

}  // namespace moat
