// The experiments behind the watermark's claims, on real answer texts:
// honest p-values on unmarked text, detection of marked answers, and
// radioactivity (a student trained on partly marked answers carries the
// mark). Deterministic for a given seed.
#pragma once

#include <cstdint>
#include <vector>

#include "moat/degrade/answer_corpus.h"
#include "moat/degrade/detector.h"
#include "moat/degrade/keys.h"
#include "moat/degrade/watermark.h"

namespace moat::degrade {

// `count` active keys with secrets drawn from `seed` (experiments only).
KeyRing ExperimentKeys(uint64_t seed, size_t count, std::string_view prefix = "exp");

struct EvalOptions {
  uint64_t seed = 1;
  std::vector<size_t> marked_lengths = {200, 400, 800};  // minimum words per marked document
  size_t marked_documents = 1000;                        // per length
};

struct UnmarkedFigures {
  size_t documents = 0;
  size_t with_slots = 0;                // documents with at least one slot
  size_t below_001 = 0;                 // Sidak-corrected p < 0.001
  // Corrected randomized p of every document under the fixed key ring.
  // Documents share common slots ("the students"), so under one ring their
  // p-values are uniform but not independent, which KS does not allow for.
  KsResult ks_fixed_keys;
  // The same with a fresh ring per document: independent, so this is the
  // clean check that the test itself is calibrated.
  KsResult ks_fresh_keys;
  size_t fresh_below_001 = 0;
  double fpr() const { return documents == 0 ? 0 : static_cast<double>(below_001) / documents; }
  double fresh_fpr() const { return documents == 0 ? 0 : static_cast<double>(fresh_below_001) / documents; }
};

struct MarkedFigures {
  size_t min_words = 0;
  size_t documents = 0;
  size_t detected_001 = 0;       // Sidak-corrected p < 0.001
  size_t unmarked_below_001 = 0;  // the same documents before marking
  double median_words = 0, median_slots = 0, p5_slots = 0;
  double median_log10_p = 0;
  MarkStats mark;
};

struct EvalReport {
  size_t keys = 0;
  UnmarkedFigures unmarked;
  std::vector<MarkedFigures> marked;
  MarkStats corpus_mark;  // every answer marked once: the share of words changed
  uint64_t pos_mismatches = 0;  // substitutions that left their set (must be 0)
  uint64_t not_idempotent = 0;  // answers that marking twice changes, cap not binding (must be 0)
};

EvalReport RunWatermarkEval(const std::vector<AnswerDoc>& answers, const Watermarker& marker,
                            const KeyRing& keys, const EvalOptions& options);

struct RadioactivityOptions {
  uint64_t seed = 7;
  std::vector<double> fractions = {0.0, 0.1, 0.25, 0.5};
  size_t sample_words = 3000000;  // drawn from each student
  uint32_t min_occurrences = 2;   // see Detector
  size_t control_keys = 200;      // unrelated keys: their p-values must look uniform
};

struct RadioactivityRow {
  double fraction = 0;
  size_t marked_documents = 0;
  size_t training_documents = 0;
  uint64_t training_tokens = 0;
  size_t sample_documents = 0;
  uint64_t sample_words = 0;
  // Pooled over all samples, the key that marked; its reference-corrected
  // test uses the unmarked answers as the teacher's own reference text.
  Detection marking_key;
  // The same, on only the slots of the served marked answers (for 0%: a
  // marked 10% that the student never saw, as the null check).
  Detection served_slots;
  size_t served_documents = 0;
  KsResult served_control_ks;  // control keys on the served slots
  KsResult control_ks;             // randomized p-values of the control keys on the same samples
  size_t control_below_001 = 0;
  KsResult reference_control_ks;   // control keys' reference-corrected p-values
  size_t reference_control_below_001 = 0;
};

std::vector<RadioactivityRow> RunRadioactivity(const std::vector<AnswerDoc>& answers, const Watermarker& marker,
                                               const RadioactivityOptions& options);

}  // namespace moat::degrade
