// `moat watermark`: provenance checks for the lexical watermark.
//   detect         test documents (e.g. a suspect model's outputs) for the mark
//   eval           false positives on real answers, detection of marked ones
//   radioactivity  train a student on partly marked answers, test its samples
//   keygen         print a new key line for a key file
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include <simdjson.h>

#include "moat/app/commands.h"
#include "moat/core/json_writer.h"
#include "moat/degrade/experiment.h"

namespace moat::app {

namespace {

using degrade::Detection;

std::string FormatP(double p) {
  char buf[32];
  if (p <= 0) return "<1e-300";
  if (p >= 0.001) std::snprintf(buf, sizeof(buf), "%.4f", p);
  else std::snprintf(buf, sizeof(buf), "%.2e", p);
  return buf;
}

struct DetectArgs {
  std::string key_file;
  std::string synonyms = degrade::DefaultSynonymsPath();
  std::vector<std::string> files;
  std::vector<std::string> served;
  std::vector<std::string> reference;
  std::string jsonl_field;
  uint32_t min_occurrences = 1;
  bool json = false;
};

void PrintDetection(const std::string& name, const Detection& d, bool json) {
  const degrade::KeyScore& best = d.per_key[d.best];
  if (json) {
    std::string out;
    JsonWriter w(out);
    w.BeginObject();
    w.Key("document");
    w.String(name);
    w.Key("tokens");
    w.Uint(d.slots);
    w.Key("eligible_words");
    w.Uint(d.occurrences);
    w.Key("hits");
    w.Uint(best.counts.hits);
    w.Key("expected");
    w.Double(best.counts.expected(), 2);
    w.Key("score");
    w.Double(d.score(), 4);
    w.Key("z");
    w.Double(best.test.z, 3);
    w.Key("p_value");
    w.Raw(FormatP(d.p_value) == "<1e-300" ? "0" : FormatP(d.p_value));
    w.Key("weighted_z");
    w.Double(best.weighted_z, 3);
    w.Key("weighted_p");
    w.Raw(FormatP(d.weighted_p) == "<1e-300" ? "0" : FormatP(d.weighted_p));
    if (d.has_reference) {
      w.Key("reference_z");
      w.Double(best.reference_z, 3);
      w.Key("reference_p");
      w.Raw(FormatP(d.reference_p) == "<1e-300" ? "0" : FormatP(d.reference_p));
    }
    w.Key("best_key");
    w.String(best.key_id);
    w.Key("keys_tried");
    w.Uint(d.per_key.size());
    w.EndObject();
    std::printf("%s\n", out.c_str());
    return;
  }
  std::printf("%-32s %7lu %7lu %8.1f %6.3f %7.2f %10s %7.2f %10s", name.c_str(), static_cast<unsigned long>(d.slots),
              static_cast<unsigned long>(best.counts.hits), best.counts.expected(), d.score(), best.test.z,
              FormatP(d.p_value).c_str(), best.weighted_z, FormatP(d.weighted_p).c_str());
  if (d.has_reference) std::printf(" %7.2f %10s", best.reference_z, FormatP(d.reference_p).c_str());
  std::printf("  %s\n", best.key_id.c_str());
}

// Calls f(text, name) for each document of `path`: the whole file, or with
// `field` each JSON line's string field. False after reporting a bad input.
template <typename F>
bool ForEachDocument(const std::string& path, const std::string& field, F&& f) {
  std::string data;
  if (path == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "moat watermark detect: cannot read %s\n", path.c_str());
      return false;
    }
    data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  if (field.empty()) {
    f(std::string_view(data), path);
    return true;
  }
  simdjson::dom::parser parser;
  bool ok = true;
  size_t line_no = 0;
  for (size_t at = 0; at < data.size();) {
    const size_t eol = std::min(data.find('\n', at), data.size());
    const std::string_view line(data.data() + at, eol - at);
    at = eol + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    std::string_view text;
    simdjson::dom::element e;
    if (parser.parse(line.data(), line.size()).get(e) || e[field].get(text)) {
      std::fprintf(stderr, "moat watermark detect: %s:%zu: not a JSON object with string \"%s\"\n", path.c_str(),
                   line_no, field.c_str());
      ok = false;
      continue;
    }
    f(text, path + ":" + std::to_string(line_no));
  }
  return ok;
}

int RunDetect(const DetectArgs& args) {
  auto synonyms = degrade::SynonymTable::Load(args.synonyms);
  auto keys = degrade::KeyRing::Load(args.key_file);
  for (const Status* s : {&synonyms.status(), &keys.status()})
    if (!s->ok()) {
      std::fprintf(stderr, "moat watermark detect: %s\n", s->message().c_str());
      return kExitBadInput;
    }
  const auto active = keys.value().Active();
  if (active.empty()) {
    std::fprintf(stderr, "moat watermark detect: %s has no active key\n", args.key_file.c_str());
    return kExitBadInput;
  }
  const degrade::Watermarker marker(synonyms.value());
  degrade::Detector doc(marker, active, args.min_occurrences), pooled(marker, active, args.min_occurrences);
  int rc = kExitOk;
  degrade::ReferenceCounts reference(marker);
  for (const std::string& path : args.reference)
    if (!ForEachDocument(path, args.jsonl_field, [&](std::string_view t, const std::string&) { reference.Add(t); }))
      rc = kExitBadInput;
  doc.UseReference(&reference);
  pooled.UseReference(&reference);
  if (!args.json) {
    std::printf("%-32s %7s %7s %8s %6s %7s %10s %7s %10s", "document", "tokens", "hits", "expected", "score", "z", "p",
                "w.z", "w.p");
    if (!args.reference.empty()) std::printf(" %7s %10s", "ref.z", "ref.p");
    std::printf("  %s\n", "best key");
  }
  if (!args.served.empty()) {
    std::vector<std::string> texts;
    for (const std::string& path : args.served)
      if (!ForEachDocument(path, args.jsonl_field, [&](std::string_view t, const std::string&) { texts.emplace_back(t); }))
        rc = kExitBadInput;
    const std::vector<std::string_view> views(texts.begin(), texts.end());
    doc.RestrictTo(degrade::ServedSlots(marker, views));
    pooled.RestrictTo(degrade::ServedSlots(marker, views));
  }
  size_t documents = 0;
  for (const std::string& path : args.files) {
    const bool ok = ForEachDocument(path, args.jsonl_field, [&](std::string_view text, const std::string& name) {
      doc.Clear();
      doc.Add(text);
      pooled.Add(text);
      ++documents;
      PrintDetection(name, doc.Finish(), args.json);
    });
    if (!ok) rc = kExitBadInput;
  }
  if (documents > 1) PrintDetection("POOLED (" + std::to_string(documents) + " documents)", pooled.Finish(), args.json);
  return rc;
}

struct ExperimentArgs {
  std::string corpora = DefaultCorporaDir();
  std::string synonyms = degrade::DefaultSynonymsPath();
  degrade::EvalOptions eval;
  degrade::RadioactivityOptions radio;
};

Result<std::vector<degrade::AnswerDoc>> LoadForExperiment(const ExperimentArgs& args,
                                                          std::unique_ptr<degrade::SynonymTable>& synonyms) {
  auto table = degrade::SynonymTable::Load(args.synonyms);
  if (!table.ok()) return table.status();
  synonyms = std::make_unique<degrade::SynonymTable>(std::move(table).value());
  return degrade::LoadAnswers(args.corpora);
}

int RunEval(const ExperimentArgs& args) {
  std::unique_ptr<degrade::SynonymTable> synonyms;
  auto answers = LoadForExperiment(args, synonyms);
  if (!answers.ok()) {
    std::fprintf(stderr, "moat watermark eval: %s\n", answers.status().message().c_str());
    return kExitBadInput;
  }
  const degrade::Watermarker marker(*synonyms);
  const degrade::KeyRing ring = degrade::ExperimentKeys(args.eval.seed, 2);
  const degrade::EvalReport r = degrade::RunWatermarkEval(answers.value(), marker, ring, args.eval);
  const auto& u = r.unmarked;
  std::printf("watermark eval: %zu synonym sets, %zu real answers, %zu active keys (Sidak-corrected), seed %lu\n\n",
              synonyms->size(), u.documents, r.keys, static_cast<unsigned long>(args.eval.seed));
  std::printf("unmarked answers (GSM8K solutions, HH-RLHF assistant turns, Self-Instruct outputs)\n");
  std::printf("  documents %zu, with at least one token %zu\n", u.documents, u.with_slots);
  std::printf("  false positives at p < 0.001: %zu (%.3f%%) with the fixed key ring, %zu (%.3f%%) with a fresh ring per document\n",
              u.below_001, 100 * u.fpr(), u.fresh_below_001, 100 * u.fresh_fpr());
  std::printf("  KS vs uniform (randomized p): fresh ring per document D=%.4f (p=%.3f); fixed ring D=%.4f (p=%.3f)\n\n",
              u.ks_fresh_keys.d, u.ks_fresh_keys.p_value, u.ks_fixed_keys.d, u.ks_fixed_keys.p_value);
  std::printf("words changed when every answer is marked: %lu of %lu (%.2f%%); eligible %.2f%%; left out by the 8%% cap: %lu\n",
              static_cast<unsigned long>(r.corpus_mark.changed), static_cast<unsigned long>(r.corpus_mark.words),
              100.0 * r.corpus_mark.changed / std::max<uint64_t>(1, r.corpus_mark.words),
              100.0 * r.corpus_mark.eligible / std::max<uint64_t>(1, r.corpus_mark.words),
              static_cast<unsigned long>(r.corpus_mark.capped));
  std::printf("substitutions outside their set: %lu; answers that a second marking changes: %lu\n\n",
              static_cast<unsigned long>(r.pos_mismatches), static_cast<unsigned long>(r.not_idempotent));
  std::printf("marked documents (answers joined until the length is reached)\n");
  std::printf("  %9s %6s %12s %12s %10s %9s %13s %10s %16s\n", "min words", "docs", "median words", "median tokens",
              "p5 tokens", "changed", "median log10p", "p < 0.001", "unmarked p<0.001");
  for (const auto& f : r.marked)
    std::printf("  %9zu %6zu %12.0f %12.0f %10.0f %8.2f%% %13.2f %9.1f%% %16zu\n", f.min_words, f.documents,
                f.median_words, f.median_slots, f.p5_slots,
                100.0 * f.mark.changed / std::max<uint64_t>(1, f.mark.words), f.median_log10_p,
                f.documents == 0 ? 0.0 : 100.0 * f.detected_001 / f.documents, f.unmarked_below_001);
  return kExitOk;
}

int RunRadioactivity(const ExperimentArgs& args) {
  std::unique_ptr<degrade::SynonymTable> synonyms;
  auto answers = LoadForExperiment(args, synonyms);
  if (!answers.ok()) {
    std::fprintf(stderr, "moat watermark radioactivity: %s\n", answers.status().message().c_str());
    return kExitBadInput;
  }
  const degrade::Watermarker marker(*synonyms);
  const auto rows = degrade::RunRadioactivity(answers.value(), marker, args.radio);
  std::printf("radioactivity: Kneser-Ney trigram students on %zu real answers, %zu words sampled from each,\n"
              "slots seen >= %u times, %zu control keys, seed %lu; 'served': only slots of the marked answers\n"
              "(for 0%%: of a marked 10%% the student never saw); 'ref': shares compared with the unmarked answers\n\n",
              answers.value().size(), args.radio.sample_words, args.radio.min_occurrences, args.radio.control_keys,
              static_cast<unsigned long>(args.radio.seed));
  std::printf("%8s %7s %9s %8s %7s %7s %9s %7s %10s %7s %10s | %18s %9s | %14s %7s %7s %10s %14s | %7s %10s %14s %9s\n",
              "marked", "docs", "train tok", "samples", "tokens", "hits", "expected", "z", "p", "w.z", "w.p",
              "control KS D (p)", "ctrl<.001", "served tokens", "hits", "z", "p", "ctrl KS D (p)", "ref.z", "ref.p",
              "ctrl KS D (p)", "ctrl<.001");
  for (const auto& r : rows) {
    const auto& k = r.marking_key.per_key[0];
    char ks[40];
    std::snprintf(ks, sizeof(ks), "%.3f (%.2f)", r.control_ks.d, r.control_ks.p_value);
    const auto& s = r.served_slots.per_key[0];
    char served_ks[40];
    std::snprintf(served_ks, sizeof(served_ks), "%.3f (%.2f)", r.served_control_ks.d, r.served_control_ks.p_value);
    char ref_ks[40];
    std::snprintf(ref_ks, sizeof(ref_ks), "%.3f (%.2f)", r.reference_control_ks.d, r.reference_control_ks.p_value);
    std::printf("%7.0f%% %7zu %9lu %8zu %7lu %7lu %9.1f %7.2f %10s %7.2f %10s | %18s %9zu | %14lu %7lu %7.2f %10s %14s | "
                "%7.2f %10s %14s %9zu\n",
                100 * r.fraction, r.marked_documents, static_cast<unsigned long>(r.training_tokens),
                r.sample_documents, static_cast<unsigned long>(r.marking_key.slots),
                static_cast<unsigned long>(k.counts.hits), k.counts.expected(), k.test.z,
                FormatP(r.marking_key.p_value).c_str(), k.weighted_z, FormatP(r.marking_key.weighted_p).c_str(), ks,
                r.control_below_001, static_cast<unsigned long>(r.served_slots.slots),
                static_cast<unsigned long>(s.counts.hits), s.test.z, FormatP(r.served_slots.p_value).c_str(), served_ks,
                k.reference_z, FormatP(r.marking_key.reference_p).c_str(), ref_ks, r.reference_control_below_001);
  }
  return kExitOk;
}

}  // namespace

