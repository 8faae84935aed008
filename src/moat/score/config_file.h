// The detector's config file (TOML): every weight and threshold of
// DetectorConfig by name, with defaults and one documentation line each.
// Parsed once into an immutable DetectorConfig; no I/O beyond the file read.
#pragma once

#include <string>

#include "moat/core/status.h"
#include "moat/score/detector_config.h"

namespace moat::score {

// Reads `path` over the defaults already in `cfg`: keys left out keep their
// value; an unknown key, a wrong type or a bad value is an error naming the
// key and the file.
[[nodiscard]] Status LoadDetectorConfig(const std::string& path, DetectorConfig& cfg);
// The same, from TOML text (`origin` names it in messages).
[[nodiscard]] Status ParseDetectorConfig(std::string_view toml, const std::string& origin, DetectorConfig& cfg);

// Every setting of `cfg` as a TOML document with its documentation line;
// loading it back gives `cfg` again. A scan writes this next to its verdicts.
std::string DetectorConfigToml(const DetectorConfig& cfg);

}  // namespace moat::score
