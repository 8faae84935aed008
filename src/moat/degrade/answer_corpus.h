// Real answer texts from ../shared/corpora for the watermark experiments:
// GSM8K solutions, HH-RLHF assistant turns and Self-Instruct outputs. Read
// at run time, never copied into the repository.
#pragma once

#include <string>
#include <vector>

#include "moat/core/status.h"

namespace moat::degrade {

struct AnswerDoc {
  std::string source;  // "gsm8k", "hh-rlhf", "self-instruct"
  std::string text;
};

// A missing or unreadable file is an error naming its path. GSM8K's
// calculator annotations (<<48/2=24>>) are dropped: they are tool markup,
// not prose. HH-RLHF turns are deduplicated across chosen/rejected.
Result<std::vector<AnswerDoc>> LoadAnswers(const std::string& corpora_dir);

}  // namespace moat::degrade
