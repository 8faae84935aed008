#include "moat/degrade/synonyms.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>

#include <xxhash.h>

namespace moat::degrade {

namespace {

bool ParsePos(std::string_view s, PartOfSpeech& pos) {
  static constexpr std::pair<std::string_view, PartOfSpeech> kNames[] = {
      {"ADJ", PartOfSpeech::kAdjective},     {"ADV", PartOfSpeech::kAdverb},
      {"NOUN", PartOfSpeech::kNoun},         {"VERB", PartOfSpeech::kVerb},
      {"PRON", PartOfSpeech::kPronoun},      {"PREP", PartOfSpeech::kPreposition},
      {"CONJ", PartOfSpeech::kConjunction},  {"AUX", PartOfSpeech::kAuxiliary},
      {"DET", PartOfSpeech::kDeterminer}};
  for (const auto& [name, p] : kNames)
    if (s == name) {
      pos = p;
      return true;
    }
  return false;
}

bool IsVowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    const size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

bool IsLowerWord(std::string_view w) {
  if (w.empty()) return false;
  for (char c : w)
    if (c < 'a' || c > 'z') return false;
  return true;
}

// A member: lower-case letters with at most one inner space ("do not") or
// apostrophe ("don't").
bool IsMember(std::string_view w) {
  if (w.empty() || w.size() > kMaxWordLength) return false;
  size_t joins = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const char c = w[i];
    if (c == ' ' || c == '\'') {
      if (i == 0 || i + 1 == w.size() || ++joins > 1) return false;
    } else if (c < 'a' || c > 'z') {
      return false;
    }
  }
  return true;
}

// The first run of letters: what a guard on the next token sees of a member.
std::string_view FirstRun(std::string_view w) { return w.substr(0, w.find_first_of(" '")); }

using Classes = boost::unordered_flat_map<std::string, std::vector<std::string>>;

// "after!=to|not" and friends; classes expand "@name".
Status ParseGuard(std::string_view text, const Classes& classes, Guard& g) {
  if (text == "case=lower") {
    g.lower_only = true;
    return Status::Ok();
  }
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos) return Status::Error("guard '" + std::string(text) + "' has no '='");
  std::string_view side = text.substr(0, eq);
  if (!side.empty() && side.back() == '!') {
    g.negate = true;
    side.remove_suffix(1);
  }
  if (side == "after") g.after = true;
  else if (side != "before")
    return Status::Error("guard '" + std::string(text) + "': expected before=, before!=, after=, after!= or case=lower");
  for (std::string_view token : Split(text.substr(eq + 1), '|')) {
    std::vector<std::string_view> expanded;
    if (!token.empty() && token.front() == '@') {
      const auto it = classes.find(std::string(token.substr(1)));
      if (it == classes.end()) return Status::Error("unknown class '" + std::string(token) + "'");
      for (const std::string& w : it->second) expanded.push_back(w);
    } else {
      expanded.push_back(token);
    }
    for (std::string_view t : expanded) {
      const bool special = std::find(std::begin(kGuardTokens), std::end(kGuardTokens), t) != std::end(kGuardTokens);
      if (!special && !IsLowerWord(t))
        return Status::Error("guard token '" + std::string(t) + "' is neither a lower-case word nor one of " +
                             "START END COMMA NUMBER MONEY NAME OTHER");
      if (t == "NAME") g.names = true;
      else g.tokens.push_back(Fingerprint(t));
    }
  }
  std::sort(g.tokens.begin(), g.tokens.end());
  return Status::Ok();
}

// True when positive lists on the token after rule out that both members
// fit before the same token ("in total" only at a clause end, "total" only
// before "cost", "number", ...).
bool NeverBothFit(const std::vector<Guard>& x, const std::vector<Guard>& y) {
  for (const Guard& gx : x)
    for (const Guard& gy : y) {
      if (!gx.after || !gy.after || gx.negate || gy.negate || gx.lower_only || gy.lower_only) continue;
      if (gx.names && gy.names) continue;
      std::vector<uint64_t> both;
      std::set_intersection(gx.tokens.begin(), gx.tokens.end(), gy.tokens.begin(), gy.tokens.end(), std::back_inserter(both));
      if (both.empty()) return true;
    }
  return false;
}

// True when a guard on the token after fails for `token`.
bool Excludes(const std::vector<Guard>& guards, uint64_t token) {
  for (const Guard& g : guards)
    if (g.after && !g.lower_only && !GuardHolds(g, token, false)) return true;
  return false;
}

}  // namespace