void RegisterWatermark(CLI::App& app, CommandSet& commands) {
  CLI::App* wm = app.add_subcommand("watermark", "detect the lexical watermark and measure it");
  wm->require_subcommand(1);

  auto detect = std::make_shared<DetectArgs>();
  CLI::App* d = wm->add_subcommand("detect", "test documents for the watermark, each and pooled");
  d->add_option("--key-file", detect->key_file, "watermark keys (JSON Lines); every active key is tried")->required();
  d->add_option("--synonyms", detect->synonyms, "synonym sets (TSV)")->capture_default_str();
  d->add_option("--jsonl-field", detect->jsonl_field, "inputs are JSON Lines; test this string field of each line");
  d->add_option("--min-occurrences", detect->min_occurrences,
                "score only slots seen this often (2 for samples of a suspect model)")
      ->capture_default_str()->check(CLI::PositiveNumber);
  d->add_option("--served", detect->served,
                "marked texts the suspect could have harvested (same format as the inputs): test only their slots");
  d->add_option("--reference", detect->reference,
                "unmarked text from your own model on similar prompts (same format as the inputs): adds the "
                "reference-corrected test");
  d->add_flag("--json", detect->json, "one JSON object per document");
  d->add_option("files", detect->files, "documents ('-': standard input)")->required();
  d->callback([detect, &commands] { commands.Set([detect] { return RunDetect(*detect); }); });

  auto exp = std::make_shared<ExperimentArgs>();
  CLI::App* e = wm->add_subcommand("eval", "false positives on real answers and detection of marked ones");
  e->add_option("--corpora", exp->corpora, "folder of the real corpora")->capture_default_str();
  e->add_option("--synonyms", exp->synonyms, "synonym sets (TSV)")->capture_default_str();
  e->add_option("--seed", exp->eval.seed, "seed of the experiment keys and orders")->capture_default_str();
  e->add_option("--lengths", exp->eval.marked_lengths, "minimum words of the marked documents")
      ->capture_default_str();
  e->add_option("--marked-docs", exp->eval.marked_documents, "marked documents per length")->capture_default_str();
  e->callback([exp, &commands] { commands.Set([exp] { return RunEval(*exp); }); });

  CLI::App* r = wm->add_subcommand("radioactivity", "does a student trained on marked answers carry the mark?");
  r->add_option("--corpora", exp->corpora, "folder of the real corpora")->capture_default_str();
  r->add_option("--synonyms", exp->synonyms, "synonym sets (TSV)")->capture_default_str();
  r->add_option("--marked-fraction", exp->radio.fractions, "share(s) of the training answers that are marked")
      ->capture_default_str()->check(CLI::Range(0.0, 1.0));
  r->add_option("--sample-words", exp->radio.sample_words, "words sampled from each student")->capture_default_str();
  r->add_option("--min-occurrences", exp->radio.min_occurrences, "score only slots seen this often")
      ->capture_default_str()->check(CLI::PositiveNumber);
  r->add_option("--control-keys", exp->radio.control_keys, "unrelated keys tested on the same samples")
      ->capture_default_str()->check(CLI::PositiveNumber);
  r->add_option("--seed", exp->radio.seed, "seed of the keys, the marked subset and the sampling")
      ->capture_default_str();
  r->callback([exp, &commands] { commands.Set([exp] { return RunRadioactivity(*exp); }); });

  auto key_id = std::make_shared<std::string>();
  CLI::App* k = wm->add_subcommand("keygen", "print a new key line (random secret) to append to a key file");
  k->add_option("--id", *key_id, "key id, e.g. 2026-11-a")->required();
  k->callback([key_id, &commands] {
    commands.Set([key_id] {
      std::printf("%s\n", degrade::NewKeyLine(*key_id).c_str());
      return kExitOk;
    });
  });
}

}  // namespace moat::app
