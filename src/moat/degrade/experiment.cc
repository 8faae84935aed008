#include "moat/degrade/experiment.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <xxhash.h>

#include "moat/degrade/ngram_lm.h"

namespace moat::degrade {

namespace {

// Reproducible tie-breaker for randomized p-values.
double DocUniform(std::string_view text, uint64_t seed) {
  return static_cast<double>(XXH3_64bits_withSeed(text.data(), text.size(), seed) >> 11) * 0x1p-53;
}

size_t CountWords(std::string_view text) {
  WordScanner s(text);
  WordSpan w;
  size_t n = 0;
  while (s.Next(w)) ++n;
  return n;
}

std::vector<size_t> Shuffled(size_t n, uint64_t seed) {
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  uint64_t state = seed;
  for (size_t i = n; i > 1; --i) std::swap(order[i - 1], order[NextRandom(state) % i]);
  return order;
}

template <typename T>
double Quantile(std::vector<T> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return static_cast<double>(v[static_cast<size_t>(q * (v.size() - 1))]);
}

// Checks that every changed unit (word, phrase or contraction) was replaced
// within its own set, and that marking did not change how the text splits
// into units.
uint64_t PosMismatches(std::string_view before, std::string_view after, const Watermarker& marker) {
  std::vector<OwnedUnit> a, b;
  marker.Units(before, a);
  marker.Units(after, b);
  uint64_t bad = a.size() > b.size() ? a.size() - b.size() : b.size() - a.size();
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (a[i].lower != b[i].lower && (a[i].set < 0 || a[i].set != b[i].set)) ++bad;
  return bad;
}

}  // namespace

KeyRing ExperimentKeys(uint64_t seed, size_t count, std::string_view prefix) {
  std::vector<WatermarkKey> keys;
  uint64_t state = seed;
  for (size_t i = 0; i < count; ++i) {
    std::string secret;
    for (int j = 0; j < 4; ++j) {
      const uint64_t r = NextRandom(state);
      secret.append(reinterpret_cast<const char*>(&r), sizeof(r));
    }
    keys.emplace_back(std::string(prefix) + "-" + std::to_string(i), secret, true);
  }
  return KeyRing(std::move(keys));
}

EvalReport RunWatermarkEval(const std::vector<AnswerDoc>& answers, const Watermarker& marker, const KeyRing& keys,
                            const EvalOptions& options) {
  EvalReport report;
  const std::vector<const WatermarkKey*> active = keys.Active();
  report.keys = active.size();
  const WatermarkKey& marking = *keys.MarkingKey();
  Detector detector(marker, active);

  // Unmarked: every real answer as it is.
  std::vector<double> fixed, fresh;
  for (size_t i = 0; i < answers.size(); ++i) {
    const AnswerDoc& doc = answers[i];
    const double u = DocUniform(doc.text, options.seed);
    detector.Clear();
    detector.Add(doc.text);
    const Detection d = detector.Finish(u);
    UnmarkedFigures& f = report.unmarked;
    ++f.documents;
    f.with_slots += d.slots > 0;
    f.below_001 += d.p_value < 0.001;
    fixed.push_back(d.p_randomized);
    const KeyRing ring = ExperimentKeys(options.seed * 0x100000001b3ull + i + 1, active.size(), "fresh");
    const std::vector<const WatermarkKey*> fresh_keys = ring.Active();
    Detector fresh_detector(marker, fresh_keys);
    fresh_detector.Add(doc.text);
    const Detection e = fresh_detector.Finish(u);
    f.fresh_below_001 += e.p_value < 0.001;
    fresh.push_back(e.p_randomized);
  }
  report.unmarked.ks_fixed_keys = KsUniform(fixed);
  report.unmarked.ks_fresh_keys = KsUniform(fresh);

  // Change rate and part-of-speech check over the whole corpus, marked once.
  // Marking marked text again must change nothing where the cap did not
  // bind: otherwise the detector reads other slots than the marker wrote.
  std::string marked, again;
  for (const AnswerDoc& doc : answers) {
    marked.clear();
    const uint64_t capped_before = report.corpus_mark.capped;
    marker.Mark(doc.text, marking, marked, &report.corpus_mark);
    report.pos_mismatches += PosMismatches(doc.text, marked, marker);
    if (report.corpus_mark.capped != capped_before) continue;
    again.clear();
    marker.Mark(marked, marking, again);
    report.not_idempotent += again != marked;
  }

  // Marked long answers: consecutive answers of a shuffled order joined
  // until the document reaches the length (real answers are mostly short).
  for (size_t length : options.marked_lengths) {
    MarkedFigures f;
    f.min_words = length;
    const std::vector<size_t> order = Shuffled(answers.size(), options.seed + length);
    std::vector<double> words, slots, log_p;
    size_t next = 0;
    std::string doc;
    while (f.documents < options.marked_documents && next < order.size()) {
      doc.clear();
      size_t n = 0;
      while (n < length && next < order.size()) {
        if (!doc.empty()) doc.append("\n\n");
        doc.append(answers[order[next]].text);
        n += CountWords(answers[order[next++]].text);
      }
      if (n < length) break;
      detector.Clear();
      detector.Add(doc);
      f.unmarked_below_001 += detector.Finish().p_value < 0.001;
      marked.clear();
      marker.Mark(doc, marking, marked, &f.mark);
      detector.Clear();
      detector.Add(marked);
      const Detection d = detector.Finish();
      ++f.documents;
      f.detected_001 += d.p_value < 0.001;
      words.push_back(static_cast<double>(n));
      slots.push_back(static_cast<double>(d.slots));
      log_p.push_back(std::log10(std::max(d.p_value, 1e-300)));
    }
    f.median_words = Quantile(words, 0.5);
    f.median_slots = Quantile(slots, 0.5);
    f.p5_slots = Quantile(slots, 0.05);
    f.median_log10_p = Quantile(log_p, 0.5);
    report.marked.push_back(f);
  }
  return report;
}

std::vector<RadioactivityRow> RunRadioactivity(const std::vector<AnswerDoc>& answers, const Watermarker& marker,
                                               const RadioactivityOptions& options) {
  const KeyRing marking_ring = ExperimentKeys(options.seed, 1, "teacher");
  const KeyRing controls = ExperimentKeys(options.seed ^ 0x5eed, options.control_keys, "control");
  const WatermarkKey& marking = *marking_ring.MarkingKey();
  const std::vector<size_t> order = Shuffled(answers.size(), options.seed);
  std::vector<RadioactivityRow> rows;
  std::vector<std::string> marked(answers.size());
  // The teacher's own unmarked answers: what a provider gets by sampling its
  // model without the mark.
  ReferenceCounts reference(marker);
  for (const AnswerDoc& doc : answers) reference.Add(doc.text);
  for (double fraction : options.fractions) {
    RadioactivityRow row;
    row.fraction = fraction;
    row.marked_documents = static_cast<size_t>(std::llround(fraction * answers.size()));
    // Served: the marked answers (a marked 10% the student never sees when
    // none of its training data is marked).
    row.served_documents = row.marked_documents > 0 ? row.marked_documents : order.size() / 10;
    std::vector<std::string_view> served;
    for (size_t i = 0; i < row.served_documents; ++i) {
      std::string& m = marked[order[i]];
      if (m.empty()) marker.Mark(answers[order[i]].text, marking, m);
      served.push_back(m);
    }
    std::vector<std::string_view> training;
    for (size_t i = 0; i < order.size(); ++i) {
      const std::string& text = answers[order[i]].text;
      if (i < row.marked_documents) {
        training.push_back(marked[order[i]]);
      } else {
        training.push_back(text);
      }
    }
    TrigramLm student;
    student.Train(training);
    row.training_documents = training.size();
    row.training_tokens = student.training_tokens();

    Detector with_marking(marker, {&marking}, options.min_occurrences);
    Detector on_served(marker, {&marking}, options.min_occurrences);
    on_served.RestrictTo(ServedSlots(marker, served));
    std::vector<const WatermarkKey*> control_keys;
    for (const auto& k : controls.keys()) control_keys.push_back(&k);
    Detector with_controls(marker, control_keys, options.min_occurrences);
    Detector served_controls(marker, control_keys, options.min_occurrences);
    with_marking.UseReference(&reference);
    with_controls.UseReference(&reference);
    served_controls.RestrictTo(ServedSlots(marker, served));
    uint64_t state = options.seed * 1000003 + static_cast<uint64_t>(fraction * 1000);
    while (row.sample_words < options.sample_words) {
      const std::string sample = student.Sample(state, 400);
      row.sample_words += CountWords(sample);
      ++row.sample_documents;
      with_marking.Add(sample);
      on_served.Add(sample);
      served_controls.Add(sample);
      with_controls.Add(sample);
    }
    row.marking_key = with_marking.Finish();
    row.served_slots = on_served.Finish();
    const Detection c = with_controls.Finish();
    std::vector<double> p;
    for (const KeyScore& s : c.per_key) {
      p.push_back(s.test.p_randomized);
      row.control_below_001 += s.test.p_value < 0.001;
    }
    row.control_ks = KsUniform(p);
    p.clear();
    for (const KeyScore& s : c.per_key) {
      p.push_back(s.reference_p);
      row.reference_control_below_001 += s.reference_p < 0.001;
    }
    row.reference_control_ks = KsUniform(p);
    p.clear();
    for (const KeyScore& s : served_controls.Finish().per_key) p.push_back(s.test.p_randomized);
    row.served_control_ks = KsUniform(p);
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace moat::degrade