std::string_view PartOfSpeechName(PartOfSpeech pos) {
  switch (pos) {
    case PartOfSpeech::kAdjective: return "ADJ";
    case PartOfSpeech::kAdverb: return "ADV";
    case PartOfSpeech::kNoun: return "NOUN";
    case PartOfSpeech::kVerb: return "VERB";
    case PartOfSpeech::kPronoun: return "PRON";
    case PartOfSpeech::kPreposition: return "PREP";
    case PartOfSpeech::kConjunction: return "CONJ";
    case PartOfSpeech::kAuxiliary: return "AUX";
    case PartOfSpeech::kDeterminer: return "DET";
  }
  return "?";
}

uint64_t Fingerprint(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

Result<SynonymTable> SynonymTable::Parse(std::string_view text, std::string_view source) {
  SynonymTable table;
  Classes classes;
  std::vector<size_t> set_lines;
  size_t line_no = 0;
  while (!text.empty()) {
    const size_t eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    const auto where = [&] { return std::string(source) + ":" + std::to_string(line_no) + ": "; };
    const std::vector<std::string_view> fields = Split(line, '\t');
    if (fields.size() < 2 || fields.size() > 3)
      return Status::Error(where() + "expected POS<TAB>word,word[<TAB>guards] or @class<TAB>word,word");
    if (fields[0].front() == '@') {  // a token class for guards
      std::vector<std::string>& words = classes[std::string(fields[0].substr(1))];
      if (!words.empty()) return Status::Error(where() + "class " + std::string(fields[0]) + " defined twice");
      for (std::string_view w : Split(fields[1], ','))
        if (w.empty()) return Status::Error(where() + "empty word in class");
        else words.emplace_back(w);
      continue;
    }
    SynonymSet set;
    if (!ParsePos(fields[0], set.pos))
      return Status::Error(where() + "unknown part of speech '" + std::string(fields[0]) +
                           "' (ADJ ADV NOUN VERB PRON PREP CONJ AUX DET)");
    std::vector<Guard> set_guards;
    if (fields.size() == 3)
      for (std::string_view g : Split(fields[2], ';')) {
        Guard guard;
        if (Status s = ParseGuard(g, classes, guard); !s.ok()) return Status::Error(where() + s.message());
        set_guards.push_back(std::move(guard));
      }
    for (std::string_view item : Split(fields[1], ',')) {
      std::string_view w = item;
      std::vector<Guard> guards = set_guards;
      if (const size_t open = item.find('['); open != std::string_view::npos) {
        if (item.back() != ']') return Status::Error(where() + "'" + std::string(item) + "': guards must end with ']'");
        w = item.substr(0, open);
        for (std::string_view g : Split(item.substr(open + 1, item.size() - open - 2), ';')) {
          Guard guard;
          if (Status s = ParseGuard(g, classes, guard); !s.ok()) return Status::Error(where() + s.message());
          guards.push_back(std::move(guard));
        }
      }
      if (!IsMember(w))
        return Status::Error(where() + "'" + std::string(w) +
                             "' is not lower-case a-z with at most one inner space or apostrophe, up to " +
                             std::to_string(kMaxWordLength) + " characters");
      set.guarded |= !guards.empty();
      set.guards.push_back(std::move(guards));
      set.words.emplace_back(w);
    }
    if (set.words.size() < 2 || set.words.size() > kMaxSetSize)
      return Status::Error(where() + "a set needs 2 to " + std::to_string(kMaxSetSize) + " words");
    const uint32_t set_index = static_cast<uint32_t>(table.sets_.size());
    for (uint32_t i = 0; i < set.words.size(); ++i) {
      const std::string& w = set.words[i];
      if (!table.words_.emplace(w, WordRef{set_index, i}).second)
        return Status::Error(where() + "'" + w + "' is already in another set");
      if (w.size() <= 8) table.short_words_.emplace(Pack(w), WordRef{set_index, i});
      set.word_fingerprints.push_back(Fingerprint(w));
      table.first_[w.size()] |= 1u << (w.front() - 'a');
      table.last_[w.size()] |= 1u << (w.back() - 'a');
      const std::string_view first = FirstRun(w);
      if (first.size() != w.size()) {
        table.unit_first_[first.size()] |= 1u << (first.front() - 'a');
        table.unit_last_[first.size()] |= 1u << (first.back() - 'a');
        const std::string_view second = std::string_view(w).substr(first.size() + 1);
        table.unit_first_codes_.insert(Pack(first));
        table.unit_second_codes_.insert(Pack(second));
        table.unit_second_first_[second.size()] |= 1u << (second.front() - 'a');
        table.unit_second_last_[second.size()] |= 1u << (second.back() - 'a');
      }
      if (IsVowel(w[0])) set.vowel_initial |= static_cast<uint8_t>(1u << i);
      if (w.find('\'') != std::string::npos) set.contraction |= static_cast<uint8_t>(1u << i);
    }
    // Order-independent, so reordering a set in the file keeps old marks detectable.
    uint64_t fp = 0;
    for (uint64_t f : set.word_fingerprints) fp ^= f;
    set.fingerprint = fp;
    table.sets_.push_back(std::move(set));
    set_lines.push_back(line_no);
  }
  if (table.sets_.empty()) return Status::Error(std::string(source) + ": no synonym sets");
  if (Status s = table.CheckGuardsSurviveMarking(source, set_lines); !s.ok()) return s;
  return table;
}

// The marker decides a slot before the words after it are marked, the
// detector after. Both must see the same guards, so: a guard on the next
// token lists all first words of a set or none of them ("don" of "don't"
// with "do" of "do not"), and a phrase "a b" cannot stand before the "c"
// of another phrase "b c" (else "it is not" could read as "it is" + "not"
// or as "it" + "is not"), and no word of a phrase is a one-word member
// that could fit where the phrase does.
Status SynonymTable::CheckGuardsSurviveMarking(std::string_view source, const std::vector<size_t>& set_lines) const {
  const auto where = [&](size_t set) {
    return std::string(source) + ":" + std::to_string(set_lines[set]) + ": ";
  };
  for (size_t s = 0; s < sets_.size(); ++s)
    for (size_t m = 0; m < sets_[s].words.size(); ++m)
      for (const Guard& g : sets_[s].guards[m]) {
        if (!g.after) continue;
        for (const SynonymSet& other : sets_) {
          size_t listed = 0;
          for (const std::string& w : other.words)
            listed += std::binary_search(g.tokens.begin(), g.tokens.end(), Fingerprint(FirstRun(w)));
          if (listed != 0 && listed != other.words.size())
            return Status::Error(where(s) + "a guard on '" + sets_[s].words[m] + "' lists some but not all first words of {" +
                                 other.words.front() + ", ...}: marking that set could change whether the guard holds");
        }
      }
  for (size_t s = 0; s < sets_.size(); ++s)
    for (size_t m = 0; m < sets_[s].words.size(); ++m) {
      const std::string& p = sets_[s].words[m];
      const size_t space = p.find(' ');
      if (space == std::string::npos) continue;
      const std::string_view a = std::string_view(p).substr(0, space), b = std::string_view(p).substr(space + 1);
      // Marking a one-word member into "a" or "b" would create the phrase.
      // "a" alone must not fit before "b"; "b" alone must not fit where the
      // phrase does (both are then followed by the same token).
      const WordRef* ra = Find(a);
      const WordRef* rb = Find(b);
      const bool a_safe = ra == nullptr || Excludes(sets_[ra->set].guards[ra->member], Fingerprint(b));
      const bool b_safe = rb == nullptr || NeverBothFit(sets_[s].guards[m], sets_[rb->set].guards[rb->member]);
      if (!a_safe || !b_safe)
        return Status::Error(where(s) + "'" + std::string(a_safe ? b : a) + "' of the phrase '" + p +
                             "' is itself a member of a set and could fit there: marking that set could create or "
                             "split the phrase");
      for (const auto& [word, ref] : words_) {
        const size_t sp = word.find(' ');
        if (sp == std::string::npos || std::string_view(word).substr(0, sp) != b) continue;
        const uint64_t c = Fingerprint(std::string_view(word).substr(sp + 1));
        if (!Excludes(sets_[s].guards[m], c))
          return Status::Error(where(s) + "'" + p + "' needs a guard after!=" + word.substr(sp + 1) + " (the phrase '" +
                               word + "' starts inside it)");
      }
    }
  return Status::Ok();
}

Result<SynonymTable> SynonymTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error("cannot read synonym sets " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

const WordRef* SynonymTable::Find(std::string_view lower) const {
  if (lower.size() <= 8) {
    const auto it = short_words_.find(Pack(lower));
    return it == short_words_.end() ? nullptr : &it->second;
  }
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
