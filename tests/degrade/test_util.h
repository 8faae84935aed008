// Shared fixtures for the degrade tests: the repository's synonym sets and
// fixed test keys (never used outside tests).
#pragma once

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "moat/degrade/experiment.h"
#include "moat/degrade/synonyms.h"

namespace moat::degrade::testing {

inline const SynonymTable& Synonyms() {
  static const SynonymTable table = [] {
    auto t = SynonymTable::Load(std::string(MOAT_SOURCE_DIR) + "/data/watermark/synonyms.tsv");
    if (!t.ok()) {
      ADD_FAILURE() << t.status().message();
      std::abort();
    }
    return std::move(t).value();
  }();
  return table;
}

// ~300 words of answer-like prose with many synonym-set words.
inline std::string LongAnswer() {
  return "Maybe the simplest approach is to calculate the amount each student needs. The children bought "
         "a large box of pencils, therefore every kid received an extra pencil. Perhaps the problem seems "
         "difficult, but it is quite simple. Initially the pupils had 12 pencils; additionally the teacher "
         "purchased more. It is crucial to choose the correct method and to calculate carefully. The doctor "
         "said the trip was long, and the journey was expensive. People usually recommend that you remain "
         "calm. The main goal is to obtain a helpful answer, so we should think about each option. "
         "Someone might assume the issue is complicated, but it often happens that a simple method works. "
         "Finally, the big question is whether the kids will buy more books, and whether the students will "
         "stay after school. Everyone agreed that the movie was wonderful and that the film was fantastic. "
         "Obviously, the error was small, and the mistake was easy to correct. My mom and dad were "
         "extremely happy. Honestly, the benefits are significant and the advantages are obvious. The "
         "lawyer gave useful advice about the medicine. Anyone can see that the choice was appropriate. "
         "Basically, the examples show that the specific amount matters, particularly for children who "
         "are trying to calculate quickly. The large number of photos from the trip made everyone happy, "
         "and the rocks were huge. Thus the answer is 72.";
}

// LongAnswer's sentences each followed by a neutral one, so set words are
// about as dense as in real answers and the change cap does not bind.
inline std::string DilutedAnswer() {
  std::string text;
  const std::string answer = LongAnswer();
  for (size_t at = 0; at < answer.size();) {
    const size_t end = std::min(answer.find(". ", at), answer.size());
    text += answer.substr(at, end - at) + ". The report lists the figures by month of the year in one table. One row "
            "shows one month and the sum for that month, and the last row shows the year. ";
    at = end + 2;
  }
  return text;
}

}  // namespace moat::degrade::testing
