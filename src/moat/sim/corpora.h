// Loads the shared corpora (prompt sets and production traces) that the
// simulator builds traffic from. Read-only after loading; never used by
// detection code.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moat/core/status.h"
#include "moat/sim/rng.h"

namespace moat::sim {

struct SeedTask {
  std::string instruction;
  std::string input;   // first instance input, may be empty
  std::string output;  // first instance output
  std::string app;     // motivation app (user-oriented set), may be empty
};

struct McQuestion {  // MMLU
  std::string subject;
  std::string question;
  std::array<std::string, 4> options;
  char answer = 'A';
};

struct BbhTask {
  std::string name;
  std::string cot_prefix;  // few-shot CoT prompt without the canary header
  std::vector<std::string> inputs;
};

struct JudgePrompt {
  std::string name;
  std::string system_prompt;
  std::string prompt_template;
  bool multi_turn = false;
  bool reference = false;
  bool pairwise = false;
};

struct TwoTurn {  // MT-Bench / Vicuna question
  std::string category;
  std::vector<std::string> turns;
  std::string reference;
};

// Per-client statistics of the ServeGen DeepSeek-R1 workload.
struct ServeGenClient {
  std::array<double, 144> rate{};  // requests/s per 10-minute window
  std::array<double, 144> cv{};
  double daily_requests = 0;
  Empirical reason_ratio;   // share of output spent on reasoning
  Empirical output_tokens;  // total output tokens
};

struct Corpora {
  // Organic human prompts.
  std::vector<std::string> arena;
  std::vector<std::string> nq;
  std::vector<std::pair<std::string, std::string>> acp;  // act, prompt
  std::vector<std::vector<std::string>> hh_human;       // human turns per dialogue
  std::vector<std::string> hh_assistant;                // assistant turns (answer text)
  // Distillation / benchmark sets.
  std::vector<SeedTask> seed_tasks;
  std::vector<SeedTask> user_tasks;
  std::string alpaca_prompt;
  std::vector<std::string> gsm8k_test;
  std::vector<std::string> gsm8k_train;
  std::vector<std::string> humaneval;
  std::vector<BbhTask> bbh;
  std::vector<McQuestion> mmlu_val;
  std::vector<McQuestion> mmlu_dev;
  std::vector<std::string> mmlu_subjects;
  std::vector<TwoTurn> mt_bench;
  std::vector<TwoTurn> vicuna;
  std::vector<JudgePrompt> judge;
  // Traces.
  Empirical azure_conv_gap_s, azure_code_gap_s;  // inter-arrival seconds
  std::vector<std::pair<int, int>> azure_conv_tokens, azure_code_tokens;  // context, generated
  std::vector<std::pair<int, int>> mooncake_tokens;                       // input, output
  Empirical mooncake_shared_prefix_blocks;  // leading 512-token blocks shared with an earlier request
  std::vector<ServeGenClient> servegen;
  Empirical servegen_reason_ratio;   // all clients pooled
  Empirical servegen_output_tokens;  // all clients pooled
};

// Loads everything under `dir`; a missing file is an error naming its path.
Result<Corpora> LoadCorpora(const std::string& dir);

// Parses a Python dict literal of numbers, e.g. "{45: 0.01, 46: 2e-05}".
// Never evaluates anything; anything but numbers is an error.
bool ParseNumberDictLiteral(std::string_view text, std::vector<std::pair<double, double>>& out);

}  // namespace moat::sim
