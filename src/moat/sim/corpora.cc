#include "moat/sim/corpora.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace moat::sim {
namespace {

namespace fs = std::filesystem;

Status Missing(const std::string& path, const std::string& what) {
  return Status::Error("sim corpora: cannot read " + path + ": " + what);
}

Status ReadFile(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Missing(path, "missing or unreadable");
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return Status::Ok();
}

// RFC 4180-ish CSV: quoted fields with "" escapes and embedded newlines.
std::vector<std::vector<std::string>> ParseCsv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        field.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(std::move(field));
      field.clear();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(std::move(field));
      field.clear();
      if (!(row.size() == 1 && row[0].empty())) rows.push_back(std::move(row));
      row.clear();
    } else {
      field.push_back(c);
    }
  }
  if (!field.empty() || !row.empty()) {
    row.push_back(std::move(field));
    rows.push_back(std::move(row));
  }
  return rows;
}

using Docs = std::vector<simdjson::dom::element>;

// Calls fn(element) for each line of a JSON Lines file.
template <typename Fn>
Status ForEachJsonLine(const std::string& path, Fn fn) {
  std::string text;
  if (Status s = ReadFile(path, text); !s.ok()) return s;
  simdjson::dom::parser parser;
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    simdjson::dom::element e;
    if (parser.parse(line.data(), line.size(), true).get(e)) {
      return Missing(path, "line " + std::to_string(line_no) + " is not JSON");
    }
    fn(e);
  }
  return Status::Ok();
}

std::string Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get(v)) return {};
  return std::string(v);
}

int64_t Int(simdjson::dom::element e, const char* key) {
  int64_t v = 0;
  if (e[key].get(v)) {
    double d = 0;
    if (!e[key].get(d)) return static_cast<int64_t>(d);
    return 0;
  }
  return v;
}

// Splits an HH-RLHF transcript into its human and assistant turns.
void SplitTranscript(const std::string& t, std::vector<std::string>& human, std::vector<std::string>& assistant) {
  static const std::string kH = "\n\nHuman: ", kA = "\n\nAssistant: ";
  size_t pos = 0;
  while (pos < t.size()) {
    const size_t h = t.find(kH, pos);
    const size_t a = t.find(kA, pos);
    const size_t next = std::min(h, a);
    if (next == std::string::npos) break;
    const bool is_h = next == h;
    const size_t start = next + (is_h ? kH.size() : kA.size());
    const size_t end = std::min(t.find(kH, start), t.find(kA, start));
    std::string turn = t.substr(start, end == std::string::npos ? std::string::npos : end - start);
    while (!turn.empty() && (turn.back() == ' ' || turn.back() == '\n')) turn.pop_back();
    if (!turn.empty()) (is_h ? human : assistant).push_back(std::move(turn));
    if (end == std::string::npos) break;
    pos = end;
  }
}

double ParseClockSeconds(const std::string& ts) {
  // "2023-11-16 18:17:03.9799600"
  if (ts.size() < 19) return 0;
  const int hh = std::atoi(ts.substr(11, 2).c_str());
  const int mm = std::atoi(ts.substr(14, 2).c_str());
  const double ss = std::atof(ts.substr(17).c_str());
  return hh * 3600.0 + mm * 60.0 + ss;
}

Status LoadAzure(const std::string& path, Empirical& gaps, std::vector<std::pair<int, int>>& tokens) {
  std::string text;
  if (Status s = ReadFile(path, text); !s.ok()) return s;
  const auto rows = ParseCsv(text);
  std::vector<double> g;
  double prev = -1;
  for (size_t i = 1; i < rows.size(); ++i) {
    if (rows[i].size() < 3) continue;
    const double t = ParseClockSeconds(rows[i][0]);
    if (prev >= 0 && t >= prev) g.push_back(t - prev);
    prev = t;
    tokens.emplace_back(std::atoi(rows[i][1].c_str()), std::atoi(rows[i][2].c_str()));
  }
  if (tokens.empty()) return Missing(path, "no rows");
  std::sort(g.begin(), g.end());
  for (double x : g) gaps.Add(x);
  return Status::Ok();
}

void AddHistogram(const std::vector<std::pair<double, double>>& h, Empirical& e) {
  std::vector<std::pair<double, double>> s = h;
  std::sort(s.begin(), s.end());
  for (const auto& [v, w] : s) e.Add(v, w);
}

}  // namespace

