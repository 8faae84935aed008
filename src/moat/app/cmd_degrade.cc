// `moat degrade`: what a suspected extractor would receive. Reads response
// JSON (one object per file, or one per line with --jsonl) or plain text and
// writes it with reasoning withheld, watermarked, or both.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "moat/app/commands.h"
#include "moat/degrade/transform.h"

namespace moat::app {

namespace {

struct DegradeArgs {
  std::string mode = "withhold+watermark";
  std::string key_file;
  std::string synonyms = degrade::DefaultSynonymsPath();
  std::vector<std::string> inputs;
  std::string out;
  bool text = false;
  bool jsonl = false;
  bool stats = false;
};

bool ReadInput(const std::string& path, std::string& data) {
  if (path == "-") {
    data.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    return true;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  data.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return !in.bad();
}

bool LooksLikeJson(std::string_view s) {
  const size_t i = s.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && s[i] == '{';
}

int RunDegrade(const DegradeArgs& args) {
  const auto mode = degrade::ParseMode(args.mode);
  if (!mode.ok()) {
    std::fprintf(stderr, "moat degrade: %s\n", mode.status().message().c_str());
    return kExitBadInput;
  }
  auto transformer = degrade::Transformer::Load(args.synonyms, args.key_file);
  if (!transformer.ok()) {
    std::fprintf(stderr, "moat degrade: %s\n", transformer.status().message().c_str());
    return kExitBadInput;
  }
  std::FILE* out = stdout;
  if (!args.out.empty() && (out = std::fopen(args.out.c_str(), "wb")) == nullptr) {
    std::fprintf(stderr, "moat degrade: cannot write %s\n", args.out.c_str());
    return kExitFailure;
  }
  const std::vector<std::string> inputs = args.inputs.empty() ? std::vector<std::string>{"-"} : args.inputs;
  degrade::TransformStats total;
  int rc = kExitOk;
  std::string data;
  for (const std::string& path : inputs) {
    if (!ReadInput(path, data)) {
      std::fprintf(stderr, "moat degrade: cannot read %s\n", path.c_str());
      rc = kExitBadInput;
      continue;
    }
    const auto one = [&](std::string_view doc, const std::string& where) {
      degrade::TransformStats s;
      const bool json = !args.text && LooksLikeJson(doc);
      auto r = json ? transformer.value().Transform(doc, mode.value(), &s)
                    : transformer.value().TransformText(doc, mode.value(), &s);
      if (!r.ok()) {
        std::fprintf(stderr, "moat degrade: %s: %s\n", where.c_str(), r.status().message().c_str());
        rc = kExitBadInput;
        return;
      }
      std::fwrite(r.value().data(), 1, r.value().size(), out);
      total.reasoning_fields += s.reasoning_fields;
      total.text_fields += s.text_fields;
      total.mark.words += s.mark.words;
      total.mark.eligible += s.mark.eligible;
      total.mark.changed += s.mark.changed;
    };
    if (!args.jsonl) {
      one(data, path);
      continue;
    }
    size_t line_no = 0;
    for (size_t at = 0; at < data.size();) {
      const size_t eol = std::min(data.find('\n', at), data.size());
      ++line_no;
      const std::string_view line(data.data() + at, eol - at);
      if (!line.empty()) one(line, path + ":" + std::to_string(line_no));
      std::fputc('\n', out);
      at = eol + 1;
    }
  }
  if (out != stdout && std::fclose(out) != 0) {
    std::fprintf(stderr, "moat degrade: cannot write %s\n", args.out.c_str());
    return kExitFailure;
  }
  if (args.stats)
    std::fprintf(stderr, "degrade: %u reasoning sections withheld, %u answer texts, %lu words, %lu changed (%.2f%%)\n",
                 total.reasoning_fields, total.text_fields, static_cast<unsigned long>(total.mark.words),
                 static_cast<unsigned long>(total.mark.changed),
                 total.mark.words == 0 ? 0.0 : 100.0 * total.mark.changed / total.mark.words);
  return rc;
}

}  // namespace

void RegisterDegrade(CLI::App& app, CommandSet& commands) {
  auto args = std::make_shared<DegradeArgs>();
  CLI::App* cmd = app.add_subcommand("degrade", "withhold reasoning and/or watermark responses");
  cmd->add_option("--mode", args->mode, "withhold-reasoning, watermark or withhold+watermark")->capture_default_str();
  cmd->add_option("--key-file", args->key_file, "watermark keys (JSON Lines; needed for watermark modes)");
  cmd->add_option("--synonyms", args->synonyms, "synonym sets (TSV)")->capture_default_str();
  cmd->add_option("--out", args->out, "output file (default: standard output)");
  cmd->add_flag("--text", args->text, "treat every input as plain text, even if it looks like JSON");
  cmd->add_flag("--jsonl", args->jsonl, "each input line is one response");
  cmd->add_flag("--stats", args->stats, "print what changed to standard error");
  cmd->add_option("inputs", args->inputs, "response files ('-' or none: standard input)");
  cmd->callback([args, &commands] { commands.Set([args] { return RunDegrade(*args); }); });
}

}  // namespace moat::app
