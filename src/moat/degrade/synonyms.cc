#include "moat/degrade/synonyms.h"

#include <fstream>
#include <sstream>

#include <xxhash.h>

namespace moat::degrade {

namespace {

bool ParsePos(std::string_view s, PartOfSpeech& pos) {
  static constexpr std::pair<std::string_view, PartOfSpeech> kNames[] = {
      {"ADJ", PartOfSpeech::kAdjective}, {"ADV", PartOfSpeech::kAdverb},  {"NOUN", PartOfSpeech::kNoun},
      {"VERB", PartOfSpeech::kVerb},     {"PRON", PartOfSpeech::kPronoun}, {"PREP", PartOfSpeech::kPreposition}};
  for (const auto& [name, p] : kNames)
    if (s == name) {
      pos = p;
      return true;
    }
  return false;
}

bool IsVowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

}  // namespace

std::string_view PartOfSpeechName(PartOfSpeech pos) {
  switch (pos) {
    case PartOfSpeech::kAdjective: return "ADJ";
    case PartOfSpeech::kAdverb: return "ADV";
    case PartOfSpeech::kNoun: return "NOUN";
    case PartOfSpeech::kVerb: return "VERB";
    case PartOfSpeech::kPronoun: return "PRON";
    case PartOfSpeech::kPreposition: return "PREP";
  }
  return "?";
}

uint64_t Fingerprint(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

Result<SynonymTable> SynonymTable::Parse(std::string_view text, std::string_view source) {
  SynonymTable table;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };
    const size_t tab = line.find('\t');
    if (tab == std::string_view::npos) return Status::Error(where() + "expected POS<TAB>word,word");
    SynonymSet set;
    if (!ParsePos(line.substr(0, tab), set.pos))
      return Status::Error(where() + "unknown part of speech '" + std::string(line.substr(0, tab)) +
                           "' (ADJ ADV NOUN VERB PRON PREP)");
    std::string_view rest = line.substr(tab + 1);
    while (true) {
      const size_t comma = rest.find(',');
      const std::string_view w = rest.substr(0, comma);
      if (w.empty() || w.size() > kMaxWordLength) return Status::Error(where() + "empty or over-long word");
      for (char c : w)
        if (c < 'a' || c > 'z') return Status::Error(where() + "'" + std::string(w) + "' is not lower-case a-z");
      set.words.emplace_back(w);
      if (comma == std::string_view::npos) break;
      rest = rest.substr(comma + 1);
    }
    if (set.words.size() < 2 || set.words.size() > kMaxSetSize)
      return Status::Error(where() + "a set needs 2 to " + std::to_string(kMaxSetSize) + " words");
    const uint32_t set_index = static_cast<uint32_t>(table.sets_.size());
    for (uint32_t i = 0; i < set.words.size(); ++i) {
      const std::string& w = set.words[i];
      if (!table.words_.emplace(w, WordRef{set_index, i}).second)
        return Status::Error(where() + "'" + w + "' is already in another set");
      set.word_fingerprints.push_back(Fingerprint(w));
      table.first_[w.size()] |= 1u << (w.front() - 'a');
      table.last_[w.size()] |= 1u << (w.back() - 'a');
      if (IsVowel(w[0])) set.vowel_initial |= static_cast<uint8_t>(1u << i);
    }
    // Order-independent, so reordering a set in the file keeps old marks detectable.
    uint64_t fp = 0;
    for (uint64_t f : set.word_fingerprints) fp ^= f;
    set.fingerprint = fp;
    table.sets_.push_back(std::move(set));
  }
  if (table.sets_.empty()) return Status::Error(std::string(source) + ": no synonym sets");
  return table;
}

Result<SynonymTable> SynonymTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read synonym sets " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

const WordRef* SynonymTable::Find(std::string_view lower) const {
  const auto it = words_.find(lower);
  return it == words_.end() ? nullptr : &it->second;
}

std::string DefaultSynonymsPath() {
#ifdef MOAT_SOURCE_DIR
  return std::string(MOAT_SOURCE_DIR) + "/data/watermark/synonyms.tsv";
#else
  return "data/watermark/synonyms.tsv";
#endif
}

}  // namespace moat::degrade
