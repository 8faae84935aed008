#include "moat/text/pattern_set.h"

#include <atomic>

#include <hs.h>

#include "moat/core/check.h"

namespace moat::text {
namespace {

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// One phrase to a regex fragment: literal characters escaped, blanks and
// hyphens flexible, word boundaries where the phrase starts/ends with a word
// character, a trailing '*' leaves the end open.
void AppendPhrase(std::string_view phrase, std::string& out) {
  phrase = Trim(phrase);
  bool open_end = false;
  if (!phrase.empty() && phrase.back() == '*') {
    open_end = true;
    phrase.remove_suffix(1);
  }
  if (phrase.empty()) return;
  if (IsWordChar(phrase.front())) out += "\\b";
  bool in_gap = false;
  for (const char c : phrase) {
    if (c == ' ' || c == '-' || c == '_' || c == '\t') {
      in_gap = true;
      continue;
    }
    if (in_gap) {
      out += "[\\s\\-_]+";
      in_gap = false;
    }
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || u >= 0x80) {
      out.push_back(c);
    } else {
      out.push_back('\\');
      out.push_back(c);
    }
  }
  if (!open_end && IsWordChar(phrase.back())) out += "\\b";
}

std::atomic<uint64_t> next_generation{1};

// One scratch per thread, grown to fit every database the thread scans.
struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  std::array<uint64_t, 8> fitted{};  // generations known to fit (scratch only grows)
  size_t next = 0;
  ~ThreadScratch() {
    if (scratch != nullptr) hs_free_scratch(scratch);
  }
  hs_scratch_t* For(const hs_database_t* db, uint64_t generation) {
    for (const uint64_t g : fitted) {
      if (g == generation) return scratch;
    }
    const hs_error_t err = hs_alloc_scratch(db, &scratch);
    MOAT_CHECK(err == HS_SUCCESS);  // only fails on out-of-memory or a corrupt database
    fitted[next] = generation;
    next = (next + 1) % fitted.size();
    return scratch;
  }
};

int OnMatch(unsigned int index, unsigned long long /*from*/, unsigned long long /*to*/, unsigned int /*flags*/,
            void* context) {
  auto* c = static_cast<std::pair<const uint32_t*, PatternMask*>*>(context);
  c->second->Set(c->first[index]);
  return 0;
}

}  // namespace

std::string PatternSet::ToExpression(const PatternSpec& spec) {
  std::string out;
  switch (spec.syntax) {
    case PatternSyntax::kRegex:
      return spec.expression;
    case PatternSyntax::kPhrase:
      AppendPhrase(spec.expression, out);
      return out;
    case PatternSyntax::kWordList: {
      out = "(?:";
      std::string_view rest = spec.expression;
      bool first = true;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        const std::string_view item = Trim(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
        if (item.empty()) continue;
        if (!first) out.push_back('|');
        first = false;
        AppendPhrase(item, out);
      }
      out.push_back(')');
      return out;
    }
  }
  return out;
}

Result<PatternSet> PatternSet::Compile(std::span<const PatternSpec> specs) {
  if (specs.empty()) return Status::Error("pattern set: no patterns");
  if (hs_valid_platform() != HS_SUCCESS) return Status::Error("pattern set: this CPU lacks SSSE3, Hyperscan cannot run");
  std::vector<std::string> expressions;
  std::vector<const char*> pointers;
  std::vector<unsigned int> flags;
  std::vector<unsigned int> indexes;
  PatternSet set;
  expressions.reserve(specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    if (specs[i].id >= kMaxPatternIds) {
      return Status::Error("pattern set: pattern #" + std::to_string(i) + " '" + specs[i].expression +
                           "': id " + std::to_string(specs[i].id) + " is not below " +
                           std::to_string(kMaxPatternIds));
    }
    expressions.push_back(ToExpression(specs[i]));
    if (expressions.back().empty() || expressions.back() == "(?:)") {
      return Status::Error("pattern set: pattern #" + std::to_string(i) + " (id " + std::to_string(specs[i].id) +
                           ") is empty");
    }
    flags.push_back(HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH);
    indexes.push_back(static_cast<unsigned int>(i));
    set.ids_.push_back(specs[i].id);
  }
  for (const std::string& e : expressions) pointers.push_back(e.c_str());
  hs_database_t* db = nullptr;
  hs_compile_error_t* error = nullptr;
  const hs_error_t err = hs_compile_multi(pointers.data(), flags.data(), indexes.data(),
                                          static_cast<unsigned int>(pointers.size()), HS_MODE_BLOCK, nullptr, &db,
                                          &error);
  if (err != HS_SUCCESS) {
    std::string message = "pattern set: ";
    if (error != nullptr && error->expression >= 0 && static_cast<size_t>(error->expression) < specs.size()) {
      const size_t i = static_cast<size_t>(error->expression);
      message += "pattern #" + std::to_string(i) + " (id " + std::to_string(specs[i].id) + ") '" +
                 specs[i].expression + "' does not compile: " + error->message;
    } else {
      message += std::string("compile failed: ") + (error != nullptr ? error->message : "unknown error");
    }
    if (error != nullptr) hs_free_compile_error(error);
    return Status::Error(std::move(message));
  }
  set.db_ = std::shared_ptr<hs_database>(db, [](hs_database_t* d) { hs_free_database(d); });
  set.generation_ = next_generation.fetch_add(1, std::memory_order_relaxed);
  return set;
}

PatternMask PatternSet::ScanAll(std::string_view text) const {
  PatternMask mask;
  thread_local ThreadScratch scratch;
  hs_scratch_t* s = scratch.For(db_.get(), generation_);
  std::pair<const uint32_t*, PatternMask*> context{ids_.data(), &mask};
  auto scan = [&](std::string_view part) {
    const hs_error_t err =
        hs_scan(db_.get(), part.data(), static_cast<unsigned int>(part.size()), 0, s, OnMatch, &context);
    MOAT_CHECK(err == HS_SUCCESS);
  };
  if (text.size() <= kHeadBytes + kTailBytes) {
    scan(text);
  } else {
    scan(text.substr(0, kHeadBytes));
    scan(text.substr(text.size() - kTailBytes));
  }
  return mask;
}

}  // namespace moat::text
