// Writes an Exchange as one exchange-log v1 JSON line (no trailing newline).
// Only fields marked present are written, in the order of the spec's table.
#pragma once

#include <string>

#include "moat/core/exchange.h"

namespace moat {

void AppendExchangeJson(const Exchange& x, std::string& out);

}  // namespace moat