bool ParseNumberDictLiteral(std::string_view text, std::vector<std::pair<double, double>>& out) {
  size_t i = 0;
  const auto ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\n' || text[i] == '\t' || text[i] == '\r')) ++i;
  };
  const auto number = [&](double& v) {
    ws();
    const char* b = text.data() + i;
    const char* e = text.data() + text.size();
    if (b < e && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, v);
    if (ec != std::errc() || p == b) return false;
    i = static_cast<size_t>(p - text.data());
    return true;
  };
  ws();
  if (i >= text.size() || text[i] != '{') return false;
  ++i;
  ws();
  if (i < text.size() && text[i] == '}') return true;
  for (;;) {
    double k, v;
    if (!number(k)) return false;
    ws();
    if (i >= text.size() || text[i] != ':') return false;
    ++i;
    if (!number(v)) return false;
    out.emplace_back(k, v);
    ws();
    if (i >= text.size()) return false;
    if (text[i] == ',') {
      ++i;
      ws();
      if (i < text.size() && text[i] == '}') return true;  // trailing comma
      continue;
    }
    if (text[i] == '}') {
      ++i;
      ws();
      return i == text.size();
    }
    return false;
  }
}

Result<Corpora> LoadCorpora(const std::string& dir) {
  Corpora c;
  if (!fs::is_directory(dir)) return Status::Error("sim corpora: directory not found: " + dir);
  const auto p = [&](const char* rel) { return dir + "/" + rel; };
  Status s;
#define MOAT_SIM_TRY(expr) \
  if (Status st_ = (expr); !st_.ok()) return st_

  MOAT_SIM_TRY(ForEachJsonLine(p("arena-hard-v0.1/question.jsonl"), [&](simdjson::dom::element e) {
    simdjson::dom::array turns;
    if (e["turns"].get(turns)) return;
    for (auto t : turns) {
      std::string_view v;
      if (!t["content"].get(v)) {
        c.arena.emplace_back(v);
        break;
      }
    }
  }));
  MOAT_SIM_TRY(ForEachJsonLine(p("nq-open/NQ-open.dev.jsonl"),
                               [&](simdjson::dom::element e) { c.nq.push_back(Str(e, "question")); }));
  {
    std::string text;
    MOAT_SIM_TRY(ReadFile(p("awesome-chatgpt-prompts/prompts.csv"), text));
    const auto rows = ParseCsv(text);
    for (size_t i = 1; i < rows.size(); ++i)
      if (rows[i].size() >= 2 && !rows[i][1].empty()) c.acp.emplace_back(rows[i][0], rows[i][1]);
  }
  MOAT_SIM_TRY(ForEachJsonLine(p("hh-rlhf-harmless-base/test.jsonl"), [&](simdjson::dom::element e) {
    std::vector<std::string> human, assistant;
    SplitTranscript(Str(e, "chosen"), human, assistant);
    if (!human.empty()) c.hh_human.push_back(std::move(human));
    for (auto& a : assistant)
      if (a.size() > 80) c.hh_assistant.push_back(std::move(a));
  }));
  const auto load_tasks = [&](const char* rel, std::vector<SeedTask>& out) {
    return ForEachJsonLine(p(rel), [&](simdjson::dom::element e) {
      SeedTask t;
      t.instruction = Str(e, "instruction");
      t.app = Str(e, "motivation_app");
      simdjson::dom::array inst;
      if (!e["instances"].get(inst)) {
        for (auto x : inst) {
          t.input = Str(x, "input");
          t.output = Str(x, "output");
          break;
        }
      }
      out.push_back(std::move(t));
    });
  };
  MOAT_SIM_TRY(load_tasks("self-instruct/seed_tasks.jsonl", c.seed_tasks));
  MOAT_SIM_TRY(load_tasks("self-instruct/user_oriented_instructions.jsonl", c.user_tasks));
  MOAT_SIM_TRY(ReadFile(p("alpaca-generation-prompt/prompt.txt"), c.alpaca_prompt));
  MOAT_SIM_TRY(ForEachJsonLine(p("gsm8k/test.jsonl"),
                               [&](simdjson::dom::element e) { c.gsm8k_test.push_back(Str(e, "question")); }));
  MOAT_SIM_TRY(ForEachJsonLine(p("gsm8k/train.jsonl"),
                               [&](simdjson::dom::element e) { c.gsm8k_train.push_back(Str(e, "question")); }));
  MOAT_SIM_TRY(ForEachJsonLine(p("humaneval/HumanEval.jsonl"),
                               [&](simdjson::dom::element e) { c.humaneval.push_back(Str(e, "prompt")); }));
  // BBH: one task per file name in the cot-prompts folder, sorted for determinism.
  {
    const std::string cot_dir = p("big-bench-hard/cot-prompts");
    if (!fs::is_directory(cot_dir)) return Missing(cot_dir, "directory not found");
    std::vector<std::string> names;
    for (const auto& ent : fs::directory_iterator(cot_dir))
      if (ent.path().extension() == ".txt") names.push_back(ent.path().stem().string());
    std::sort(names.begin(), names.end());
    simdjson::dom::parser parser;
    for (const auto& name : names) {
      BbhTask task;
      task.name = name;
      MOAT_SIM_TRY(ReadFile(cot_dir + "/" + name + ".txt", task.cot_prefix));
      const size_t sep = task.cot_prefix.find("-----\n");
      if (sep != std::string::npos) task.cot_prefix = task.cot_prefix.substr(sep + 6);
      const std::string jpath = p("big-bench-hard/bbh/") + name + ".json";
      simdjson::dom::element doc;
      if (parser.load(jpath).get(doc)) return Missing(jpath, "missing or not JSON");
      simdjson::dom::array ex;
      if (!doc["examples"].get(ex))
        for (auto x : ex) task.inputs.push_back(Str(x, "input"));
      c.bbh.push_back(std::move(task));
    }
  }
  // MMLU.
  for (const char* split : {"val", "dev"}) {
    const std::string mdir = p("mmlu/") + split;
    if (!fs::is_directory(mdir)) return Missing(mdir, "directory not found");
    std::vector<std::string> files;
    for (const auto& ent : fs::directory_iterator(mdir))
      if (ent.path().extension() == ".csv") files.push_back(ent.path().filename().string());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
      std::string subject = f.substr(0, f.rfind('_'));
      std::replace(subject.begin(), subject.end(), '_', ' ');
      if (std::string(split) == "val") c.mmlu_subjects.push_back(subject);
      std::string text;
      MOAT_SIM_TRY(ReadFile(mdir + "/" + f, text));
      for (auto& r : ParseCsv(text)) {
        if (r.size() < 6) continue;
        McQuestion q;
        q.subject = subject;
        q.question = r[0];
        for (int k = 0; k < 4; ++k) q.options[k] = r[1 + k];
        q.answer = r[5].empty() ? 'A' : r[5][0];
        (std::string(split) == "val" ? c.mmlu_val : c.mmlu_dev).push_back(std::move(q));
      }
    }
  }
  const auto load_two_turn = [&](const char* rel, std::vector<TwoTurn>& out) {
    return ForEachJsonLine(p(rel), [&](simdjson::dom::element e) {
      TwoTurn q;
      q.category = Str(e, "category");
      simdjson::dom::array turns;
      if (!e["turns"].get(turns))
        for (auto t : turns) {
          std::string_view v;
          if (!t.get(v)) q.turns.emplace_back(v);
        }
      simdjson::dom::array ref;
      if (!e["reference"].get(ref))
        for (auto t : ref) {
          std::string_view v;
          if (!t.get(v)) {
            q.reference = std::string(v);
            break;
          }
        }
      if (!q.turns.empty()) out.push_back(std::move(q));
    });
  };
  MOAT_SIM_TRY(load_two_turn("fastchat-llm-judge/mt_bench/question.jsonl", c.mt_bench));
  MOAT_SIM_TRY(load_two_turn("fastchat-llm-judge/vicuna_bench/question.jsonl", c.vicuna));
  MOAT_SIM_TRY(ForEachJsonLine(p("fastchat-llm-judge/judge_prompts.jsonl"), [&](simdjson::dom::element e) {
    JudgePrompt j;
    j.name = Str(e, "name");
    j.system_prompt = Str(e, "system_prompt");
    j.prompt_template = Str(e, "prompt_template");
    j.multi_turn = j.name.find("multi-turn") != std::string::npos;
    j.reference = j.name.find("math") != std::string::npos;
    j.pairwise = Str(e, "type") == "pairwise";
    c.judge.push_back(std::move(j));
  }));
  // Traces.
  MOAT_SIM_TRY(LoadAzure(p("azure-llm-trace-2023/AzureLLMInferenceTrace_conv.csv"), c.azure_conv_gap_s,
                         c.azure_conv_tokens));
  MOAT_SIM_TRY(LoadAzure(p("azure-llm-trace-2023/AzureLLMInferenceTrace_code.csv"), c.azure_code_gap_s,
                         c.azure_code_tokens));
  {
    std::unordered_set<int64_t> seen;  // membership only, never iterated
    std::vector<double> shared;
    MOAT_SIM_TRY(ForEachJsonLine(p("mooncake-trace/conversation_trace.jsonl"), [&](simdjson::dom::element e) {
      c.mooncake_tokens.emplace_back(static_cast<int>(Int(e, "input_length")), static_cast<int>(Int(e, "output_length")));
      simdjson::dom::array ids;
      int lead = 0;
      bool leading = true;
      if (!e["hash_ids"].get(ids))
        for (auto id : ids) {
          int64_t v = 0;
          if (id.get(v)) continue;
          if (leading && seen.count(v)) ++lead;
          else leading = false;
          seen.insert(v);
        }
      shared.push_back(lead);
    }));
    std::sort(shared.begin(), shared.end());
    for (double x : shared) c.mooncake_shared_prefix_blocks.Add(x);
  }
  {
    const std::string sdir = p("servegen-deepseek-r1");
    if (!fs::is_directory(sdir)) return Missing(sdir, "directory not found");
    std::vector<int> ids;
    for (const auto& ent : fs::directory_iterator(sdir)) {
      const std::string n = ent.path().filename().string();
      if (n.rfind("chunk-", 0) == 0 && n.size() > 10 && n.substr(n.size() - 10) == "-trace.csv")
        ids.push_back(std::atoi(n.c_str() + 6));
    }
    std::sort(ids.begin(), ids.end());
    if (ids.empty()) return Missing(sdir, "no chunk-*-trace.csv files");
    std::vector<std::pair<double, double>> pooled_rr, pooled_out;
    simdjson::dom::parser parser;
    for (int id : ids) {
      ServeGenClient cl;
      const std::string tpath = sdir + "/chunk-" + std::to_string(id) + "-trace.csv";
      std::string text;
      MOAT_SIM_TRY(ReadFile(tpath, text));
      for (const auto& r : ParseCsv(text)) {
        if (r.size() < 3) continue;
        const int w = std::atoi(r[0].c_str()) / 600;
        if (w < 0 || w >= 144) continue;
        cl.rate[w] = std::atof(r[1].c_str());
        cl.cv[w] = std::atof(r[2].c_str());
        cl.daily_requests += cl.rate[w] * 600.0;
      }
      const std::string dpath = sdir + "/chunk-" + std::to_string(id) + "-dataset.json";
      simdjson::dom::element doc;
      if (parser.load(dpath).get(doc)) return Missing(dpath, "missing or not JSON");
      simdjson::dom::object windows;
      if (doc.get(windows)) return Missing(dpath, "not an object");
      std::vector<std::pair<double, double>> rr, out;
      for (auto [key, win] : windows) {
        std::string_view lit;
        if (!win["reason_ratio"].get(lit) && !ParseNumberDictLiteral(lit, rr))
          return Missing(dpath, "bad reason_ratio literal in window " + std::string(key));
        if (!win["output_tokens"].get(lit) && !ParseNumberDictLiteral(lit, out))
          return Missing(dpath, "bad output_tokens literal in window " + std::string(key));
      }
      AddHistogram(rr, cl.reason_ratio);
      AddHistogram(out, cl.output_tokens);
      pooled_rr.insert(pooled_rr.end(), rr.begin(), rr.end());
      pooled_out.insert(pooled_out.end(), out.begin(), out.end());
      if (cl.daily_requests > 0 && !cl.reason_ratio.empty() && !cl.output_tokens.empty())
        c.servegen.push_back(std::move(cl));
    }
    AddHistogram(pooled_rr, c.servegen_reason_ratio);
    AddHistogram(pooled_out, c.servegen_output_tokens);
    if (c.servegen.empty()) return Missing(sdir, "no usable clients");
  }
#undef MOAT_SIM_TRY
  (void)s;
  if (c.arena.empty() || c.nq.empty() || c.hh_human.empty() || c.gsm8k_test.empty() || c.bbh.empty() ||
      c.mmlu_val.empty() || c.judge.empty() || c.mt_bench.empty() || c.seed_tasks.empty())
    return Status::Error("sim corpora: a prompt set under " + dir + " is empty");
  return c;
}

}  // namespace moat::sim
