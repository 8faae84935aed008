#include "moat/degrade/answer_corpus.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <unordered_set>

#include <simdjson.h>

namespace moat::degrade {

namespace {

template <typename F>
Status ForEachLine(const std::string& path, F&& f) {
  simdjson::dom::parser parser;
  simdjson::dom::document_stream stream;
  if (parser.load_many(path).get(stream)) return Status::Error("cannot read " + path);
  size_t n = 0;
  for (auto doc : stream) {
    simdjson::dom::element e;
    if (doc.get(e)) return Status::Error(path + ": invalid JSON after record " + std::to_string(n));
    f(e);
    ++n;
  }
  if (n == 0) return Status::Error(path + ": no records");
  return Status::Ok();
}

std::string DropCalculatorNotes(std::string_view s) {
  std::string out;
  while (true) {
    const size_t open = s.find("<<");
    const size_t close = open == std::string_view::npos ? open : s.find(">>", open);
    if (close == std::string_view::npos) break;
    out.append(s.substr(0, open));
    s.remove_prefix(close + 2);
  }
  out.append(s);
  return out;
}

}  // namespace

Result<std::vector<AnswerDoc>> LoadAnswers(const std::string& dir) {
  std::vector<AnswerDoc> docs;
  for (const char* file : {"/gsm8k/train.jsonl", "/gsm8k/test.jsonl"}) {
    Status s = ForEachLine(dir + file, [&](simdjson::dom::element e) {
      std::string_view a;
      if (!e["answer"].get(a)) docs.push_back({"gsm8k", DropCalculatorNotes(a)});
    });
    if (!s.ok()) return s;
  }
  std::unordered_set<std::string> seen;
  static constexpr std::string_view kA = "\n\nAssistant: ", kH = "\n\nHuman: ";
  Status s = ForEachLine(dir + "/hh-rlhf-harmless-base/test.jsonl", [&](simdjson::dom::element e) {
    for (const char* field : {"chosen", "rejected"}) {
      std::string_view t;
      if (e[field].get(t)) continue;
      for (size_t at = t.find(kA); at != std::string_view::npos; at = t.find(kA, at + 1)) {
        const size_t begin = at + kA.size();
        const size_t end = std::min(t.find(kH, begin), t.find(kA, begin));
        std::string turn(t.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin));
        while (!turn.empty() && std::isspace(static_cast<unsigned char>(turn.back()))) turn.pop_back();
        if (!turn.empty() && seen.insert(turn).second) docs.push_back({"hh-rlhf", std::move(turn)});
      }
    }
  });
  if (!s.ok()) return s;
  for (const char* file : {"/self-instruct/seed_tasks.jsonl", "/self-instruct/user_oriented_instructions.jsonl"}) {
    Status st = ForEachLine(dir + file, [&](simdjson::dom::element e) {
      simdjson::dom::array instances;
      if (e["instances"].get(instances)) return;
      for (simdjson::dom::element inst : instances) {
        std::string_view out;
        if (!inst["output"].get(out) && !out.empty()) docs.push_back({"self-instruct", std::string(out)});
      }
    });
    if (!st.ok()) return st;
  }
  return docs;
}

}  // namespace moat::degrade
